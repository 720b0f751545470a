"""ledger.store.leafpack: the stored form of a leaf round-trips exactly, old raw rows and
rows of the first packed form read as they are, and a damaged packed value is handed
back unchanged (never raised, never turned into some other leaf)."""

from __future__ import annotations

import hashlib
import os
import re
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import codec
from ledger.errors import EncodingError
from ledger.store import leafpack
from ledger.store.leafpack import (
    DICTIONARY_V1,
    DICTIONARY_V2,
    MAX_LEAF,
    PACKED_V1,
    PACKED_V2,
    pack,
    unpack,
)
from tests.profiles import examples

LEAF = (
    b'{"event":{"actor":"acme","kind":"handoff","prev":"DPJzY1z_y7fekrXH7GoH_Z9BlSATMye_2La'
    b'nBWQXKnk","time":"2026-11-28T12:00:00Z","to":"ship-co","unit":{"gtin":"09506000134352",'
    b'"serial":"ST-0000994"}},"key":"ajgD1fBZkCocba-8m6Rykg","received":"2026-11-28T12:00:00.'
    b'000Z","sig":"LwiTzOCQItUb5oLssDFFSfZ7O8GdypIJXZTSKdD9hllhpYc2SGy7vUHRxRZGZ2C--cfa_LvsXR'
    b'8w2ddG-AiiDQ","v":2}'
)


def test_a_custody_leaf_packs_to_under_half_with_its_random_fields_raw() -> None:
    stored = pack(LEAF)
    assert stored[:2] == bytes([PACKED_V2, 7])  # key id, prev and signature all raw
    assert codec.b64url_encode(stored[2:18]) == "ajgD1fBZkCocba-8m6Rykg"
    assert len(stored) < 0.5 * len(LEAF)
    assert unpack(stored) == LEAF


def test_a_row_of_the_first_packed_form_still_reads() -> None:
    """Rows written before 0027_storage_v2: ``0x01`` and DEFLATE against DICTIONARY_V1."""
    packer = zlib.compressobj(6, zlib.DEFLATED, -11, 4, zlib.Z_DEFAULT_STRATEGY, DICTIONARY_V1)
    old = bytes([PACKED_V1]) + packer.compress(LEAF) + packer.flush()
    assert unpack(old) == LEAF
    assert len(pack(LEAF)) < len(old) - 25


@pytest.mark.parametrize(
    "leaf",
    [
        LEAF.replace(b'"prev":"DPJzY1z_y7fekrXH7GoH_Z9BlSATMye_2LanBWQXKnk"', b'"prev":null'),
        # a value that is not canonical base64url (spare bits set) is kept as text
        LEAF.replace(b'"key":"ajgD1fBZkCocba-8m6Rykg"', b'"key":"ajgD1fBZkCocba-8m6Rykh"'),
        LEAF.replace(b'"sig":"', b'"sig":"x'),  # 87 characters: not a signature
        # an empty "key" before the key id: unpacking would put it back there, so the
        # first form is used
        LEAF.replace(b'"unit":{', b'"unit":{"key":"",'),
        b'{"key":"ajgD1fBZkCocba-8m6Rykg"}',
    ],
)
def test_leaves_with_fewer_or_misplaced_fields_round_trip(leaf: bytes) -> None:
    stored = pack(leaf)
    assert stored[0] in (PACKED_V1, PACKED_V2)
    assert unpack(stored) == leaf


def test_a_leaf_with_a_misleading_empty_field_falls_back_to_the_first_form() -> None:
    leaf = LEAF.replace(b'"unit":{', b'"unit":{"key":"",')
    assert pack(leaf)[0] == PACKED_V1


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


def _second_form(flags: int, raw: bytes, template: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, DICTIONARY_V2)
    return bytes([PACKED_V2, flags]) + raw + packer.compress(template) + packer.flush()


@pytest.mark.parametrize(
    "bad",
    [
        bytes([PACKED_V2]),  # no flags
        _second_form(0, b"", b"{}"),  # flags name no field
        _second_form(8, b"", b"{}"),  # a flag of no field
        _second_form(1, bytes(16), b'{"sig":""}'),  # no place for the key id
        _second_form(7, bytes(112), b'{"key":"","sig":""}'),  # nor for prev
        _second_form(4, bytes(10), b'{"sig":""}')[:12],  # raw field cut short
    ],
)
def test_a_second_form_value_that_does_not_fit_is_returned_unchanged(bad: bytes) -> None:
    assert unpack(bad) == bad


def test_the_second_form_puts_each_field_back_in_order() -> None:
    raw = bytes(range(16)) + bytes(32) + b"\xff" * 64
    leaf = unpack(_second_form(7, raw, b'{"key":"","prev":"","sig":""}'))
    assert leaf == (
        b'{"key":"'
        + codec.b64url_encode(raw[:16]).encode()
        + b'","prev":"'
        + codec.b64url_encode(bytes(32)).encode()
        + b'","sig":"'
        + codec.b64url_encode(raw[48:]).encode()
        + b'"}'
    )


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


def _pack_as_before(leaf: bytes) -> bytes:
    """`pack` as it was written before session 27 (a new compressor per leaf, fields
    re-encoded to check canonical form, the whole value unpacked to check it): the
    stored bytes must not change."""

    def deflate(data: bytes, dictionary: bytes) -> bytes:
        packer = zlib.compressobj(6, zlib.DEFLATED, -11, 4, zlib.Z_DEFAULT_STRATEGY, dictionary)
        return packer.compress(data) + packer.flush()

    flags, raw, template = 0, b"", leaf
    for flag, name, size in ((1, b"key", 16), (2, b"prev", 32), (4, b"sig", 64)):
        found = re.search(rb'"' + name + rb'":"([A-Za-z0-9_-]{%d})"' % -(-size * 4 // 3), template)
        if found is None:
            continue
        value = codec.b64url_decode(found.group(1).decode()) if _canonical(found.group(1)) else None
        if value is None:
            continue
        flags, raw = flags | flag, raw + value
        template = template[: found.start(1)] + template[found.end(1) :]
    packed = None
    if flags:
        packed = bytes([PACKED_V2, flags]) + raw + deflate(template, DICTIONARY_V2)
    if packed is None or unpack(packed) != leaf:
        packed = bytes([PACKED_V1]) + deflate(leaf, DICTIONARY_V1)
    return packed if len(packed) < len(leaf) or leaf[:1] != b"{" else leaf


def _canonical(text: bytes) -> bool:
    try:
        return codec.b64url_encode(codec.b64url_decode(text.decode())).encode() == text
    except EncodingError:
        return False


def _random_field(size: int) -> bytes:
    return codec.b64url_encode(os.urandom(size)).encode()


def _fresh_custody_leaf() -> tuple[bytes, bytes, bytes, bytes]:
    """`LEAF` with a fresh random signature, key id and previous hash: (the leaf, and
    those three as they appear in it)."""
    sig, key, prev = _random_field(64), _random_field(16), _random_field(32)
    leaf = (
        LEAF.replace(
            b"LwiTzOCQItUb5oLssDFFSfZ7O8GdypIJXZTSKdD9hllhpYc2SGy7vUHRxRZGZ2C--cfa_LvsXR8w2ddG-AiiDQ",
            sig,
        )
        .replace(b"ajgD1fBZkCocba-8m6Rykg", key)
        .replace(b"DPJzY1z_y7fekrXH7GoH_Z9BlSATMye_2LanBWQXKnk", prev)
    )
    return leaf, sig, key, prev


@pytest.mark.parametrize("seed", range(40))
def test_packing_stores_the_same_bytes_as_before(seed: int) -> None:
    """The prepared compressor and the check without the inflate change no stored byte:
    custody leaves with fresh random fields, non-canonical ones, misplaced empty ones."""
    leaf, sig, key, prev = _fresh_custody_leaf()
    variants = [
        leaf,
        leaf.replace(prev, b"null"),
        leaf.replace(sig, sig[:-1] + b"B"),  # spare bits set: kept as text
        leaf.replace(key, key[:-1] + b"h"),
        leaf.replace(b'"unit":{', b'"unit":{"key":"",'),  # unpacking would misplace it
        leaf.replace(b'"unit":{', b'"unit":{"sig":"",'),
        leaf.replace(b'"to":"', b'"prev":"","to":"'),
        leaf.replace(b'"sig":"', b'"sig":"x'),
        os.urandom(seed * 10),
        b"{" + os.urandom(seed * 10),
    ]
    for value in variants:
        assert pack(value) == _pack_as_before(value), value
        assert unpack(pack(value)) == value


# --- the envelope's fields found without searching (`leafpack._built_fields`) --------

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _b64(size: int) -> st.SearchStrategy[str]:
    """Canonical base64url of ``size`` random bytes, or (a quarter of the time) a text of
    that length whose spare bits are set (not canonical)."""
    canonical = st.binary(min_size=size, max_size=size).map(codec.b64url_encode)
    chars = -(-size * 4 // 3)
    return canonical | st.text(_ALPHABET, min_size=chars, max_size=chars)


#: pieces an event's bytes are made of here: the names the packing looks for, with and
#: without values of the right length, quotes, JSON structure, other text
_PIECES = st.one_of(
    st.sampled_from(
        [
            *(b'"prev":"', b'"key":"', b'"sig":"', b'"prev":""', b'"key":""', b'"sig":""'),
            *(b'"', b'"prev":null', b",", b":", b"{", b"}", b"[", b"]", b"x"),
            *(b'"kind":"handoff"', b'"prev', b'ev":"', b'"ke', b'y":"', b"\\", b"\xc3\xa9"),
        ]
    ),
    _b64(32).map(str.encode),
    _b64(16).map(str.encode),
    _b64(64).map(str.encode),
    _b64(32).map(lambda t: b'"prev":"' + t.encode() + b'"'),
    _b64(16).map(lambda t: b'"key":"' + t.encode() + b'"'),
    _b64(64).map(lambda t: b'"sig":"' + t.encode() + b'"'),
)


@st.composite
def _leaves(draw: st.DrawFn) -> bytes:
    """Bytes in `Leaf.build`'s envelope (now and then not quite) around any event bytes."""
    event = b"".join(draw(st.lists(_PIECES, max_size=12)))
    tail = b",".join(
        (
            b'"key":"' + draw(_b64(16)).encode() + b'"',
            b'"received":"' + draw(st.sampled_from([b"2026-12-01T12:00:00.000Z", b""])) + b'"',
            b'"sig":"' + draw(_b64(64)).encode() + b'"',
        )
    )
    leaf = b'{"event":{' + event + b"}," + tail + draw(st.sampled_from([b"}", b',"v":2}']))
    if draw(st.integers(0, 9)) == 0:  # damaged somewhere
        at = draw(st.integers(0, len(leaf) - 1))
        leaf = leaf[:at] + draw(st.sampled_from([b"", b'"', b"A", b","])) + leaf[at + 1 :]
    return leaf


@settings(max_examples=examples(2000), deadline=None)
@given(_leaves())
def test_the_envelope_path_packs_exactly_as_the_search(leaf: bytes) -> None:
    """Wherever `_built_fields` answers, the value stored is the one the fields' search
    (`_pack_v2_searched`) makes, byte for byte, and it unpacks to the leaf."""
    assert leafpack._pack_v2(leaf) == leafpack._pack_v2_searched(leaf)
    assert pack(leaf) == _searched_pack(leaf)
    assert unpack(pack(leaf)) == leaf


def test_the_envelope_path_is_the_one_a_built_leaf_takes() -> None:
    assert leafpack._built_fields(LEAF) is not None
    assert leafpack._built_fields(LEAF.replace(b',"v":2}', b"}")) is not None
    prev_null = LEAF.replace(
        b'"prev":"DPJzY1z_y7fekrXH7GoH_Z9BlSATMye_2LanBWQXKnk"', b'"prev":null'
    )
    found = leafpack._built_fields(prev_null)
    assert found is not None and found[0][:2] == bytes([PACKED_V2, 5])  # key id, sig raw
    assert pack(prev_null) == _searched_pack(prev_null)
    assert pack(LEAF) == _searched_pack(LEAF)


@pytest.mark.parametrize(
    "leaf",
    [
        # names the search must decide about: left to it
        LEAF.replace(b'"unit":{', b'"unit":{"key":"",'),
        LEAF.replace(b'"unit":{', b'"unit":{"sig":"x",'),
        LEAF.replace(b'"unit":{', b'"unit":{"prev":"x",'),
        # the key id or signature not canonical, or not their lengths
        LEAF.replace(b'"key":"ajgD1fBZkCocba-8m6Rykg"', b'"key":"ajgD1fBZkCocba-8m6Rykh"'),
        LEAF.replace(b'"sig":"', b'"sig":"x'),
        LEAF.replace(b'"received":"2026-11-28T12:00:00.000Z"', b'"received":"x\\"'),
    ],
)
def test_a_leaf_the_envelope_path_cannot_vouch_for_goes_to_the_search(leaf: bytes) -> None:
    assert leafpack._built_fields(leaf) is None
    assert pack(leaf) == _searched_pack(leaf)
    assert unpack(pack(leaf)) == leaf


def _searched_pack(leaf: bytes) -> bytes:
    """`pack` with every field searched for (as before `_built_fields`)."""
    packed = leafpack._pack_v2_searched(leaf)
    if packed is None:
        return leafpack.pack_v1(leaf)
    return packed if len(packed) < len(leaf) or leaf[:1] != b"{" else leaf


# --- the compiled packer (ledger/native/leafpack.c, `leafpack.pack_many`) ------------

_COMPILED = leafpack.compiled_packer
if _COMPILED is None and os.environ.get("CI"):
    raise AssertionError("ledger.native.leafpack was not built (setup.py): CI tests it")
_NEEDS_COMPILED = pytest.mark.skipif(
    _COMPILED is None, reason="ledger.native.leafpack is not built (no C compiler or zlib)"
)


def _compiled(leaves: list[bytes]) -> list[bytes | None]:
    assert _COMPILED is not None
    return _COMPILED.pack_built(
        leaves, DICTIONARY_V2, leafpack._LEVEL, leafpack._PACK_WBITS, leafpack._PACK_MEMLEVEL
    )


@_NEEDS_COMPILED
@settings(max_examples=examples(2000), deadline=None)
@given(st.lists(_leaves(), min_size=1, max_size=5))
def test_the_compiled_packer_stores_packs_bytes(leaves: list[bytes]) -> None:
    """It answers exactly for the leaves `_built_fields` vouches for, with `pack`'s
    value, byte for byte; `pack_many` is `pack` of each."""
    for leaf, value in zip(leaves, _compiled(leaves), strict=True):
        assert (value is not None) == (leafpack._built_fields(leaf) is not None), leaf
        assert value is None or value == pack(leaf)
    assert leafpack.pack_many(leaves) == [pack(leaf) for leaf in leaves]


@_NEEDS_COMPILED
def test_the_packer_is_built_from_the_source_beside_it() -> None:
    source = Path(leafpack.__file__).parent.parent / "native" / "leafpack.c"
    assert _COMPILED is not None
    assert _COMPILED.SOURCE_SHA256 == hashlib.sha256(source.read_bytes()).hexdigest()


@_NEEDS_COMPILED
def test_the_compiled_packer_on_built_leaves_and_any_bytes() -> None:
    leaf, _sig, _key, prev = _fresh_custody_leaf()
    leaves = [
        leaf,
        leaf.replace(b',"v":2}', b"}"),
        leaf.replace(prev, b"null"),  # key id and signature raw
        leaf.replace(b'"to":"', b'"prev":"","to":"'),  # two "prev": left to the search
        leaf.replace(b'"received":"2026-11-28T12:00:00.000Z"', b'"received":""'),
        b"x" + leaf[1:],  # not JSON: packed even when longer
        leaf[:-1],  # cut short
        b"",
        b"{}",
        os.urandom(300),
        b'{"event":{' + b"a" * (MAX_LEAF + 10) + b"}," + leaf[leaf.index(b'"key":') :],
    ]
    expected = [pack(value) for value in leaves]
    assert leafpack.pack_many(leaves) == expected
    assert [value is not None for value in _compiled(leaves)] == [
        True, True, True, False, True, True, False, False, False, False, False,
    ]  # fmt: skip
    for value, leaf in zip(expected[:-1], leaves, strict=False):  # (the last: > MAX_LEAF)
        assert unpack(value) == leaf
    assert leafpack.pack_many([]) == []
    assert _compiled([leaf, "not bytes"])[1:] == [None]  # type: ignore[list-item]


@_NEEDS_COMPILED
def test_a_packer_that_deflates_otherwise_is_not_used() -> None:
    """Another zlib than this interpreter's, or other bytes for the sample: `pack` packs
    (the two paths must write the same store)."""
    assert _COMPILED is not None and leafpack.same_deflate(_COMPILED)

    class OtherZlib:
        ZLIB_VERSION = "1.3.0.zlib-ng"
        pack_built = staticmethod(_compiled)

    class OtherBytes:
        ZLIB_VERSION = zlib.ZLIB_RUNTIME_VERSION

        @staticmethod
        def pack_built(leaves: list[bytes], *_args: object) -> list[bytes | None]:
            return [b"\x02" for _ in leaves]

    assert not leafpack.same_deflate(OtherZlib())
    assert not leafpack.same_deflate(OtherBytes())  # type: ignore[arg-type]
