"""Shared query helpers and row types of the store (used by the reader and the writer).

No transactions are opened here: every function runs on a connection it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, or_, select

from ledger.merkle import Subtree
from ledger.store.schema import CheckpointRow, EntryRow, LogRow, NodeRow, ScanCountRow, ScanRow

LOGS = cast(Table, LogRow.__table__)
ENTRIES = cast(Table, EntryRow.__table__)
NODES = cast(Table, NodeRow.__table__)
CHECKPOINTS = cast(Table, CheckpointRow.__table__)
SCANS = cast(Table, ScanRow.__table__)
SCAN_COUNTS = cast(Table, ScanCountRow.__table__)
CHUNK = 500  # rows per IN (...) query, well below every driver's parameter limit


@dataclass(frozen=True)
class LogHead:
    """A log's identity and current head."""

    id: int
    name: str
    origin: str
    size: int
    chain: bytes
    root: bytes


@dataclass(frozen=True)
class StoredEntry:
    """One stored entry: leaf bytes and the values derived from them at append time."""

    index: int
    leaf: bytes
    leaf_hash: bytes
    #: the running chain hash; None where the source does not keep it (a remote audit)
    chain: bytes | None
    event_hash: bytes
    kind: str
    gtin: str | None
    serial: str | None
    signer: str
    key_id: str
    received: str


@dataclass(frozen=True)
class StoredCheckpoint:
    """A signed checkpoint as stored."""

    size: int
    root: bytes
    note: str
    signed_at: str


def entry_from_row(row: Any) -> StoredEntry:
    return StoredEntry(
        index=row.idx,
        leaf=bytes(row.leaf),
        leaf_hash=bytes(row.leaf_hash),
        chain=bytes(row.chain),
        event_hash=bytes(row.event_hash),
        kind=row.kind,
        gtin=row.gtin,
        serial=row.serial,
        signer=row.signer,
        key_id=row.key_id,
        received=row.received,
    )


def chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def read_subtrees(conn: Connection, log: int, wanted: Iterable[Subtree]) -> dict[Subtree, bytes]:
    """Fetch perfect-subtree hashes: level 0 from entries, higher levels from nodes.

    Two queries at most, one row per subtree.
    """
    wanted = list(wanted)
    out: dict[Subtree, bytes] = {}
    leaves = [s.start for s in wanted if s.level == 0]
    nodes = [(s.level, s.start >> s.level) for s in wanted if s.level > 0]
    for chunk in chunks(leaves):
        rows = conn.execute(
            select(ENTRIES.c.idx, ENTRIES.c.leaf_hash).where(
                ENTRIES.c.log == log, ENTRIES.c.idx.in_(chunk)
            )
        )
        out.update({Subtree(0, r.idx): bytes(r.leaf_hash) for r in rows})
    for chunk in chunks(nodes):
        # One "level = L AND idx IN (...)" per level: both SQLite and PostgreSQL use the
        # primary key for that, which they do not always do for a row-value IN list.
        by_level: dict[int, list[int]] = {}
        for level, idx in chunk:
            by_level.setdefault(level, []).append(idx)
        per_level = [
            and_(NODES.c.level == level, NODES.c.idx.in_(idxs)) for level, idxs in by_level.items()
        ]
        rows = conn.execute(
            select(NODES.c.level, NODES.c.idx, NODES.c.hash).where(
                NODES.c.log == log, or_(*per_level)
            )
        )
        out.update({Subtree(r.level, r.idx << r.level): bytes(r.hash) for r in rows})
    return out


def head_from_row(row: Any) -> LogHead:
    return LogHead(row.id, row.name, row.origin, row.size, bytes(row.chain), bytes(row.root))


def find_event_hashes(
    conn: Connection, log: int, hashes: Sequence[bytes]
) -> dict[bytes, tuple[int, bytes]]:
    out: dict[bytes, tuple[int, bytes]] = {}
    for chunk in chunks(list(dict.fromkeys(hashes))):
        rows = conn.execute(
            select(ENTRIES.c.event_hash, ENTRIES.c.idx, ENTRIES.c.leaf_hash).where(
                ENTRIES.c.log == log, ENTRIES.c.event_hash.in_(chunk)
            )
        )
        out.update({bytes(r.event_hash): (r.idx, bytes(r.leaf_hash)) for r in rows})
    return out
