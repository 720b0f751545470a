"""ledger.store.replicas: which engine a read goes to, with stand-in replica engines.

SQLite files stand in for replicas here (the router only runs ``SELECT size FROM logs``
and opens connections); the real streaming replica is in tests/e2e/test_scaling.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, insert, update

from ledger.errors import StorageError
from ledger.store.database import connect
from ledger.store.queries import LOGS
from ledger.store.replicas import ReadRouter, ReadTarget
from ledger.store.schema import Base


class FakeClock:
    """A clock that moves only when the router sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps = 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


def stand_in(path: Path, size: int | None) -> Engine:
    """An engine with a ``logs`` table holding log 1 at ``size`` (None: no such log)."""
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine, tables=[LOGS])
    if size is not None:
        with engine.begin() as conn:
            conn.execute(
                insert(LOGS).values(id=1, name="l", origin="o", size=size, chain=b"", root=b"")
            )
    return engine


def router(tmp_path: Path, *sizes: int | None) -> tuple[ReadRouter, FakeClock]:
    clock = FakeClock()
    primary = ReadTarget("primary", stand_in(tmp_path / "p.db", 10), is_replica=False)
    replicas = [
        ReadTarget(f"r{i}", stand_in(tmp_path / f"r{i}.db", size), is_replica=True)
        for i, size in enumerate(sizes)
    ]
    return ReadRouter(primary, replicas, clock=clock, sleep=clock.sleep), clock


def test_reads_go_round_robin_to_replicas(tmp_path: Path) -> None:
    reads, _ = router(tmp_path, 10, 10)
    chosen = [reads.choose().name for _ in range(4)]
    assert sorted(chosen) == ["r0", "r0", "r1", "r1"]
    assert chosen[0] != chosen[1]


def test_no_replicas_means_the_primary(tmp_path: Path) -> None:
    reads, _ = router(tmp_path)
    assert reads.choose().name == "primary"
    assert reads.choose(1, 5).name == "primary"


def test_a_replica_far_enough_along_serves_read_your_writes(tmp_path: Path) -> None:
    reads, clock = router(tmp_path, 7, 10)
    for _ in range(4):
        assert reads.choose(1, 9).name == "r1"  # r0 is behind, r1 has it
    assert clock.sleeps == 0


def test_a_lagging_replica_is_waited_for_briefly_then_the_primary_reads(tmp_path: Path) -> None:
    reads, clock = router(tmp_path, 7)
    assert reads.choose(1, 9).name == "primary"
    assert clock.sleeps >= 1 and clock.now - 100.0 >= reads.max_wait


def test_a_replica_without_the_log_yet_is_behind(tmp_path: Path) -> None:
    reads, _ = router(tmp_path, None)
    assert reads.choose(1, 1).name == "primary"


def test_a_replica_catching_up_during_the_wait_serves(tmp_path: Path) -> None:
    reads, clock = router(tmp_path, 7)
    replica = reads.replicas[0]

    def catch_up(seconds: float) -> None:
        clock.sleep(seconds)
        with replica.engine.begin() as conn:
            conn.execute(update(LOGS).values(size=9))

    reads.sleep = catch_up
    assert reads.choose(1, 9).name == "r0"


def test_a_replica_that_fails_is_skipped_then_retried(tmp_path: Path) -> None:
    reads, clock = router(tmp_path, 10)
    broken = reads.replicas[0]
    good_engine = broken.engine
    broken.engine = create_engine(f"sqlite:///{tmp_path}/missing/dir/r.db")
    target, conn = reads.connect(reads.choose())
    conn.close()
    assert target.name == "primary"  # the replica's connection failed: the primary read
    assert broken.down_until > clock.now
    assert reads.choose().name == "primary"  # left alone for retry_after seconds
    assert reads.choose(1, 5).name == "primary"
    broken.engine = good_engine
    clock.now += reads.retry_after
    assert reads.choose().name == "r0"
    assert (reads.primary.reads, broken.reads) == (1, 0)


def test_status_reports_lag_and_a_down_replica(tmp_path: Path) -> None:
    reads, _ = router(tmp_path, 7)
    # SQLite has no replay timestamp: the lag query fails like a dead replica would
    (status,) = reads.status(1, 10)
    assert status.name == "r0" and not status.up


def test_replicas_need_postgresql(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="streaming replication"):
        connect(f"sqlite:///{tmp_path}/x.db", ["postgresql+psycopg://r/x"])
    with pytest.raises(StorageError, match="must be PostgreSQL"):
        connect("postgresql+psycopg://p/x", [f"sqlite:///{tmp_path}/r.db"])
