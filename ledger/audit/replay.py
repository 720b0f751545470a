"""Replay a log from genesis and report everything that does not check out.

Steps, for every entry in index order (streamed in chunks, O(log n) tree memory):

1. the indices are contiguous from 0 and the leaf bytes are canonical and well formed;
2. the stored leaf hash, event hash and indexed columns match the leaf bytes;
3. the running chain hash matches ``SHA-256(chain_{i-1} || leaf_hash_i)``;
4. the rules accept the entry against the replayed state (at its receive time), which
   also names the key that must have signed it;
5. every stored Merkle node matches the recomputed tree;
6. the verifier key is the log key the genesis named (when it names one: separate log
   and operator keys), and every stored checkpoint verifies under it and its root equals
   the recomputed root at its size; so does every *trusted* checkpoint an auditor kept
   outside the database (the only defence against an insider who re-signs checkpoints),
   and the map root it signs (its ``map/v1`` line) equals the map of heads recomputed
   from the entries at its size (`ledger.audit.maproot`);
7. the event signatures verify (collected in step 4, verified behind the replay by
   `ledger.audit.sigpipe`: on the worker pool, on one verifier process for logs of
   `ledger.audit.sigproc.PROCESS_FROM` entries or more, else on the verify threads);
8. the log's head row and the projection tables equal the replay;
9. no event is in the log twice (`ledger.audit.duplicates`).

The result is an `AuditReport` listing every `Finding`; it is falsy when anything was
found. `first_bad_index` is the lowest index a finding pins down exactly, or, when only
checkpoint roots disagree, the first index of the range they implicate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ledger import codec, crypto, entry, merkle, note, rules
from ledger.audit import sigpipe, sigproc
from ledger.audit import workers as workers_mod
from ledger.audit.checkpoints import check_checkpoints as _check_checkpoints
from ledger.audit.checkpoints import check_map_roots as _check_map_roots
from ledger.audit.chunks import chunk_starts, completed_nodes, node_levels_from
from ledger.audit.collect import fewer_collections
from ledger.audit.duplicates import EventHashes
from ledger.audit.maproot import MapReplay
from ledger.audit.report import AuditReport as AuditReport  # re-exported: its old home
from ledger.audit.report import Finding as Finding
from ledger.errors import LedgerError
from ledger.merkle import Subtree
from ledger.rules.registry import log_key
from ledger.rules.state import State
from ledger.stored import EVENT_KEY_SIZE, StoredCheckpoint, StoredEntry

Progress = Callable[[int, int], None]
#: a chunk's stored entries, and what gives their parsed leaves
_Chunk = tuple[list[StoredEntry], Callable[[], list[workers_mod.Parsed]]]


@dataclass
class _Replay:
    """Running values of the replay."""

    state: State = field(default_factory=State)
    chain: bytes = entry.ZERO_HASH
    size: int = 0
    #: the perfect subtrees not yet part of a larger one, by (level, start) (`Subtree`)
    frontier: dict[tuple[int, int], bytes] = field(default_factory=dict)
    #: the event signatures, verified behind the replay (step 7, ledger.audit.sigpipe)
    signatures: sigpipe.SignaturePipeline = field(default_factory=sigpipe.SignaturePipeline)
    #: raw public keys by their base64url text (a log has few keys, every entry names one)
    public_keys: dict[str, bytes] = field(default_factory=dict)
    #: the log's origin (its verifier key's name): format-2 messages name it
    origin: str | None = None
    roots: dict[int, bytes] = field(default_factory=dict)
    #: the map of heads, recomputed, and its root at each watched size
    heads: MapReplay = field(default_factory=MapReplay)
    map_roots: dict[int, bytes] = field(default_factory=dict)
    #: worker processes parsing and verifying ahead (ledger.audit.workers; 0: none)
    processes: int = 0
    #: the lowest level of stored Merkle node the source keeps (`AuditSource.node_levels_from`)
    nodes_from: int = 1
    #: every event hash, to find an event the log holds twice (step 8)
    events: EventHashes = field(default_factory=EventHashes)
    #: the source computes each entry's leaf hash from its leaf (`AuditSource.entries`)
    leaf_hashes_derived: bool = False


class AuditSource(Protocol):
    """Where the audited entries come from: a store (ledger.service.audit.StoreSource) or a
    remote server."""

    def head(self) -> tuple[int, bytes | None]:
        """The log's size and running chain hash (None when the source has no chain)."""

    def entries(self, start: int, end: int) -> list[StoredEntry]:
        """Entries with ``start <= index < end``, in order. A source may also offer
        ``replay_entries(start, end)``, the same entries for the replay, which reads
        neither their ``event_hash`` nor ``key_id`` nor ``received`` (it takes them from
        the parsed leaf), and may set ``leaf_hashes_from_leaves`` (a bool attribute,
        default False) when every entry's ``leaf_hash`` is computed from its ``leaf``:
        the audit then neither hashes the leaf again nor compares the two (the
        comparison could never fail)."""

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every checkpoint the source keeps."""

    def nodes(self, wanted: list[Subtree]) -> dict[Subtree, bytes] | None:
        """Stored Merkle nodes, or None when the source keeps none. A source may set
        ``node_levels_from`` (an int attribute, default 1): the nodes below that level
        are not stored but computed from the leaves the audit reads itself, so the audit
        neither asks for them nor compares them (the comparison could never fail)."""

    def state(self) -> State | None:
        """The stored projections, or None when the source keeps none. A source may also
        offer ``replay_state(heads, origin)``: the same, given the replay's unit heads
        by their log index (``heads``: the event hash of the entry at each index, for a
        log whose origin is ``origin``), which it may take instead of computing a unit's
        head from the entry at its head index, when its log's origin is ``origin``."""


def audit_source(
    source: AuditSource,
    verifier_key: str,
    *,
    trusted: Sequence[str] = (),
    workers: int | None = None,
    progress: Progress | None = None,
    processes: int | None = None,
) -> AuditReport:
    """Audit any `AuditSource`; checks what the source keeps (a store's: ledger.service.audit).

    ``workers``: verify threads; ``processes``: worker processes that parse leaves and
    verify signatures ahead of the replay (`ledger.audit.workers.process_count`: by
    default one per core for logs of `PROCESSES_FROM` entries or more while a core is
    idle; 0: none).
    The report is the same either way. The cyclic collector runs less often meanwhile
    (`ledger.audit.collect`).
    """
    with fewer_collections():
        return _audit(source, verifier_key, trusted, workers, progress, processes)


def _audit(
    source: AuditSource,
    verifier_key: str,
    trusted: Sequence[str],
    workers: int | None,
    progress: Progress | None,
    processes: int | None,
) -> AuditReport:
    report = AuditReport()
    size, chain = source.head()
    verifier = note.Verifier.from_text(verifier_key)
    checkpoints = source.checkpoints()
    kept = _verify_trusted(report, trusted, verifier)
    watched = {c.size for c in checkpoints} | {cp.size for cp, _ in kept}
    replay = _Replay(
        origin=verifier.name,
        nodes_from=node_levels_from(source),
        leaf_hashes_derived=getattr(source, "leaf_hashes_from_leaves", False) is True,
    )
    read = getattr(source, "replay_entries", source.entries)
    total = max([size, *watched]) if watched else size
    wanted_processes = workers_mod.process_count(total, processes)
    signing_processes = sigpipe.signature_processes(total, processes)
    replay.signatures = sigpipe.SignaturePipeline(
        signing_processes, workers, process=sigproc.wanted(total, workers)
    )
    try:
        workers_mod.warm(max(wanted_processes, signing_processes))
        starts = chunk_starts(total)
        # the last chunk ends at the head (or the largest checkpoint): a row past it is
        # never replayed, only reported (ledger.service.audit: ``entry-past-head``)
        ends = [*starts[1:], max(total, starts[-1])]

        def fetch(k: int) -> _Chunk:
            # read a chunk and start parsing its leaves on the worker processes once they
            # are up (until then, on this thread when the chunk replays)
            rows: list[StoredEntry] = read(starts[k], ends[k])
            replay.processes = wanted_processes if workers_mod.ready(wanted_processes) else 0
            return rows, workers_mod.start_parse(
                [r.leaf for r in rows], replay.origin, replay.processes
            )

        # with worker processes the next chunk is read and handed to them before this
        # one replays; without, it is read when its turn comes (reading it sooner only
        # delays the first signatures the verifier process gets)
        ahead: _Chunk | None = fetch(0)
        for k, start in enumerate(starts):
            rows, parsing = ahead if ahead is not None else fetch(k)
            ahead = fetch(k + 1) if wanted_processes and k + 1 < len(starts) else None
            _expect_rows(report, rows, start, min(total, ends[k]))
            wanted = completed_nodes(start, ends[k], replay.nodes_from)
            stored_nodes = source.nodes(wanted)
            for row, leaf in zip(rows, parsing(), strict=True):
                _replay_entry(report, replay, row, leaf, stored_nodes, watched)
            replay.signatures.flush()  # the chunk's last ones: checked while the next replays
            if progress:
                progress(min(replay.size, total), total)
        # the stored projections are read while the last signatures are verified on the
        # verifier process or the threads (their comparison is reported in its place)
        replay.signatures.flush()
        stored_state = _stored_state(source, replay.state, verifier.name)
        # the checks that need no event signature run while the verifier process
        # finishes its batches (docs/PERFORMANCE.md "audit44"); their findings are
        # reported after the signatures' all the same, as they were when they ran after
        before = len(report.findings)
        _check_log_key(report, replay.state, verifier)
        verified: list[note.Checkpoint] = []
        _check_checkpoints(report, checkpoints, kept, verifier, replay.roots, verified)
        _check_map_roots(report, checkpoints, kept, verifier, replay.map_roots, verified)
        _check_head(report, size, chain, replay)
        _check_repeats(report, source, replay)
        if stored_state is not None:
            _compare_projections(report, stored_state, replay.state)
        later = report.findings[before:]
        del report.findings[before:]
        _check_signatures(report, replay.signatures)
        report.findings.extend(later)
    finally:
        replay.signatures.close()  # the verifier process, if the replay failed
    report.entries = replay.size
    report.checkpoints = len(checkpoints)
    return report


def _stored_state(source: AuditSource, replayed: State, origin: str) -> State | None:
    """The source's projections (`AuditSource.state`), given the replayed unit heads
    (for the log ``origin``, which the replay read the leaves against) when it takes
    them."""
    given = getattr(source, "replay_state", None)
    if given is None:
        return source.state()
    # a unit's head is the event hash of the entry at its head index (ledger.rules.custody
    # sets the two together), so this maps indices to the hashes of the very leaves read
    heads = {unit.head_index: unit.head for unit in replayed.units.values()}
    state: State | None = given(heads, origin)
    return state


def _check_log_key(report: AuditReport, state: State, verifier: note.Verifier) -> None:
    # The genesis names the key that signs checkpoints; a verifier key that is not it
    # (a checkpoint signed by the operator's registry key, say) is not the log's.
    named = log_key(state)
    if named is not None and codec.b64url_decode(named.public_key) != verifier.public_key:
        report.add(
            "log-key",
            f"the verifier key is not the log key {named.key_id} that the genesis names",
            named.added_index,
            log_key=named.public_key,
        )


def _verify_trusted(
    report: AuditReport, trusted: Sequence[str], verifier: note.Verifier
) -> list[tuple[note.Checkpoint, str]]:
    """The trusted checkpoints that verify (with their text); report the others."""
    verified = []
    for i, text in enumerate(trusted):
        try:
            verified.append((note.verify_checkpoint(text, verifier), text))
        except LedgerError as e:
            report.add("trusted-checkpoint-invalid", f"trusted checkpoint {i} does not verify: {e}")
    return verified


def _expect_rows(report: AuditReport, rows: Sequence[StoredEntry], start: int, end: int) -> None:
    present = {r.index for r in rows}
    for index in range(start, end):
        if index not in present:
            report.add("missing-entry", f"entry {index} is missing", index)


def _replay_entry(
    report: AuditReport,
    replay: _Replay,
    row: StoredEntry,
    leaf: workers_mod.Parsed,
    stored_nodes: dict[Subtree, bytes] | None,
    watched: set[int],
) -> None:
    index = replay.size
    if row.index != index:
        return  # a gap: reported by _expect_rows; later indices shift and are not replayed
    if replay.leaf_hashes_derived:
        leaf_hash = row.leaf_hash  # computed from row.leaf by the source: (2) holds
    else:
        leaf_hash = merkle.leaf_hash(row.leaf)
        _check_stored_values(report, row, leaf_hash)  # (2)
    replay.chain = entry.chain_hash(replay.chain, leaf_hash)  # (3)
    if row.chain is not None and replay.chain != row.chain:
        report.add(
            "chain",
            "running chain hash does not match",
            index,
            stored=row.chain.hex(),
            expected=replay.chain.hex(),
        )
    _replay_rules(report, replay, row, leaf, index, leaf_hash)  # (1), (4), (6)
    # (5) the perfect subtrees this leaf completes (merkle.subtrees_completed_by), each
    # the hash of its two halves on the frontier, against the stored node. The frontier
    # is keyed by plain (level, start) tuples, equal to the `Subtree` values the store
    # and `merkle.range_subtrees` give (a named tuple hashes and compares as its tuple):
    # ~4 named tuples an entry not made; one is made for a finding's text
    frontier, size, level, nodes_from = replay.frontier, index + 1, 1, replay.nodes_from
    frontier[(0, index)] = value = leaf_hash
    while size % (1 << level) == 0:
        first = size - (1 << level)
        left = frontier.pop((level - 1, first))
        del frontier[(level - 1, first + (1 << (level - 1)))]  # == value
        frontier[(level, first)] = value = merkle.node_hash(left, value)
        if (
            stored_nodes is not None
            and level >= nodes_from
            and stored_nodes.get((level, first)) != value  # type: ignore[call-overload]
        ):
            report.add("node", f"stored Merkle node {Subtree(level, first)} does not match", index)
        level += 1
    replay.size += 1
    if replay.size in watched:
        pieces = merkle.range_subtrees(0, replay.size)
        replay.roots[replay.size] = merkle.range_root([replay.frontier[p] for p in pieces])
        replay.map_roots[replay.size] = replay.heads.root()


def _check_stored_values(report: AuditReport, row: StoredEntry, leaf_hash: bytes) -> None:
    if leaf_hash != row.leaf_hash:
        report.add("leaf-hash", "stored leaf hash does not match the leaf bytes", row.index)


def _replay_rules(
    report: AuditReport,
    replay: _Replay,
    row: StoredEntry,
    leaf: workers_mod.Parsed,
    index: int,
    leaf_hash: bytes,
) -> None:
    # the leaf was parsed from row.leaf (ledger.audit.workers.parse_leaves), or refused
    if isinstance(leaf, str):
        report.add("leaf", f"leaf bytes do not parse: {leaf}", index)
        return
    signed = leaf.signed
    event = signed.event
    message, event_hash = signed.message_and_hash()  # the rules read signed.hash too
    replay.events.add(index, event_hash)
    unit = getattr(event, "unit", None)
    gtin, serial = (unit.gtin, unit.serial) if unit else (None, None)
    # key_id and received are read from the leaf itself (migration 0005_perf), and so is
    # the whole event hash (0031_from_leaves): the row keeps its 8-byte key, which the
    # append's duplicate lookup probes, so a key that is not the leaf's is reported (the
    # lookup would miss that event). The per-column comparison runs only when one of
    # them differs (one test per entry)
    key = event_hash[:EVENT_KEY_SIZE]
    if (row.event_key, row.kind, row.gtin, row.serial, row.signer) != (
        key,
        event.kind,
        gtin,
        serial,
        event.actor,
    ):
        columns = {
            "event_key": (row.event_key, key),
            "kind": (row.kind, event.kind),
            "gtin": (row.gtin, gtin),
            "serial": (row.serial, serial),
            "signer": (row.signer, event.actor),
        }
        for name, (stored, derived) in columns.items():
            if stored != derived:
                report.add("column", f"stored {name} does not match the leaf", index, column=name)
    try:
        # the rules name the key; its signature is verified by the pipeline (step 7)
        public, records = rules.check_signed(replay.state, signed, index, leaf.received_at)
    except LedgerError as e:
        report.add("rule", f"the rules refuse this entry: {e}", index, rule=e.code)
        return
    replay.state.apply(records)
    replay.heads.add(index, leaf_hash, event, replay.state)
    # the leaf says its format ("v"): format 1 is DOMAIN_EVENT || JCS(event), format 2
    # DOMAIN_EVENT_V2 || origin || "\n" || JCS(event); the rules checked it was allowed here
    domain = crypto.DOMAIN_EVENT if signed.v == entry.FORMAT_1 else crypto.DOMAIN_EVENT_V2
    message = message[len(domain) :]
    raw = replay.public_keys.get(public)
    if raw is None:
        raw = replay.public_keys[public] = codec.b64url_decode(public)
    replay.signatures.add((index, raw, domain, message, signed.sig))


def _check_signatures(report: AuditReport, signatures: sigpipe.SignaturePipeline) -> None:
    # waits for the signatures still being verified (step 7), then reports the bad ones
    for index in signatures.bad():
        report.add("signature", "the event signature does not verify", index)


def _check_repeats(report: AuditReport, source: AuditSource, replay: _Replay) -> None:
    def event_hash_at(index: int) -> bytes | None:
        # read from the leaf (the store keeps only a key of it); empty: not a leaf
        rows = source.entries(index, index + 1)
        return (rows[0].event_hash or None) if rows else None

    for first, again in replay.events.repeats(event_hash_at):
        report.add(
            "duplicate", f"this event is already in the log at index {first}", again, first=first
        )


def _check_head(report: AuditReport, size: int, chain: bytes | None, replay: _Replay) -> None:
    if size != replay.size:
        report.add(
            "head",
            f"the log's head says {size} entries, the replay found {replay.size}",
            min(size, replay.size),
        )
    elif chain is not None and chain != replay.chain:
        report.add("head", "the head's running chain hash does not match", replay.size - 1)


#: a `State`'s tables: `State.apply` keys each by its records' `key` (the table's name
#: and the rest), so two states have equal records under every key iff these are equal
_TABLES = ("actors", "keys", "authorizations", "products", "units")


def _compare_projections(report: AuditReport, stored: State, replayed: State) -> None:
    if all(getattr(stored, t) == getattr(replayed, t) for t in _TABLES):
        return  # nothing differs: the usual case, without sorting every record (~1.4 ms)
    have = {r.key: r for r in stored.records()}
    want = {r.key: r for r in replayed.records()}
    for key in sorted(set(have) | set(want), key=repr):
        if have.get(key) != want.get(key):
            report.add(
                "projection",
                f"projection {key} differs from the replay",
                table=key[0],
                key=list(key[1:]),
                stored=repr(have.get(key)),
                replayed=repr(want.get(key)),
            )
