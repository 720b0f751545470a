"""Stored node hashes in tiles (ledger.store.nodetiles, 0028_tiles): complete tiles of
256 hashes are one ``tiles`` row, a level's incomplete last tile stays ``nodes`` rows,
one run of consecutive nodes per append (0029_node_runs).

Whatever the sizes the log grew through, every stored node, every proof (the store's
path and the proof tree's bulk loads) equals a pure in-memory tree's; a tampered or cut
tile is an audit finding; an append that is rolled back leaves both tables as they were,
and one that would complete a tile with a hole is refused."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from ledger import merkle
from ledger.errors import StorageError
from ledger.merkle import Subtree
from ledger.service.audit import audit_log
from ledger.store import nodetiles
from ledger.store.repository import Store
from tests.factories import GTIN
from tests.integration.test_proof_tree import _leaf_hash, _open, _row, grow
from tests.integration.world import LedgerWorld, cut_node_out
from tests.profiles import examples

LOWEST = 3  # ledger.store.queries.LOWEST_NODE_LEVEL


def _runs(store: Store, log: int) -> dict[tuple[int, int], bytes]:
    """The ``nodes`` rows of ``log`` as stored: {(level, first idx): hashes of the run}."""
    with store.engines.reader.connect() as conn:
        nodes = conn.execute(
            text("SELECT level, idx, hash FROM nodes WHERE log = :log"), {"log": log}
        ).all()
    return {(r.level, r.idx): bytes(r.hash) for r in nodes}


def _rows(
    store: Store, log: int
) -> tuple[dict[tuple[int, int], bytes], dict[tuple[int, int], bytes]]:
    """(tiles {(level, tile): hashes}, nodes {(level, idx): hash}) of ``log`` as stored,
    the runs of ``nodes`` cut into their nodes."""
    with store.engines.reader.connect() as conn:
        tiles = conn.execute(
            text("SELECT level, idx, hashes FROM tiles WHERE log = :log"), {"log": log}
        ).all()
    nodes = {
        (level, idx): value
        for (lv, first), run in _runs(store, log).items()
        for level, idx, value in nodetiles.cut(lv, first, run)
    }
    return {(r.level, r.idx): bytes(r.hashes) for r in tiles}, nodes


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    """Every level of the perfect subtrees over ``leaves`` (pure, in memory)."""
    levels = [leaves]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append(
            [merkle.node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        )
    return levels


def _check_layout(store: Store, log: int, size: int) -> None:
    """The rows are exactly the layout: complete tiles in ``tiles``, the rest of each
    level >= 3 in ``nodes``, every hash the pure tree's; and reading them back (every
    perfect subtree of the tree) gives the pure tree's hashes."""
    width = nodetiles.WIDTH
    levels = _levels([_leaf_hash(i) for i in range(size)])
    tiles, nodes = _rows(store, log)
    want_tiles, want_nodes = {}, {}
    for level in range(LOWEST, len(levels)):
        hashes = levels[level]
        full = len(hashes) // width
        for t in range(full):
            want_tiles[(level, t)] = b"".join(hashes[t * width : (t + 1) * width])
        for i in range(full * width, len(hashes)):
            want_nodes[(level, i)] = hashes[i]
    assert tiles == want_tiles
    assert nodes == want_nodes
    for (_, first), run in _runs(store, log).items():  # whole hashes, inside one tile
        assert run and len(run) % nodetiles.HASH == 0
        assert (first + len(run) // nodetiles.HASH - 1) // width == first // width
    every = [Subtree(lv, i << lv) for lv in range(len(levels)) for i in range(len(levels[lv]))]
    got = store.subtrees(log, every)
    assert got == {s: levels[s.level][s.start >> s.level] for s in every}


def _check_proofs(store: Store, log: int, size: int, sizes: list[int]) -> None:
    leaves = [_leaf_hash(i) for i in range(size)]
    for new in sizes:
        for old in {1, max(1, new // 2), max(1, new - 1), max(1, new - 256)}:
            assert store.consistency_proof(log, old, new) == merkle.consistency_proof(
                leaves, old, new
            )
        for index in {0, new // 3, new - 1}:
            assert store.inclusion_proof(log, index, new) == merkle.inclusion_proof(
                leaves, index, new
            )
        assert store.root(log, new) == merkle.root(leaves[:new])


#: batches crossing the level-3 tile boundary (2048 entries) and level 4's (4096):
#: sizes 255, 256, 257, 2047, 2048, 2049, 4095, 4096, 4097, 6143, 6145
BATCHES = [255, 1, 1, 1790, 1, 1, 2046, 1, 1, 2046, 2]


@pytest.mark.parametrize("budget", [0, 8_000], ids=["store-path", "tree-from-level-3"])
def test_layout_and_proofs_across_tile_boundaries(db_url: str, budget: int) -> None:
    store, log = _open(db_url, budget)
    try:
        size = 0
        for count in BATCHES:
            size = grow(store, log, count)
            if count <= 2:
                _check_layout(store, log, size)
        sizes = [255, 256, 257, 2047, 2048, 2049, 4095, 4096, 4097, 6143, size]
        _check_proofs(store, log, size, sizes)
    finally:
        store.close()


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    width=st.sampled_from([2, 4, 8]),
    batches=st.lists(st.integers(1, 90), min_size=1, max_size=8),
    budget=st.sampled_from([0, 8_000, 10**9]),
)
def test_any_growth_reads_as_the_pure_tree(width: int, batches: list[int], budget: int) -> None:
    """With small tiles (every boundary of several levels crossed in a few hundred
    entries), any sequence of appends leaves the exact layout and pure-tree reads."""
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as where:
        patch.setattr(nodetiles, "WIDTH", width)
        store, log = _open(f"sqlite:///{where}/t.db", budget)
        try:
            size = 0
            for count in batches:
                size = grow(store, log, count)
                _check_layout(store, log, size)
            _check_proofs(store, log, size, sorted({1, max(1, size // 2), size}))
        finally:
            store.close()


@pytest.fixture
def at_2047(db_url: str) -> Iterator[tuple[Store, int]]:
    """A log of 2047 entries: the next one completes the first level-3 tile."""
    store, log = _open(db_url, 0)
    grow(store, log, 2047)
    try:
        yield store, log
    finally:
        store.close()


def test_a_rolled_back_append_leaves_tiles_and_nodes(at_2047: tuple[Store, int]) -> None:
    store, log = at_2047
    before = _rows(store, log)
    assert before[0] == {} and len(before[1]) == 255 + 127 + 63 + 31 + 15 + 7 + 3 + 1

    class RefusedError(Exception):
        pass

    with pytest.raises(RefusedError), store.writer(log) as tx:
        tx.lock_head()
        known = tx.subtrees(merkle.range_subtrees(0, 2047))
        new = {}
        for sub in merkle.subtrees_completed_by(2047):
            if sub.level == 0:
                known[sub] = new[sub] = _leaf_hash(2047)
            else:
                half = 1 << (sub.level - 1)
                known[sub] = new[sub] = merkle.node_hash(
                    known[Subtree(sub.level - 1, sub.start)],
                    known[Subtree(sub.level - 1, sub.start + half)],
                )
        tx.insert_entries([_row(2047)])
        tx.insert_nodes(new)
        assert _tiles_in(tx.conn, log) == 1  # written (and its nodes deleted) here ...
        raise RefusedError  # ... and rolled back
    assert _rows(store, log) == before
    grow(store, log, 1)  # the same append, committed
    _check_layout(store, log, 2048)


def _tiles_in(conn: Any, log: int) -> int:
    return int(
        conn.execute(text("SELECT count(*) FROM tiles WHERE log = :log"), {"log": log}).scalar()
    )


def test_completing_a_tile_with_a_hole_is_refused(at_2047: tuple[Store, int]) -> None:
    store, log = at_2047
    with store.engines.writer.begin() as conn:  # node 7 taken out of its run: a hole
        cut_node_out(conn, log, 3, 7)
    before = _rows(store, log)
    assert (3, 7) not in before[1]
    with pytest.raises(StorageError, match="nodes missing"):
        grow(store, log, 1)
    assert _rows(store, log) == before
    assert store.head(log).size == 2047


# -- the audit ------------------------------------------------------------------------


@pytest.fixture
def tiled(world: LedgerWorld, monkeypatch: pytest.MonkeyPatch) -> LedgerWorld:
    """A ledger of 37 real entries with tiles of 2: levels 3 and 4 have complete tiles."""
    monkeypatch.setattr(nodetiles, "WIDTH", 2)
    w = world.world
    for i in range(12):
        world.append(
            w.sign("commission", "acme", unit={"gtin": GTIN, "serial": f"T-{i}"}, prev=None)
        )
        world.append(w.on_unit("handoff", "acme", serial=f"T-{i}", to="ship-co"))
    size = world.ledger.head().size
    assert size >= 32
    tiles, _ = _rows(world.ledger.store, world.ledger.log)
    assert (3, 0) in tiles and (4, 0) in tiles
    assert audit_log(world.ledger.store, world.ledger.log, world.ledger.verifier_key).ok
    return world


def _edit_tile(world: LedgerWorld, level: int, value: bytes) -> None:
    with world.ledger.store.engines.writer.begin() as conn:
        conn.execute(
            text("UPDATE tiles SET hashes = :h WHERE log = :log AND level = :lv AND idx = 0"),
            {"h": value, "log": world.ledger.log, "lv": level},
        )


@pytest.mark.parametrize("at", [0, 1], ids=["first-hash", "second-hash"])
def test_a_tampered_tile_hash_is_an_audit_finding(tiled: LedgerWorld, at: int) -> None:
    ledger = tiled.ledger
    tiles, _ = _rows(ledger.store, ledger.log)
    data = bytearray(tiles[(3, 0)])
    data[at * 32 + 5] ^= 0x01
    _edit_tile(tiled, 3, bytes(data))
    report = audit_log(ledger.store, ledger.log, ledger.verifier_key)
    assert not report.ok
    assert "node" in {f.code for f in report.findings}


def test_a_cut_tile_is_an_audit_finding(tiled: LedgerWorld) -> None:
    ledger = tiled.ledger
    tiles, _ = _rows(ledger.store, ledger.log)
    _edit_tile(tiled, 4, tiles[(4, 0)][:40])  # one whole hash and a piece
    report = audit_log(ledger.store, ledger.log, ledger.verifier_key)
    assert not report.ok


# -- runs (0029_node_runs) --------------------------------------------------------------


def test_one_run_per_append_and_level_and_a_damaged_run_reads_as_its_nodes(db_url: str) -> None:
    """An append of 300 entries stores each level's new nodes as one run; a flipped byte
    in a run changes that node alone, and a cut run reads as the whole hashes left (the
    audit compares each stored node with the one it recomputes)."""
    store, log = _open(db_url, 0)
    try:
        grow(store, log, 300)
        runs = _runs(store, log)
        assert sorted(runs) == [(3, 0), (4, 0), (5, 0), (6, 0), (7, 0), (8, 0)]
        assert len(runs[(3, 0)]) == 37 * 32
        levels = _levels([_leaf_hash(i) for i in range(300)])
        wanted = [Subtree(3, i << 3) for i in range(37)]

        def level_3() -> dict[int, bytes]:
            return {s.start >> 3: h for s, h in store.subtrees(log, wanted).items()}

        def store_run(value: bytes) -> None:
            with store.engines.writer.begin() as conn:
                conn.execute(
                    text("UPDATE nodes SET hash = :h WHERE log = :log AND level = 3 AND idx = 0"),
                    {"h": value, "log": log},
                )

        flipped = bytearray(runs[(3, 0)])
        flipped[20 * 32 + 5] ^= 0x01
        store_run(bytes(flipped))
        got = level_3()
        assert got[20] != levels[3][20]
        assert {i: h for i, h in got.items() if i != 20} == {
            i: levels[3][i] for i in range(37) if i != 20
        }
        store_run(runs[(3, 0)][: 20 * 32 + 5])
        assert level_3() == {i: levels[3][i] for i in range(20)}
    finally:
        store.close()


@given(
    keys=st.sets(st.tuples(st.integers(3, 5), st.integers(0, 40)), min_size=0, max_size=60),
    width=st.sampled_from([2, 4, 256]),
)
def test_runs_of_cuts_at_gaps_levels_and_tiles(keys: set[tuple[int, int]], width: int) -> None:
    """`runs_of` gives back exactly its nodes, each run consecutive, in one tile, and as
    few runs as that allows."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(nodetiles, "WIDTH", width)
        nodes = {k: k[0].to_bytes(1, "big") * 16 + k[1].to_bytes(16, "big") for k in keys}
        runs = nodetiles.runs_of(nodes)
        back = {
            (lv, i): h
            for level, first, run in runs
            for lv, i, h in nodetiles.cut(level, first, run)
        }
        assert back == nodes
        for _, first, run in runs:
            last = first + len(run) // 32 - 1
            assert first // width == last // width
        ends = {(level, first + len(run) // 32) for level, first, run in runs}
        for level, first, _ in runs:  # maximal: no run goes on where another ended
            assert (level, first) not in ends or first % width == 0
