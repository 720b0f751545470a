"""Copies of a SQLite database file, taken while the server writes (the online backup API).

`copy_sqlite` copies page by page with ``sqlite3.Connection.backup``, inside one read
transaction held on the source for the whole copy: in WAL mode that snapshot is fixed,
so the copy is the database as of one commit however many appends land meanwhile, and
the writers are never blocked (they write to the WAL; the copy never restarts).
`check_sqlite` refuses a file that is not a whole, sound SQLite database before anyone
opens it as a store.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

from ledger.errors import StorageError, ValidationError

#: the first 16 bytes of every SQLite 3 database file
_MAGIC = b"SQLite format 3\x00"


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///PATH`` URL (None: not SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database)).expanduser()


def copy_sqlite(
    source: Path,
    target: Path,
    *,
    pages: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Copy the SQLite database ``source`` into the new file ``target`` (mode 0600),
    consistent as of one commit while other connections write, then fsync it.

    ``pages`` are copied per step; ``progress`` is called with (pages done, total).

    Raises:
        StorageError: ``source`` cannot be read, or ``target`` written.
    """
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        src = sqlite3.connect(source, timeout=30, isolation_level=None)
        dst = sqlite3.connect(target, isolation_level=None)
    except sqlite3.Error as e:
        raise StorageError(f"cannot open {source} for a backup: {e}") from e
    try:
        # One read snapshot for every step: what the copy holds is one commit's database.
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()

        def step(_status: int, remaining: int, total: int) -> None:
            if progress is not None:
                progress(total - remaining, total)

        src.backup(dst, pages=pages, progress=step)
        src.execute("ROLLBACK")
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
    except sqlite3.Error as e:
        raise StorageError(f"the backup of {source} failed: {e}") from e
    finally:
        dst.close()
        src.close()
    _fsync(target)


def check_sqlite(path: Path) -> None:
    """Refuse a file that is not a whole, sound SQLite database (a truncated or corrupted
    backup), without writing to it.

    Raises:
        ValidationError: no such file, not SQLite, or its integrity check fails.
    """
    try:
        with path.open("rb") as f:
            magic = f.read(len(_MAGIC))
    except OSError as e:
        raise ValidationError(f"cannot read {path}: {e.strerror}", field="backup") from e
    if magic != _MAGIC:
        raise ValidationError(f"{path} is not a SQLite database", field="backup")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise ValidationError(f"{path} cannot be opened: {e}", field="backup") from e
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check(5)")]
    except sqlite3.Error as e:
        raise ValidationError(
            f"{path} is damaged (truncated or corrupted): {e}", field="backup"
        ) from e
    finally:
        conn.close()
    if problems != ["ok"]:
        raise ValidationError(
            f"{path} is damaged (truncated or corrupted): {'; '.join(problems)}", field="backup"
        )


def settle(path: Path) -> None:
    """Fold the ``-wal`` of the closed SQLite database ``path`` into it and leave it in
    rollback-journal mode: one self-contained file, safe to rename.

    Raises:
        StorageError: the database cannot be opened or checkpointed.
    """
    try:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise StorageError(f"cannot settle {path}: {e}") from e
    _fsync(path)


def fsync_tree(path: Path) -> None:
    """fsync ``path`` and its folder (so that a rename into it survives a crash)."""
    _fsync(path)
    _fsync(path.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
