"""Engines for SQLite (embedded default) and PostgreSQL, and schema migration.

SQLite runs in WAL mode with ``synchronous=FULL`` (a committed append survives a crash
of the process or the machine) and a 30 s busy timeout; the writer's connections keep a
larger page cache (`SQLITE_WRITER_CACHE_KIB`). Readers share a pool of
`SQLITE_READERS` connections (concurrent single-event requests each read before their
append). The bookkeeping engine (`Engines.bookkeeping`) writes only what a crash may lose
a few of, the write-quota takes (ledger.store.quotas): SQLite with ``synchronous=NORMAL``
(no fsync per commit; the next append's fsync, or the WAL checkpoint, makes them
durable), PostgreSQL the writer engine, whose quota transactions turn
``synchronous_commit`` off for themselves. Never a ledger entry: those are the writer's.
Writers use their own engine whose transactions start with ``BEGIN IMMEDIATE``, so two
processes never both believe they extend the same head: the second waits for the first
to commit. Readers use deferred transactions and, thanks to WAL, never block the writer.
The writing engines' connections do not checkpoint the WAL after their commits
(``wal_autocheckpoint=0``): a daemon thread per engine set does, on its own connection,
woken by their commits (ledger.store.checkpoints); a commit checkpoints itself only if
the WAL grows past a bound.

PostgreSQL serializes writers per log with ``SELECT ... FOR UPDATE`` on the log's row
(ledger.store.repository); migrations take an advisory lock so that several workers
starting at once upgrade the schema exactly once.

PostgreSQL streaming replicas (``replica_urls``) serve reads; ledger.store.replicas
decides, read by read, whether a replica or the primary answers. Migrations and writes
run on the primary only; the replicas receive both through WAL.

Migrations are Alembic's, run programmatically; `migrate` brings any database to head.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError

from ledger.errors import StorageError
from ledger.store.checkpoints import Checkpointer, CheckpointingConnection
from ledger.store.replicas import ReadRouter
from ledger.store.statistics import StatisticsRefresher
from ledger.store.writetimes import WriteTimes

if TYPE_CHECKING:  # Alembic is imported only to upgrade a database (`migrate`)
    from alembic.config import Config

#: the SQLite reader engine's pooled connections
SQLITE_READERS = 40
#: the SQLite writer's page cache, KiB a connection (SQLite's default is 2 MiB). An
#: append rewrites the map buckets its keys reach, about two a key on random pages of
#: the map table, which outgrows 2 MiB at ~10^5 units; with 32 MiB an append of 1,000
#: events on a map of 10^5 keys took 220-236 µs an event against 322-361
#: (docs/PERFORMANCE.md, "Session 25"). The writer's transactions are serialized, so
#: few of its pooled connections ever fill theirs. The map child's writer (`map_writer`),
#: which now writes those rows, keeps the same (with the default its ~1,600 pages a batch
#: spilled to the WAL mid-transaction; docs/PERFORMANCE.md "cycles47").
SQLITE_WRITER_CACHE_KIB = 32 * 1024
#: WAL frames not yet in the database at which a SQLite commit wakes the checkpointer
#: thread, and the WAL length (frames) at which the commit checkpoints itself
#: (ledger.store.checkpoints). A checkpoint copies each page once, however many frames
#: of it the WAL holds: the map's buckets, ~1,700 pages a batch of 1,000 at 10^5 keys
#: on random pages of the table, are rewritten again and again, so copying every
#: ~3.5 such batches instead of after each one, the map added 5-8 ms of the appending
#: process's CPU a batch instead of 10-11 (docs/PERFORMANCE.md, "ckpt38"). The bound
#: leaves 16,000 frames (64 MiB) for the commits made while a checkpoint runs.
SQLITE_CHECKPOINT_FRAMES = 8000
SQLITE_WAL_BOUND_FRAMES = 24_000
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_PG_MIGRATION_LOCK = 0x70726F76  # "prov": advisory lock id for schema upgrades


def _adapt_as_is() -> None:
    """Register identity adapters with Python's sqlite3 for ``bytes``, ``bool`` and
    ``None``.

    The sqlite3 module binds an int, float, str or bytearray parameter directly, but
    asks its adapter registry about every other value, ``bytes`` and ``None``
    included, and when none is registered it looks for ``__adapt__`` on its
    ``PrepareProtocol`` type: a failed attribute lookup on a type, which formats an
    ``AttributeError`` message and throws it away (~600 instructions a parameter). A
    batch binds ~80 such values an event (the leaf, hashes and the unit row's many
    NULL columns): ~9 % of the write transaction's instructions (docs/PERFORMANCE.md,
    "ingest29"). A registered adapter is found first and called instead: ``bytes``
    itself returns an exact ``bytes`` object unchanged, ``int`` turns a bool into the
    0 or 1 sqlite3 binds for it, and an empty dict's ``get`` returns None for None, so
    every parameter is bound exactly as before (a blob, an integer, a NULL). An
    adapter someone registered already is left in place.
    """
    protocol = sqlite3.PrepareProtocol
    if (bytes, protocol) not in sqlite3.adapters:
        sqlite3.register_adapter(bytes, bytes)
    if (bool, protocol) not in sqlite3.adapters:
        sqlite3.register_adapter(bool, int)  # bound as the integer 0 or 1 either way
    if (type(None), protocol) not in sqlite3.adapters:
        sqlite3.register_adapter(type(None), _NOTHING.get)


#: never holds anything: its ``get`` is a C function answering None (`_adapt_as_is`)
_NOTHING: dict[None, None] = {}
_adapt_as_is()


@dataclass(frozen=True)
class Engines:
    """A reader and a writer engine on one database, and where reads may go."""

    url: str
    reader: Engine
    writer: Engine
    #: the primary's reader plus any streaming replicas (ledger.store.replicas)
    reads: ReadRouter
    #: writes a crash may lose a few of (write-quota takes), never ledger entries
    bookkeeping: Engine
    #: SQLite: checkpoints the WAL off the committing threads; None for PostgreSQL
    checkpointer: Checkpointer | None = None
    #: PostgreSQL: refreshes the planner's statistics off the appends; None for SQLite
    statistics: StatisticsRefresher | None = None
    #: how long this process's write transactions waited for each log's lock and held it
    write_times: WriteTimes = field(default_factory=WriteTimes)

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite."""
        return self.reader.dialect.name == "sqlite"

    def dispose(self) -> None:
        """Close every pooled connection, and stop the checkpointer thread (closing its
        connection) and the statistics refresher (waiting for its run)."""
        if self.checkpointer is not None:
            self.checkpointer.close()
        if self.statistics is not None:
            self.statistics.close()
        self.reader.dispose()
        self.writer.dispose()
        self.bookkeeping.dispose()
        self.reads.dispose()


def connect(url: str, replica_urls: Sequence[str] = ()) -> Engines:
    """Create the reader and writer engines for ``url``, and one per read replica.

    ``sqlite:///path`` (the parent folder is created) or ``postgresql+psycopg://...``;
    replicas are PostgreSQL streaming replicas of a PostgreSQL ``url``.

    Raises:
        StorageError: the URL names an unsupported database, or replicas are given
            for SQLite.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if replica_urls:
            raise StorageError("read replicas need PostgreSQL streaming replication")
        if parsed.database in (None, "", ":memory:"):
            raise StorageError("SQLite needs a file path: several connections share it")
        path = Path(parsed.database).expanduser()
        _create_private(path)
        checkpointer = Checkpointer(
            path, frames=SQLITE_CHECKPOINT_FRAMES, bound=SQLITE_WAL_BOUND_FRAMES
        )
        reader = _sqlite_engine(url, "BEGIN", pool_size=SQLITE_READERS)
        writer = _sqlite_engine(
            url, "BEGIN IMMEDIATE", cache_kib=SQLITE_WRITER_CACHE_KIB, checkpointer=checkpointer
        )
        bookkeeping = _sqlite_engine(
            url, "BEGIN IMMEDIATE", synchronous="NORMAL", checkpointer=checkpointer
        )
        return Engines(url, reader, writer, ReadRouter.build(reader), bookkeeping, checkpointer)
    if parsed.get_backend_name() == "postgresql":
        reader = create_engine(url, pool_pre_ping=True)
        writer = create_engine(url, pool_pre_ping=True)
        replicas = [(r, _replica_engine(r)) for r in replica_urls]
        routed = ReadRouter.build(reader, replicas)
        return Engines(url, reader, writer, routed, writer, None, StatisticsRefresher(writer))
    raise StorageError(
        f"unsupported database {parsed.get_backend_name()!r}; use sqlite or postgresql"
    )


def map_writer(url: str) -> Engine:
    """An engine of one connection for the writes of the map's child process
    (ledger.service.mapworker), on the database of ``url``. SQLite: transactions begin
    with ``BEGIN IMMEDIATE``, in WAL mode with ``synchronous=NORMAL``, the writer's page
    cache (`SQLITE_WRITER_CACHE_KIB`) and no autocheckpoint (the writers' checkpointer
    runs them). A write a crash loses leaves the stored map behind its log, and the
    log's row says so in the same transaction: the next append catches the map up from
    the entries, so it needs no fsync of its own (on PostgreSQL the child's transaction
    sets ``synchronous_commit`` off)."""
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(
            url,
            "BEGIN IMMEDIATE",
            synchronous="NORMAL",
            pool_size=1,
            cache_kib=SQLITE_WRITER_CACHE_KIB,
            autocheckpoint=False,
        )
    return create_engine(url, pool_size=1, pool_pre_ping=True)


def _create_private(path: Path) -> None:
    """Create a new SQLite file with mode 0600 before SQLAlchemy opens it.

    SQLite would create it with 0644 (the umask's default), and its ``-wal`` and ``-shm``
    files take the database file's mode, so this one file decides all three: scanners'
    client hashes, claim attempts and reports are nobody else's to read on the host. An
    existing file is left as it is (its owner chose its mode).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
    finally:
        os.close(fd)


def _replica_engine(url: str) -> Engine:
    if make_url(url).get_backend_name() != "postgresql":
        raise StorageError(f"a read replica must be PostgreSQL, not {url!r}")
    # A stopped replica must fail fast so the read moves to the primary.
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 2})


def _sqlite_engine(
    url: str,
    begin: str,
    *,
    synchronous: str = "FULL",
    pool_size: int = 5,
    cache_kib: int | None = None,
    checkpointer: Checkpointer | None = None,
    autocheckpoint: bool = True,
) -> Engine:
    """An engine on the SQLite file of ``url`` whose transactions start with ``begin``.

    Its connections run in WAL mode with ``synchronous`` and a 30 s busy timeout. With a
    ``checkpointer`` they never checkpoint after their own commits but tell it instead
    (ledger.store.checkpoints); without one (the readers, which do not write) SQLite's
    autocheckpoint stays on, unless ``autocheckpoint`` is False (a writer in another
    process than the checkpointer's, `map_writer`).
    """
    connect_args: dict[str, Any] = {"timeout": 30}
    if checkpointer is not None:
        connect_args["factory"] = CheckpointingConnection
    engine = create_engine(url, connect_args=connect_args, pool_size=pool_size)
    pragmas = [
        "PRAGMA journal_mode=WAL",
        f"PRAGMA synchronous={synchronous}",  # FULL but for the bookkeeping engine
        "PRAGMA foreign_keys=ON",
        "PRAGMA busy_timeout=30000",
    ]
    if cache_kib is not None:
        pragmas.append(f"PRAGMA cache_size=-{int(cache_kib)}")  # negative: KiB
    if checkpointer is not None or not autocheckpoint:
        # Checkpoints off the commit path: the checkpointer's thread runs them.
        pragmas.append("PRAGMA wal_autocheckpoint=0")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN, so we choose its kind.
        dbapi_connection.isolation_level = None
        for pragma in pragmas:
            dbapi_connection.execute(pragma)
        if checkpointer is not None:
            dbapi_connection.checkpointer = checkpointer  # type: ignore[attr-defined]

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(begin)

    return engine


#: the newest migration revisions this code ships (`head_revisions` reads them from the
#: migration scripts, through Alembic; tests/integration/test_migration_heads.py checks
#: that the two agree, so a new migration must name itself here). A database at these
#: opens without importing Alembic or reading the scripts (~0.25 s of every process
#: that opens a store: the CLI's, each server worker, each map child;
#: docs/PERFORMANCE.md "audit44")
HEADS = frozenset({"0034_map_size"})
#: the table in which Alembic keeps a database's revisions (its default name)
VERSION_TABLE = "alembic_version"


def _alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration of this code's migration scripts (upgrading or
    downgrading on ``connection``, if given)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revisions() -> frozenset[str]:
    """The newest migration revisions shipped with this code, read from the migration
    scripts (what `HEADS` must say).

    Usually one; independent features may add migrations that branch from the same
    parent, and Alembic applies every head.
    """
    from alembic.script import ScriptDirectory

    heads = frozenset(ScriptDirectory.from_config(_alembic_config()).get_heads())
    if not heads:  # pragma: no cover - the package ships migrations
        raise StorageError("no migrations found")
    return heads


def current_revisions(conn: Connection) -> frozenset[str]:
    """The revisions the database on ``conn`` is at: the rows of `VERSION_TABLE`, what
    Alembic's ``MigrationContext.get_current_heads`` reads (empty: a database no
    migration has touched)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return frozenset()
    rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))  # noqa: S608
    return frozenset(str(version) for (version,) in rows)


def migrate(engines: Engines) -> None:
    """Upgrade the database schema to the newest revision (`HEADS`), once even under
    concurrency. Alembic is imported only when there is something to upgrade.

    Raises:
        StorageError: the database cannot be reached or the upgrade fails.
    """
    try:
        with engines.reader.connect() as conn:
            if current_revisions(conn) == HEADS:
                return
        from alembic import command

        with engines.writer.begin() as conn:
            if not engines.is_sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_MIGRATION_LOCK})
            if current_revisions(conn) != HEADS:
                command.upgrade(_alembic_config(conn), "heads")
    except SQLAlchemyError as e:
        raise StorageError(f"cannot migrate the database: {e}") from e
