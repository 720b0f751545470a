"""The map of heads (ledger.map): canonical roots, membership and absence proofs.

- The root depends on the set of (key, head) pairs only, never on the order of inserts
  or on updates that were later overwritten; it equals a from-scratch recursion written
  here from the definition in the module docstring (docs/FORMAT.md).
- Every key's proof verifies to its head, every absent key's proof to None, on random
  maps; a proof for one key, root or size does not pass for another.
- Flipping any bit of any byte of a proof, or cutting or extending it, is refused.
- Proofs stay short: at most ~2 log2(n) siblings, about log2(n) on average.
"""

from __future__ import annotations

import hashlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import ValidationError
from ledger.map import proof
from ledger.map.trie import EMPTY, Head, Trie, actor_key, bit, leaf_hash, node_hash, unit_key
from tests.profiles import examples

KEYS = st.binary(min_size=32, max_size=32)
HEADS = st.builds(Head, st.integers(0, 2**64 - 1), st.binary(min_size=32, max_size=32))
MAPS = st.dictionaries(KEYS, HEADS, max_size=40)


def reference_root(items: dict[bytes, Head], depth: int = 0) -> bytes:
    """The canonical root, straight from the definition."""
    if not items:
        return EMPTY
    if len(items) == 1:
        ((key, head),) = items.items()
        return leaf_hash(key, head)
    left = {k: v for k, v in items.items() if not bit(k, depth)}
    right = {k: v for k, v in items.items() if bit(k, depth)}
    return node_hash(reference_root(left, depth + 1), reference_root(right, depth + 1))


def build(items: dict[bytes, Head]) -> Trie:
    trie = Trie()
    for key, head in items.items():
        trie.set(key, head)
    return trie


@settings(max_examples=examples(200), deadline=None)
@given(items=MAPS, stale=MAPS, order=st.randoms(use_true_random=False))
def test_the_root_is_canonical(items: dict[bytes, Head], stale: dict[bytes, Head], order) -> None:
    trie = Trie()
    for key, head in stale.items():  # older heads, overwritten below when the key is in items
        if key in items:
            trie.set(key, head)
    keys = list(items)
    order.shuffle(keys)
    for key in keys:
        trie.set(key, items[key])
    assert trie.root() == reference_root(items)
    assert len(trie) == len(items)
    assert all(trie.get(k) == h for k, h in items.items())


@settings(max_examples=examples(150), deadline=None)
@given(items=MAPS, absent=st.lists(KEYS, max_size=5))
def test_every_key_proves_its_head_and_absent_keys_prove_absence(
    items: dict[bytes, Head], absent: list[bytes]
) -> None:
    trie = build(items)
    root = trie.root()
    for key, head in items.items():
        data = proof.encode(trie.path(key))
        assert proof.verify(root, key, data) == head
    for key in absent:
        if key in items:
            continue
        data = proof.encode(trie.path(key))
        assert proof.verify(root, key, data) is None


@settings(max_examples=examples(60), deadline=None)
@given(items=st.dictionaries(KEYS, HEADS, min_size=1, max_size=12), data=st.data())
def test_every_flipped_bit_cut_or_extension_is_refused(items: dict[bytes, Head], data) -> None:
    trie = build(items)
    root = trie.root()
    key = data.draw(st.sampled_from(sorted(items)) | KEYS, label="key")
    good = proof.encode(trie.path(key))
    expected = items.get(key)
    assert proof.verify(root, key, good) == expected
    for i in range(len(good)):
        for mask in (0x01, 0x80, 0xFF):
            bad = bytearray(good)
            bad[i] ^= mask
            with pytest.raises(proof.MapProofError):
                proof.verify(root, key, bytes(bad))
    for bad in (good[:-1], good + b"\x00", good[:4]):
        if bad != good:
            with pytest.raises(proof.MapProofError):
                proof.verify(root, key, bad)


@settings(max_examples=examples(60), deadline=None)
@given(items=st.dictionaries(KEYS, HEADS, min_size=2, max_size=20), data=st.data())
def test_a_proof_holds_for_its_own_key_and_root_only(items: dict[bytes, Head], data) -> None:
    trie = build(items)
    root = trie.root()
    key, other = data.draw(
        st.lists(st.sampled_from(sorted(items)), min_size=2, max_size=2, unique=True)
    )
    mine = proof.encode(trie.path(key))
    with pytest.raises(proof.MapProofError):
        proof.verify(root, other, mine)  # another key's leaf is not on its path, or folds elsewhere
    newer = build(items)
    newer.set(key, Head(items[key].index + 1 if items[key].index < 2**64 - 1 else 0, bytes(32)))
    with pytest.raises(proof.MapProofError):
        proof.verify(newer.root(), key, mine)  # a proof against an older root


def test_the_empty_map() -> None:
    trie = Trie()
    assert trie.root() == EMPTY
    key = unit_key("09506000134352", "SN-1")
    data = proof.encode(trie.path(key))
    assert data == b"\x01\x00\x00\x00"
    assert proof.verify(EMPTY, key, data) is None


def test_keys_are_domain_separated_hashes() -> None:
    assert (
        unit_key("09506000134352", "SN-1")
        == hashlib.sha256(b"provenance-ledger/map/unit/v1\x0009506000134352\x00SN-1").digest()
    )
    assert actor_key("acme") == hashlib.sha256(b"provenance-ledger/map/actor/v1\x00acme").digest()
    assert unit_key("09506000134352", "acme") != actor_key("09506000134352\x00acme")


@pytest.mark.parametrize(
    "bad",
    [b"", b"\x02\x00\x00\x00", b"\x01\x02\x00\x00", b"\x01\x00\x01\x01", b"\x01\x00\x01\x00\x7f"],
)
def test_malformed_proofs_are_refused(bad: bytes) -> None:
    with pytest.raises(proof.MapProofError):
        proof.verify(EMPTY, bytes(32), bad)


def test_wrong_sizes_are_refused() -> None:
    with pytest.raises(proof.MapProofError):
        proof.verify(EMPTY[:31], bytes(32), b"\x01\x00\x00\x00")
    with pytest.raises(proof.MapProofError):
        proof.verify(EMPTY, bytes(31), b"\x01\x00\x00\x00")
    with pytest.raises(ValidationError):
        Trie().set(bytes(31), Head(0, bytes(32)))
    with pytest.raises(ValidationError):
        Head(-1, bytes(32))
    with pytest.raises(ValidationError):
        Head(0, bytes(31))
    with pytest.raises(proof.MapProofError):
        proof.from_text("AQAAAA==")  # padded
    assert proof.from_text(proof.to_text(b"\x01\x00\x00\x00")) == b"\x01\x00\x00\x00"


def test_proofs_are_short() -> None:
    trie = Trie()
    n = 20_000
    for i in range(n):
        trie.set(
            unit_key("09506000134352", f"SN-{i:06d}"), Head(i, hashlib.sha256(b"%d" % i).digest())
        )
    depths = [
        len(trie.path(unit_key("09506000134352", f"SN-{i:06d}")).siblings) for i in range(0, n, 97)
    ]
    assert max(depths) <= 2 * math.log2(n)
    assert sum(depths) / len(depths) <= math.log2(n) + 2
