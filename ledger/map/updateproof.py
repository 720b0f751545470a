"""Map update proofs: a checkpoint's map root follows from the previous one plus the new
entries (docs/FORMAT.md section 14, "Map update proofs"; docs/AUDIT.md).

A witness keeps only the last checkpoint it cosigned, not the map. To check the map root
of a newer checkpoint it asks the log for an update proof from the old size to the new:

- ``compact``: the hashes of the perfect subtrees that make up the old tree (RFC 9162,
  ``ledger.merkle.range_subtrees(0, old)``), which must fold to the old tree root;
- ``entries``: the leaves ``old .. new - 1``; appended to ``compact`` they must give the
  new tree root, so they are the log's own entries (no separate consistency proof);
- ``authorizations``: for each ``authorization.revoke`` among the entries whose
  ``authorize`` entry is older than ``old``, that entry with its inclusion proof in the
  new tree (a revocation moves the head of the authorization's partner);
- ``map_proofs``: for every key the entries move, in increasing key order, its proof in
  the OLD map (ledger.map.proof bytes), against the old checkpoint's map root, which the
  witness checked before.

`check` verifies all of it and recomputes the new map root: it reads each moved key's
old head from its proof, runs the new entries through `ledger.map.heads.HeadTracker`,
and applies the new heads with `ledger.map.update.update` over a reader built from the
proofs' paths (a partial trie: every path and its siblings). The caller compares the
result with the new checkpoint's ``map/v1`` line; a difference is `MapUpdateError`
evidence (the proof binds everything to the two signed checkpoints, so anyone can redo
the check). A proof that is malformed, incomplete or does not bind is refused with
`MapUpdateProofError` (the log served a bad proof; that alone proves nothing). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ledger import codec, merkle
from ledger.entry import Leaf
from ledger.errors import LedgerError, ProofError, SplitViewError
from ledger.events import Authorize
from ledger.map import proof as map_proof
from ledger.map.heads import HeadTracker
from ledger.map.trie import EMPTY, KEY_BYTES, Head, Path, bit, leaf_hash, node_hash
from ledger.map.update import Reader, Stored, position, sibling, update

FORMAT = "provenance-ledger/map-update@v1"
#: the most entries one update proof covers (the log refuses larger spans)
MAX_ENTRIES = 10_000


class Checkpoint(Protocol):
    """What `check` reads of a signed checkpoint (ledger.note.Checkpoint has it)."""

    @property
    def origin(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def root(self) -> bytes: ...


class MapUpdateProofError(ProofError):
    """A map update proof that is malformed, incomplete, or not bound to the checkpoints."""

    code = "bad-map-update"


class MapUpdateError(SplitViewError):
    """A checkpoint's map root does not follow from the previous one plus the new entries;
    ``evidence`` is the publishable record (ledger.audit.witness.Evidence, kind
    ``map-update``, with the update proof)."""

    code = "map-update"


@dataclass(frozen=True)
class Authorization:
    """An ``authorize`` entry older than the update, with its inclusion proof in the new tree."""

    index: int
    leaf: bytes
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class UpdateProof:
    """What the log serves for (old size, new size) (module docstring)."""

    old: int
    new: int
    compact: tuple[bytes, ...]
    entries: tuple[bytes, ...]
    authorizations: tuple[Authorization, ...]
    map_proofs: tuple[tuple[bytes, bytes], ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``GET /v1/proofs/map-update``; binary fields unpadded base64url)."""
        b64 = codec.b64url_encode
        return {
            "format": FORMAT,
            "old": self.old,
            "new": self.new,
            "compact": [b64(h) for h in self.compact],
            "entries": [b64(leaf) for leaf in self.entries],
            "authorizations": [
                {"index": a.index, "leaf": b64(a.leaf), "proof": [b64(h) for h in a.proof]}
                for a in self.authorizations
            ],
            "map_proofs": [{"key": b64(k), "proof": b64(p)} for k, p in self.map_proofs],
        }

    @classmethod
    def from_dict(cls, data: Any) -> UpdateProof:
        """Parse the JSON form (shape only: `check` verifies it).

        Raises:
            MapUpdateProofError: not this format, a missing field or one of the wrong type.
        """
        try:
            return cls._parse(data)
        except MapUpdateProofError:
            raise
        except (LedgerError, TypeError, KeyError, ValueError, AttributeError) as e:
            raise MapUpdateProofError(f"a malformed map update proof: {e}", field="update") from e

    @classmethod
    def _parse(cls, data: Any) -> UpdateProof:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise MapUpdateProofError(f"not a {FORMAT} proof", field="format")

        def size(name: str) -> int:
            value = data.get(name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise MapUpdateProofError("a size is a non-negative integer", field=name)
            return value

        def blobs(values: Any, name: str, length: int | None = None) -> tuple[bytes, ...]:
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise MapUpdateProofError("expected a list of base64url strings", field=name)
            return tuple(codec.b64url_decode(v, field=name, size=length) for v in values)

        grants = data.get("authorizations")
        proofs = data.get("map_proofs")
        if not isinstance(grants, list) or not isinstance(proofs, list):
            raise MapUpdateProofError("authorizations and map_proofs are lists", field="update")
        return cls(
            size("old"),
            size("new"),
            blobs(data.get("compact"), "compact", merkle.HASH_SIZE),
            blobs(data.get("entries"), "entries"),
            tuple(
                Authorization(
                    int(g["index"]),
                    codec.b64url_decode(g["leaf"], field="authorizations"),
                    blobs(g["proof"], "authorizations", merkle.HASH_SIZE),
                )
                for g in grants
            ),
            tuple(
                (
                    codec.b64url_decode(p["key"], field="map_proofs", size=KEY_BYTES),
                    map_proof.from_text(p["proof"]),
                )
                for p in proofs
            ),
        )


def check(update_proof: UpdateProof, old: Checkpoint, new: Checkpoint, old_map: bytes) -> bytes:
    """The map root that follows from ``old_map`` (the old checkpoint's map root) plus
    the entries between the two checkpoints, as the proof shows them.

    Raises:
        MapUpdateProofError: the proof is not for these sizes, its entries are not the
            log's (they do not lead from the old tree root to the new), an authorization
            or map proof does not verify, a moved key has no map proof, keys are out of
            order, repeated or not moved, or an entry does not parse.
    """
    p = update_proof
    if (p.old, p.new) != (old.size, new.size) or not p.old < p.new:
        raise MapUpdateProofError(
            f"the proof is for {p.old} -> {p.new}, not {old.size} -> {new.size}", field="update"
        )
    if len(p.entries) != p.new - p.old:
        raise MapUpdateProofError(
            f"{len(p.entries)} entries for the {p.new - p.old} between the sizes", field="entries"
        )
    _check_entries(p, old, new)
    partners = _partners(p, new)
    heads = _old_heads(p, old_map)

    def current(key: bytes) -> Head | None:
        if key not in heads:
            raise MapUpdateProofError("a moved key has no old-map proof", field="map_proofs")
        return heads[key][0]

    def partner_of(authorization: str) -> str | None:
        if authorization not in partners:
            raise MapUpdateProofError(
                "a revoked authorization's authorize entry is missing", field="authorizations"
            )
        return partners[authorization]

    tracker = HeadTracker(current, partner_of)
    for offset, data in enumerate(p.entries):
        signed = _parse_leaf(data, new.origin, "entries")
        index = p.old + offset
        if isinstance(signed.event, Authorize):  # before add: a revoke later may name it
            partners[codec.b64url_encode(signed.hash)] = signed.event.partner
        tracker.add(index, merkle.leaf_hash(data), signed.event)
    if set(tracker.changes) != set(heads):
        raise MapUpdateProofError(
            "the map proofs are not for exactly the keys the entries move", field="map_proofs"
        )
    if not tracker.changes:
        return old_map
    reader = _reader([path for _, path in heads.values()])
    return update(reader, tracker.changes).root


def _check_entries(p: UpdateProof, old: Checkpoint, new: Checkpoint) -> None:
    """The compact range folds to the old tree root; with the entries, to the new one."""
    pieces = merkle.range_subtrees(0, p.old)
    if len(p.compact) != len(pieces):
        raise MapUpdateProofError(
            f"the old tree is {len(pieces)} subtrees, not {len(p.compact)}", field="compact"
        )
    if p.old and merkle.range_root(p.compact) != old.root:
        raise MapUpdateProofError("the compact range is not the old tree's", field="compact")
    stack = [(piece.level, h) for piece, h in zip(pieces, p.compact, strict=True)]
    for data in p.entries:
        level, value = 0, merkle.leaf_hash(data)
        while stack and stack[-1][0] == level:
            value = merkle.node_hash(stack.pop()[1], value)
            level += 1
        stack.append((level, value))
    if merkle.range_root([h for _, h in stack]) != new.root:
        raise MapUpdateProofError(
            "the entries do not lead from the old tree root to the new", field="entries"
        )


def _partners(p: UpdateProof, new: Checkpoint) -> dict[str, str]:
    """Authorization id -> partner, from the older ``authorize`` entries the proof carries."""
    partners: dict[str, str] = {}
    last = -1
    for grant in p.authorizations:
        if not last < grant.index < p.old:
            raise MapUpdateProofError(
                "authorizations are older than the update, in index order, once each",
                field="authorizations",
            )
        last = grant.index
        try:
            merkle.verify_inclusion(
                merkle.leaf_hash(grant.leaf), grant.index, new.size, grant.proof, new.root
            )
        except ProofError as e:
            raise MapUpdateProofError(
                f"an authorize entry is not in the log: {e.message}", field="authorizations"
            ) from e
        signed = _parse_leaf(grant.leaf, new.origin, "authorizations")
        if not isinstance(signed.event, Authorize):
            raise MapUpdateProofError("not an authorize entry", field="authorizations")
        partners[codec.b64url_encode(signed.hash)] = signed.event.partner
    return partners


def _old_heads(p: UpdateProof, old_map: bytes) -> dict[bytes, tuple[Head | None, Path]]:
    """Each proven key's head in the old map (None: absent) and its path."""
    heads: dict[bytes, tuple[Head | None, Path]] = {}
    previous = b""
    for key, data in p.map_proofs:
        if key <= previous:
            raise MapUpdateProofError(
                "map proofs are in increasing key order, one per key", field="map_proofs"
            )
        previous = key
        try:
            head = map_proof.verify(old_map, key, data)
            path = map_proof.decode(key, data)
        except LedgerError as e:
            raise MapUpdateProofError(
                f"an old-map proof does not verify: {e.message}", field="map_proofs"
            ) from e
        heads[key] = (head, path)
    return heads


def _parse_leaf(data: bytes, origin: str, field: str) -> Any:
    try:
        return Leaf.from_bytes(data, origin).signed
    except LedgerError as e:
        raise MapUpdateProofError(f"an entry does not parse: {e.message}", field=field) from e


def _reader(paths: Sequence[Path]) -> Reader:
    """A `ledger.map.update.Reader` over the nodes the paths show: the nodes on each path
    (internal, with their hash), its end (a leaf, or empty) and the siblings along it (by
    hash). Asked for any other position it refuses: the proofs did not cover the update."""
    known: dict[bytes, Stored | None] = {}
    on_path: set[bytes] = set()

    def put(pos: bytes, node: Stored | None, is_path: bool) -> None:
        value = EMPTY if node is None else node.subtree_hash()
        if pos in known:
            prior = known[pos]
            if (EMPTY if prior is None else prior.subtree_hash()) != value:
                raise MapUpdateProofError("two map proofs disagree", field="map_proofs")
            if pos in on_path or not is_path:
                return
        known[pos] = node
        if is_path:
            on_path.add(pos)

    for path in paths:
        key, depth = path.key, len(path.siblings)
        if path.leaf is None:
            running, end = EMPTY, None
        else:
            running = leaf_hash(*path.leaf)
            end = Stored(key=path.leaf[0], head=path.leaf[1])
        put(position(key, depth), end, True)
        for d in range(depth - 1, -1, -1):
            side = path.siblings[d]
            put(sibling(key, d + 1), None if side == EMPTY else Stored(hash=side), False)
            running = node_hash(side, running) if bit(key, d) else node_hash(running, side)
            put(position(key, d), Stored(hash=running), True)

    def read(positions: Iterable[bytes]) -> Mapping[bytes, Stored]:
        out: dict[bytes, Stored] = {}
        for pos in positions:
            if pos not in known:
                raise MapUpdateProofError(
                    "the update needs a map node no proof shows", field="map_proofs"
                )
            node = known[pos]
            if node is not None:
                out[pos] = node
        return out

    return read
