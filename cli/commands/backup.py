"""``provenance backup | restore | check-archive``: backups that never roll the log back.

- ``backup --out FILE``: an online copy of the SQLite database, audited before it is
  declared good (ledger.service.backup);
- ``restore FILE``: into the database's empty place, refused when shorter than the
  largest checkpoint the log published (its high-water file) unless ``--tail BUNDLE``
  brings the missing entries or ``--accept-shorter-log NOTE`` records an incident;
- ``check-archive``: a PostgreSQL WAL archive has no gap (``--wal DIR``), and a copy
  restored from it reaches the latest published checkpoint (``--restored URL``).

All work where the database is, never through ``--server``; the log's key is the pinned
one (``--log-key``, ``PROVENANCE_LOG_KEY``), else this machine's log key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from cli.commands.audit import _own_log_key, pinned_key
from cli.common import OPTIONS, UsageError, console, emit, fail, safe

app = typer.Typer()


def _local_only(command: str) -> None:
    if OPTIONS.server:
        fail(f"{command} works on a local database (--db), not through --server", 2)


def _setup(log_key: str | None) -> tuple[Any, str, Any]:
    """The log spec, its pinned (or this machine's) verifier key, its high-water file."""
    from cli.backends.local import local_log
    from ledger.service.highwater import HighWater, state_path

    spec = local_log(OPTIONS.database_url, OPTIONS.log)
    key = pinned_key(log_key) or _own_log_key(spec)
    return spec, key, HighWater(state_path(spec), spec.origin)


@app.command()
def backup(
    out: Path = typer.Option(..., "--out", help="the backup file to create (never overwritten)"),
    log_key: str = typer.Option(
        None, "--log-key", help="the log's verifier key to audit the copy against"
    ),
) -> None:
    """Copy the SQLite database while it is written (the online backup API), audit the
    copy in full, and only then keep it as OUT."""
    from rich.progress import Progress

    from ledger.service.backup import backup_sqlite

    _local_only("backup")
    spec, key, _ = _setup(log_key)
    with Progress(console=console, disable=OPTIONS.json, transient=True) as bar:
        copying = bar.add_task("copying", total=None)
        auditing = bar.add_task("auditing the copy", total=None)
        done = backup_sqlite(
            spec.database_url,
            spec.name,
            key,
            out,
            progress=lambda d, t: bar.update(copying, completed=d, total=t),
            audit_progress=lambda d, t: bar.update(auditing, completed=d, total=t),
        )
    emit(
        {"backup": done.path, "size": done.size, "checkpoint": done.checkpoint, "audit": "passed"},
        safe(f"backup {done.path}: {done.size} entries, audit passed"),
    )


@app.command()
def restore(
    file: Path = typer.Argument(
        None, help="a backup made by `provenance backup` (none: catch the database up in place)"
    ),
    tail: Path = typer.Option(
        None, "--tail", help="an export bundle of this log holding the entries after the backup"
    ),
    accept_shorter_log: str = typer.Option(
        None,
        "--accept-shorter-log",
        help="serve a log shorter than a published checkpoint; the incident NOTE is recorded",
    ),
    log_key: str = typer.Option(None, "--log-key", help="the log's verifier key"),
    evidence: list[Path] = typer.Option(
        None,
        "--evidence",
        help="a checkpoint a witness kept (note or witness state file); repeatable; kept "
        "for every later start",
    ),
) -> None:
    """Restore FILE into the database's empty place, after checking it is a sound,
    audited copy of this log that reaches every checkpoint the log published. Without
    FILE, catch the database (a PostgreSQL one restored from its archive) up in place
    from --tail."""
    from datetime import UTC, datetime

    from rich.progress import Progress

    from ledger.audit.bundle import parse_bundle
    from ledger.events import format_time
    from ledger.service.backup import catch_up, restore_sqlite
    from ledger.service.witnessed import keep_evidence

    _local_only("restore")
    if accept_shorter_log is not None and not accept_shorter_log.strip():
        raise UsageError("--accept-shorter-log needs an incident note")
    if file is None and tail is None:
        raise UsageError("give a backup FILE, or --tail BUNDLE to catch the database up in place")
    spec, key, water = _setup(log_key)
    for path in evidence or ():
        keep_evidence(path, water.path, key, spec.origin)
    bundle = None
    if tail is not None:
        try:
            bundle = parse_bundle(tail.read_bytes())
        except OSError as e:
            fail(f"cannot read {tail}: {e.strerror}")
    now = format_time(datetime.now(UTC))
    with Progress(console=console, disable=OPTIONS.json, transient=True) as bar:
        task = bar.add_task("auditing", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if file is None:
            if bundle is None:  # said above; for the type checker
                raise UsageError("--tail BUNDLE is needed without a backup FILE")
            done = catch_up(
                spec.database_url,
                spec.name,
                spec.origin,
                key,
                water,
                bundle,
                accept_shorter=accept_shorter_log,
                now=now,
                progress=progress,
            )
        else:
            done = restore_sqlite(
                file,
                spec.database_url,
                spec.name,
                spec.origin,
                key,
                water,
                tail=bundle,
                accept_shorter=accept_shorter_log,
                now=now,
                progress=progress,
            )
    where = safe(spec.database_url) if file is None else safe(done.path)
    lines = [safe(f"restored {done.size} entries into {where} (audit passed)")]
    if done.tail:
        lines.append(safe(f"  {done.tail} entries recovered from {tail}"))
    if done.incident is not None:
        lines.append(
            safe(
                f"  INCIDENT recorded in {water.path}: checkpoint "
                f"{done.incident['given_up_size']} given up; tell the witnesses "
                "(docs/OPERATIONS.md)"
            )
        )
    emit(
        {
            "database": spec.database_url if file is None else done.path,
            "size": done.size,
            "recovered": done.tail,
            "high_water": done.mark,
            "incident": done.incident,
        },
        *lines,
    )


@app.command("check-archive")
def check_archive(
    wal: Path = typer.Option(None, "--wal", help="the WAL archive folder (archive_command's)"),
    restored: str = typer.Option(
        None, "--restored", help="the database URL of a copy restored from the archive"
    ),
    log_key: str = typer.Option(None, "--log-key", help="the log's verifier key"),
) -> None:
    """Check a PostgreSQL backup: the WAL archive has no gap, and a copy restored from it
    audits clean and reaches the latest checkpoint the log published."""
    from ledger.service.backup import check_restored, check_wal_archive

    _local_only("check-archive")
    if wal is None and restored is None:
        raise UsageError("give --wal DIR, --restored URL, or both")
    data: dict[str, Any] = {}
    lines = []
    if wal is not None:
        first, last, count = check_wal_archive(wal)
        data["wal"] = {"first": first, "last": last, "segments": count}
        lines.append(safe(f"WAL archive {wal}: {count} segments {first}..{last}, no gap"))
    if restored is not None:
        spec, key, water = _setup(log_key)
        done = check_restored(restored, spec.name, key, water)
        data["restored"] = {"size": done.size, "high_water": done.mark}
        lines.append(
            safe(
                f"restored copy: {done.size} entries, audit passed, reaches the published "
                f"checkpoint {done.mark if done.mark is not None else '(none kept)'}"
            )
        )
    emit(data, *lines)
