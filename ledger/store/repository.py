"""Reads and writes of one database holding one or more logs.

`Store` answers reads (entries, unit chains, checkpoints, proofs from stored subtree
hashes, projections) on the reader engine or a streaming replica (ledger.store.replicas;
`Store.pinned` keeps one request's reads on one of them); `Store.writer` opens the one transaction
in which an append happens, holding the log's write lock (`WriteTx`). No rules and no
signatures here: ledger.service.ledger decides what to write, this module only writes it.
Every database failure surfaces as `StorageError`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, text
from sqlalchemy.exc import DataError, SQLAlchemyError

from ledger import merkle
from ledger.entry import ZERO_HASH, chain_hash
from ledger.errors import NotFoundError, StorageError, ValidationError
from ledger.map import buckets as map_buckets
from ledger.map import update as map_update
from ledger.merkle import Range, Subtree
from ledger.rules.state import KeyRecord, Record, State
from ledger.store import scanstats, statistics
from ledger.store.cosignatures import CosignatureStore
from ledger.store.database import Engines, connect, migrate
from ledger.store.mapnodes import read_buckets, read_nodes
from ledger.store.prooftree import DEFAULT_BUDGET, ProofTrees
from ledger.store.queries import (
    CHAIN_EVERY,
    CHECKPOINTS,
    ENTRIES,
    LOGS,
    SCAN_COUNTS,
    SCANS,
    chunks,
    find_event_hashes,
    head_from_row,
    origin_of,
    placeholder,
    read_entries,
    read_replay_entries,
    read_subtrees,
    select_entries,
)
from ledger.store.queries import unit_entries as read_unit_entries
from ledger.store.records import (
    RECORD_TABLES,
    load_all,
    load_in,
    load_records,
    load_recovered_keys,
)
from ledger.store.replicas import ReadTarget, ReplicaStatus
from ledger.store.scanstats import ScanRow, row_region
from ledger.store.writer import WriteTx
from ledger.store.writetimes import WriteTotals
from ledger.stored import LogHead, StoredCheckpoint, StoredEntry

_log = logging.getLogger(__name__)

SUBTREE_CACHE_SIZE = 200_000  # about 40 MB of cached subtree hashes per store
#: the scans-table columns a flush writes, in its INSERT's order (`Store.insert_scans`)
_SCAN_COLUMNS = ("log", "gtin", "serial", "at", "place", "client", "agent", "network", "region")
#: scans-table rows in one INSERT at most: 900 parameters, under SQLite's oldest limit
#: of 999 a statement (PostgreSQL's is 65,535)
_SCAN_ROWS = 100


@lru_cache(maxsize=64)
def _scan_insert(mark: str, rows: int, log: int) -> str:
    """The INSERT of ``rows`` scans-table rows of log ``log`` (its id written in: an
    integer of ours, never a client's), the other `_SCAN_COLUMNS` a parameter each with
    the driver's marker ``mark``: a flush writes full statements and one shorter one."""
    one = f"({int(log)}, {', '.join([mark] * (len(_SCAN_COLUMNS) - 1))})"
    return f"INSERT INTO scans ({', '.join(_SCAN_COLUMNS)}) VALUES " + ", ".join(  # noqa: S608
        [one] * rows
    )


class ProjectionsBehindError(StorageError):
    """The projections to write are the replay of fewer entries than the log holds now
    (`Store.replace_projections`): nothing was written. Replay the rest and try again."""

    def __init__(self, replayed: int, size: int) -> None:
        super().__init__(
            f"the projections replay {replayed} entries and the log holds {size} now: "
            "nothing was written"
        )
        self.replayed = replayed
        self.size = size


class Store:
    """A database of logs. Create with `Store.open`; close with `close`."""

    def __init__(
        self,
        engines: Engines,
        target: ReadTarget | None = None,
        floor: tuple[int, int, bool] | None = None,
        caches: tuple[Engines, dict[Any, bytes], dict[Any, bytes], ProofTrees, dict[int, str]]
        | None = None,
        proof_memory: int = DEFAULT_BUDGET,
    ) -> None:
        self.engines = engines
        self.cosignatures = CosignatureStore(engines)
        #: where this store's reads go; None: chosen afresh for every read ...
        self._target = target
        #: ... unless pinned: then chosen at the first read for (log, min_size, wait)
        self._floor = floor
        # Proof cache. A perfect subtree's hash never changes once its leaves are
        # committed (the log is append-only), nor does the MTH of any committed range
        # (the right edges proofs at one size share), and a log's size only grows: so a
        # proof at a size already seen committed, from hashes already read, needs no
        # read, and one needing a few reads no head check. The hashes are shared by the
        # stores `pinned` and `on_primary` derive (one per request); sizes are not (a
        # replica may lag what the primary showed). Above them, each log's committed
        # tree is kept in memory down to the level its budget allows
        # (ledger.store.prooftree): a proof within it reads nothing, or only its few
        # hashes below that level.
        shared = caches or (engines, {}, {}, ProofTrees(proof_memory), {})
        self._caches = shared
        self._subtree_cache: dict[tuple[int, Subtree], bytes] = shared[1]
        self._range_cache: dict[tuple[int, int, int], bytes] = shared[2]
        self._trees = shared[3]
        #: each log's origin (never changes), which an event hash read from a leaf names
        self._origins = shared[4]
        self._sizes_seen: dict[int, int] = {}
        #: set by `snapshot`: every read of this store is on this one transaction
        self._held: Connection | None = None

    @classmethod
    def open(
        cls,
        url: str,
        *,
        create: bool = True,
        replicas: Sequence[str] = (),
        proof_memory: int = DEFAULT_BUDGET,
    ) -> Store:
        """Connect to ``url`` (and its read ``replicas``); by default migrate it to head.

        ``proof_memory``: bytes of Merkle hashes each log's in-memory proof tree may hold
        (ledger.store.prooftree; 0 holds none: every proof reads its hashes, in one
        statement).

        Raises:
            StorageError: unsupported URL, unreachable database or failed migration.
        """
        store = cls(connect(url, replicas), proof_memory=proof_memory)
        if create:
            try:
                migrate(store.engines)
            except BaseException:
                store.close()
                raise
        return store

    def close(self) -> None:
        """Stop loading proof trees and release every connection."""
        self._trees.close()
        self.engines.dispose()

    def pinned(self, log: int, min_size: int = 0, *, wait: bool = True) -> Store:
        """This store with every read on one engine that holds ``min_size`` entries of ``log``.

        A replica that has replayed that far (``wait``: waiting briefly for it), else the
        primary: read-your-writes for a client that knows the size its write made. Reads
        answered from several queries stay consistent with each other on one engine.
        """
        return Store(self.engines, floor=(log, min_size, wait), caches=self._caches)

    def on_primary(self) -> Store:
        """This store with every read on the primary (what must not be stale)."""
        return Store(self.engines, self.engines.reads.primary, caches=self._caches)

    @contextmanager
    def snapshot(self) -> Iterator[Store]:
        """This store with every read in one read transaction on the primary, which sees
        the database as it was at its first read while writers go on: an audit's head,
        entries, checkpoints and projections then agree with each other on a live log
        (PostgreSQL: REPEATABLE READ, read only; SQLite: its read transaction already is
        one snapshot). Held for the whole block: PostgreSQL's vacuum and SQLite's WAL
        checkpoint wait for it.

        Raises:
            StorageError: the database failed.
        """
        options: dict[str, Any] = {}
        if not self.engines.is_sqlite:
            options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        held = Store(self.engines, self.engines.reads.primary, caches=self._caches)
        try:
            conn = self.engines.reads.primary.engine.connect().execution_options(**options)
        except SQLAlchemyError as e:
            raise StorageError(f"database read failed: {e}") from e
        try:
            with conn, conn.begin():
                held._held = conn
                yield held
        except SQLAlchemyError as e:
            raise StorageError(f"database read failed: {e}") from e
        finally:
            held._held = None

    def in_recovery(self) -> bool:
        """True while the database replays WAL (a PostgreSQL standby, or a copy restored
        from a base backup still replaying its archive): what it holds may still grow.
        SQLite: never."""
        if self.engines.is_sqlite:
            return False
        with self.on_primary()._read() as conn:
            return bool(conn.execute(text("SELECT pg_is_in_recovery()")).scalar())

    def replica_status(self, log: int, primary_size: int) -> list[ReplicaStatus]:
        """Each read replica: up, and its lag behind ``primary_size`` entries of ``log``."""
        return self.engines.reads.status(log, primary_size)

    def write_totals(self, log: int) -> WriteTotals:
        """How many write transactions of ``log`` this process ran on this database, and
        how long they waited for its write lock and held it (ledger.store.writetimes)."""
        return self.engines.write_times.totals(log)

    def read_counts(self) -> dict[tuple[str, str], int]:
        """Read transactions opened so far, by (database, ``primary`` or ``replica``)."""
        reads = self.engines.reads
        return {
            (t.name, "replica" if t.is_replica else "primary"): t.reads
            for t in (reads.primary, *reads.replicas)
        }

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction where this store reads (a replica or the primary).

        Raises:
            StorageError: the database failed.
            ValidationError: a number beyond the database's 64-bit integers.
        """
        with self._read() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        if self._held is not None:  # inside `snapshot`: its transaction, not a new one
            try:
                yield self._held
            except (OverflowError, DataError) as e:
                raise ValidationError(f"number out of range: {e}") from e
            except SQLAlchemyError as e:
                raise StorageError(f"database read failed: {e}") from e
            return
        reads = self.engines.reads
        try:
            if self._target is None and self._floor is not None:
                log, size, wait = self._floor  # chosen in the caller's thread, once
                self._target = reads.choose(log, size, wait=wait)
            target, conn = reads.connect(self._target or reads.choose())
            if self._target is not None:
                self._target = target  # a failed replica: the rest of the reads too
            with conn, conn.begin():
                yield conn
        except (OverflowError, DataError) as e:  # beyond the database's 64-bit integers
            raise ValidationError(f"number out of range: {e}") from e
        except SQLAlchemyError as e:
            raise StorageError(f"database read failed: {e}") from e

    # --- logs -------------------------------------------------------------------------

    def ensure_log(self, name: str, origin: str) -> LogHead:
        """Return the log called ``name``, creating it (empty) if it does not exist.

        Raises:
            StorageError: the log exists with another origin, or the database failed.
        """
        head = self.on_primary().find_log(name)
        if head is None:
            try:
                with self.engines.writer.begin() as conn:
                    if conn.execute(select(LOGS.c.id).where(LOGS.c.name == name)).first() is None:
                        next_id = conn.execute(
                            select(func.coalesce(func.max(LOGS.c.id), 0))
                        ).scalar_one()
                        conn.execute(
                            insert(LOGS).values(
                                id=next_id + 1,
                                name=name,
                                origin=origin,
                                size=0,
                                chain=ZERO_HASH,
                                root=merkle.EMPTY_ROOT,
                            )
                        )
            except SQLAlchemyError as e:
                raise StorageError(f"cannot create log {name!r}: {e}") from e
            head = self.on_primary().find_log(name)
        if head is None or head.origin != origin:
            raise StorageError(f"log {name!r} exists with origin {head.origin if head else None!r}")
        return head

    def find_log(self, name: str) -> LogHead | None:
        """Return the log called ``name`` with its current head, or None."""
        with self._read() as conn:
            row = conn.execute(select(LOGS).where(LOGS.c.name == name)).first()
        return None if row is None else head_from_row(row)

    def head(self, log: int) -> LogHead:
        """Return log ``log``'s committed head.

        Raises:
            NotFoundError: no such log.
        """
        with self._read() as conn:
            row = conn.execute(select(LOGS).where(LOGS.c.id == log)).first()
        if row is None:
            raise NotFoundError(f"no log with id {log}", field="log")
        return head_from_row(row)

    # --- entries ----------------------------------------------------------------------

    def entry(self, log: int, index: int) -> StoredEntry:
        """Return the entry at ``index``.

        Raises:
            NotFoundError: no such entry.
        """
        with self._read() as conn:
            rows = select_entries(conn, "idx = {m}", (log, index), self._origin(conn, log))
        if not rows:
            raise NotFoundError(f"no entry at index {index}", field="index")
        return rows[0]

    def _origin(self, conn: Connection, log: int) -> str:
        """Log ``log``'s origin (`queries.origin_of`), read once per store family."""
        found = self._origins.get(log)
        if found is None:
            found = origin_of(conn, log)
            if found:  # a log not there yet may be created by then
                self._origins[log] = found
        return found

    def chain_at(self, log: int, index: int) -> bytes:
        """The running chain hash after entry ``index``: stored, or folded forward from
        the nearest stored one below it (`queries.CHAIN_EVERY`) over the leaves between.

        Raises:
            NotFoundError: no entry at ``index``.
        """
        stored = self.entry(log, index).chain
        if stored is not None:
            return stored
        base, chain = index - index % CHAIN_EVERY - 1, ZERO_HASH  # base keeps its chain
        while base >= 0:
            found = self.entry(log, base).chain
            if found is not None:
                chain = found
                break
            base -= CHAIN_EVERY  # not stored (a row written by hand): the one before
        base = max(base, -1)  # none stored below: from the start of the log
        for start in range(base + 1, index + 1, CHAIN_EVERY):
            for row in self.entries(log, start, min(index + 1, start + CHAIN_EVERY)):
                chain = chain_hash(chain, row.leaf_hash)
        return chain

    def entries(self, log: int, start: int, end: int) -> list[StoredEntry]:
        """Return the entries with ``start <= index < end``, in index order."""
        with self._read() as conn:
            return read_entries(conn, log, start, end, self._origin(conn, log))

    def entries_past(self, log: int, size: int) -> tuple[int, int | None]:
        """How many stored entries of ``log`` are at an index of ``size`` or more, and
        the lowest such index (None: none). An append writes only below its new head,
        so any is a row no append wrote (the audit reports it)."""
        column = ENTRIES.c.idx
        with self._read() as conn:
            row = conn.execute(
                select(func.count(), func.min(column)).where(ENTRIES.c.log == log, column >= size)
            ).one()
        return int(row[0]), None if row[1] is None else int(row[1])

    def replay_entries(self, log: int, start: int, end: int) -> list[StoredEntry]:
        """`entries` as the audit's replay reads them: the leaf hash computed from the
        leaf, the event hash, key id and receive time left empty
        (`queries.read_replay_entries`)."""
        with self._read() as conn:
            return read_replay_entries(conn, log, start, end)

    def entries_at(self, log: int, indices: Iterable[int]) -> dict[int, StoredEntry]:
        """Return ``{index: entry}`` of those ``indices`` in the log, in one read."""
        wanted = sorted(set(indices))
        if not wanted:
            return {}
        out: dict[int, StoredEntry] = {}
        with self._read() as conn:
            origin = self._origin(conn, log)
            for chunk in chunks(wanted):
                marks = ", ".join("{m}" for _ in chunk)
                found = select_entries(conn, f"idx IN ({marks})", (log, *chunk), origin)
                out.update((e.index, e) for e in found)
        return out

    def unit_entries(self, log: int, gtin: str, serial: str) -> list[StoredEntry]:
        """Return a unit's entries in index order (empty if the unit is unknown)."""
        with self._read() as conn:
            return read_unit_entries(conn, log, gtin, serial, self._origin(conn, log))

    def find_event_hashes(
        self, log: int, hashes: Sequence[bytes]
    ) -> dict[bytes, tuple[int, bytes]]:
        """Return {event hash: (index, leaf hash)} for the given hashes already in the log."""
        with self._read() as conn:
            return find_event_hashes(conn, log, hashes, self._origin(conn, log))

    def public_keys(self, log: int, key_ids: Iterable[str]) -> dict[str, str]:
        """Return {key id: base64url public key} for the known ones among ``key_ids``.

        Removed keys are included: whether a key may still sign is the rules' call.
        """
        table = RECORD_TABLES[KeyRecord]
        out: dict[str, str] = {}
        with self._read() as conn:
            for chunk in chunks(list(key_ids)):
                rows = conn.execute(
                    select(table.c.key_id, table.c.public_key).where(
                        table.c.log == log, table.c.key_id.in_(chunk)
                    )
                )
                out.update({r.key_id: r.public_key for r in rows})
        return out

    # --- checkpoints and proofs ---------------------------------------------------------

    def checkpoint(self, log: int, size: int | None = None) -> StoredCheckpoint:
        """Return the checkpoint at ``size``, or the latest one.

        Raises:
            NotFoundError: no checkpoint at that size (or none at all).
        """
        query = select(CHECKPOINTS).where(CHECKPOINTS.c.log == log)
        if size is None:
            query = query.order_by(CHECKPOINTS.c.size.desc()).limit(1)
        else:
            query = query.where(CHECKPOINTS.c.size == size)
        with self._read() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFoundError(f"no checkpoint at size {size}" if size else "no checkpoint yet")
        return StoredCheckpoint(row.size, bytes(row.root), row.note, row.signed_at)

    def map_proof(self, log: int, key: bytes) -> bytes:
        """The map proof (ledger.map.proof bytes) of ``key`` in the latest stored map."""
        with self._read() as conn:
            return map_buckets.prove(lambda ps: read_buckets(conn, log, ps), key)

    def map_nodes(self, log: int, positions: Iterable[bytes]) -> dict[bytes, map_update.Stored]:
        """The latest stored map nodes at ``positions`` (a `ledger.map.update.Reader`)."""
        with self._read() as conn:
            return read_nodes(conn, log, positions)

    def checkpoint_sizes(self, log: int, start: int, limit: int) -> list[int]:
        """The sizes of up to ``limit`` stored checkpoints at ``start`` or above, increasing."""
        query = (
            select(CHECKPOINTS.c.size)
            .where(CHECKPOINTS.c.log == log, CHECKPOINTS.c.size >= start)
            .order_by(CHECKPOINTS.c.size)
            .limit(limit)
        )
        with self._read() as conn:
            return [int(size) for (size,) in conn.execute(query)]

    def checkpoints(self, log: int) -> list[StoredCheckpoint]:
        """Return every stored checkpoint, smallest size first."""
        with self._read() as conn:
            rows = conn.execute(
                select(CHECKPOINTS).where(CHECKPOINTS.c.log == log).order_by(CHECKPOINTS.c.size)
            )
            return [StoredCheckpoint(r.size, bytes(r.root), r.note, r.signed_at) for r in rows]

    def subtrees(self, log: int, wanted: Iterable[Subtree]) -> dict[Subtree, bytes]:
        """Return stored perfect-subtree hashes (see `read_subtrees`)."""
        with self._read() as conn:
            return read_subtrees(conn, log, wanted)

    def inclusion_proof(self, log: int, index: int, size: int) -> list[bytes]:
        """Return the RFC 9162 inclusion proof of ``index`` in the tree of ``size``.

        From the in-memory tree (ledger.store.prooftree) when it holds ``size``: no
        read, or one for the hashes below its lowest level. Else one transaction of
        three queries (head, leaf hashes, node hashes) reading O(log size) rows.

        Raises:
            ValidationError: index >= size.
            NotFoundError: the tree has fewer than ``size`` leaves.
        """
        return self._proof(log, size, merkle.inclusion_proof_ranges(index, size))

    def consistency_proof(self, log: int, old_size: int, new_size: int) -> list[bytes]:
        """Return the RFC 9162 consistency proof from ``old_size`` to ``new_size``.

        Same cost as `inclusion_proof`.

        Raises:
            ValidationError: old_size > new_size.
            NotFoundError: the tree has fewer than ``new_size`` leaves.
        """
        return self._proof(log, new_size, merkle.consistency_proof_ranges(old_size, new_size))

    def root(self, log: int, size: int) -> bytes:
        """Return the tree head of the first ``size`` leaves, from O(log size) rows."""
        pieces = merkle.range_subtrees(0, size)
        if not pieces:
            return merkle.EMPTY_ROOT
        (root,) = self._proof(log, size, [(0, size)])
        return root

    def range_hashes(self, log: int, size: int, ranges: Sequence[Range]) -> list[bytes]:
        """Return the Merkle tree hash of each leaf range (nodes of the tree of ``size``),
        the way proofs are assembled: from the in-memory tree when it holds ``size``.

        Raises:
            ValidationError: a range is not a node of a Merkle tree.
            NotFoundError: the tree has fewer than ``size`` leaves.
        """
        return self._proof(log, size, list(ranges))

    def inclusion_proofs(self, log: int, indices: Sequence[int], size: int) -> list[list[bytes]]:
        """Return the inclusion proofs of several indices in the tree of ``size``.

        One transaction; the subtree hashes all proofs need are fetched together.

        Raises:
            ValidationError: an index >= size.
            NotFoundError: the tree has fewer than ``size`` leaves.
        """
        plans = [merkle.inclusion_proof_ranges(i, size) for i in indices]
        flat = [r for plan in plans for r in plan]
        served = self._from_tree(log, size, flat)
        if served is not None:
            out, at = [], 0
            for plan in plans:
                out.append(served[at : at + len(plan)])
                at += len(plan)
            return out
        hashes = self._subtrees_at(log, size, merkle.needed_subtrees(flat))
        return [merkle.proof_from_subtrees(plan, hashes) for plan in plans]

    def _subtrees_at(self, log: int, size: int, wanted: list[Subtree]) -> dict[Subtree, bytes]:
        """The wanted subtree hashes of the tree of ``size`` (cached; see `__init__`).

        Raises:
            NotFoundError: the log has fewer than ``size`` committed entries.
        """
        cache = self._subtree_cache
        hit = {s: cache[(log, s)] for s in wanted if (log, s) in cache}
        if len(hit) == len(wanted) and size <= self._sizes_seen.get(log, 0):
            return hit
        if size <= self._sizes_seen.get(log, 0):
            # committed here before: no head check, unless a row is missing (a replica
            # behind what was seen), which the checked read below then settles
            with self._read() as conn:
                found = read_subtrees(conn, log, [s for s in wanted if s not in hit])
            if len(hit) + len(found) == len(wanted):
                self._remember(log, found)
                return {**hit, **found}
        with self._read() as conn:
            row = conn.execute(select(LOGS.c.size).where(LOGS.c.id == log)).first()
            current = 0 if row is None else row.size
            if size > current:
                raise NotFoundError(f"the log has {current} entries, not {size}", field="size")
            found = read_subtrees(conn, log, [s for s in wanted if s not in hit])
        self._sizes_seen[log] = max(current, self._sizes_seen.get(log, 0))
        self._remember(log, found)
        return {**hit, **found}

    def _remember(self, log: int, found: Mapping[Subtree, bytes]) -> None:
        cache = self._subtree_cache
        if len(cache) + len(found) > SUBTREE_CACHE_SIZE:
            cache.clear()  # simple bound; the hot upper levels come back on the next read
        cache.update({(log, s): h for s, h in found.items()})

    def prepare_proofs(self, log: int) -> None:
        """Load ``log``'s in-memory proof tree up to its committed size now, in this
        thread (else the first proof starts it, in the background for a large log).

        Raises:
            StorageError: the database failed.
        """
        try:
            self._trees.get(log).catch_up(self.engines.reader, wait=True)
        except Exception as e:  # SQLAlchemy's or the driver's own (raw connection)
            raise StorageError(f"cannot load the proof tree: {e}") from e

    def _from_tree(self, log: int, size: int, ranges: list[tuple[int, int]]) -> list[bytes] | None:
        """The proof from the in-memory tree when it holds ``size`` (committed), else
        None (the tree is behind, loading, or broken: the checked path answers)."""
        tree = self._trees.get(log)
        if size > tree.size:
            try:
                tree.catch_up(self.engines.reader)
            except Exception:  # a driver's own error too (raw connection)
                return None  # the store's own path reads again and reports the failure
            if size > tree.size:
                return None
        folded = self._range_cache
        proof = tree.proof(ranges, folded) if not tree.base else None
        if proof is None:  # hashes below the tree's lowest level: one statement for them
            wanted = tree.below_base(ranges, folded)
            low: dict[Subtree, bytes] = {}
            if wanted:
                try:
                    low = tree.read_below_base(self.engines.reader, wanted)
                except Exception:  # a driver's own error too (raw connection)
                    low = {}
                if len(low) < len(wanted):  # a row missing: the checked read settles it
                    low = self._subtrees_at(log, size, wanted)
            proof = tree.proof(ranges, folded, low)
        return proof

    def _proof(self, log: int, size: int, ranges: list[tuple[int, int]]) -> list[bytes]:
        """The MTH of each range: from the in-memory tree where it holds ``size``; else
        right-edge ranges (not one perfect subtree) from the range cache where it has
        them, the rest from perfect-subtree hashes."""
        folded = self._range_cache
        if len(folded) > SUBTREE_CACHE_SIZE // 8:
            folded.clear()  # a simple bound, as for the subtrees
        proof = self._from_tree(log, size, ranges)
        if proof is not None:
            return proof
        missing = [r for r in ranges if (log, *r) not in folded]
        hashes = self._subtrees_at(log, size, merkle.needed_subtrees(missing))
        computed = dict(zip(missing, merkle.proof_from_subtrees(missing, hashes), strict=True))
        for (start, end), value in computed.items():
            if not merkle.is_perfect(start, end):
                folded[(log, start, end)] = value
        return [computed[r] if r in computed else folded[(log, *r)] for r in ranges]

    # --- projections ------------------------------------------------------------------

    def load_state(self, log: int, heads: Mapping[int, str] | None = None) -> State:
        """Return every projection of ``log`` as an in-memory `State` (``heads``: unit
        heads the caller knows by their log index, `records.load_all`)."""
        state = State()
        with self._read() as conn:
            origin = self._origin(conn, log)
            for record_type in RECORD_TABLES:
                state.apply(load_all(conn, log, record_type, origin, heads))
        return state

    def records(self, log: int, refs: Mapping[type[Any], Iterable[Any]]) -> list[Record]:
        """Load projection records by primary key: {record type: keys}."""
        with self._read() as conn:
            return load_records(conn, log, refs, self._origin(conn, log))

    def records_in(
        self, log: int, record_type: type[Any], column: str, values: Iterable[Any]
    ) -> list[Record]:
        """Load the records of one type whose ``column`` is one of ``values``."""
        with self._read() as conn:
            return load_in(conn, log, record_type, column, values, self._origin(conn, log))

    def recovered_keys(self, log: int) -> list[KeyRecord]:
        """The keys recovered by an operator whose recovery was not cancelled
        (`ledger.store.records.load_recovered_keys`)."""
        with self._read() as conn:
            return [k for k in load_recovered_keys(conn, log) if isinstance(k, KeyRecord)]

    # --- scans (telemetry, outside the signed log) ------------------------------------

    def insert_scans(self, log: int, scans: Sequence[ScanRow]) -> None:
        """Store scan records (`ScanRow`s: gtin, serial, at, place, client, agent,
        network, region) and bump the per-unit counts and the console's aggregates
        (ledger.store.scanstats), in one transaction.

        Raises:
            StorageError: the database failed.
        """
        if not scans:
            return
        counts: dict[tuple[str, str], list[Any]] = {}
        for scan in scans:
            unit = (scan[0], scan[1])
            entry = counts.get(unit)
            if entry is None:  # a unit's first scan of the batch (most are repeats)
                entry = counts[unit] = [0, scan[2], scan[3], row_region(scan[3], scan[7])]
            entry[0] += 1
        try:
            with self.engines.writer.begin() as conn:
                # straight to the driver, no parameter dict a row: SQLAlchemy's compiled
                # insert built one per row, most of a flush's cost on the event loop's
                # side (docs/PERFORMANCE.md, session 23); and `_SCAN_ROWS` rows a
                # statement: the driver releases the GIL around each statement's step,
                # and one a row handed the GIL to the event loop and back a scan
                # (docs/PERFORMANCE.md, "pagefoot")
                mark = placeholder(conn)
                values = list(chain.from_iterable(scans))  # the rows' fields, flat, in C
                width = len(_SCAN_COLUMNS) - 1  # the log is written in
                if len(values) != width * len(scans):
                    raise ValueError(f"a scans-table row has {width} fields")
                for start in range(0, len(values), _SCAN_ROWS * width):
                    part = values[start : start + _SCAN_ROWS * width]
                    statement = _scan_insert(mark, len(part) // width, log)
                    conn.exec_driver_sql(statement, tuple(part))
                # the console's aggregates, before the counts show which units are new
                scanstats.record(conn, log, scans, self.engines.is_sqlite)
                upsert = scanstats.adding_upsert(
                    self.engines.is_sqlite, SCAN_COUNTS, ("log", "gtin", "serial"), ("count",)
                )
                rows = [
                    {
                        "log": log,
                        "gtin": g,
                        "serial": s,
                        "count": n,
                        "first_at": at,
                        "first_place": place,
                        "first_region": region,
                    }
                    for (g, s), (n, at, place, region) in counts.items()
                ]
                conn.execute(upsert, rows)
        except SQLAlchemyError as e:
            raise StorageError(f"cannot store scans: {e}") from e

    def scan_summary(self, log: int, gtin: str, serial: str) -> tuple[int, dict[str, Any] | None]:
        """Return how many scans a unit has and its first one (at, place), if any."""
        _, count, first = self.size_and_scans(log, gtin, serial)
        return count, first

    def size_and_scans(
        self, log: int, gtin: str, serial: str
    ) -> tuple[int, int, dict[str, Any] | None]:
        """The log's size and a unit's scan summary (count, first), in one transaction."""
        where = (
            SCAN_COUNTS.c.log == log,
            SCAN_COUNTS.c.gtin == gtin,
            SCAN_COUNTS.c.serial == serial,
        )
        columns = (
            SCAN_COUNTS.c.count.label("n"),
            SCAN_COUNTS.c.first_at,
            SCAN_COUNTS.c.first_place,
        )
        with self._read() as conn:
            size = conn.execute(select(LOGS.c.size).where(LOGS.c.id == log)).scalar_one_or_none()
            row = conn.execute(select(*columns).where(*where)).first()
        if row is None:
            return int(size or 0), 0, None
        return int(size or 0), int(row.n), {"at": row.first_at, "place": row.first_place}

    def delete_scans_before(self, log: int, at: str) -> int:
        """Delete scans older than ``at`` (retention); return how many."""
        with self.engines.writer.begin() as conn:
            result = conn.execute(delete(SCANS).where(SCANS.c.log == log, SCANS.c.at < at))
        return int(result.rowcount)

    def replace_projections(self, log: int, state: State, size: int) -> None:
        """Replace every projection row of ``log`` with ``state``, the replay of its first
        ``size`` entries, in one transaction holding the log's write lock.

        Raises:
            ProjectionsBehindError: the log holds more than ``size`` entries now (an
                append landed after the replay: its changes would be lost); nothing was
                written.
            StorageError: the database failed; nothing was written.
        """
        with self.writer(log) as tx:
            head = tx.lock_head()  # no append between this check and the commit
            if head.size != size:
                raise ProjectionsBehindError(size, head.size)
            for table in RECORD_TABLES.values():
                tx.conn.execute(delete(table).where(table.c.log == log))
            tx.upsert(state.records())

    @contextmanager
    def writer(self, log: int, since: float | None = None) -> Iterator[WriteTx]:
        """Open the write transaction of ``log`` holding its write lock.

        Commits when the block ends normally, rolls back (writing nothing) otherwise.
        Its wait for the lock and its hold are counted (`write_totals`), the wait from
        ``since`` (a `time.perf_counter` time: when the caller began waiting for the
        lock's holder, e.g. its map child's write) or from now.

        Raises:
            StorageError: the database failed (the transaction wrote nothing).
        """
        start = time.perf_counter() if since is None else since
        tx: WriteTx | None = None
        try:
            with self.engines.writer.begin() as conn:
                tx = WriteTx(conn, log, is_sqlite=self.engines.is_sqlite)
                yield tx
        except SQLAlchemyError as e:
            raise StorageError(f"database write failed; nothing was written: {e}") from e
        finally:
            locked = None if tx is None else tx.locked_at
            try:  # (after a commit nothing may tell the caller its write failed)
                self.engines.write_times.note(log, start, locked, time.perf_counter())
            except Exception:
                _log.exception("counting a write transaction's times failed")
        try:  # committed: nothing after this may tell the caller its write failed
            self._refresh_statistics(tx)
        except Exception:
            _log.exception("refreshing the planner's statistics after a commit failed")

    def _refresh_statistics(self, tx: WriteTx) -> None:
        """PostgreSQL: when the log's size crossed a power of two, have the planner's
        statistics refreshed beside the appends (ledger.store.statistics: after the
        commit, on a thread of its own; this append neither waits for it nor fails
        because of it). SQLite's planner needs no statistics for these lookups."""
        refresher = self.engines.statistics
        if refresher is None or tx.grew_from is None or tx.grew_to is None:
            return
        if statistics.crossed(tx.grew_from, tx.grew_to):
            refresher.refresh()
