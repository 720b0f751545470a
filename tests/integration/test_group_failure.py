"""Group commit: an unexpected error (a bug, not a refusal) while applying one event of
a group fails that event alone (`EventFailedError`, 500) and the others land; the
ledger is then byte for byte the one the group without that event would have written.

Each case runs twice on fresh databases of the same log (same keys, same fixed clock):
once with the failing event in the group, once without it, and the two are compared
row by row in every table.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ledger import rules
from ledger.entry import SignedEvent
from ledger.errors import EventFailedError
from ledger.service import append as append_module
from ledger.service.append import Receipt
from ledger.service.headmap import MapKeeper
from ledger.service.ledger import Ledger
from tests.factories import GTIN
from tests.integration.conftest import PG_SCHEMA, create_schema, drop_schema
from tests.integration.world import LedgerWorld, clock, config, dump

LOG = "gc-failure"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_urls(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[str, str]]:
    """Two empty databases: SQLite files, or two PostgreSQL schemas of their own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
        return
    postgres_url = str(request.getfixturevalue("postgres_url"))
    schemas = [f"{PG_SCHEMA}_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    urls = [create_schema(postgres_url, s) for s in schemas]
    yield urls[0], urls[1]
    for schema in schemas:
        drop_schema(postgres_url, schema)


def _world(url: str) -> LedgerWorld:
    ledger = Ledger.open(url, config(LOG), clock=clock)
    ledger.init(name="Registry")
    return LedgerWorld.base(ledger)


def _events(world: LedgerWorld) -> list[SignedEvent]:
    unit = {"gtin": GTIN}
    return [
        world.world.sign("commission", "acme", unit={**unit, "serial": f"GF-{n}"}, prev=None)
        for n in range(4)
    ]


def _failing_rules(bad: bytes) -> Callable[..., Any]:
    real = rules.check_signer_known

    def check(state: Any, signed: SignedEvent, *args: Any) -> Any:
        if signed.hash == bad:
            raise RuntimeError("a bug in the rules")
        return real(state, signed, *args)

    return check


def _failing_map(bad: SignedEvent) -> Callable[..., None]:
    real = MapKeeper.add

    def add(self: MapKeeper, index: int, leaf_hash: bytes, event: Any) -> None:
        if event == bad.event:
            raise KeyError("a bug after the state changed")
        real(self, index, leaf_hash, event)

    return add


@pytest.mark.parametrize("where", ["rules", "after-the-state-changed"])
def test_one_failing_event_fails_alone_and_the_ledger_is_as_without_it(
    fresh_urls: tuple[str, str], where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_it, without_it = (_world(url) for url in fresh_urls)
    try:
        events = _events(with_it)
        assert events == _events(without_it)  # the same keys, clock and log: same bytes
        bad = events[1]
        writes: list[int] = []
        opened = with_it.ledger.store.writer

        def counted(log: int, since: float | None = None) -> Any:
            writes.append(log)
            return opened(log, since)

        monkeypatch.setattr(with_it.ledger.store, "writer", counted)
        if where == "rules":
            monkeypatch.setattr(append_module.rules, "check_signer_known", _failing_rules(bad.hash))
        else:
            monkeypatch.setattr(MapKeeper, "add", _failing_map(bad))
        outcome = with_it.ledger.appender.append_each(events)
        monkeypatch.undo()

        assert isinstance(outcome.outcomes[1], EventFailedError)
        assert outcome.outcomes[1].status == 500 and outcome.outcomes[1].code == "event-failed"
        landed = [o for i, o in enumerate(outcome.outcomes) if i != 1]
        assert all(isinstance(o, Receipt) and not o.duplicate for o in landed)
        # rules change nothing: left out at once; later, the group is written again
        assert len(writes) == (1 if where == "rules" else 2)

        reference = without_it.ledger.appender.append_each([e for e in events if e is not bad])
        assert (outcome.size, outcome.checkpoint) == (reference.size, reference.checkpoint)
        assert dump(with_it.ledger) == dump(without_it.ledger)
        assert with_it.ledger.audit().ok
        # the failed event was not written: appended again (the bug gone), it lands
        again = with_it.ledger.append(bad)
        assert not again.receipts[0].duplicate
        assert again.receipts[0].index == outcome.size
        assert with_it.ledger.audit().ok
    finally:
        with_it.ledger.close()
        without_it.ledger.close()


def test_the_caller_of_the_failed_event_hears_500_and_the_others_receipts(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = world.ledger
    events = _events(world)
    monkeypatch.setattr(MapKeeper, "add", _failing_map(events[2]))
    start = ledger.head().size
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(ledger.append, s) for s in events]
        answers = [f.exception(30) or f.result(30) for f in futures]
    assert isinstance(answers[2], EventFailedError)
    others = [a for i, a in enumerate(answers) if i != 2]
    assert sorted(a.receipts[0].index for a in others) == [start, start + 1, start + 2]
    assert ledger.head().size == start + 3
    assert ledger.unit_entries(GTIN, "GF-2") == []
    monkeypatch.undo()
    assert ledger.audit().ok
