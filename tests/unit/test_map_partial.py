"""The partial map (ledger.map.partial): loaded on some keys' paths through a stored map,
put back to older heads or with keys removed, it gives the same root and the same proof
bytes as the whole older map built from scratch (the log's undo for map update proofs)."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable

import pytest

from ledger.errors import ValidationError
from ledger.map import proof as map_proof
from ledger.map.partial import PartialTrie
from ledger.map.trie import EMPTY, Head, Trie
from ledger.map.update import Reader, Stored, update


def key(i: int) -> bytes:
    return hashlib.sha256(b"k%d" % i).digest()


def head(i: int, version: int) -> Head:
    return Head(i * 10 + version, hashlib.sha256(b"h%d/%d" % (i, version)).digest())


def stored(heads: dict[bytes, Head]) -> Reader:
    """A reader over the stored rows of the map of ``heads``."""
    rows = update(lambda _ps: {}, heads).rows if heads else {}

    def read(positions: Iterable[bytes]) -> dict[bytes, Stored]:
        return {p: rows[p] for p in positions if p in rows}

    return read


def trie(heads: dict[bytes, Head]) -> Trie:
    t = Trie()
    for k, h in heads.items():
        t.set(k, h)
    return t


@pytest.mark.parametrize("seed", range(8))
def test_undoing_moved_keys_gives_the_older_map(seed: int) -> None:
    rng = random.Random(seed)
    count = rng.choice([1, 2, 5, 60, 300])
    old = {key(i): head(i, 0) for i in range(count)}
    moved = rng.sample(sorted(old), k=rng.randint(0, count))
    added = [key(10_000 + i) for i in range(rng.randint(0, 12))]
    latest = {**old, **{k: Head(7, bytes(32 * [9])) for k in moved + added}}
    partial = PartialTrie.load(stored(latest), moved + added)
    assert partial.root() == trie(latest).root()
    for k in moved:
        partial.set(k, old[k])
    for k in added:
        partial.remove(k)
    whole = trie(old)
    assert partial.root() == whole.root()
    for k in moved + added:
        assert map_proof.encode(partial.path(k)) == map_proof.encode(whole.path(k))
        assert map_proof.verify(whole.root(), k, map_proof.encode(partial.path(k))) == old.get(k)


def test_removing_every_key_empties_the_map() -> None:
    latest = {key(i): head(i, 0) for i in range(5)}
    partial = PartialTrie.load(stored(latest), list(latest))
    for k in latest:
        partial.remove(k)
    assert partial.root() == EMPTY


def test_a_key_not_loaded_is_refused() -> None:
    latest = {key(i): head(i, 0) for i in range(50)}
    partial = PartialTrie.load(stored(latest), [key(1)])
    with pytest.raises(ValidationError):
        partial.set(key(2), head(2, 1))
    with pytest.raises(ValidationError):
        partial.path(key(2))
