"""ledger.merkle: known-answer vectors, the size-0 policy, properties and bad input.

The known-answer vectors are transparency-dev/merkle's (tests/data/merkle-vectors, see
its NOTICE.md). The property tests compare three independent derivations: the RFC 9162
recursions (`inclusion_proof`, `consistency_proof`), the bit-walking verifiers, and the
subtree planner, checked here by a small reference verifier that rebuilds each head from
the planner's ranges with the RFC's split rule.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import codec, merkle
from ledger.errors import ProofError, ValidationError
from tests.profiles import examples

VECTORS = Path(__file__).resolve().parent.parent / "data" / "merkle-vectors"
VECTOR_FILES = sorted(VECTORS.rglob("*.json"))
# The one vector with wantErr=false that we reject on purpose: see test_vector.
PLACEHOLDER_ROOTS = "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"
# Leaf data of the tree the vectors' happy paths come from (the RFC 6962 test tree).
REFERENCE_DATA = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43"]
REFERENCE_DATA += [bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70))]
PROPERTY = settings(max_examples=examples(300), deadline=None)
trees = st.tuples(st.integers(1, 64) | st.integers(1, 2000), st.binary(min_size=8, max_size=8))


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _leaves(size: int, salt: bytes = b"") -> list[bytes]:
    """Cheap distinct leaf hashes (they need not be leaf_hash of anything)."""
    return [_sha(salt + i.to_bytes(4, "big")) for i in range(size)]


def _passes(verify: Callable[..., None], *args: Any, **kwargs: Any) -> bool:
    try:
        verify(*args, **kwargs)
    except ProofError:
        return False
    return True


def _flip(h: bytes, bit: int) -> bytes:
    return bytes(b ^ (1 << (bit % 8)) if i == bit // 8 else b for i, b in enumerate(h))


def _replace(proof: list[bytes], i: int, h: bytes) -> list[bytes]:
    return [*proof[:i], h, *proof[i + 1 :]]


def _reshaped(proof: list[bytes]) -> list[list[bytes]]:
    """The proof truncated (either end) and extended (either end, or a repeat)."""
    extra = _sha(b"extra")
    out = [[extra, *proof], [*proof, extra]]
    return out + ([proof[1:], proof[:-1], [*proof, proof[-1]]] if proof else [])


def _others(value: int, size: int, picks: list[int]) -> set[int]:
    """Other values for an index or size: neighbours, edges, and random picks."""
    near = {value - 1, value + 1, value ^ 1, value * 2, value // 2, 0, size - 1, size, size + 1}
    return (near | set(picks) | set(range(2 * size + 2) if size <= 64 else ())) - {value}


def _naive_mth(hashes: Sequence[bytes]) -> bytes:
    """MTH straight from RFC 9162 section 2.1.1, over leaf hashes."""
    if len(hashes) <= 1:
        return hashes[0] if hashes else _sha(b"")
    k = 1
    while 2 * k < len(hashes):
        k *= 2
    return _sha(b"\x01" + _naive_mth(hashes[:k]) + _naive_mth(hashes[k:]))


def _head(lo: int, hi: int, known: dict[tuple[int, int], bytes]) -> bytes | None:
    """MTH(D[lo:hi]) from known range hashes, split as RFC 9162 section 2.1.1 says."""
    if (lo, hi) in known:
        return known[(lo, hi)]
    if hi - lo < 2:
        return None
    k = 1 << ((hi - lo - 1).bit_length() - 1)
    left, right = _head(lo, lo + k, known), _head(lo + k, hi, known)
    return None if left is None or right is None else _sha(b"\x01" + left + right)


def _reference_inclusion(
    leaf: bytes, index: int, size: int, proof: list[bytes], head: bytes
) -> bool:
    """Reference verifier built on the planner: accept iff the head rebuilds."""
    if not 0 <= index < size:
        return False
    ranges = merkle.inclusion_proof_ranges(index, size)
    if len(ranges) != len(proof):
        return False
    known = dict(zip(ranges, proof, strict=True)) | {(index, index + 1): leaf}
    return _head(0, size, known) == head


def _reference_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes], accept: bool
) -> bool:
    """Reference verifier built on the planner, with the module's size-0 policy."""
    if not 0 <= old <= new:
        return False
    if old == 0 and not (accept and not proof and old_root == merkle.EMPTY_ROOT):
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return True
    ranges = merkle.consistency_proof_ranges(old, new)
    if len(ranges) != len(proof):
        return False
    known = dict(zip(ranges, proof, strict=True))
    if old & (old - 1) == 0:  # the old head is a node of the new tree, not in the proof
        known[(0, old)] = old_root
    return _head(0, old, known) == old_root and _head(0, new, known) == new_root


def _store(leaves: list[bytes]) -> dict[merkle.Subtree, bytes]:
    """What a store keeps: every perfect subtree's hash, written as leaves are appended."""
    store: dict[merkle.Subtree, bytes] = {}
    for i, leaf in enumerate(leaves):
        for sub in merkle.subtrees_completed_by(i):
            half = sub.level and 1 << (sub.level - 1)
            left, right = (sub.level - 1, sub.start), (sub.level - 1, sub.start + half)
            store[sub] = merkle.node_hash(store[left], store[right]) if sub.level else leaf
    return store


# -- known-answer vectors -------------------------------------------------------------


def test_every_vector_file_is_there() -> None:
    assert len(VECTOR_FILES) == 157
    assert (VECTORS / "NOTICE.md").is_file()


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.relative_to(VECTORS).as_posix())
def test_vector(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    b64 = codec.b64_decode
    proof = [b64(h) for h in case["proof"] or []]
    if "leafIdx" in case:
        args = (b64(case["leafHash"]), case["leafIdx"], case["treeSize"], proof, b64(case["root"]))
        errors = [_error(merkle.verify_inclusion, *args)]
    else:
        args = (case["size1"], case["size2"], b64(case["root1"]), b64(case["root2"]), proof)
        errors = [
            _error(merkle.verify_consistency, *args, accept_empty_old=accept)
            for accept in (True, False)
        ]
    if path.relative_to(VECTORS).as_posix() == PLACEHOLDER_ROOTS:
        # Known divergence: wantErr is false, but both roots are the 12-byte placeholder
        # "don't care 2" (transparency-dev never looks at roots when the sizes are equal).
        # We accept exactly 32-byte hashes, so we refuse it and name the field.
        # test_equal_sizes_with_real_roots shows the same case with real roots passing.
        assert case["wantErr"] is False
        assert [e.field if e else None for e in errors] == ["old_root", "old_root"]
    else:
        assert [e is not None for e in errors] == [case["wantErr"]] * len(errors)


def _error(verify: Callable[..., None], *args: Any, **kwargs: Any) -> ProofError | None:
    try:
        verify(*args, **kwargs)
    except ProofError as e:
        return e
    return None


def test_equal_sizes_with_real_roots() -> None:
    head = merkle.leaf_hash(b"one")
    for accept in (True, False):
        merkle.verify_consistency(1, 1, head, head, [], accept_empty_old=accept)
        with pytest.raises(ProofError, match="new_root"):
            merkle.verify_consistency(1, 1, head, _flip(head, 0), [], accept_empty_old=accept)


@pytest.mark.parametrize("name", ["inclusion/0", "inclusion/1", "inclusion/2", "inclusion/3"])
def test_inclusion_happy_paths_are_reproduced(name: str) -> None:
    case = json.loads((VECTORS / name / "happy-path.json").read_text(encoding="utf-8"))
    leaves = [merkle.leaf_hash(d) for d in REFERENCE_DATA]
    index, size = case["leafIdx"], case["treeSize"]
    assert merkle.leaf_hash(REFERENCE_DATA[index]) == codec.b64_decode(case["leafHash"])
    assert merkle.root(leaves[:size]) == codec.b64_decode(case["root"])
    want = [codec.b64_decode(h) for h in case["proof"] or []]
    assert merkle.inclusion_proof(leaves, index, size) == want


@pytest.mark.parametrize(
    "name", ["consistency/0", "consistency/1", "consistency/2", "consistency/3"]
)
def test_consistency_happy_paths_are_reproduced(name: str) -> None:
    case = json.loads((VECTORS / name / "happy-path.json").read_text(encoding="utf-8"))
    leaves = [merkle.leaf_hash(d) for d in REFERENCE_DATA]
    old, new = case["size1"], case["size2"]
    assert merkle.root(leaves[:old]) == codec.b64_decode(case["root1"])
    assert merkle.root(leaves[:new]) == codec.b64_decode(case["root2"])
    want = [codec.b64_decode(h) for h in case["proof"] or []]
    assert merkle.consistency_proof(leaves, old, new) == want


def test_hashes_follow_rfc_9162() -> None:
    assert merkle.EMPTY_ROOT.hex().startswith("e3b0c442")
    assert merkle.root([]) == merkle.EMPTY_ROOT
    assert merkle.leaf_hash(b"abc") == _sha(b"\x00abc")
    left, right = _leaves(2)
    assert merkle.node_hash(left, right) == _sha(b"\x01" + left + right)
    assert merkle.HASH_SIZE == 32


def test_root_matches_the_naive_recursion() -> None:
    for size in range(70):
        leaves = _leaves(size, b"naive")
        assert merkle.root(leaves) == _naive_mth(leaves)
        assert merkle.root(tuple(leaves)) == _naive_mth(leaves)


# -- size-0 policy --------------------------------------------------------------------


def test_size_zero_default_policy_is_c2sp() -> None:
    leaves = _leaves(5)
    head = merkle.root(leaves)
    empty = merkle.EMPTY_ROOT
    assert merkle.consistency_proof(leaves, 0, 5) == []
    merkle.verify_consistency(0, 5, empty, head, [])
    merkle.verify_consistency(0, 0, empty, empty, [])
    cases = [
        ((0, 5, empty, head, [head]), "proof"),
        ((0, 5, head, head, []), "old_root"),
        ((0, 5, empty, head[:12], []), "new_root"),
        ((0, 0, empty, head, []), "new_root"),
        ((0, 0, empty, empty, [head]), "proof"),
    ]
    for args, field in cases:
        with pytest.raises(ProofError) as err:
            merkle.verify_consistency(*args)
        assert err.value.field == field


def test_size_zero_strict_policy_is_transparency_dev() -> None:
    head, empty = merkle.root(_leaves(5)), merkle.EMPTY_ROOT
    for args in [(0, 5, empty, head, []), (0, 0, empty, empty, []), (0, 1, empty, head, [head])]:
        with pytest.raises(ProofError) as err:
            merkle.verify_consistency(*args, accept_empty_old=False)
        assert err.value.field == "old_size"


def test_nothing_is_included_in_the_empty_tree() -> None:
    leaf = merkle.leaf_hash(b"x")
    with pytest.raises(ProofError, match="index"):
        merkle.verify_inclusion(leaf, 0, 0, [], merkle.EMPTY_ROOT)
    with pytest.raises(ValidationError, match="index"):
        merkle.inclusion_proof([], 0, 0)


def test_sizes_are_bound_by_the_root_not_the_proof() -> None:
    # Documented in the module: leaf 0's proof in a tree of 8 also walks trees of 5 to 8.
    leaves = _leaves(8)
    proof, head = merkle.inclusion_proof(leaves, 0, 8), merkle.root(leaves)
    accepted = [
        n for n in range(12) if _passes(merkle.verify_inclusion, leaves[0], 0, n, proof, head)
    ]
    assert accepted == [5, 6, 7, 8]


# -- properties -----------------------------------------------------------------------


@PROPERTY
@given(tree=trees, data=st.data())
def test_inclusion_proofs_verify_and_any_change_fails(tree: tuple[int, bytes], data: Any) -> None:
    size, salt = tree
    leaves = _leaves(size, salt)
    head = merkle.root(leaves)
    index = data.draw(st.integers(0, size - 1), label="index")
    leaf, proof = leaves[index], merkle.inclusion_proof(leaves, index, size)
    merkle.verify_inclusion(leaf, index, size, proof, head)
    assert _reference_inclusion(leaf, index, size, proof, head)
    bit = data.draw(st.integers(0, 255), label="bit")
    for i, h in enumerate(proof):
        assert not _passes(
            merkle.verify_inclusion, leaf, index, size, _replace(proof, i, _flip(h, bit)), head
        )
    assert not _passes(merkle.verify_inclusion, _flip(leaf, bit), index, size, proof, head)
    assert not _passes(merkle.verify_inclusion, leaf, index, size, proof, _flip(head, bit))
    for other in _reshaped(proof):
        assert not _passes(merkle.verify_inclusion, leaf, index, size, other, head)
    picks = data.draw(st.lists(st.integers(-1, 2 * size + 2), max_size=6), label="picks")
    for other in _others(index, size, picks):
        assert not _passes(merkle.verify_inclusion, leaf, other, size, proof, head)
    for other in _others(size, size, picks):  # only a size with the same proof shape passes
        ok = _passes(merkle.verify_inclusion, leaf, index, other, proof, head)
        assert ok == _reference_inclusion(leaf, index, other, proof, head)


@PROPERTY
@given(tree=trees, data=st.data())
def test_consistency_proofs_verify_and_any_change_fails(tree: tuple[int, bytes], data: Any) -> None:
    new, salt = tree
    leaves = _leaves(new, salt)
    old = data.draw(st.integers(0, new), label="old")
    old_root, new_root = merkle.root(leaves[:old]), merkle.root(leaves)
    proof = merkle.consistency_proof(leaves, old, new)
    for accept in (True, False):
        ok = _passes(
            merkle.verify_consistency, old, new, old_root, new_root, proof, accept_empty_old=accept
        )
        assert ok == (old > 0 or accept)
        assert ok == _reference_consistency(old, new, old_root, new_root, proof, accept)
    if old == 0:
        return  # size-0 cases are covered by the policy tests; nothing to tamper with
    verify = merkle.verify_consistency
    bit = data.draw(st.integers(0, 255), label="bit")
    for i, h in enumerate(proof):
        assert not _passes(verify, old, new, old_root, new_root, _replace(proof, i, _flip(h, bit)))
    assert not _passes(verify, old, new, _flip(old_root, bit), new_root, proof)
    assert not _passes(verify, old, new, old_root, _flip(new_root, bit), proof)
    for other in _reshaped(proof):
        assert not _passes(verify, old, new, old_root, new_root, other)
    picks = data.draw(st.lists(st.integers(-1, 2 * new + 2), max_size=6), label="picks")
    for accept in (True, False):  # only sizes with the same proof shape pass
        for other in _others(old, new, picks):
            ok = _passes(verify, other, new, old_root, new_root, proof, accept_empty_old=accept)
            assert ok == _reference_consistency(other, new, old_root, new_root, proof, accept)
        for other in _others(new, new, picks):
            ok = _passes(verify, old, other, old_root, new_root, proof, accept_empty_old=accept)
            assert ok == _reference_consistency(old, other, old_root, new_root, proof, accept)


@PROPERTY
@given(tree=trees, data=st.data())
def test_planned_proofs_equal_direct_proofs(tree: tuple[int, bytes], data: Any) -> None:
    size, salt = tree
    leaves = _leaves(size, salt)
    store = _store(leaves)
    index = data.draw(st.integers(0, size - 1), label="index")
    old = data.draw(st.integers(0, size), label="old")
    plans = [
        (merkle.inclusion_proof_ranges(index, size), merkle.inclusion_proof(leaves, index, size)),
        (merkle.consistency_proof_ranges(old, size), merkle.consistency_proof(leaves, old, size)),
    ]
    for ranges, direct in plans:
        assert [merkle.root(leaves[a:b]) for a, b in ranges] == direct
        assert sum(len(merkle.range_subtrees(a, b)) > 1 for a, b in ranges) <= 1  # right edge
        needed = merkle.needed_subtrees(ranges)
        assert len(needed) <= 2 * size.bit_length() + 1  # O(log n) rows to read
        assert merkle.proof_from_subtrees(ranges, {s: store[s] for s in needed}) == direct
    head = merkle.range_root([store[s] for s in merkle.range_subtrees(0, size)])
    assert head == merkle.root(leaves)
    width = data.draw(st.integers(0, size), label="width")
    align = 1 << max(width.bit_length() - 1, 0)
    start = align * data.draw(st.integers(0, (size - width) // align), label="start")
    pieces = merkle.range_subtrees(start, start + width)
    assert [s.end for s in pieces[:-1]] == [s.start for s in pieces[1:]]
    assert merkle.range_root([store[s] for s in pieces]) == merkle.root(
        leaves[start : start + width]
    )


def test_small_trees_exhaustively() -> None:
    for size in range(1, 41):
        leaves = _leaves(size, b"small")
        store, head = _store(leaves), merkle.root(leaves)
        perfect = {(lv, s) for lv in range(7) for s in range(0, size - (1 << lv) + 1, 1 << lv)}
        assert set(store) == perfect
        assert all(store[s] == merkle.root(leaves[s.start : s.end]) for s in store)
        for index in range(size):
            ranges = merkle.inclusion_proof_ranges(index, size)
            proof = merkle.inclusion_proof(leaves, index, size)
            assert merkle.proof_from_subtrees(ranges, store) == proof
            merkle.verify_inclusion(leaves[index], index, size, proof, head)
        for old in range(size + 1):
            ranges = merkle.consistency_proof_ranges(old, size)
            proof = merkle.consistency_proof(leaves, old, size)
            assert merkle.proof_from_subtrees(ranges, store) == proof
            merkle.verify_consistency(old, size, merkle.root(leaves[:old]), head, proof)


def test_every_bit_of_small_proofs_matters() -> None:
    for size in range(1, 10):
        leaves = _leaves(size, b"bits")
        head = merkle.root(leaves)
        for index in range(size):
            proof = merkle.inclusion_proof(leaves, index, size)
            for i, h in enumerate(proof):
                for bit in range(256):
                    bad = _replace(proof, i, _flip(h, bit))
                    assert not _passes(
                        merkle.verify_inclusion, leaves[index], index, size, bad, head
                    )
        for old in range(1, size):
            old_root, proof = merkle.root(leaves[:old]), merkle.consistency_proof(leaves, old, size)
            for i, h in enumerate(proof):
                for bit in range(256):
                    bad = _replace(proof, i, _flip(h, bit))
                    assert not _passes(merkle.verify_consistency, old, size, old_root, head, bad)


# -- bad input ------------------------------------------------------------------------

A, B = _leaves(2, b"bad")
AB = merkle.node_hash(A, B)
INCLUSION = {"leaf_hash": A, "index": 0, "size": 2, "proof": [B], "root": AB}
CONSISTENCY = {"old_size": 1, "new_size": 2, "old_root": A, "new_root": AB, "proof": [B]}
BAD_HASHES = [A[:31], A + b"\x00", b"", A.hex(), None, 7]


@pytest.mark.parametrize(
    ("change", "field"),
    [({"leaf_hash": h}, "leaf_hash") for h in BAD_HASHES]
    + [({"root": h}, "root") for h in BAD_HASHES]
    + [({"proof": [B, h]}, "proof[1]") for h in BAD_HASHES]
    + [({"proof": p}, "proof") for p in (None, B, B.hex(), {B: 1}, [], [B, B])]
    + [({"index": v}, "index") for v in (-1, True, False, 1.0, "0", None, 2, 3, 2**64 - 1)]
    + [({"size": v}, "size") for v in (-1, True, 2.0, None)]
    + [({"size": 0}, "index"), ({"root": B}, "root"), ({"leaf_hash": B}, "root")],
)
def test_verify_inclusion_refuses(change: dict[str, Any], field: str) -> None:
    merkle.verify_inclusion(**INCLUSION)
    merkle.verify_inclusion(**INCLUSION | {"root": bytearray(AB), "proof": (memoryview(B),)})
    with pytest.raises(ProofError) as err:
        merkle.verify_inclusion(**INCLUSION | change)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("change", "field"),
    [({"old_root": h}, "old_root") for h in BAD_HASHES]
    + [({"new_root": h}, "new_root") for h in BAD_HASHES]
    + [({"proof": [h]}, "proof[0]") for h in BAD_HASHES]
    + [({"proof": p}, "proof") for p in (None, B, B.hex(), [], [B, B], [A, B])]
    + [({"old_size": v}, "old_size") for v in (-1, True, 1.5, "1", None, 3)]
    + [({"new_size": v}, "new_size") for v in (-1, False, 2.0, None)]
    + [({"new_size": 0}, "old_size"), ({"new_root": A}, "new_root")]
    # old_size 1 is a power of two: RFC 9162 uses old_root as the first proof hash, so a
    # wrong old_root shows as a new head that does not match.
    + [
        ({"old_root": B}, "new_root"),
        ({"old_size": 3, "new_size": 4, "proof": [B, B, B]}, "old_root"),
    ]
    + [({"old_size": 2}, "proof"), ({"old_size": 2, "proof": []}, "new_root")],
)
def test_verify_consistency_refuses(change: dict[str, Any], field: str) -> None:
    merkle.verify_consistency(**CONSISTENCY)
    with pytest.raises(ProofError) as err:
        merkle.verify_consistency(**CONSISTENCY | change)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: merkle.inclusion_proof([A, B], 2, 2), "index"),
        (lambda: merkle.inclusion_proof([A, B], -1, 2), "index"),
        (lambda: merkle.inclusion_proof([A, B], 0, 3), "size"),
        (lambda: merkle.inclusion_proof([A, B], 0, True), "size"),
        (lambda: merkle.inclusion_proof([A, B[:5]], 0, 2), "leaf_hashes[1]"),
        (lambda: merkle.inclusion_proof(A, 0, 1), "leaf_hashes"),
        (lambda: merkle.consistency_proof([A, B], 2, 1), "old_size"),
        (lambda: merkle.consistency_proof([A, B], 1, 3), "new_size"),
        (lambda: merkle.consistency_proof([A, B], None, 2), "old_size"),
        (lambda: merkle.root([A, b"short"]), "leaf_hashes[1]"),
        (lambda: merkle.root(None), "leaf_hashes"),
        (lambda: merkle.root("ab"), "leaf_hashes"),
        (lambda: merkle.leaf_hash("text"), "data"),
        (lambda: merkle.node_hash(A[:1], B), "left"),
        (lambda: merkle.node_hash(A, None), "right"),
        (lambda: merkle.range_root([A, b""]), "subtree_hashes[1]"),
        (lambda: merkle.range_subtrees(1, 3), "start"),
        (lambda: merkle.range_subtrees(2, 1), "end"),
        (lambda: merkle.range_subtrees(-1, 1), "start"),
        (lambda: merkle.needed_subtrees([(3, 5)]), "start"),
        (lambda: merkle.inclusion_proof_ranges(3, 3), "index"),
        (lambda: merkle.inclusion_proof_ranges(0, False), "size"),
        (lambda: merkle.consistency_proof_ranges(4, 3), "old_size"),
        (lambda: merkle.proof_from_subtrees([(0, 2)], {}), "hashes"),
        (
            lambda: merkle.proof_from_subtrees([(0, 2)], {(1, 0): b"x"}),
            "hashes[Subtree(level=1, start=0)]",
        ),
        (lambda: merkle.subtrees_completed_by(-1), "index"),
        (lambda: merkle.subtrees_completed_by(True), "index"),
    ],
)
def test_producers_refuse_with_validation_error(call: Callable[[], object], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        call()
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")


def test_planner_edges() -> None:
    assert merkle.range_subtrees(4, 4) == []
    assert merkle.range_root([]) == merkle.EMPTY_ROOT
    assert merkle.range_subtrees(0, 7) == [(2, 0), (1, 4), (0, 6)]
    assert merkle.subtrees_completed_by(7) == [(0, 7), (1, 6), (2, 4), (3, 0)]
    assert merkle.Subtree(3, 8).end == 16
    assert merkle.inclusion_proof_ranges(0, 1) == []
    assert merkle.consistency_proof_ranges(6, 8) == [(4, 6), (6, 8), (0, 4)]
    assert merkle.consistency_proof_ranges(2, 5) == [(2, 4), (4, 5)]
    assert merkle.consistency_proof_ranges(3, 3) == merkle.consistency_proof_ranges(0, 3) == []
