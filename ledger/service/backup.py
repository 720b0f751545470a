"""Backups that are audited before they count, and restores that never roll a log back.

- `backup_sqlite`: ``provenance backup --out FILE``. The online backup API copies the
  live SQLite database as of one commit while the server keeps writing
  (ledger.store.snapshot); the copy is then audited in full against the log's key (a
  copy's audit keeps no auditor state, so it cannot move the live log's) and only an
  audited copy is renamed to ``FILE``; a copy that fails is deleted.
- `restore_sqlite`: ``provenance restore FILE``. The backup must be a sound SQLite file
  of this log (origin, checkpoints signed by its key) that audits clean; an export
  ``tail`` bundle, when given, catches it up entry for entry (ledger.service.tail); the
  result must reach the log's high-water mark (ledger.service.highwater) unless the
  operator accepts the loss with an incident note. Only then is it moved into the
  database's place, which must be empty: nothing shorter is ever served.
- `check_restored`: ``provenance backup check``: a copy restored from a PostgreSQL base
  backup and WAL archive (or any copy) audits clean and reaches the high-water mark.
- `check_wal_archive`: the segments of a WAL archive follow each other without a gap.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.audit.auditor import audit_bundle
from ledger.audit.bundle import Bundle
from ledger.audit.replay import AuditReport
from ledger.audit.witness import Seen
from ledger.errors import LedgerError, ShorterLogError, ValidationError
from ledger.service.audit import audit_log
from ledger.service.highwater import HighWater, Mark
from ledger.service.tail import append_tail, roll_forward, tail_of
from ledger.store import Store
from ledger.store.snapshot import check_sqlite, copy_sqlite, fsync_tree, settle, sqlite_file

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Copy:
    """A backup or a restored copy: where, its log's size and latest checkpoint, and the
    audit it passed."""

    path: str
    size: int
    checkpoint: str
    report: AuditReport
    tail: int = 0
    incident: dict[str, Any] | None = field(default=None)
    mark: int | None = None


def backup_sqlite(
    url: str,
    name: str,
    log_key: str,
    out: Path,
    *,
    pages: int = 256,
    progress: Progress | None = None,
    audit_progress: Progress | None = None,
) -> Copy:
    """Back up the SQLite database at ``url`` into ``out`` while it is written, and audit
    log ``name`` in the copy against ``log_key`` before declaring it good.

    The copy is made as ``OUT.partial`` (mode 0600), audited, fsynced and renamed to
    ``out``; a copy that fails its audit is deleted. ``progress`` is called with (pages
    copied, total), ``audit_progress`` with (entries audited, total).

    Raises:
        ValidationError: ``url`` is not a SQLite file, ``out`` exists, or the copy does
            not audit clean (the message names the first finding).
        NotFoundError: no log ``name`` in the database.
        StorageError: the database cannot be read or the copy written.
    """
    source = sqlite_file(url)
    if source is None:
        raise ValidationError(
            "backup --out copies a SQLite database; back up PostgreSQL with base backups "
            "and WAL archiving (docs/OPERATIONS.md, Backups)",
            field="db",
        )
    if not source.is_file():
        raise ValidationError(f"no database at {source}", field="db")
    if out.exists():
        raise ValidationError(f"{out} exists: a backup never overwrites a file", field="out")
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        copy_sqlite(source, partial, pages=pages, progress=progress)
        copy = _audit_copy(f"sqlite:///{partial}", name, log_key, audit_progress, label=str(out))
        settle(partial)
        os.replace(partial, out)
        fsync_tree(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Copy(str(out), copy.size, copy.checkpoint, copy.report)


def restore_sqlite(
    backup: Path,
    url: str,
    name: str,
    origin: str,
    log_key: str,
    water: HighWater,
    *,
    tail: Bundle | None = None,
    accept_shorter: str | None = None,
    now: str = "",
    progress: Progress | None = None,
) -> Copy:
    """Restore ``backup`` into the empty place of the SQLite database at ``url``.

    Checks, before anything is put in place: ``backup`` is a sound SQLite file; it holds
    log ``name`` with ``origin`` and a latest checkpoint signed by ``log_key``; it audits
    clean; ``tail`` (an export bundle of this log, audited against ``log_key``) extends it
    to the bundle's size; the result reaches ``water``'s mark, or the operator accepts
    the shorter log with the incident note ``accept_shorter`` (recorded in the state
    file). The restored file is fsynced and renamed into place.

    Raises:
        ValidationError: the database's place is not empty; the backup is truncated,
            corrupted, or of another log; the tail bundle is another log's or fails.
        ShorterLogError: the restored log is shorter than a published checkpoint, or
            another tree at its size.
        NotFoundError: the backup holds no log ``name``.
    """
    target = sqlite_file(url)
    if target is None:
        raise ValidationError(
            "restore FILE restores a SQLite backup; restore PostgreSQL from its base backup "
            "and WAL archive, then run `provenance backup check` (docs/OPERATIONS.md)",
            field="db",
        )
    busy = [p for p in _files(target) if p.exists()]
    if busy:
        raise ValidationError(
            f"{busy[0]} exists: restore into an empty place (move the old database, its "
            "-wal and -shm files aside first)",
            field="db",
        )
    check_sqlite(backup)
    partial = target.with_name(target.name + ".restoring")
    for stale in _files(partial):
        stale.unlink(missing_ok=True)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        copy_sqlite(backup, partial)  # the backup file itself is never written
        copy = _restore_into(
            f"sqlite:///{partial}",
            name,
            origin,
            log_key,
            water,
            tail,
            accept_shorter,
            now,
            progress,
            label=str(backup),
        )
        settle(partial)  # one self-contained file: nothing left in a -wal beside it
        os.replace(partial, target)
        fsync_tree(target)
    except BaseException:
        for stale in _files(partial):
            stale.unlink(missing_ok=True)
        raise
    return Copy(
        str(target), copy.size, copy.checkpoint, copy.report, copy.tail, copy.incident, copy.mark
    )


def catch_up(
    url: str,
    name: str,
    origin: str,
    log_key: str,
    water: HighWater,
    tail: Bundle,
    *,
    accept_shorter: str | None = None,
    now: str = "",
    progress: Progress | None = None,
) -> Copy:
    """Catch the database at ``url`` up in place from the ``tail`` bundle (``provenance
    restore --tail BUNDLE`` without a backup file): a PostgreSQL database restored from
    its base backup and WAL archive, or a SQLite one already in place, while no server
    serves it. The same checks as `restore_sqlite`: the log audits clean before and after,
    the bundle is this log's and extends it, and the result reaches the high-water mark
    (or the loss is accepted with an incident note).

    Raises:
        ValidationError, ShorterLogError, NotFoundError: as `restore_sqlite`.
    """
    return _restore_into(url, name, origin, log_key, water, tail, accept_shorter, now, progress)


def _restore_into(
    url: str,
    name: str,
    origin: str,
    log_key: str,
    water: HighWater,
    tail: Bundle | None,
    accept_shorter: str | None,
    now: str,
    progress: Progress | None,
    label: str | None = None,
) -> Copy:
    copy = _audit_copy(url, name, log_key, progress, origin=origin, label=label)
    where = label or _where(url)
    added = 0
    if tail is not None:
        store = Store.open(url, create=False)
        try:
            added = _catch_up(store, _find(store, name, where).id, origin, log_key, tail, copy.size)
        finally:
            store.close()
    store = Store.open(url, create=False)
    try:  # the last batch the high-water file keeps, when the copy ends just before it
        found = _find(store, name, where).id
        added += roll_forward(store, found, log_key, water, store.head(found).size)
    finally:
        store.close()
    if added:  # the whole log again, against every checkpoint the tail brought
        trusted = tail.checkpoints if tail else ()
        copy = _audit_copy(url, name, log_key, progress, trusted=trusted, label=label)
    # last, so that an accepted loss is recorded only for a log that audits clean
    store = Store.open(url, create=False)
    try:
        log = _find(store, name, where).id
        mark = water.evidence(log_key)
        size = store.head(log).size
        incident = _compare(store, log, size, mark, water, accept_shorter, now)
        latest = store.checkpoint(log).note
    finally:
        store.close()
    return Copy(url, size, latest, copy.report, added, incident, mark.size if mark else None)


def _catch_up(store: Store, log: int, origin: str, log_key: str, tail: Bundle, size: int) -> int:
    """Append the tail of bundle ``tail`` beyond ``size``; the number of entries added."""
    if tail.origin != origin:
        raise ValidationError(
            f"the tail bundle is of log {tail.origin!r}, not {origin!r}", field="tail"
        )
    report = audit_bundle(tail, log_key)
    if not report.ok:
        first = report.findings[0]
        raise ValidationError(
            f"the tail bundle fails its audit: {first.code}: {first.message}", field="tail"
        )
    leaves, checkpoints = tail_of(tail, size, store.root(log, size))
    return append_tail(store, log, origin, leaves, checkpoints) - size if leaves else 0


def _compare(
    store: Store,
    log: int,
    size: int,
    mark: Mark | None,
    water: HighWater,
    accept_shorter: str | None,
    now: str,
) -> dict[str, Any] | None:
    """Refuse a log behind ``mark`` (or another tree at its size) unless accepted."""
    if mark is None:
        return None
    if size >= mark.size:
        if store.root(log, mark.size) != mark.root:
            raise ShorterLogError(
                f"the restored log is not the one whose checkpoint {mark.size} was published "
                f"(another root at that size; {mark.where}): refusing it"
            )
        return None
    if accept_shorter:
        latest = store.checkpoint(log).note if size else ""
        return water.accept_shorter(latest, size, accept_shorter, now, mark)
    raise ShorterLogError(
        f"the backup ends at {size} entries but checkpoint {mark.size} was published "
        f"({mark.where}): restoring it would roll the log back. Give the missing tail "
        "(--tail BUNDLE: an export bundle holding the log up to that checkpoint), or accept "
        "the loss with --accept-shorter-log NOTE (docs/OPERATIONS.md)"
    )


def check_restored(
    url: str, name: str, log_key: str, water: HighWater, progress: Progress | None = None
) -> Copy:
    """Check a copy restored from a backup (a PostgreSQL base backup replayed from its
    WAL archive, or any database): log ``name`` audits clean against ``log_key`` and
    reaches ``water``'s mark with the same root there, i.e. the archive is complete up to
    the latest published checkpoint. Nothing is written.

    Raises:
        ShorterLogError: the copy ends before the mark (the archive stops early or has a
            gap), or holds another tree.
        ValidationError: the copy does not audit clean, is another log's, or is still in
            recovery (PostgreSQL still replaying its WAL archive).
        NotFoundError: no log ``name`` in it.
    """
    store = Store.open(url, create=False)
    try:
        _not_replaying(store, _where(url))
        found = _find(store, name, _where(url))
        _latest(store, found.id, log_key, url)
        report = audit_log(store, found.id, log_key, progress=progress)
        _require_ok(report, url)
        mark = water.evidence(log_key)
        size = store.head(found.id).size
        if mark is not None and size < mark.size:
            raise ShorterLogError(
                f"the restored copy ends at {size} entries, before the published checkpoint "
                f"{mark.size} ({mark.where}): the archive stops early or has a gap"
            )
        _compare(store, found.id, size, mark, water, None, "")
        return Copy(
            url, size, store.checkpoint(found.id).note, report, mark=mark.size if mark else None
        )
    finally:
        store.close()


_SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$")


def check_wal_archive(folder: Path, segment_mb: int = 16) -> tuple[str, str, int]:
    """Check that the WAL segments archived in ``folder`` follow each other without a
    gap from the oldest base backup's start segment (its ``.backup`` history file) to the
    newest; return (first, last, count). Partial and history files are ignored.

    Raises:
        ValidationError: no segments or no base backup label, or a missing segment
            (named in the message).
    """
    per_log = 0x100000000 // (segment_mb * 1024 * 1024)
    try:
        names = sorted(p.name for p in folder.iterdir())
    except OSError as e:
        raise ValidationError(
            f"cannot read the WAL archive {folder}: {e.strerror}", field="archive"
        ) from e
    segments = [(n, m) for n in names if (m := _SEGMENT.match(n))]
    labels = [n[:24] for n in names if n.endswith(".backup") and _SEGMENT.match(n[:24])]
    if not segments:
        raise ValidationError(f"{folder} holds no WAL segments", field="archive")
    if not labels:
        raise ValidationError(
            f"{folder} holds no base backup label (*.backup): nothing to replay from",
            field="archive",
        )
    start = min(labels)

    def number(match: re.Match[str]) -> tuple[int, int]:
        return int(match.group(1), 16), int(match.group(2), 16) * per_log + int(match.group(3), 16)

    wanted = [(n, m) for n, m in segments if n >= start]
    if not wanted or wanted[0][0] != start:
        raise ValidationError(
            f"the WAL archive {folder} lacks segment {start}, where its base backup starts",
            field="archive",
        )
    previous = number(wanted[0][1])
    for name, match in wanted[1:]:
        timeline, position = number(match)
        if timeline == previous[0] and position != previous[1] + 1:
            missing = _segment_name(timeline, previous[1] + 1, per_log)
            raise ValidationError(
                f"the WAL archive {folder} has a gap: segment {missing} is missing (before "
                f"{name}); recovery would stop there",
                field="archive",
            )
        previous = (timeline, position)
    return wanted[0][0], wanted[-1][0], len(wanted)


def _segment_name(timeline: int, position: int, per_log: int) -> str:
    return f"{timeline:08X}{position // per_log:08X}{position % per_log:08X}"


def _audit_copy(
    url: str,
    name: str,
    log_key: str,
    progress: Progress | None,
    *,
    origin: str | None = None,
    trusted: tuple[str, ...] = (),
    label: str | None = None,
) -> Copy:
    """Audit log ``name`` in the database at ``url`` (a copy) against ``log_key`` (no
    auditor state read or written)."""
    store = Store.open(url, create=False)
    where = label or _where(url)
    try:
        _not_replaying(store, where)
        found = _find(store, name, where)
        if origin is not None and found.origin != origin:
            raise ValidationError(
                f"{where} is a backup of log {found.origin!r}, not {origin!r}", field="backup"
            )
        latest = _latest(store, found.id, log_key, where)
        report = audit_log(store, found.id, log_key, trusted=trusted, progress=progress)
        _require_ok(report, where)
        return Copy(url, latest.checkpoint.size, latest.note, report)
    finally:
        store.close()


def _where(url: str) -> str:
    """A database in messages: its file, else its URL without a password."""
    path = sqlite_file(url)
    if path is not None:
        return str(path)
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _not_replaying(store: Store, where: str) -> None:
    """Refuse a copy still replaying its WAL archive: a PostgreSQL copy restored from a
    base backup accepts connections before its recovery ends, and its log grows under a
    check made then."""
    if store.in_recovery():
        raise ValidationError(
            f"{where} is still in recovery (replaying its WAL archive): wait until "
            "pg_is_in_recovery() is false (the server says 'database system is ready to "
            "accept connections' in its log), then check again",
            field="backup",
        )


def _find(store: Store, name: str, where: str) -> Any:
    try:
        found = store.find_log(name)
    except LedgerError as e:
        raise ValidationError(
            f"{where} holds no provenance log: {e.message}", field="backup"
        ) from e
    if found is None or not found.size:
        raise ValidationError(f"{where} holds no log named {name!r}", field="backup")
    return found


def _latest(store: Store, log: int, log_key: str, where: str) -> Seen:
    note_text = store.checkpoint(log).note
    try:
        return Seen.verified(note_text, log_key)
    except LedgerError as e:
        raise ValidationError(
            f"{where} is a backup of another log: its checkpoints are not signed by this "
            f"log's key ({e.message})",
            field="backup",
        ) from e


def _require_ok(report: AuditReport, where: str) -> None:
    if not report.ok:
        first = report.findings[0]
        raise ValidationError(
            f"{where} fails its audit ({len(report.findings)} findings; first: {first.code} "
            f"at {first.index}: {first.message})",
            field="backup",
        )


def _files(path: Path) -> list[Path]:
    """A SQLite database file and its -wal and -shm companions."""
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
