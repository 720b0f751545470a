"""The high-water mark is durable before its checkpoint is readable (ledger.service
.publishing, .highwater, .tail): written inside the write transaction before the commit,
undone when the commit fails, and a log left one batch behind its mark (a stop between
the two, or a database put back at the size before the batch) rolled forward from the
batch the file keeps, to the very checkpoint the mark holds."""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ledger.errors import ShorterLogError, StorageError
from ledger.service import tail
from ledger.service.audit import audit_database
from ledger.service.backup import backup_sqlite
from ledger.service.highwater import HighWater, _body, _pack
from ledger.service.ledger import Ledger
from ledger.service.publishing import Publishing
from ledger.service.startguard import guard
from ledger.store import WriteTx
from tests.factories import GTIN
from tests.integration.test_backup import Site, _kept
from tests.integration.world import LedgerWorld, clock, config


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    opened = Site(tmp_path)
    yield opened
    opened.ledger.close()


def _slots(water: HighWater) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in water.slots if p.exists()}


def _rewrite_newest_slot(site: Site, change: Callable[[dict[str, Any]], object]) -> None:
    """Someone with the high-water folder rewrites its newest slot and recomputes the
    check (a checksum, not a key)."""
    newest = max(site.water.slots, key=lambda p: json.loads(p.read_bytes())["size"])
    data = json.loads(newest.read_bytes())
    data.pop("check")
    change(data)
    newest.write_bytes(_body(data))


def _swap_kept_leaves(site: Site) -> None:
    """Swap the first two of the three leaves the newest slot keeps."""
    _, leaves, _ = site.water.pending()  # type: ignore[misc]
    packed = _pack([leaves[1], leaves[0], leaves[2]])
    _rewrite_newest_slot(
        site, lambda data: data["batch"].update(leaves=base64.b64encode(packed).decode())
    )


class _Stop(BaseException):
    """The process stops (a kill, a power cut) between the mark's write and the commit."""


def _stop_before_commit(ledger: Ledger, water: HighWater) -> None:
    """The next batch writes its mark, then the process 'stops': the undo never runs."""

    def before_commit(batch: Publishing) -> Callable[[], None]:
        water.before_commit(batch)
        raise _Stop

    ledger.appender._keeper = SimpleNamespace(before_commit=before_commit)  # type: ignore[assignment]


def test_a_failed_commit_puts_the_previous_mark_back_byte_for_byte(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.mint(1)
    size, before = site.ledger.head().size, _slots(site.water)
    original = site.ledger.store.writer

    @contextlib.contextmanager
    def failing(log: int, since: float | None = None) -> Iterator[WriteTx]:
        with original(log, since) as tx:
            yield tx
            raise StorageError("database write failed; nothing was written: commit lost")

    monkeypatch.setattr(site.ledger.store, "writer", failing)
    with pytest.raises(StorageError, match="commit lost"):
        site.mint(2)
    monkeypatch.undo()
    assert site.ledger.head().size == size
    assert _slots(site.water) == before  # the mark of a batch nobody can read is gone
    again = site.mint(2)  # and the log goes on: the next mark is of this batch
    assert _kept(site)["size"] == again.size == size + 2


def test_a_stop_between_the_mark_and_the_commit_rolls_forward_at_the_next_start(
    site: Site,
) -> None:
    site.mint(2)
    size = site.ledger.head().size
    _stop_before_commit(site.ledger, site.water)
    with pytest.raises(_Stop):
        site.mint(3)
    assert site.ledger.head().size == size  # rolled back in the database...
    kept = _kept(site)
    assert kept["size"] == size + 3  # ...but the mark says published
    site.ledger.close()
    site.ledger = site.open()  # the guard rolls the kept batch forward
    assert site.ledger.head().size == size + 3
    assert site.ledger.checkpoint() == kept["checkpoint"]  # the very checkpoint, not a new one
    serials = [site.ledger.entry(i).serial for i in (size, size + 2)]
    assert serials == ["BK-3", "BK-5"]
    report = audit_database(site.url, site.name, site.key, trusted=[str(kept["checkpoint"])])
    assert report is not None and report.ok and report.entries == size + 3
    assert site.mint(1).size == size + 4  # the log goes on


def test_a_database_put_back_just_before_the_last_batch_rolls_forward(
    site: Site, tmp_path: Path
) -> None:
    site.mint(2)
    backup = backup_sqlite(site.url, site.name, site.key, tmp_path / "b.db")
    published = site.mint(3)
    site.lose_database()
    shutil.copy(backup.path, site.db)  # put back by hand at exactly the size before
    site.ledger = site.open()
    assert site.ledger.head().size == published.size
    assert site.ledger.checkpoint() == published.checkpoint


def test_restore_rolls_a_backup_just_before_the_last_batch_forward(
    site: Site, tmp_path: Path
) -> None:
    site.mint(2)
    backup = backup_sqlite(site.url, site.name, site.key, tmp_path / "b.db")
    published = site.mint(3)
    site.lose_database()
    done = site.restore(Path(backup.path))
    assert done.size == published.size and done.tail == 3  # type: ignore[attr-defined]
    site.ledger = site.open()
    assert site.ledger.checkpoint() == published.checkpoint


def test_a_kept_batch_that_does_not_extend_the_log_is_not_rolled_and_the_log_refused(
    site: Site, tmp_path: Path
) -> None:
    site.mint(2)
    backup = backup_sqlite(site.url, site.name, site.key, tmp_path / "b.db")
    site.mint(3)
    _swap_kept_leaves(site)  # the checkpoint's root no longer matches
    site.lose_database()
    shutil.copy(backup.path, site.db)
    with pytest.raises(ShorterLogError, match="refusing to serve a shorter log"):
        site.open()


def test_a_planted_batch_larger_than_one_append_is_not_rolled_and_nothing_is_written(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch larger than any append writes would be checked against its checkpoint's
    root only in its last transaction: the first ones would land unchecked. Refused
    whole (here with the batch limit at 2, so that 3 leaves are 'too many')."""
    monkeypatch.setattr(tail, "_CHUNK", 2)
    site.mint(2)
    backup = backup_sqlite(site.url, site.name, site.key, tmp_path / "b.db")
    site.mint(3)
    _swap_kept_leaves(site)
    site.lose_database()
    shutil.copy(backup.path, site.db)
    with pytest.raises(ShorterLogError, match=f"holds {backup.size} entries"):
        site.open()
    again = Ledger.open(site.url, site.config, clock=clock)
    try:
        assert again.head().size == backup.size  # nothing of the planted batch written
    finally:
        again.close()


def test_a_damaged_kept_batch_is_refused_with_its_own_message(site: Site) -> None:
    site.mint(1)
    _rewrite_newest_slot(site, lambda data: data["batch"].update(leaves="not base64!"))
    with pytest.raises(Exception, match="damaged batch"):
        site.water.pending()


def test_no_second_checkpoint_of_a_published_size_is_signed(site: Site) -> None:
    """A database behind its mark opened without the start-up guard (a bug, a tool that
    skips it) cannot sign a second checkpoint of a size the log published: a fork."""
    site.mint(2)
    size = site.ledger.head().size
    _stop_before_commit(site.ledger, site.water)
    with pytest.raises(_Stop):
        site.mint(3)
    site.ledger.close()
    unguarded = Ledger.open(site.url, site.config, clock=clock, keeper=site.water)
    site.ledger = unguarded
    with pytest.raises(StorageError, match="refusing to publish another checkpoint"):
        site.mint(3)
    assert unguarded.head().size == size


def test_a_big_batch_then_small_ones_keep_the_file_small(site: Site) -> None:
    site.mint(300)
    big = max(p.stat().st_size for p in site.water.slots)
    site.mint(1)
    site.mint(1)
    assert max(p.stat().st_size for p in site.water.slots) < big  # cut, not padded for ever
    kept = site.water.pending()
    assert kept is not None and len(kept[1]) == 1
    assert kept[1][0] == site.ledger.entry(kept[0]).leaf


@pytest.mark.postgres
def test_a_stop_before_the_commit_rolls_forward_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    cfg = config("hw-order-pg-" + tmp_path.name[-8:])
    water = HighWater(tmp_path / "highwater" / "log.json", cfg.origin)
    ledger = Ledger.open(pg_url, cfg, clock=clock, keeper=water)
    try:
        guard(ledger, water)
        ledger.init(name="Registry")
        world = LedgerWorld.base(ledger)
        size = ledger.head().size
        _stop_before_commit(ledger, water)
        unit = {"gtin": GTIN, "serial": "PG-1"}
        with pytest.raises(_Stop):
            ledger.append_batch([world.world.sign("commission", "acme", unit=unit, prev=None)])
    finally:
        ledger.close()
    again = Ledger.open(pg_url, cfg, clock=clock, keeper=water)
    try:
        assert again.head().size == size
        guard(again, water)
        assert again.head().size == _kept_size(water) > size
        report = audit_database(pg_url, cfg.name, again.verifier_key)
        assert report is not None and report.ok
    finally:
        again.close()


def _kept_size(water: HighWater) -> int:
    data = water._read_raw()
    assert data is not None
    return int(data["size"])


def test_a_process_starting_beside_a_commit_in_flight_waits_for_it(site: Site) -> None:
    """A second worker that starts while the first is between its mark and its commit
    reads a mark one batch ahead of the log: it waits for the commit (the guard's
    `COMMIT_WAIT`) instead of refusing a log it takes for shorter (`ShorterLogError`)."""
    site.mint(1)
    size = site.ledger.head().size
    marked, go_on = threading.Event(), threading.Event()

    def before_commit(batch: Publishing) -> Callable[[], None]:
        undo = site.water.before_commit(batch)
        marked.set()
        go_on.wait(5)  # the commit is a moment away
        return undo

    site.ledger.appender._keeper = SimpleNamespace(before_commit=before_commit)  # type: ignore[assignment]
    writer = threading.Thread(target=site.mint, args=(2,))
    writer.start()
    assert marked.wait(5)
    threading.Timer(0.3, go_on.set).start()
    second = site.open()  # the guard reads the mark of size + 2, the log at size
    try:
        assert second.head().size == size + 2
    finally:
        writer.join()
        second.close()
