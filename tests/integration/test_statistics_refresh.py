"""PostgreSQL's planner statistics refreshed when a log crosses a power of two, beside
the append: the append is answered whether or not the refresh works (its entries are
committed by then), and SQLite has no refresher."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from ledger.service.ledger import Ledger
from ledger.store import statistics
from tests.factories import GTIN
from tests.integration.world import LedgerWorld


def _commissions(world: LedgerWorld, tag: str, count: int) -> None:
    """``count`` commissions, in batches of at most 1,000."""
    events = [
        world.world.sign(
            "commission", "acme", unit={"gtin": GTIN, "serial": f"{tag}-{i}"}, prev=None
        )
        for i in range(count)
    ]
    for start in range(0, count, 1000):
        world.ledger.append_batch(events[start : start + 1000])


def _last_analyzed(ledger: Ledger) -> object:
    with ledger.store.engines.writer.connect() as conn:
        return conn.execute(
            text(
                "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'entries'"
                " AND schemaname = current_schema()"
            )
        ).scalar()


def test_sqlite_has_no_refresher(world: LedgerWorld) -> None:
    if not world.ledger.store.engines.is_sqlite:
        pytest.skip("SQLite only")
    assert world.ledger.store.engines.statistics is None


@pytest.mark.postgres
def test_crossing_a_power_of_two_refreshes_the_statistics(world: LedgerWorld) -> None:
    if world.ledger.store.engines.is_sqlite:
        pytest.skip("PostgreSQL only")
    refresher = world.ledger.store.engines.statistics
    assert refresher is not None
    before = refresher.runs
    _commissions(world, "S", statistics.SMALLEST + 10)  # crosses 1024
    refresher.wait(30)
    assert refresher.runs == before + 1
    assert refresher.failures == 0
    assert _last_analyzed(world.ledger) is not None


@pytest.mark.postgres
def test_a_failed_refresh_does_not_fail_the_committed_append(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    if world.ledger.store.engines.is_sqlite:
        pytest.skip("PostgreSQL only")
    refresher = world.ledger.store.engines.statistics
    assert refresher is not None
    monkeypatch.setattr(statistics, "TABLES", ("no_such_table",))
    size = world.ledger.head().size
    failures = refresher.failures
    _commissions(world, "F", statistics.SMALLEST + 10)  # answered: no StorageError
    refresher.wait(30)
    assert refresher.failures == failures + 1
    assert world.ledger.head().size == size + statistics.SMALLEST + 10


def test_nothing_after_the_commit_fails_the_append(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the statistics step raises after a commit (here on either database), the
    append is answered and the log holds it."""

    def broken(self: object, tx: object) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(type(world.ledger.store), "_refresh_statistics", broken)
    size = world.ledger.head().size
    _commissions(world, "N", 3)
    assert world.ledger.head().size == size + 3
