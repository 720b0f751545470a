"""cli.scanning without a log: scan-list lines, re-scans, and a refused event dropped
from its batch so that only its own line fails."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from cli import scanning
from ledger.errors import LedgerError
from ledger.rules.errors import NotAuthorizedError
from tests.factories import GTIN


def test_lines_skip_blanks_and_comments_and_mark_garbage() -> None:
    lines = scanning.parse_lines(
        ["# shift 2", "", f"{GTIN}/A-1", "garbage", f"https://x.example/01/{GTIN}/21/A-2?s=x"]
    )
    assert [(ln.number, ln.outcome) for ln in lines] == [(3, None), (4, "refused"), (5, None)]
    assert lines[1].code == "bad-line" and lines[2].unit is not None
    assert lines[2].unit.serial == "A-2"


def _unit(custodian: str | None, pending: str | None) -> dict[str, Any]:
    return {"custodian": custodian, "pending": pending}


def test_rescans_are_only_what_is_already_in_the_log() -> None:
    assert scanning.rescan("receive", "ship", None, _unit("ship", None))
    assert not scanning.rescan("receive", "ship", None, _unit("acme", "ship"))  # to receive
    assert scanning.rescan("handoff", "acme", "ship", _unit("acme", "ship"))
    assert not scanning.rescan("handoff", "acme", "shop", _unit("acme", "ship"))  # another
    assert not scanning.rescan("handoff", "acme", "ship", _unit("acme", None))


class _Refusing:
    """A backend whose append refuses every event of ``bad`` serials, naming its index."""

    def __init__(self, bad: set[str]) -> None:
        self.bad, self.calls = bad, 0

    def append(self, events: Sequence[Any]) -> dict[str, Any]:
        self.calls += 1
        for i, event in enumerate(events):
            if event in self.bad:
                raise NotAuthorizedError("no authorization in force", field=f"events[{i}].actor")
        receipts = [{"index": 100 + n, "duplicate": False} for n in range(len(events))]
        return {"receipts": receipts, "size": 200, "checkpoint": "c"}


def test_a_refused_event_costs_only_its_own_line() -> None:
    lines = scanning.parse_lines([f"{GTIN}/A-{n}" for n in range(4)])
    summary = scanning.Summary("handoff", "acme", "ship", lines)
    store = _Refusing({"A-1", "A-3"})
    scanning._send(store, summary, lines, [ln.unit.serial for ln in lines])  # type: ignore[arg-type, union-attr]
    assert [ln.outcome for ln in lines] == ["appended", "refused", "appended", "refused"]
    assert lines[1].code == "not-authorized" and store.calls == 3
    assert (summary.size, summary.checkpoint) == (200, "c")


def test_a_batch_refused_as_a_whole_refuses_each_line() -> None:
    class Down:
        def append(self, events: Sequence[Any]) -> dict[str, Any]:
            raise LedgerError("the server is down")

    lines = scanning.parse_lines([f"{GTIN}/A-{n}" for n in range(2)])
    summary = scanning.Summary("receive", "ship", None, lines)
    scanning._send(Down(), summary, lines, ["x", "y"])  # type: ignore[arg-type]
    assert [ln.outcome for ln in lines] == ["refused", "refused"]


def test_sign_many_signs_what_sign_with_signs() -> None:
    """Each event of a scan list's batch is the event `sign_with` builds for it, its
    signature verifies for this log only, and each carries its own unit and prev."""
    from cli.signing import sign_many, sign_with
    from ledger import codec, gs1
    from ledger.entry import verify_event
    from ledger.errors import SignatureError
    from ledger.events import event_from_dict
    from tests.factories import key

    private, origin = key(3), "provenance.example/log"
    heads = [codec.b64url_encode(bytes([n]) * 32) for n in range(3)]
    chains = [(gs1.UnitId(GTIN, f"A-{n}"), heads[n]) for n in range(3)]
    many = sign_many(private, "acme", "handoff", chains, log=origin, to="ship", place=None)
    for (unit, prev), signed in zip(chains, many, strict=True):
        one = sign_with(
            private, "acme", "handoff", unit={"gtin": unit.gtin, "serial": unit.serial},
            prev=prev, log=origin, to="ship", place=None, time=signed.event.time,
        )  # fmt: skip
        assert signed.event_bytes == one.event_bytes and signed.sig == one.sig
        assert event_from_dict(signed.event.to_dict()) == signed.event
        assert (signed.event.unit, signed.event.prev) == (unit, prev)
        verify_event(signed, private.public_key())
        other_log = type(signed).from_dict(signed.to_dict(), log="other.example/log")
        with pytest.raises(SignatureError):
            verify_event(other_log, private.public_key())
    assert sign_many(private, "acme", "handoff", [], log=origin, to="ship") == []


def test_sign_many_refuses_a_malformed_prev_or_field() -> None:
    """A server that answers a bad head, or a bad --to, signs nothing."""
    from cli.signing import sign_many
    from ledger import gs1
    from ledger.errors import ValidationError
    from tests.factories import key

    good = "A" * 43
    chains = [(gs1.UnitId(GTIN, "A-1"), good), (gs1.UnitId(GTIN, "A-2"), "not a hash")]
    with pytest.raises(ValidationError) as refused:
        sign_many(key(3), "acme", "handoff", chains, log="x.example/log", to="ship")
    assert refused.value.field == "prev"
    with pytest.raises(ValidationError):
        sign_many(key(3), "acme", "handoff", chains[:1], log="x.example/log", to="bad id!")
