"""Tests for qr.segments: the split of a text into numeric, alphanumeric and byte
segments with the fewest bits, and its bit stream."""

from __future__ import annotations

from itertools import pairwise

import qrcode
import qrcode.util
from hypothesis import given, settings
from hypothesis import strategies as st

from qr.segments import ALPHANUMERIC, Mode, Segment, bit_length, split, stream
from tests.profiles import examples


def test_segments_cost_the_fewest_bits_and_rebuild_the_text() -> None:
    text = "HTTPS://ID.ACME12.CN/01/09506000134352/21/ABC?s=" + "7" * 155
    segments = split(text)
    assert b"".join(s.data for s in segments).decode() == text
    assert [s.mode for s in segments] == [
        Mode.ALPHANUMERIC,
        Mode.NUMERIC,
        Mode.ALPHANUMERIC,
        Mode.BYTE,
        Mode.NUMERIC,
    ]
    byte_only = [Segment(Mode.BYTE, text.encode())]
    assert bit_length(segments, 1) < bit_length(byte_only, 1) - 400
    # a short run of digits is not worth a segment header of its own
    assert [s.mode for s in split("abc12def")] == [Mode.BYTE]
    assert split("") == [Segment(Mode.BYTE, b"")]


@settings(max_examples=examples(200), deadline=None)
@given(text=st.text(alphabet=ALPHANUMERIC + "?=abcé中", max_size=120))
def test_split_rebuilds_the_text_and_never_costs_more_than_one_mode(text: str) -> None:
    segments = split(text)
    assert b"".join(s.data for s in segments) == text.encode()
    assert all(a.mode is not b.mode for a, b in pairwise(segments))
    single = [Segment(Mode.BYTE, text.encode())]
    assert bit_length(segments, 1) <= bit_length(single, 1)
    if text and all(ch in ALPHANUMERIC for ch in text):
        assert bit_length(segments, 1) <= bit_length([Segment(Mode.ALPHANUMERIC, text.encode())], 1)


def test_stream_bits_equal_qrcode() -> None:
    segments = split("HTTPS://ID.X.CN/01/09506000134352/21/ab?s=" + "12" * 20)
    value, length = stream(segments, 5)
    buffer = qrcode.util.BitBuffer()
    modes = {
        Mode.NUMERIC: qrcode.util.MODE_NUMBER,
        Mode.ALPHANUMERIC: qrcode.util.MODE_ALPHA_NUM,
        Mode.BYTE: qrcode.util.MODE_8BIT_BYTE,
    }
    for s in segments:
        data = qrcode.util.QRData(s.data, mode=modes[s.mode])
        buffer.put(data.mode, 4)
        buffer.put(len(data), qrcode.util.length_in_bits(data.mode, 5))
        data.write(buffer)
    assert length == len(buffer)
    assert format(value, f"0{length}b") == "".join(
        "1" if buffer.get(i) else "0" for i in range(len(buffer))
    )
