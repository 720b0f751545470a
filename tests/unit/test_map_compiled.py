"""The map's batch update in C (ledger/native/bucketmap.c) against its Python walk.

The same random batches (keys with long shared prefixes, so that chains of one-child
nodes cross bucket boundaries and leaves meet at depth 256; stored keys' heads moved)
go to two `BucketMap`s, one walking in C and one in Python, each reading the rows it
wrote itself: after every batch the roots are equal, the changed rows are the same
bytes in the same order, and the same buckets are held below the cached top. A bucket
missing below an internal node is the same `CorruptBucketError` on both. In CI the
compiled module must be there (a failed build would otherwise test only Python twice).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.map import bucketmap
from ledger.map.bucketmap import BucketMap
from ledger.map.buckets import CorruptBucketError, decode
from ledger.map.trie import Head
from ledger.map.update import ROOT
from tests.profiles import examples

compiled = bucketmap.compiled_walk
if compiled is None and os.environ.get("CI"):
    raise AssertionError("ledger.native.bucketmap was not built (setup.py): CI tests it")
pytestmark = pytest.mark.skipif(
    compiled is None, reason="ledger.native.bucketmap is not built (no C compiler or OpenSSL)"
)

HEADS = st.builds(Head, st.integers(0, 2**64 - 1), st.binary(min_size=32, max_size=32))
CLUSTERED = st.builds(
    lambda prefix, rest: (prefix + rest)[:32],
    st.sampled_from(
        [b"", bytes(3), bytes(5), b"\xff\xff\xff", b"\x80\x00", b"\x0f\xf0", bytes(31)]
    ),
    st.binary(min_size=32, max_size=32),
)


class _Stored:
    """One walk's written rows, read back as its store would."""

    def __init__(self, compiled_walk: bool) -> None:
        self.rows: dict[bytes, bytes] = {}
        self.map = self.fresh()
        self.compiled = compiled_walk
        self.map.compiled = compiled if compiled_walk else None

    def read(self, wanted: Iterable[bytes]) -> dict[bytes, bytes]:
        return {pos: self.rows[pos] for pos in wanted if pos in self.rows}

    def fresh(self) -> BucketMap:
        root = self.rows.get(ROOT)
        return BucketMap(self.read, decode(root) if root is not None else None)

    def reopen(self) -> None:
        self.map = self.fresh()
        self.map.compiled = compiled if self.compiled else None


@settings(max_examples=examples(80), deadline=None)
@given(
    batches=st.lists(st.lists(st.tuples(CLUSTERED, HEADS), max_size=30), min_size=1, max_size=5),
    moved=st.lists(st.tuples(st.integers(0, 99), HEADS), max_size=8),
    reopen=st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_the_compiled_walk_writes_the_python_walks_bytes(
    batches: list[list[tuple[bytes, Head]]], moved: list[tuple[int, Head]], reopen: list[bool]
) -> None:
    c, py = _Stored(True), _Stored(False)
    seen: list[bytes] = []
    for number, batch in enumerate(batches):
        changes = dict(batch)
        if number and seen:
            changes.update((seen[i % len(seen)], head) for i, head in moved)
        seen.extend(key for key in changes if key not in seen)
        if reopen[number]:  # a map that reads even its top back
            c.reopen()
            py.reopen()
        assert c.map.update(changes) == py.map.update(changes)
        assert c.map._deep == py.map._deep
        written = c.map.rows()
        assert written == py.map.rows()  # the same rows, bytes and order
        c.rows.update(written)
        py.rows.update(written)
        c.map.forget_deep()
        py.map.forget_deep()
    for key in seen:
        assert c.map.lookup(key) == py.map.lookup(key)


def test_a_missing_bucket_is_the_same_error_on_both_walks() -> None:
    changes = {bytes([i]) + bytes(31): Head(i, bytes(32)) for i in range(3)}
    built = BucketMap()
    built.update(changes)
    rows = {ROOT: dict(built.rows())[ROOT]}  # every bucket below the root lost
    errors = []
    for walk in (compiled, None):
        fresh = BucketMap(lambda ps: {p: rows[p] for p in ps if p in rows}, decode(rows[ROOT]))
        fresh.compiled = walk
        with pytest.raises(CorruptBucketError) as raised:
            fresh.update({bytes(32): Head(9, bytes(32))})
        errors.append((raised.value.code, str(raised.value)))
    assert errors[0] == errors[1]


def test_the_compiled_walk_refuses_what_the_python_walk_never_gets() -> None:
    """Its own checks: tails of 72 bytes, sorted by key, each key once; none at all."""
    assert compiled is not None
    built = BucketMap()
    tail = bytes(72)
    for tails in ([tail[:71]], [tail, tail], [b"\x01" + tail[1:], tail], []):
        with pytest.raises(ValueError):
            compiled.update(built, tails, bucketmap.CACHED_TOP, lambda depth: None)
    assert built.rows() == []  # nothing was marked changed


def test_without_the_compiled_modules_the_python_runs() -> None:
    """A machine that could not build them: the imports fall back, the same bytes."""
    script = (
        "import sys\n"
        "sys.modules['ledger.native.bucketmap'] = None\n"
        "sys.modules['ledger.native.leafpack'] = None\n"
        "from ledger.map import bucketmap\n"
        "from ledger.store import leafpack\n"
        "from ledger.map.trie import Head\n"
        "assert bucketmap.compiled_walk is None and leafpack.compiled_packer is None\n"
        "m = bucketmap.BucketMap()\n"
        "print(m.update({bytes([i]) * 32: Head(i, bytes(32)) for i in range(9)}).hex())\n"
        "print(leafpack.pack_many([b'{}', b'x']) == [leafpack.pack(b'{}'), leafpack.pack(b'x')])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    built = BucketMap()
    root = built.update({bytes([i]) * 32: Head(i, bytes(32)) for i in range(9)})
    assert done.stdout.split() == [root.hex(), "True"]
