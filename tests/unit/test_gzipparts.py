"""api.gzipparts: a prefix deflated once and a stored tail are one gzip member that any
decoder reads as the concatenation; the tail is never compressed; Accept-Encoding's
weights are read as RFC 9110 says."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api import gzipparts

pieces = st.lists(st.binary(max_size=3000), min_size=1, max_size=4)
tails = st.one_of(
    st.binary(max_size=300),
    st.binary(min_size=65_530, max_size=65_540),  # around one stored block's limit
    st.integers(1, 3).map(lambda n: bytes(range(256)) * (256 * n)),  # 64 kB-192 kB
)


def one_member(data: bytes) -> bytes:
    """Decode ``data`` as exactly one gzip member, nothing after it."""
    decoder = zlib.decompressobj(wbits=31)
    out = decoder.decompress(data) + decoder.flush()
    assert decoder.eof and decoder.unused_data == b""
    return out


@settings(max_examples=60, deadline=None)
@given(pieces, tails)
def test_prefix_and_tail_are_one_gzip_member_of_their_concatenation(
    parts: list[bytes], tail: bytes
) -> None:
    prefix = gzipparts.deflate_prefix(*parts)
    member = prefix.data + gzipparts.gzip_tail(prefix, tail)
    whole = b"".join(parts) + tail
    assert one_member(member) == whole
    assert gzip.decompress(member) == whole
    assert prefix.length == len(b"".join(parts))
    assert prefix.crc == zlib.crc32(b"".join(parts))
    # the tail is sent as it is (stored blocks): never in a compression context
    assert tail[:65_535] in member


def test_the_trailer_is_checked_by_decoders_so_it_is_the_true_crc_and_length() -> None:
    prefix = gzipparts.deflate_prefix(b'{"entries":[', b"1,2,3]")
    ending = gzipparts.gzip_tail(prefix, b',"verdict":"genuine"}')
    good = prefix.data + ending
    assert gzip.decompress(good) == b'{"entries":[1,2,3],"verdict":"genuine"}'
    for at in (-8, -5, -4, -1):  # a byte of the CRC-32, a byte of the length
        bad = bytearray(good)
        bad[at] ^= 0x01
        with pytest.raises((OSError, EOFError, zlib.error)):
            gzip.decompress(bytes(bad))
    # a changed tail byte under the same trailer: refused by the CRC
    forged = good.replace(b"genuine", b"genuinf")
    with pytest.raises(OSError):
        gzip.decompress(forged)


def test_an_empty_tail_ends_the_member_too() -> None:
    prefix = gzipparts.deflate_prefix(b"abc" * 1000)
    assert one_member(prefix.data + gzipparts.gzip_tail(prefix, b"")) == b"abc" * 1000


def test_the_prefix_is_smaller_than_its_repetitive_input() -> None:
    body = b'{"index":1,"leaf":"eyJldmVudCI6eyJhY3RvciI6Imluc3Ai"},' * 2000
    prefix = gzipparts.deflate_prefix(body)
    assert len(prefix.data) < len(body) / 10


@pytest.mark.parametrize(
    ("header", "gzip_ok"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("GZIP", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8, *;q=0.1", True),
        ("x-gzip", True),
        ("*", True),
        ("identity", False),
        ("br, deflate", False),
        ("gzip;q=0", False),
        ("gzip;q=0.000", False),
        ("gzip;q=0, *", False),  # named beats the wildcard
        ("*;q=0", False),
        ("*;q=0, gzip;q=0.5", True),
        ("gzip;q=1.5", False),  # not a qvalue: allows nothing
        ("gzip;q=abc", False),
        ("gzip;q=0.0001", False),
        ("gzip ; Q=0.5", True),
        ("gzip;level=9", True),
        ("gzipx", False),
        ("gzip" + ", br" * 200, True),  # long: read, not kept
    ],
)
def test_accept_encoding_weights(header: str | None, gzip_ok: bool) -> None:
    assert gzipparts.accepts_gzip(header) is gzip_ok


@given(st.text(max_size=80))
def test_accept_encoding_never_raises(header: str) -> None:
    assert gzipparts.accepts_gzip(header) in (True, False)
