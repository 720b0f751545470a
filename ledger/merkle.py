"""RFC 9162 Merkle tree hashes, proofs, their verification, and proof planning.

Does (RFC 9162 sections 2.1.1 - 2.1.4, SHA-256): leaf ``H(0x00 || data)`` and node
``H(0x01 || l || r)`` hashes; the tree head MTH (`root`, iterative O(n); MTH of no
leaves is `EMPTY_ROOT` = ``H("")``); proofs from the full leaf list (`inclusion_proof`,
`consistency_proof`, the RFC recursions); their verification (`verify_inclusion`,
`verify_consistency`, the RFC algorithms step by step); and planning of proofs from
stored subtree hashes. Does not: I/O, storage, signatures (`ledger.note`), base64.

Errors. The verifiers raise only `ProofError`, for a proof that does not verify and for
malformed input alike (a hash that is not exactly 32 bytes, a negative, ``bool`` or
non-integer size), ``field`` naming the culprit (``proof[2]``, ``old_root``...). Producing
and planning raise `ValidationError` when asked for what does not exist (index >= size,
old_size > new_size, more leaves than given, a misaligned range): the request is wrong,
not a proof. Both are 422 at the API. Hashes may come as bytes, bytearray or memoryview
(as some database drivers return them); results are always bytes.

Size-0 policy. RFC 9162 defines consistency only for 0 < old_size < new_size;
transparency-dev/merkle refuses every proof from size 0, C2SP tlog-witness accepts old
size 0 with an empty proof. By default (``accept_empty_old=True``, C2SP) old_size 0
verifies iff the proof is empty, old_root == EMPTY_ROOT and new_root is a 32-byte hash
(EMPTY_ROOT too if new_size is 0): the empty tree is a prefix of every tree. With
``accept_empty_old=False`` (transparency-dev) any old_size 0 is refused. Equal sizes
need an empty proof and equal roots. Inclusion in a size-0 tree is always refused.
`consistency_proof` returns ``[]`` for old_size 0 and for equal sizes.

A proof does not bind the sizes by itself: one inclusion proof verifies leaf 0 of trees
of size 5 to 8 against the same root (the hashes combine the same way). The root binds
the size, and a checkpoint signs the two together.

Planning (docs/ARCHITECTURE.md section 3: proofs in O(log n) from stored nodes). ``Subtree(level,
start)`` is the perfect subtree of leaves ``[start, start + 2**level)``, ``start`` a
multiple of ``2**level``; level 0 is a leaf. A store keeping every perfect subtree's hash
(`subtrees_completed_by` says which ones an append completes) serves any proof or head:
`inclusion_proof_ranges` / `consistency_proof_ranges` give the leaf range of each proof
hash (all perfect subtrees but at most one, on the right edge); `range_subtrees` splits
a range into at most log2(n) + 1 perfect subtrees (`needed_subtrees`: all rows to fetch);
`range_root` folds their hashes right-to-left into the range's MTH; `proof_from_subtrees`
does it all. The head of size n is `range_root` over ``range_subtrees(0, n)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from ledger.errors import LedgerError, ProofError, ValidationError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF_PREFIX = b"\x00"  # RFC 9162 section 2.1.1
_NODE_PREFIX = b"\x01"

Range = tuple[int, int]
"""A half-open range of leaf indices ``[start, end)``."""


class Subtree(NamedTuple):
    """A perfect subtree: leaves ``[start, start + 2**level)``, ``start`` aligned."""

    level: int
    start: int

    @property
    def end(self) -> int:
        """One past the subtree's last leaf."""
        return self.start + (1 << self.level)


def leaf_hash(data: bytes) -> bytes:
    """Return the leaf hash ``SHA-256(0x00 || data)`` (RFC 9162 section 2.1.1).

    Raises:
        ValidationError: ``data`` is not bytes.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ValidationError(f"must be bytes, got {type(data).__name__}", field="data")
    return hashlib.sha256(_LEAF_PREFIX + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the interior node hash ``SHA-256(0x01 || left || right)``.

    Raises:
        ValidationError: ``left`` or ``right`` is not a 32-byte hash.
    """
    return _node(_hash(left, "left", ValidationError), _hash(right, "right", ValidationError))


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH, the tree head over ``leaf_hashes`` (RFC 9162 section 2.1.1).

    Iterative, O(n) time and O(log n) extra memory; ``[]`` gives `EMPTY_ROOT`.

    Raises:
        ValidationError: ``leaf_hashes`` is not a sequence of 32-byte hashes.
    """
    hashes = _leaves(leaf_hashes, None)
    return _mth(hashes, 0, len(hashes))


def range_root(subtree_hashes: Sequence[bytes]) -> bytes:
    """Fold the hashes of a `range_subtrees` decomposition into the range's MTH.

    Folds right-to-left: ``node(h0, node(h1, ... node(h[k-2], h[k-1])))``; ``[]`` gives
    `EMPTY_ROOT` (the MTH of an empty range).

    Raises:
        ValidationError: an element is not a 32-byte hash.
    """
    return _fold(_hashes(subtree_hashes, "subtree_hashes", ValidationError))


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """Return PATH(index, D[size]) over the first ``size`` leaves, leaf side first.

    Raises:
        ValidationError: ``size`` > number of leaves, ``index`` >= ``size``, a negative
            or non-integer number, or a leaf hash that is not 32 bytes.
    """
    size = _count(size, "size", ValidationError)
    index = _count(index, "index", ValidationError)
    hashes = _leaves(leaf_hashes, size)
    if index >= size:
        raise ValidationError(f"must be below size {size}, got {index}", field="index")
    return _path(hashes, index, 0, size)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """Return PROOF(old_size, D[new_size]) = SUBPROOF(old_size, D[new_size], true).

    Returns ``[]`` when ``old_size`` is 0 or equals ``new_size`` (see the size-0 policy).

    Raises:
        ValidationError: ``old_size`` > ``new_size``, ``new_size`` > number of leaves,
            a negative or non-integer size, or a leaf hash that is not 32 bytes.
    """
    old_size, new_size = _sizes(old_size, new_size, ValidationError)
    hashes = _leaves(leaf_hashes, new_size, "new_size")
    if old_size in (0, new_size):
        return []
    return _subproof(hashes, old_size, 0, new_size, True)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the ``size``-leaf tree with head ``root``.

    Steps (RFC 9162 section 2.1.3.2):
      (1) Check the inputs: 32-byte hashes, non-negative integer index and size.
      (2) Refuse ``index >= size`` (RFC step 1); so nothing is in a tree of size 0.
      (3) Walk the proof from the leaf up (RFC steps 2-4); a hash beyond the root fails.
      (4) Require that the walk reached the root (sn == 0, RFC step 5): too few hashes.
      (5) Compare the computed head with ``root`` (RFC step 5).

    Raises:
        ProofError: any input is malformed or the proof does not verify; ``field`` names
            the culprit (leaf_hash, index, size, proof, proof[i] or root).
    """
    leaf = _hash(leaf_hash, "leaf_hash", ProofError)  # (1)
    want = _hash(root, "root", ProofError)
    index = _count(index, "index", ProofError)
    size = _count(size, "size", ProofError)
    path = _hashes(proof, "proof", ProofError)
    if index >= size:  # (2)
        raise ProofError(f"must be below size {size}, got {index}", field="index")
    fn, sn, r = index, size - 1, leaf  # (3) RFC steps 2 and 3
    for p in path:  # RFC step 4
        if sn == 0:  # 4a
            raise ProofError(f"has more hashes than leaf {index} of {size} needs", field="proof")
        if fn & 1 or fn == sn:  # 4b
            r = _node(p, r)
            while fn and not fn & 1:  # 4b.ii
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1  # 4c
    if sn != 0:  # (4)
        raise ProofError(f"has fewer hashes than leaf {index} of {size} needs", field="proof")
    if r != want:  # (5) roots are public values: no constant-time compare needed
        raise ProofError("does not match the head computed from the proof", field="root")


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
    *,
    accept_empty_old: bool = True,
) -> None:
    """Check that the ``old_size`` tree with ``old_root`` is a prefix of the new one.

    Steps (RFC 9162 section 2.1.4.2, plus the edge cases it leaves open):
      (1) Check the inputs: 32-byte hashes, non-negative integer sizes.
      (2) Refuse ``old_size > new_size``.
      (3) old_size 0: apply the size-0 policy (module docstring, ``accept_empty_old``).
      (4) Equal sizes: the proof must be empty and the roots equal.
      (5) Otherwise walk the proof (RFC steps 1-6): an empty proof or a hash beyond the
          new head fails.
      (6) RFC step 7: sn == 0 (else too few hashes), fr == old_root, sr == new_root.

    Raises:
        ProofError: any input is malformed or the proof does not verify; ``field`` names
            the culprit (old_size, new_size, old_root, new_root, proof or proof[i]).
    """
    old_size, new_size = _sizes(old_size, new_size, ProofError)  # (1) and (2)
    old = _hash(old_root, "old_root", ProofError)
    new = _hash(new_root, "new_root", ProofError)
    path = _hashes(proof, "proof", ProofError)
    if old_size == 0:  # (3)
        _check_empty_old(old, path, accept_empty_old)
        if new_size > 0:
            return
    if old_size == new_size:  # (4)
        if path:
            raise ProofError("must be empty when the sizes are equal", field="proof")
        if new != old:
            raise ProofError("differs from old_root although the sizes are equal", field="new_root")
        return
    fr, sr, sn = _walk_consistency(old_size, new_size, old, path)  # (5)
    if sn != 0:  # (6)
        raise ProofError(f"has fewer hashes than {old_size} -> {new_size} needs", field="proof")
    if fr != old:
        raise ProofError("does not match the old head computed from the proof", field="old_root")
    if sr != new:
        raise ProofError("does not match the new head computed from the proof", field="new_root")


def _check_empty_old(old: bytes, path: list[bytes], accept_empty_old: bool) -> None:
    """Size-0 policy of `verify_consistency` (module docstring)."""
    if not accept_empty_old:
        raise ProofError("proofs from the empty tree are refused by this policy", field="old_size")
    if path:
        raise ProofError("must be empty when old_size is 0", field="proof")
    if old != EMPTY_ROOT:
        raise ProofError("must be the empty-tree head SHA-256('') at size 0", field="old_root")


def _walk_consistency(
    old_size: int, new_size: int, old: bytes, path: list[bytes]
) -> tuple[bytes, bytes, int]:
    """RFC 9162 section 2.1.4.2 steps 1-6 for 0 < old_size < new_size; returns fr, sr, sn."""
    if not path:  # RFC step 1
        raise ProofError(f"must not be empty for {old_size} -> {new_size}", field="proof")
    if old_size & (old_size - 1) == 0:  # step 2: old head is a node of the new tree
        path = [old, *path]
    fn, sn = old_size - 1, new_size - 1  # step 3
    while fn & 1:  # step 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:  # 6a
            raise ProofError(f"has more hashes than {old_size} -> {new_size} needs", field="proof")
        if fn & 1 or fn == sn:  # 6b
            fr, sr = _node(c, fr), _node(c, sr)
            while fn and not fn & 1:  # 6b.iii
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1  # 6c
    return fr, sr, sn


def inclusion_proof_ranges(index: int, size: int) -> list[Range]:
    """Return the leaf range whose MTH is each hash of ``inclusion_proof(_, index, size)``.

    Raises:
        ValidationError: ``index >= size`` or a negative or non-integer number.
    """
    size = _count(size, "size", ValidationError)
    index = _count(index, "index", ValidationError)
    if index >= size:
        raise ValidationError(f"must be below size {size}, got {index}", field="index")
    return _sibling_ranges(index, 0, size)


def consistency_proof_ranges(old_size: int, new_size: int) -> list[Range]:
    """Return the leaf range whose MTH is each hash of ``consistency_proof(_, old, new)``.

    The proof is the path from the old tree's last perfect subtree (level = trailing zero
    bits of old_size) up to the new head, led by that subtree itself unless it is the
    whole old tree (old_size a power of two: the verifier uses old_root instead).

    Raises:
        ValidationError: ``old_size > new_size`` or a negative or non-integer size.
    """
    old_size, new_size = _sizes(old_size, new_size, ValidationError)
    if old_size in (0, new_size):
        return []
    level = (old_size & -old_size).bit_length() - 1
    node = (old_size >> level) - 1
    first = [(old_size - (1 << level), old_size)] if node else []
    return first + _sibling_ranges(node, level, new_size)


def range_subtrees(start: int, end: int) -> list[Subtree]:
    """Split the leaf range ``[start, end)`` into perfect subtrees, largest first.

    The range must be a node of an RFC 9162 tree: ``start`` a multiple of the largest
    power of two <= ``end - start`` (every range the ``*_proof_ranges`` functions return
    is). The pieces follow the binary digits of ``end - start``, so there are at most
    log2(end - start) + 1 of them, and `range_root` of their hashes is the range's MTH.

    Raises:
        ValidationError: a negative or non-integer bound, ``end < start``, or a
            misaligned ``start``.
    """
    if type(start) is not int or type(end) is not int or start < 0:  # plain ints: no calls
        start = _count(start, "start", ValidationError)
        end = _count(end, "end", ValidationError)
    if end < start:
        raise ValidationError(f"must not be below start {start}, got {end}", field="end")
    rest = end - start
    if rest and start % (1 << (rest.bit_length() - 1)):
        raise ValidationError(f"[{start}, {end}) is not a node of a Merkle tree", field="start")
    return _pieces(start, end)


def _pieces(start: int, end: int) -> list[Subtree]:
    """`range_subtrees` of a range already known to be a node (no checks: the hot path)."""
    out = []
    rest = end - start
    while rest:
        level = rest.bit_length() - 1
        out.append(Subtree(level, start))
        start, rest = start + (1 << level), rest - (1 << level)
    return out


def needed_subtrees(ranges: Sequence[Range]) -> list[Subtree]:
    """Return every perfect subtree the hashes of ``ranges`` are made of, sorted, once each.

    Raises:
        ValidationError: a range is not a node of a Merkle tree (see `range_subtrees`).
    """
    return sorted({s for start, end in ranges for s in range_subtrees(start, end)})


def is_perfect(start: int, end: int) -> bool:
    """True when ``[start, end)`` is one perfect subtree (a power-of-two width, aligned):
    its hash is stored; any other range's MTH is folded from several."""
    width = end - start
    return width > 0 and width & (width - 1) == 0 and start % width == 0


def proof_from_subtrees(ranges: Sequence[Range], hashes: Mapping[Subtree, bytes]) -> list[bytes]:
    """Assemble a proof: the MTH of each range, from stored perfect-subtree hashes.

    Args:
        ranges: from `inclusion_proof_ranges` or `consistency_proof_ranges`.
        hashes: at least the `needed_subtrees` of ``ranges``, keyed by `Subtree`.

    Raises:
        ValidationError: a needed subtree is missing from ``hashes`` or its hash is not
            32 bytes, or a range is not a node of a Merkle tree.
    """
    proof = []
    for start, end in ranges:
        pieces = []
        for sub in range_subtrees(start, end):
            value = hashes.get(sub)
            if value is None:
                raise ValidationError(f"no hash for {sub}", field="hashes")
            if type(value) is not bytes or len(value) != HASH_SIZE:  # else checked already
                value = _hash(value, f"hashes[{sub}]", ValidationError)
            pieces.append(value)
        proof.append(_fold(pieces))
    return proof


def subtrees_completed_by(index: int) -> list[Subtree]:
    """Return the perfect subtrees whose last leaf is ``index``, level 0 (the leaf) first.

    Appending leaf ``index`` completes exactly these; store each as it comes:
    level 0 is the leaf hash, level L > 0 is ``node_hash`` of its two level L-1 halves,
    ``Subtree(L-1, start)`` and ``Subtree(L-1, start + 2**(L-1))``.

    Raises:
        ValidationError: ``index`` is negative or not an integer.
    """
    end = _count(index, "index", ValidationError) + 1
    out = [Subtree(0, index)]
    while end % (1 << len(out)) == 0:
        out.append(Subtree(len(out), end - (1 << len(out))))
    return out


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2), RFC 9162 section 2.1.1."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) in O(hi - lo): a stack of perfect subtrees, merged as leaves come."""
    stack: list[bytes] = []
    for i in range(lo, hi):
        stack.append(hashes[i])
        count = i - lo + 1
        while not count & 1:  # two equal perfect subtrees on top: merge them
            right = stack.pop()
            stack[-1] = _node(stack[-1], right)
            count >>= 1
    return _fold(stack)


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Fold perfect-subtree hashes (largest first) right-to-left into their MTH."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = _node(h, acc)
    return acc


def _path(hashes: Sequence[bytes], m: int, lo: int, hi: int) -> list[bytes]:
    """PATH(m, D[lo:hi]) with ``m`` an absolute index (RFC 9162 section 2.1.3.1)."""
    if hi - lo == 1:
        return []
    k = _split(hi - lo)
    if m < lo + k:
        return [*_path(hashes, m, lo, lo + k), _mth(hashes, lo + k, hi)]
    return [*_path(hashes, m, lo + k, hi), _mth(hashes, lo, lo + k)]


def _subproof(hashes: Sequence[bytes], m: int, lo: int, hi: int, b: bool) -> list[bytes]:
    """SUBPROOF(m, D[lo:hi], b), ``m`` counted from ``lo`` (RFC 9162 section 2.1.4.1)."""
    if m == hi - lo:
        return [] if b else [_mth(hashes, lo, hi)]
    k = _split(hi - lo)
    if m <= k:
        return [*_subproof(hashes, m, lo, lo + k, b), _mth(hashes, lo + k, hi)]
    return [*_subproof(hashes, m - k, lo + k, hi, False), _mth(hashes, lo, lo + k)]


def _sibling_ranges(node: int, level: int, size: int) -> list[Range]:
    """Ranges of the siblings of ``node`` at ``level`` and of its ancestors, bottom-up.

    Level by level, the RFC 9162 tree of ``size`` leaves has node j of level L covering
    ``[j * 2**L, min((j + 1) * 2**L, size))``; a node with no right sibling (it would
    start at or past ``size``) is carried up unchanged and adds nothing to a proof.
    """
    out = []
    while (size - 1) >> level:  # more than one node on this level
        start = (node ^ 1) << level
        if start < size:
            out.append((start, min(start + (1 << level), size)))
        node, level = node >> 1, level + 1
    return out


def _count(value: object, field: str, error: type[LedgerError]) -> int:
    """A size or index: an ``int`` (not ``bool``) >= 0."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"must be an integer, got {type(value).__name__}", field=field)
    if value < 0:
        raise error(f"must not be negative, got {value}", field=field)
    return value


def _sizes(old_size: object, new_size: object, error: type[LedgerError]) -> tuple[int, int]:
    old, new = _count(old_size, "old_size", error), _count(new_size, "new_size", error)
    if old > new:
        raise error(f"must not exceed new_size {new}, got {old}", field="old_size")
    return old, new


def _hash(value: object, field: str, error: type[LedgerError]) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise error(f"must be a {HASH_SIZE}-byte hash, got {type(value).__name__}", field=field)
    data = bytes(value)
    if len(data) != HASH_SIZE:
        raise error(f"must be a {HASH_SIZE}-byte hash, got {len(data)} bytes", field=field)
    return data


def _hashes(values: object, field: str, error: type[LedgerError]) -> list[bytes]:
    if isinstance(values, str | bytes | bytearray | memoryview) or not isinstance(values, Sequence):
        raise error(f"must be a sequence of {HASH_SIZE}-byte hashes", field=field)
    return [_hash(v, f"{field}[{i}]", error) for i, v in enumerate(values)]


def _leaves(leaf_hashes: object, count: int | None, field: str = "size") -> list[bytes]:
    """The first ``count`` (default: all) leaf hashes, checked; ``field`` names ``count``."""
    if isinstance(leaf_hashes, Sequence) and count is not None:
        if len(leaf_hashes) < count:
            raise ValidationError(f"exceeds the {len(leaf_hashes)} leaves given", field=field)
        leaf_hashes = leaf_hashes[:count]
    return _hashes(leaf_hashes, "leaf_hashes", ValidationError)
