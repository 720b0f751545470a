"""Backups and restores that never roll the log back (ledger.service.backup, .highwater,
.tail): the high-water file written before each commit makes a checkpoint readable, the start
guard, the online SQLite backup audited while the log is written, restores refused when
shorter (or of another log, truncated, corrupted), and the tail recovered from a bundle."""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from ledger import note
from ledger.audit.bundle import parse_bundle
from ledger.errors import ShorterLogError, StorageError, ValidationError
from ledger.service.append import BatchReceipt
from ledger.service.audit import audit_database
from ledger.service.backup import (
    backup_sqlite,
    catch_up,
    check_restored,
    check_wal_archive,
    restore_sqlite,
)
from ledger.service.highwater import HighWater
from ledger.service.ledger import Ledger, LogConfig
from ledger.service.publishing import Publishing
from ledger.service.startguard import guard
from tests.factories import GTIN, key
from tests.integration.world import LedgerWorld, clock, config


class Site:
    """One log in a SQLite file with its high-water file, as a server runs it."""

    def __init__(
        self, folder: Path, name: str | None = None, witnesses: tuple[str, ...] = ()
    ) -> None:
        self.folder = folder
        self.name = name or f"b-{uuid.uuid4().hex[:8]}"
        self.config = dataclasses.replace(config(self.name), witnesses=witnesses)
        self.db = folder / "live" / "ledger.db"
        self.url = f"sqlite:///{self.db}"
        self.water = HighWater(folder / "keys" / "highwater" / "log.json", self.config.origin)
        self.ledger = self.open()
        self.ledger.init(name="Registry")
        self.world = LedgerWorld.base(self.ledger)
        self.serial = 0

    def open(self, override: str | None = None) -> Ledger:
        """Open the ledger as Deployment.open does: guard first, then serve."""
        ledger = Ledger.open(self.url, self.config, clock=clock, keeper=self.water)
        try:
            guard(ledger, self.water, override)
        except BaseException:
            ledger.close()
            raise
        return ledger

    @property
    def key(self) -> str:
        """The log's verifier key."""
        return self.ledger.verifier_key

    def mint(self, count: int = 1) -> BatchReceipt:
        """Commission ``count`` new units in one batch."""
        events = []
        for _ in range(count):
            self.serial += 1
            unit = {"gtin": GTIN, "serial": f"BK-{self.serial}"}
            events.append(self.world.world.sign("commission", "acme", unit=unit, prev=None))
        return self.ledger.append_batch(events)

    def bundle(self, path: Path) -> Path:
        """The export bundle of the log as it is now."""
        path.write_text("".join(self.ledger.exports.bundle_lines()))
        return path

    def restore(self, backup: Path, **kwargs: object) -> object:
        """`restore_sqlite` into this site's place."""
        return restore_sqlite(
            backup,
            self.url,
            self.name,
            self.config.origin,
            self.key,
            self.water,
            now="2026-12-03T00:00:00Z",
            **kwargs,  # type: ignore[arg-type]
        )

    def lose_database(self) -> None:
        """The disaster: the server stops, its database is gone."""
        self.ledger.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    opened = Site(tmp_path)
    yield opened
    opened.ledger.close()


def _kept(site: Site) -> dict[str, object]:
    """The slot holding the largest mark, read as the guard reads it."""
    data = site.water._read_raw()
    assert isinstance(data, dict)
    return data


# --- the high-water file ---------------------------------------------------------------


def test_the_mark_is_durable_before_any_reader_can_see_its_checkpoint(site: Site) -> None:
    seen: list[tuple[int, int]] = []
    original = site.water.before_commit

    def before_commit(batch: Publishing) -> Callable[[], None]:
        undo = original(batch)
        # kept on disk while the batch is not committed: another connection reads the
        # old size, so no reader can hold a checkpoint the mark does not
        other = Ledger.open(site.url, site.config, clock=clock)
        try:
            seen.append((batch.size, other.head().size))
        finally:
            other.close()
        assert HighWater(site.water.path, site.config.origin)._read_raw()["size"] == batch.size  # type: ignore[index]
        return undo

    site.ledger.appender._keeper = SimpleNamespace(before_commit=before_commit)  # type: ignore[assignment]
    receipt = site.mint(3)
    assert seen == [(receipt.size, receipt.size - 3)]
    kept = _kept(site)
    assert kept["size"] == receipt.size and kept["checkpoint"] == receipt.checkpoint
    assert site.water.path.stat().st_mode & 0o077 == 0


def test_a_failed_high_water_write_refuses_the_batch_and_writes_nothing(site: Site) -> None:
    events = [
        site.world.world.sign("commission", "acme", unit={"gtin": GTIN, "serial": "F-1"}, prev=None)
    ]
    site.water.path.unlink()
    site.water.path.mkdir()  # the state file cannot be written (a full disk, a bad mount)
    size = site.ledger.head().size
    with pytest.raises(StorageError, match="high-water"):
        site.ledger.append_batch(events)
    assert site.ledger.head().size == size  # never committed: no reader ever saw it
    site.water.path.rmdir()
    retry = site.ledger.append_batch(events)
    assert not retry.receipts[0].duplicate and retry.size == size + 1
    assert _kept(site)["size"] == retry.size
    assert site.water.path.parent.stat().st_mode & 0o077 == 0  # beside the log key: 0700


def test_the_guard_refuses_a_shorter_log_and_says_why(site: Site, tmp_path: Path) -> None:
    backup = backup_sqlite(site.url, site.name, site.key, tmp_path / "b.db")
    site.mint(2)
    site.mint(1)  # two batches: the file keeps the last one only
    published = site.ledger.head().size
    site.lose_database()
    shutil.copy(backup.path, site.db)  # a careless restore: the old copy put back by hand
    with pytest.raises(ShorterLogError) as refused:
        site.open()
    message = refused.value.message
    assert f"holds {backup.size} entries but checkpoint {published} was published" in message
    assert str(site.water.path) in message and "PROVENANCE_ACCEPT_SHORTER_LOG" in message


def test_accepting_a_shorter_log_records_the_incident_and_lowers_the_mark(
    site: Site, tmp_path: Path
) -> None:
    backup = backup_sqlite(site.url, site.name, site.key, tmp_path / "b.db")
    site.mint(2)
    site.mint(1)
    published = site.ledger.head().size
    site.lose_database()
    shutil.copy(backup.path, site.db)
    with pytest.raises(ValidationError):
        site.open(override="   ")  # an empty note is no note
    reopened = site.open(override="disk lost; entries after the 03:00 backup are gone")
    try:
        (incident,) = _kept(site)["incidents"]  # type: ignore[misc]
        assert incident["given_up_size"] == published
        assert incident["served_size"] == backup.size
        assert "disk lost" in incident["note"]
        reopened.close()
        site.open().close()  # the next start needs no override
    finally:
        reopened.close()


def test_the_guard_refuses_another_tree_at_the_marks_size(site: Site, tmp_path: Path) -> None:
    site.mint(1)
    other = Site(tmp_path / "other", name=site.name)  # same key, same origin, other entries
    other.serial = 1000
    other.mint(2)
    other.ledger.close()
    site.lose_database()
    shutil.copy(other.db, site.db)
    with pytest.raises(ShorterLogError, match="another root"):
        site.open()


def test_a_torn_write_spoils_one_slot_and_the_previous_mark_stands(site: Site) -> None:
    first = site.mint(1)
    second = site.mint(1)
    newer = max(site.water.slots, key=lambda p: json.loads(p.read_bytes())["size"])
    data = newer.read_bytes()
    newer.write_bytes(data[: len(data) // 2] + b"\0" * (len(data) - len(data) // 2))
    mark = site.water.read(site.key)
    assert mark is not None and mark.size == first.size  # the second was never acknowledged
    site.mint(1)  # the next write goes into the damaged slot: both sound again
    assert site.water.read(site.key).size == second.size + 1  # type: ignore[union-attr]
    for slot in site.water.slots:
        slot.write_bytes(b'{"size": 10**9}')
    site.ledger.close()
    with pytest.raises(ValidationError, match="damaged"):
        site.open()


def test_a_high_water_file_of_another_log_is_refused(site: Site) -> None:
    foreign = note.Signer(site.config.origin, key(77))
    text = note.sign_checkpoint(note.Checkpoint(site.config.origin, 5, bytes(32)), foreign)
    forged = {"origin": site.config.origin, "size": 5, "checkpoint": text.decode()}
    site.water._write(forged, both=True)
    site.ledger.close()
    with pytest.raises(ValidationError, match="another log or was altered"):
        site.open()


# --- backup ----------------------------------------------------------------------------


def test_a_backup_taken_while_the_log_is_written_audits_clean_on_its_own(
    site: Site, tmp_path: Path
) -> None:
    site.mint(200)
    before = site.ledger.head().size
    stop = threading.Event()
    writer = Site.__new__(Site)  # a second connection appending, as a server would
    writer.__dict__.update(site.__dict__)
    writer.ledger = Ledger.open(site.url, site.config, clock=clock, keeper=site.water)

    def append() -> None:
        while not stop.is_set():
            writer.mint(5)

    thread = threading.Thread(target=append)
    thread.start()
    steps: list[tuple[int, int]] = []
    try:
        done = backup_sqlite(
            site.url,
            site.name,
            site.key,
            tmp_path / "b.db",
            pages=4,
            progress=lambda d, t: steps.append((d, t)),
        )
    finally:
        stop.set()
        thread.join()
        writer.ledger.close()
    after = site.ledger.head().size
    assert before <= done.size <= after
    assert len(steps) > 3 and steps[-1][0] == steps[-1][1]  # page by page, to the end
    own = audit_database(f"sqlite:///{done.path}", site.name, site.key)
    assert own is not None and own.ok and own.entries == done.size
    assert (Path(done.path).stat().st_mode & 0o077) == 0
    assert not Path(f"{done.path}-wal").exists()  # one self-contained file
    with pytest.raises(ValidationError, match="never overwrites"):
        backup_sqlite(site.url, site.name, site.key, tmp_path / "b.db")


def test_a_backup_that_fails_its_audit_is_not_kept(site: Site, tmp_path: Path) -> None:
    other_key = note.Signer(site.config.origin, key(78)).verifier.to_text()
    with pytest.raises(ValidationError, match="not signed by this log's key"):
        backup_sqlite(site.url, site.name, other_key, tmp_path / "b.db")
    assert list(tmp_path.glob("b.db*")) == []


# --- restore ---------------------------------------------------------------------------


def test_restore_with_the_tail_from_a_bundle_reaches_every_published_checkpoint(
    site: Site, tmp_path: Path
) -> None:
    seen = [site.mint(2).checkpoint]
    backup = backup_sqlite(site.url, site.name, site.key, tmp_path / "b.db")
    for _ in range(3):
        seen.append(site.mint(4).checkpoint)
    bundle = site.bundle(tmp_path / "tail.jsonl")
    size = site.ledger.head().size
    site.lose_database()

    with pytest.raises(ShorterLogError, match=f"ends at {backup.size} entries but checkpoint"):
        site.restore(Path(backup.path))
    assert not site.db.exists()  # nothing put in place

    done = site.restore(Path(backup.path), tail=parse_bundle(bundle.read_bytes()))
    assert done.size == size and done.tail == size - backup.size  # type: ignore[attr-defined]
    report = audit_database(site.url, site.name, site.key, trusted=seen)
    assert report is not None and report.ok and report.entries == size
    site.open().close()  # the server starts again


def test_a_tail_brings_the_log_signed_checkpoints_and_leaves_the_cosignatures_apart(
    tmp_path: Path,
) -> None:
    from tests.integration.test_cosigning import W1, post

    site = Site(tmp_path, witnesses=(W1.verifier.to_text(),))
    backup = Path(backup_sqlite(site.url, site.name, site.key, tmp_path / "b.db").path)
    receipt = site.mint(2)
    post(site.ledger, W1, 0)
    assert "witness.example/w1" in site.ledger.cosigning.cosigned_checkpoint(receipt.size)
    bundle = site.bundle(tmp_path / "tail.jsonl")
    site.lose_database()
    site.restore(backup, tail=parse_bundle(bundle.read_bytes()))
    restored = site.open()
    try:
        assert restored.checkpoint(receipt.size) == receipt.checkpoint  # as the log signed it
        assert restored.cosigning.cosigned_checkpoint(receipt.size) == receipt.checkpoint
    finally:
        restored.close()


def test_restore_accepting_the_loss_records_the_incident(site: Site, tmp_path: Path) -> None:
    backup = backup_sqlite(site.url, site.name, site.key, tmp_path / "b.db")
    site.mint(2)
    published = site.mint(3).size  # two batches: more than the file keeps
    site.lose_database()
    done = site.restore(Path(backup.path), accept_shorter="bundle lost too; tail gone")
    incident = done.incident  # type: ignore[attr-defined]
    assert incident["given_up_size"] == published and incident["served_size"] == backup.size
    mark = site.water.read(site.key)
    assert mark is not None and mark.size == backup.size and len(mark.incidents) == 1
    site.open().close()  # served without an override from now on


def test_restore_refuses_an_occupied_place_truncated_and_corrupted_backups(
    site: Site, tmp_path: Path
) -> None:
    site.mint(50)
    backup = Path(backup_sqlite(site.url, site.name, site.key, tmp_path / "b.db").path)
    with pytest.raises(ValidationError, match="restore into an empty place"):
        site.restore(backup)
    site.lose_database()
    data = backup.read_bytes()
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValidationError, match="damaged"):
        site.restore(truncated)
    corrupted = tmp_path / "corrupted.db"
    middle = len(data) // 2
    corrupted.write_bytes(data[:middle] + b"\xff" * 4096 + data[middle + 4096 :])
    with pytest.raises(ValidationError, match="damaged"):
        site.restore(corrupted)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ValidationError, match="not a SQLite database"):
        site.restore(garbage)
    assert not site.db.exists()


def test_restore_refuses_a_backup_of_another_log(site: Site, tmp_path: Path) -> None:
    other = Site(tmp_path / "other", name=site.name)
    other.ledger.close()
    # same name and origin, but its checkpoints are signed by another log key
    forged = LogConfig(
        origin=site.config.origin, operator_key=key(1), name=site.name, log_key=key(79)
    )
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    ledger = Ledger.open(f"sqlite:///{foreign}/l.db", forged, clock=clock)
    ledger.init(name="Registry")
    ledger.close()
    site.lose_database()
    with pytest.raises(ValidationError, match="backup of another log"):
        site.restore(foreign / "l.db")
    # the same key, another origin
    renamed = Site(tmp_path / "renamed")
    renamed.ledger.close()
    with pytest.raises(ValidationError, match="holds no log named"):
        site.restore(renamed.db)
    assert not site.db.exists()


def test_a_tail_of_another_log_or_a_tampered_tail_is_refused(site: Site, tmp_path: Path) -> None:
    site.mint(1)
    backup = Path(backup_sqlite(site.url, site.name, site.key, tmp_path / "b.db").path)
    site.mint(3)
    bundle = site.bundle(tmp_path / "tail.jsonl")
    fork = Site(tmp_path / "fork", name=site.name)  # same key and origin, other entries
    fork.serial = 1000
    fork.mint(6)
    forked = fork.bundle(tmp_path / "forked.jsonl")
    fork.ledger.close()
    site.lose_database()
    with pytest.raises(ValidationError, match="not the backup's"):
        site.restore(backup, tail=parse_bundle(forked.read_bytes()))
    lines = bundle.read_text().splitlines()
    last = json.loads(lines[-1])
    last["leaf"] = last["leaf"][:-4] + ("AAAA" if not last["leaf"].endswith("AAAA") else "BBBB")
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join([*lines[:-1], json.dumps(last)]) + "\n")
    with pytest.raises(ValidationError):
        site.restore(backup, tail=parse_bundle(tampered.read_bytes()))
    assert not site.db.exists()


def test_a_tail_that_extends_the_backup_but_forks_from_the_published_log_is_refused(
    site: Site, tmp_path: Path
) -> None:
    site.mint(1)
    backup = Path(backup_sqlite(site.url, site.name, site.key, tmp_path / "b.db").path)
    site.mint(3)
    fork = Site(tmp_path / "fork", name=site.name)
    fork.mint(1)  # the same first unit: the fork holds the backup as its prefix ...
    fork.serial = 1000
    fork.mint(5)  # ... then parts from what the log published
    forked = fork.bundle(tmp_path / "forked.jsonl")
    fork.ledger.close()
    site.lose_database()
    with pytest.raises(ShorterLogError, match="not the one whose checkpoint"):
        site.restore(backup, tail=parse_bundle(forked.read_bytes()))
    assert not site.db.exists()


def test_check_restored_finds_a_copy_that_stops_before_the_published_checkpoint(
    site: Site, tmp_path: Path
) -> None:
    backup = backup_sqlite(site.url, site.name, site.key, tmp_path / "b.db")
    done = check_restored(f"sqlite:///{backup.path}", site.name, site.key, site.water)
    assert done.size == backup.size
    site.mint(1)
    with pytest.raises(ShorterLogError, match="the archive stops early or has a gap"):
        check_restored(f"sqlite:///{backup.path}", site.name, site.key, site.water)
    bundle = site.bundle(tmp_path / "tail.jsonl")
    copy = f"sqlite:///{backup.path}"
    caught = catch_up(
        copy, site.name, site.config.origin, site.key, site.water, parse_bundle(bundle.read_bytes())
    )
    assert caught.size == site.ledger.head().size
    check_restored(copy, site.name, site.key, site.water)


def test_a_wal_archive_with_a_gap_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "wal"
    archive.mkdir()
    names = [f"0000000100000000000000{n:02X}" for n in range(2, 9)]
    for name in names:
        (archive / name).write_bytes(b"")
    (archive / f"{names[0]}.00000028.backup").write_text("START WAL LOCATION")
    assert check_wal_archive(archive) == (names[0], names[-1], len(names))
    (archive / names[4]).unlink()
    with pytest.raises(ValidationError, match=f"segment {names[4]} is missing"):
        check_wal_archive(archive)
    for name in names[:1]:
        (archive / name).unlink()
    with pytest.raises(ValidationError, match="where its base backup starts"):
        check_wal_archive(archive)
