"""ledger.store.leafpack: the stored form of a leaf round-trips exactly, old raw rows
read as they are, and a damaged packed value is handed back unchanged (never raised,
never turned into some other leaf)."""

from __future__ import annotations

import os
import zlib

import pytest

from ledger.store.leafpack import DICTIONARY_V1, MAX_LEAF, PACKED_V1, pack, unpack

LEAF = (
    b'{"event":{"actor":"acme","kind":"handoff","prev":"DPJzY1z_y7fekrXH7GoH_Z9BlSATMye_2La'
    b'nBWQXKnk","time":"2026-11-28T12:00:00Z","to":"ship-co","unit":{"gtin":"09506000134352",'
    b'"serial":"ST-0000994"}},"key":"ajgD1fBZkCocba-8m6Rykg","received":"2026-11-28T12:00:00.'
    b'000Z","sig":"LwiTzOCQItUb5oLssDFFSfZ7O8GdypIJXZTSKdD9hllhpYc2SGy7vUHRxRZGZ2C--cfa_LvsXR'
    b'8w2ddG-AiiDQ","v":2}'
)


def test_a_custody_leaf_packs_to_well_under_two_thirds_and_back() -> None:
    stored = pack(LEAF)
    assert stored[0] == PACKED_V1
    assert len(stored) < 0.66 * len(LEAF)
    assert unpack(stored) == LEAF


def test_a_raw_leaf_from_before_0017_reads_as_stored() -> None:
    assert unpack(LEAF) == LEAF
    assert unpack(b"{}") == b"{}"


@pytest.mark.parametrize(
    "leaf",
    [b"", b"\x01", b"\x01" + pack(LEAF), b"not json", os.urandom(300), b"{" + os.urandom(300)],
)
def test_every_value_round_trips_and_only_json_may_stay_raw(leaf: bytes) -> None:
    stored = pack(leaf)
    assert unpack(stored) == leaf
    if leaf[:1] != b"{":  # a raw value must never look packed
        assert stored[0] == PACKED_V1
    elif stored[:1] == b"{":  # kept raw only when packing did not help
        assert stored == leaf


def _deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, DICTIONARY_V1)
    return bytes([PACKED_V1]) + packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s[: len(s) // 2],  # truncated: no end of stream
        lambda s: s + b"\x00",  # trailing bytes after the stream
        lambda s: s[:1] + b"\xff" * 8 + s[9:],  # not DEFLATE at all
        lambda s: bytes([PACKED_V1]),  # the tag alone
    ],
)
def test_a_damaged_packed_value_is_returned_unchanged(damage: object) -> None:
    bad = damage(pack(LEAF))  # type: ignore[operator]
    assert unpack(bad) == bad


def test_a_flipped_byte_never_yields_the_original_leaf() -> None:
    stored = pack(LEAF)
    for at in range(1, len(stored) - 1):
        flipped = stored[:at] + bytes([stored[at] ^ 0x01]) + stored[at + 1 :]
        assert unpack(flipped) != LEAF


def test_inflating_is_bounded() -> None:
    bomb = _deflate(b"{" + b" " * (MAX_LEAF + 10))
    assert len(bomb) < 2000
    assert unpack(bomb) == bomb  # over MAX_LEAF: not a leaf, and not inflated further
    ok = b"{" + b" " * 1000 + b"}"
    assert unpack(_deflate(ok)) == ok  # any raw DEFLATE stream against the dictionary reads
