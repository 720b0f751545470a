"""ledger.service.unitview.Entries: a view's entries with their latest claim found once,
the same entry the signals' scan of the list finds (ledger.service.signals)."""

from __future__ import annotations

import json
import pickle

from hypothesis import given
from hypothesis import strategies as st

from ledger.service.unitview import Entries, last_claim

KINDS = st.sampled_from(["commission", "handoff", "receive", "claim", "sell", "inspect"])


@given(st.lists(KINDS, max_size=30))
def test_thelast_claim_is_the_one_the_scan_finds(kinds: list[str]) -> None:
    entries = [{"index": i, "event": {"kind": kind}} for i, kind in enumerate(kinds)]
    claims = [e for e in entries if e["event"]["kind"] == "claim"]
    made = Entries(entries)
    assert made.latest_claim is (claims[-1] if claims else None)
    assert last_claim(made) is made.latest_claim  # read, not searched
    assert last_claim(list(entries)) is made.latest_claim  # a plain list: searched
    # still a list to everything else: JSON, equality, a copy, pickling
    assert json.dumps(made) == json.dumps(entries) and made == entries
    copied = pickle.loads(pickle.dumps(made))  # noqa: S301 - our own bytes
    assert copied.latest_claim == made.latest_claim
