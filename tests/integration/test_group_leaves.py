"""Group commit (`Appender.append_each`): a group's signatures are verified on the
quick verify threads while its leader makes the leaves before the log's lock (session 33).

Each case runs on two fresh databases of the same log (same keys, same fixed clock) and
compares them row by row in every table: a group with refused or failing events against
the group without them, and leaves made before the lock against leaves made under it
(the former path). A bad event is refused alone, with its own error, and leaves the
ledger byte for byte as the group without it would have; the others land.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger.entry import Leaf, SignedEvent
from ledger.errors import EventFailedError, SignatureError
from ledger.service import append as append_module
from ledger.service.append import Receipt
from ledger.verify import batchverify
from tests.factories import GTIN
from tests.integration.test_group_commit import _forged
from tests.integration.test_group_failure import _world, fresh_urls  # noqa: F401 (fixture)
from tests.integration.world import LedgerWorld, dump


def _events(world: LedgerWorld, count: int) -> list[SignedEvent]:
    unit = {"gtin": GTIN}
    return [
        world.world.sign("commission", "acme", unit={**unit, "serial": f"GL-{n}"}, prev=None)
        for n in range(count)
    ]


@pytest.mark.parametrize("threads", ["threads", "one-thread"])
def test_forged_events_in_a_large_group_are_refused_alone(
    fresh_urls: tuple[str, str],  # noqa: F811
    threads: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """12 events (>= `START_FROM`: verified on the threads; or all on the leader's),
    two forged: each forged one gets its `SignatureError`, the ten others land, and
    the ledger is the one the ten alone make."""
    if threads == "one-thread":
        monkeypatch.setattr(batchverify, "START_FROM", 10**6)
    else:
        monkeypatch.setattr(batchverify, "_threads", lambda: 3)
    with_them, without_them = (_world(url) for url in fresh_urls)
    try:
        events = _events(with_them, 12)
        assert events == _events(without_them, 12)
        bad = {3, 9}
        group = [_forged(e) if i in bad else e for i, e in enumerate(events)]
        assert threads == "one-thread" or len(group) >= batchverify.START_FROM
        outcome = with_them.ledger.appender.append_each(group)
        for i, result in enumerate(outcome.outcomes):
            if i in bad:
                assert isinstance(result, SignatureError)
                assert "events[" not in (result.field or "")
            else:
                assert isinstance(result, Receipt) and not result.duplicate
        reference = without_them.ledger.appender.append_each(
            [e for i, e in enumerate(events) if i not in bad]
        )
        assert (outcome.size, outcome.checkpoint) == (reference.size, reference.checkpoint)
        assert dump(with_them.ledger) == dump(without_them.ledger)
        assert with_them.ledger.audit().ok
        # the forged ones wrote nothing: the genuine events land afterwards
        again = with_them.ledger.appender.append_each([events[i] for i in sorted(bad)])
        assert all(isinstance(r, Receipt) and not r.duplicate for r in again.outcomes)
        assert with_them.ledger.audit().ok
    finally:
        with_them.ledger.close()
        without_them.ledger.close()


def test_leaves_made_before_the_lock_are_the_bytes_made_under_it(
    fresh_urls: tuple[str, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same group, its leaves made before the lock in one database and under it in
    the other (`_group_leaves` making none: the path before session 33): the same rows."""
    before, under = (_world(url) for url in fresh_urls)
    try:
        events = _events(before, 10)
        made = before.ledger.appender.append_each(events)
        monkeypatch.setattr(
            append_module, "_group_leaves", lambda bound, received: dict.fromkeys(bound)
        )
        reference = under.ledger.appender.append_each(_events(under, 10))
        assert (made.size, made.checkpoint) == (reference.size, reference.checkpoint)
        assert made.outcomes == reference.outcomes
        assert dump(before.ledger) == dump(under.ledger)
    finally:
        before.ledger.close()
        under.ledger.close()


@pytest.mark.parametrize("fails", ["before-the-lock", "always"])
def test_a_leaf_that_cannot_be_made_fails_its_event_alone(
    fresh_urls: tuple[str, str],  # noqa: F811
    fails: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A leaf that fails before the lock does not fail the group: it is made again
    under the lock, where it lands (the error was passing) or, failing again, fails
    its event alone (`EventFailedError`, the group rewritten without it) and the
    ledger is the one the others alone make."""
    with_it, reference_world = (_world(url) for url in fresh_urls)
    try:
        events = _events(with_it, 9)
        bad = events[4]
        calls: list[int] = []
        real = Leaf.build.__func__  # type: ignore[attr-defined]

        def build(cls: type[Leaf], signed: SignedEvent, received: Any) -> Leaf:
            if signed.hash == bad.hash:
                calls.append(1)
                if fails == "always" or len(calls) == 1:
                    raise RuntimeError("a bug while making the leaf")
            return real(cls, signed, received)

        monkeypatch.setattr(Leaf, "build", classmethod(build))
        outcome = with_it.ledger.appender.append_each(events)
        monkeypatch.undo()
        assert len(calls) >= 2  # tried before the lock, then again under it
        others = [o for i, o in enumerate(outcome.outcomes) if i != 4]
        assert all(isinstance(o, Receipt) and not o.duplicate for o in others)
        if fails == "always":
            assert isinstance(outcome.outcomes[4], EventFailedError)
            expected = [e for e in events if e is not bad]
        else:
            assert isinstance(outcome.outcomes[4], Receipt)
            expected = events
        reference = reference_world.ledger.appender.append_each(
            _events(reference_world, 9)
            if fails != "always"
            else [e for i, e in enumerate(_events(reference_world, 9)) if i != 4]
        )
        assert len(expected) == len(reference.outcomes)
        assert (outcome.size, outcome.checkpoint) == (reference.size, reference.checkpoint)
        assert dump(with_it.ledger) == dump(reference_world.ledger)
        assert with_it.ledger.audit().ok
    finally:
        with_it.ledger.close()
        reference_world.ledger.close()
