"""The database tables of a log store (SQLAlchemy 2, typed declarative).

Every table carries ``log``, the small integer id of a row in ``logs``, so several logs
(per brand or region) can share one database. ``entries`` keeps each entry's exact leaf
bytes with the chain hash and an 8-byte key of the event hash; ``nodes`` keeps the hash
of every perfect Merkle subtree of level >= 1 (level 0 are the leaf hashes in
``entries``), so any proof reads O(log n) rows; ``checkpoints`` keeps every signed tree
head; the remaining tables are the projections of ledger.rules.state, rebuildable from
the entries.

Large tables are WITHOUT ROWID on SQLite: their primary key is their only index key,
which saves a second copy of it. The Alembic migrations in ``migrations/`` create
exactly these tables; a test compares the two (on PostgreSQL ``ix_entries_event_key``
is on an expression, `EVENT_KEY_PG`, which the model does not spell, and the tables of
`PG_WITHOUT_FOREIGN_KEY` have no foreign key).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ledger.stored import EVENT_KEY_SIZE as EVENT_KEY_SIZE  # re-exported: the column's size

_NO_ROWID = {"sqlite_with_rowid": False}
#: the indexed key of an entry's event hash on SQLite: the stored 8-byte key itself
EVENT_KEY = "event_key"
#: the same on PostgreSQL (0030_event_key4): its first 4 bytes as a signed big-endian
#: int4, an index tuple of 16 bytes against the 8-byte key's 24 (`event_key_of`)
EVENT_KEY_PG = (
    "((get_byte(event_key, 0) << 24) | (get_byte(event_key, 1) << 16)"
    " | (get_byte(event_key, 2) << 8) | get_byte(event_key, 3))"
)


#: the tables whose ``log`` references ``logs.id`` on SQLite only (0033_append_no_fk):
#: PostgreSQL checked it with a trigger and a query a row, on the rows every append
#: inserts, a check that could not fail (only a log's write transaction writes them,
#: holding that log's locked row; logs are never deleted)
PG_WITHOUT_FOREIGN_KEY = ("entries", "units")


def event_key_of(event_hash: bytes, is_sqlite: bool) -> bytes | int:
    """The value of the dialect's event key expression (`EVENT_KEY`, `EVENT_KEY_PG`) for
    ``event_hash``: the value a query binds to probe the index."""
    if is_sqlite:
        return event_hash[:8]
    return int.from_bytes(event_hash[:4], "big", signed=True)


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""


class LogRow(Base):
    """One log: its name, checkpoint origin and current head (locked by writers)."""

    __tablename__ = "logs"
    # every column bounded: PostgreSQL stores them PLAIN, without a TOAST table (0028)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    origin: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    chain: Mapped[bytes] = mapped_column(LargeBinary(32))
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    #: the size of the log whose map the stored map is, while the map's child process
    #: has not yet written a committed batch's map rows (ledger.service.mapworker);
    #: NULL: the stored map is the whole log's (0034_map_size)
    map_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class EntryRow(Base):
    """A log entry: the leaf bytes exactly as hashed, and what is indexed about them."""

    __tablename__ = "entries"
    # the foreign key: SQLite's only (`PG_WITHOUT_FOREIGN_KEY`)
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf: Mapped[bytes] = mapped_column(LargeBinary)
    chain: Mapped[bytes] = mapped_column(LargeBinary(32))
    # the first `EVENT_KEY_SIZE` bytes of the event hash (0031_from_leaves)
    event_key: Mapped[bytes] = mapped_column(LargeBinary(EVENT_KEY_SIZE))
    kind: Mapped[str] = mapped_column(String(32))
    gtin: Mapped[str | None] = mapped_column(String(14))
    serial: Mapped[str | None] = mapped_column(String(20))
    signer: Mapped[str] = mapped_column(String(64))
    # The key id and receive time are read from the leaf (migration 0005_perf), the leaf
    # hash is computed from it (0014_slim_entries), and so is the event hash: the row
    # keeps its 8-byte key, which the duplicate lookup probes, confirming a match with
    # the hash of the leaf's event (0031_from_leaves); a unit's entries share one key of
    # the unit index, sorted by idx when read (0025_slim_log). On PostgreSQL the event
    # key index is on `EVENT_KEY_PG` instead (0030_event_key4).
    __table_args__ = (
        Index("ix_entries_event_key", "log", EVENT_KEY),
        Index("ix_entries_unit", "log", "gtin", "serial"),
        _NO_ROWID,
    )


class NodeRow(Base):
    """A run of a level's incomplete last tile (0029_node_runs): ``hash`` holds the hashes
    of the perfect subtrees ``[i * 2**level, (i + 1) * 2**level)`` for ``i = idx, idx +
    1, ...``, 32 bytes each, never across a tile boundary (complete tiles are `TileRow`
    rows, 0028_tiles; a single node is a run of one)."""

    __tablename__ = "nodes"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # 32 bytes a node (the length is no limit on either database); PostgreSQL: STORAGE
    # MAIN (0029_node_runs), a run stays in its row while it fits the page
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    __table_args__ = (_NO_ROWID,)


class TileRow(Base):
    """A complete tile of stored node hashes (ledger.store.nodetiles, 0028_tiles): the
    256 hashes of nodes ``idx * 256 .. idx * 256 + 255`` of ``level``, concatenated.
    Written once; the nodes of a level's incomplete last tile are `NodeRow` rows."""

    __tablename__ = "tiles"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # PostgreSQL: STORAGE EXTERNAL (0028_tiles): out of line, never a compression try
    hashes: Mapped[bytes] = mapped_column(LargeBinary)
    __table_args__ = (_NO_ROWID,)


class CheckpointRow(Base):
    """A signed checkpoint (C2SP signed note) of the tree at ``size``."""

    __tablename__ = "checkpoints"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[str] = mapped_column(String(32))


class MapBucketRow(Base):
    """A bucket of the map of heads (ledger.map.buckets): the nodes at the four depths
    below the node at ``pos`` (a depth divisible by 4), encoded in ``data``. The latest
    version only (0032_map_buckets; before it, ``map_nodes`` held one node a row)."""

    __tablename__ = "map_buckets"
    # no foreign key: the append is the only writer (as 0026 for map_nodes). A rowid
    # table on SQLite: an index b-tree keeps ~1 KB of a row in its page and spills the
    # rest, and the top buckets are ~1 KB (docs/PERFORMANCE.md "maplayout, session 23")
    log: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    pos: Mapped[bytes] = mapped_column(LargeBinary(33), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    # PostgreSQL: room on each page for the rewritten buckets' new versions (0032)
    __table_args__ = ({"postgresql_with": {"fillfactor": 70}},)


class ActorTable(Base):
    """Projection of `ledger.rules.state.ActorRecord`."""

    __tablename__ = "actors"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    prefixes: Mapped[str] = mapped_column(Text)
    registered_index: Mapped[int] = mapped_column(BigInteger)
    revoked_index: Mapped[int | None] = mapped_column(BigInteger)
    revoked_since: Mapped[str | None] = mapped_column(String(32))
    recovery_wait: Mapped[int | None] = mapped_column(Integer)
    log_format: Mapped[int | None] = mapped_column(Integer)
    log_rules: Mapped[int | None] = mapped_column(Integer)
    log_since: Mapped[int | None] = mapped_column(BigInteger)


class KeyTable(Base):
    """Projection of `ledger.rules.state.KeyRecord`."""

    __tablename__ = "actor_keys"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(22), primary_key=True)
    actor: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(String(43))
    added_index: Mapped[int] = mapped_column(BigInteger)
    removed_index: Mapped[int | None] = mapped_column(BigInteger)
    scope: Mapped[str] = mapped_column(Text, server_default="")
    recovered_index: Mapped[int | None] = mapped_column(BigInteger)
    effective: Mapped[str | None] = mapped_column(String(32))
    compromised_since: Mapped[str | None] = mapped_column(String(32))
    __table_args__ = (Index("ix_actor_keys_actor", "log", "actor"),)


class AuthorizationTable(Base):
    """Projection of `ledger.rules.state.AuthorizationRecord`."""

    __tablename__ = "authorizations"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64))
    partner: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    gtins: Mapped[str] = mapped_column(Text)
    prefixes: Mapped[str] = mapped_column(Text)
    not_before: Mapped[str] = mapped_column(String(32))
    not_after: Mapped[str] = mapped_column(String(32))
    granted_index: Mapped[int] = mapped_column(BigInteger)
    revoked_index: Mapped[int | None] = mapped_column(BigInteger)
    revoked_at: Mapped[str | None] = mapped_column(String(32))
    __table_args__ = (Index("ix_authorizations_partner", "log", "partner"),)


class ProductTable(Base):
    """Projection of `ledger.rules.state.ProductRecord`."""

    __tablename__ = "products"
    # every column bounded: PostgreSQL stores them PLAIN, without a TOAST table (0028)
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    registered_index: Mapped[int] = mapped_column(BigInteger)
    name_zh: Mapped[str | None] = mapped_column(String(200))
    support: Mapped[str | None] = mapped_column(String(200))
    image: Mapped[str | None] = mapped_column(String(43))


class UnitTable(Base):
    """Projection of `ledger.rules.state.UnitRecord` (its ``head`` derived, not stored)."""

    __tablename__ = "units"
    # the foreign key: SQLite's only (`PG_WITHOUT_FOREIGN_KEY`)
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    serial: Mapped[str] = mapped_column(String(20), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64))
    # no head (0031_from_leaves): a unit's head is the event hash of its entry at
    # head_index, read from that entry's leaf with the unit (ledger.store.records)
    head_index: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(Integer)
    commissioned_index: Mapped[int] = mapped_column(BigInteger)
    custodian: Mapped[str | None] = mapped_column(String(64))
    pending: Mapped[str | None] = mapped_column(String(64))
    sold: Mapped[bool] = mapped_column(Boolean)
    delivered: Mapped[bool] = mapped_column(Boolean)
    claimed: Mapped[bool] = mapped_column(Boolean)
    recalled: Mapped[bool] = mapped_column(Boolean)
    decommissioned: Mapped[bool] = mapped_column(Boolean)
    flags: Mapped[int] = mapped_column(Integer)
    lot: Mapped[str | None] = mapped_column(String(20))
    expiry: Mapped[str | None] = mapped_column(String(6))
    claim_salt: Mapped[str | None] = mapped_column(String(22))
    claim_hash: Mapped[str | None] = mapped_column(String(43))
    # custody history (migration 0008_custody): who held it, who sold it, how often, when
    holders: Mapped[str] = mapped_column(Text, server_default="")
    seller: Mapped[str | None] = mapped_column(String(64))
    sales: Mapped[int] = mapped_column(Integer, server_default="0")
    last_sold: Mapped[str | None] = mapped_column(String(32))
    owner: Mapped[str | None] = mapped_column(String(43))
    consumed_at: Mapped[str | None] = mapped_column(String(32))
    # containers (migration 0019_cartons): the SSCCs it is packed in, outermost first,
    # and the outermost alone, indexed: what a scan of a pallet's label finds; only the
    # units in a container are in the index (0027_storage_v2)
    containers: Mapped[str] = mapped_column(Text, server_default="")
    container: Mapped[str | None] = mapped_column(String(18))
    __table_args__ = (
        Index(
            "ix_units_container",
            "log",
            "container",
            sqlite_where=text("container IS NOT NULL"),
            postgresql_where=text("container IS NOT NULL"),
        ),
        # PostgreSQL: room on each page for the new versions of its units' rows, so an
        # append's updates stay on their page without a new index entry (0028_units_slim)
        {**_NO_ROWID, "postgresql_with": {"fillfactor": 50}},
    )


class ScanRow(Base):
    """One resolver hit on a unit: telemetry kept out of the signed log (docs/SIGNALS.md).

    No raw client address: ``client`` is a salted hash that changes every day.
    """

    __tablename__ = "scans"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"))
    gtin: Mapped[str] = mapped_column(String(14))
    serial: Mapped[str] = mapped_column(String(20))
    at: Mapped[str] = mapped_column(String(32))
    place: Mapped[str | None] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(32))
    agent: Mapped[str] = mapped_column(String(16))
    # the client's network (/24, /48) as a per-unit pseudonym: many-scanners counts
    # networks (ledger.signals.compute); None for scans recorded before it
    network: Mapped[str | None] = mapped_column(String(32))
    # the console analytics' region (migration 0023_scanstats): the place, else the
    # offline table's region of the address (never the address); None before it
    region: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (Index("ix_scans_unit", "log", "gtin", "serial", "id"),)


class ScanCountRow(Base):
    """Per unit: how many scans, and the first one; kept with the scans so the page's
    "checked N times; first on DATE in PLACE" costs one row, however popular the unit."""

    __tablename__ = "scan_counts"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    serial: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    first_at: Mapped[str] = mapped_column(String(32))
    first_place: Mapped[str | None] = mapped_column(String(64))
    # the first scan's region (migration 0023_scanstats; ledger.store.scanstats)
    first_region: Mapped[str | None] = mapped_column(String(64))


class CosignatureRow(Base):
    """A witness's C2SP ``cosignature/v1`` line on the checkpoint of ``size``."""

    __tablename__ = "cosignatures"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    witness: Mapped[str] = mapped_column(String(255), primary_key=True)
    key_hash: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    line: Mapped[str] = mapped_column(Text)
    __table_args__ = (Index("ix_cosignatures_size", "log", "size"),)


class WitnessHeadRow(Base):
    """The latest size a witness cosigned (C2SP tlog-witness: checked and moved atomically)."""

    __tablename__ = "witness_heads"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    witness: Mapped[str] = mapped_column(String(255), primary_key=True)
    key_hash: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
