"""The map kept in a store (ledger.map.update), its heads (ledger.map.heads) and its
checkpoint line (ledger.map.commit).

- Random logs of batches applied to a stored map (a dict standing in for the table)
  give, after every batch, the root of an in-memory `Trie` holding the same heads; every
  key's proof read from the stored rows is the Trie's own, verifies to its head, and
  every absent key's proof verifies to absence; flipping any byte of a proof is refused.
- One batch update (with or without nodes known beforehand) leaves the same rows and
  root as its keys applied one at a time.
- Positions are unique for every depth and key prefix.
- The actor chain changes when any registry entry is left out.
- The checkpoint's map line round-trips; malformed or repeated lines are refused.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import ValidationError
from ledger.events import event_from_dict
from ledger.map import commit, proof, update
from ledger.map.heads import HeadTracker, actor_chain
from ledger.map.proof import MapProofError
from ledger.map.trie import EMPTY, Head, Trie, actor_key, unit_key
from tests import map_reference
from tests.profiles import examples

KEYS = st.binary(min_size=32, max_size=32)
HEADS = st.builds(Head, st.integers(0, 2**64 - 1), st.binary(min_size=32, max_size=32))


class DictStore:
    """The map table as a dict; counts the reads (one per trie level)."""

    def __init__(self) -> None:
        self.rows: dict[bytes, update.Stored] = {}
        self.reads = 0

    def read(self, positions):  # type: ignore[no-untyped-def]
        self.reads += 1
        return {p: self.rows[p] for p in positions if p in self.rows}


@settings(max_examples=examples(60), deadline=None)
@given(
    pool=st.lists(KEYS, min_size=1, max_size=30, unique=True),
    batches=st.lists(
        st.lists(st.tuples(st.integers(0, 29), HEADS), min_size=1, max_size=12),
        min_size=1,
        max_size=8,
    ),
    absent=st.lists(KEYS, max_size=5),
    data=st.data(),
)
def test_random_logs_keep_the_stored_map_equal_to_the_trie(
    pool: list[bytes], batches, absent: list[bytes], data
) -> None:
    stored, trie = DictStore(), Trie()
    for batch in batches:
        changes = {pool[i % len(pool)]: head for i, head in batch}
        result = update.update(stored.read, changes)
        stored.rows.update(result.rows)
        for key, head in changes.items():
            trie.set(key, head)
        assert result.root == trie.root()
        for key in pool:
            served = map_reference.prove(stored.read, key)
            assert served == proof.encode(trie.path(key))
            assert proof.verify(trie.root(), key, served) == trie.get(key)
            assert map_reference.lookup(stored.read, key) == trie.get(key)
        for key in absent:
            if trie.get(key) is None:
                assert proof.verify(trie.root(), key, map_reference.prove(stored.read, key)) is None
    key = data.draw(st.sampled_from(pool))
    served = bytearray(map_reference.prove(stored.read, key))
    at = data.draw(st.integers(0, len(served) - 1))
    served[at] ^= data.draw(st.integers(1, 255))
    with pytest.raises(MapProofError):
        if proof.verify(trie.root(), key, bytes(served)) != trie.get(key):
            raise MapProofError("a flipped proof proved something else")


#: keys that share long prefixes (deep paths, chains of one-child nodes) or none
CLUSTERED = st.builds(
    lambda prefix, rest: (prefix + rest)[:32],
    st.sampled_from([b"", bytes(3), b"\xff\xff\xff", b"\x80\x00"]),
    st.binary(min_size=32, max_size=32),
)


@settings(max_examples=examples(80), deadline=None)
@given(
    before=st.lists(st.tuples(CLUSTERED, HEADS), max_size=25),
    batch=st.lists(st.tuples(CLUSTERED, HEADS), min_size=1, max_size=25),
    moved=st.lists(st.tuples(st.integers(0, 24), HEADS), max_size=6),
    cached_bytes=st.integers(0, 3),
)
def test_a_batch_update_equals_its_keys_one_by_one(before, batch, moved, cached_bytes: int) -> None:
    """One update of a batch (with part of the map known beforehand, as the append's
    cache of the top levels gives it, or not) leaves the same rows and root as updating
    the same keys one at a time; known-empty positions are honoured too; ``existing``
    is exactly the positions among the rows written that held a row (the store's
    writer updates those in place and plainly inserts the rest)."""
    base = DictStore()
    if before:
        base.rows.update(update.update(base.read, dict(before)).rows)
    changes = dict(batch)
    changes.update((before[i][0], head) for i, head in moved if i < len(before))
    one_by_one = DictStore()
    one_by_one.rows = dict(base.rows)
    for key, head in changes.items():
        one_by_one.rows.update(update.update(one_by_one.read, {key: head}).rows)
    expected = update.update(one_by_one.read, {}).root
    for known in (None, _known(base, cached_bytes, changes)):
        batched = DictStore()
        batched.rows = dict(base.rows)
        result = update.update(batched.read, changes, known)
        assert result.existing == result.rows.keys() & base.rows.keys()
        batched.rows.update(result.rows)
        assert result.root == expected
        assert batched.rows == one_by_one.rows
        assert len(result.rows) == len(result.nodes) + len(result.leaves)
        assert not set(result.empty) & batched.rows.keys()


def _known(stored: DictStore, size: int, changes) -> dict[bytes, update.Stored | None]:
    """The stored nodes at positions of at most ``size`` bytes on the changed keys'
    paths and beside them, with None where none is (a cache's view)."""
    known: dict[bytes, update.Stored | None] = {}
    for key in changes:
        for depth in range(min(8 * size, 256)):
            for pos in (update.position(key, depth), update.sibling(key, depth + 1)):
                known[pos] = stored.rows.get(pos)
    return known


def test_an_update_reads_one_level_at_a_time() -> None:
    stored = DictStore()
    keys = [hashlib.sha256(str(i).encode()).digest() for i in range(2000)]
    stored.rows.update(
        update.update(stored.read, {k: Head(i, EMPTY) for i, k in enumerate(keys)}).rows
    )
    stored.reads = 0
    update.update(stored.read, {keys[5]: Head(9999, EMPTY), keys[77]: Head(10_000, EMPTY)})
    assert stored.reads <= 2 * 11 + 4  # about log2(2000) levels, plus the leaves
    stored.reads = 0
    map_reference.prove(stored.read, keys[5])
    assert stored.reads == 1  # a map of 2,000 keys: one read per proof


@given(KEYS, st.integers(0, 256), st.integers(0, 256))
def test_positions_are_unique_per_depth_and_prefix(key: bytes, a: int, b: int) -> None:
    if a != b:
        assert update.position(key, a) != update.position(key, b)
    assert len(update.position(key, a)) == a // 8 + 1


def test_an_empty_update_reads_the_root() -> None:
    assert update.update(DictStore().read, {}).root == EMPTY
    with pytest.raises(ValidationError):
        update.update(DictStore().read, {b"short": Head(0, EMPTY)})


def _registry(kind: str, **fields: object) -> object:
    base = {"kind": kind, "actor": "operator", "time": "2026-12-03T00:00:00Z"}
    return event_from_dict({**base, **fields})


def test_an_actors_chain_changes_when_any_registry_entry_is_left_out() -> None:
    key = "A" * 43
    events = [
        _registry("actor.register", subject="acme", role="brand", name="Acme", keys=[key]),
        _registry("actor.revoke", subject="acme", reason="counterfeits"),
    ]
    hashes = [hashlib.sha256(bytes([i])).digest() for i in range(len(events))]
    full = HeadTracker(lambda _k: None, lambda _a: None)
    for i, (event, h) in enumerate(zip(events, hashes, strict=True)):
        full.add(i, h, event)  # type: ignore[arg-type]
    head = full.changes[actor_key("acme")]
    assert head.entry_hash == actor_chain(actor_chain(EMPTY, hashes[0]), hashes[1])
    cut = HeadTracker(lambda _k: None, lambda _a: None)
    cut.add(0, hashes[0], events[0])  # type: ignore[arg-type]
    assert cut.changes[actor_key("acme")] != head
    assert unit_key("09506000134352", "SN-1") not in full.changes


def test_the_map_line_round_trips_and_bad_lines_are_refused() -> None:
    root = hashlib.sha256(b"root").digest()
    line = commit.extension(root)
    assert line.startswith("map/v1 ") and commit.root_of(["other", line]) == root
    assert commit.root_of([]) is None
    for bad in (["map/v1 !!"], ["map/v1 " + "A" * 10], [line, line], [line + "="]):
        with pytest.raises(MapProofError):
            commit.root_of(bad)


@pytest.mark.parametrize("chunk", [1, 2, 3, 24])
def test_proofs_and_lookups_read_in_chunks_of_any_depth(chunk: int) -> None:
    # keys sharing their first 40 bits make paths deeper than a chunk of levels
    keys = [bytes(5) + hashlib.sha256(str(i).encode()).digest()[:27] for i in range(64)]
    stored, trie = DictStore(), Trie()
    changes = {k: Head(i, EMPTY) for i, k in enumerate(keys)}
    stored.rows.update(update.update(stored.read, changes).rows)
    for key, head in changes.items():
        trie.set(key, head)
    for key in [*keys, bytes(5) + bytes(27), bytes(32)]:
        served = map_reference.prove(stored.read, key, chunk)
        assert served == proof.encode(trie.path(key))
        assert map_reference.lookup(stored.read, key, chunk) == trie.get(key)


def test_a_proof_has_one_encoding() -> None:
    # an empty sibling must travel as a 0 bit, never as 32 zero bytes with its bit set
    trie = Trie()
    keys = [hashlib.sha256(bytes([i])).digest() for i in range(6)]
    for i, key in enumerate(keys):
        trie.set(key, Head(i, EMPTY))
    for key in keys:
        path = trie.path(key)
        empty = [i for i, sibling in enumerate(path.siblings) if sibling == EMPTY]
        if not empty:
            continue
        honest = proof.encode(path)
        depth = len(path.siblings)
        bitmap = bytearray(honest[4 : 4 + (depth + 7) // 8])
        bitmap[empty[0] >> 3] |= 0x80 >> (empty[0] & 7)
        siblings = b"".join(s for i, s in enumerate(path.siblings) if s != EMPTY or i == empty[0])
        tail = honest[4 + len(bitmap) + 32 * sum(s != EMPTY for s in path.siblings) :]
        forged = honest[:4] + bytes(bitmap) + siblings + tail
        assert proof.verify(trie.root(), key, honest) == trie.get(key)
        with pytest.raises(MapProofError, match="empty sibling"):
            proof.verify(trie.root(), key, forged)
        return
    pytest.fail("no proof with an empty sibling in this map")
