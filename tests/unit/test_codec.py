"""ledger.codec: RFC 8785 canonical JSON, strict parsing, base64url/hex."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import codec
from ledger.errors import EncodingError
from tests.profiles import examples

# Strings without lone surrogates (UTF-8 encodable).
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
safe_int = st.integers(-codec.MAX_SAFE_INTEGER, codec.MAX_SAFE_INTEGER)
json_values = st.recursive(
    st.none() | st.booleans() | safe_int | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=20,
)


def _ascii_keyed(strings: st.SearchStrategy[str]) -> st.SearchStrategy[object]:
    """JSON values whose object keys are ASCII, their strings drawn from ``strings``."""
    return st.recursive(
        st.none() | st.booleans() | safe_int | strings,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.text(st.characters(max_codepoint=127), max_size=8), inner, max_size=4
            )
        ),
        max_leaves=20,
    )


ascii_keyed = _ascii_keyed(text)


def test_rfc8785_sorting_example_uses_utf16_order() -> None:
    # RFC 8785 section 3.2.3: keys sort by UTF-16 code units, not code points.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    out = codec.canonical(value).decode("utf-8")
    order = [k for k in json.loads(out)]
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_escapes_match_rfc8785() -> None:
    value = {"a": '\u0000\u001f"\\/\u007f\u2028\n\t\b\f\r', "b": [True, None, -5, 0]}
    assert codec.canonical(value) == (
        b'{"a":"\\u0000\\u001f\\"\\\\/\x7f\xe2\x80\xa8\\n\\t\\b\\f\\r","b":[true,null,-5,0]}'
    )


@given(ascii_keyed)
@settings(max_examples=examples(400), deadline=None)
def test_fast_path_equals_reference_implementation(value: object) -> None:
    assert codec.canonical(value) == rfc8785.dumps(value)


_every_character = st.text(
    st.sampled_from(
        [chr(c) for c in range(0x80)] + ["\u0080", "\u2028", "\u2029", "\ufeff", "\U0001f600"]
    ),
    max_size=16,
)
_tricky = _ascii_keyed(_every_character)


@given(_tricky)
@settings(max_examples=examples(1000), deadline=None)
def test_orjsons_encoding_is_jsons_for_every_character(value: object) -> None:
    # canonical_parsed writes with orjson: byte for byte what json's encoder (the path
    # before, and the fallback) and rfc8785 write, every ASCII character in strings
    assert codec.canonical_parsed(value) == "".join(codec._encode_chunks(value, 0)).encode()
    assert codec.canonical_parsed(value) == rfc8785.dumps(value)


def test_a_value_nested_deeper_than_orjson_writes_is_still_canonical() -> None:
    value: object = "x"
    for depth in range(300):
        value = {"a": [value]} if depth % 2 else [value]
    assert codec.canonical_parsed(value) == rfc8785.dumps(value)


@given(json_values)
@settings(max_examples=examples(400), deadline=None)
def test_any_value_equals_reference_and_round_trips(value: object) -> None:
    data = codec.canonical(value)
    assert data == rfc8785.dumps(value)
    assert codec.parse(data) == value
    assert codec.parse_canonical(data) == value


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"a": 1.5}, "$.a"),
        ({"a": [1, 2.0]}, "$.a[1]"),
        ({"a": 2**53}, "$.a"),
        ({"a": -(2**53)}, "$.a"),
        ({"a": "\ud800"}, "$.a"),
        ({"\udc00": 1}, "$"),
        ({1: "x"}, "$"),
        ({"a": b"bytes"}, "$.a"),
        ({"a": float("nan")}, "$.a"),
    ],
)
def test_canonical_refuses_what_cannot_round_trip(value: object, field: str) -> None:
    with pytest.raises(EncodingError) as err:
        codec.canonical(value)
    assert err.value.field == field


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b'{"a":1.0}', "floats"),
        (b'{"a":1e3}', "floats"),
        (b'{"a":NaN}', "NaN"),
        (b'{"a":-Infinity}', "Infinity"),
        (b'{"a":1,"a":2}', "duplicate key 'a'"),
        (b'{"a":"\xff"}', "UTF-8"),
        (b'{"a":"\\ud800"}', "surrogate"),
        (b'{"a":9007199254740992}', "safe range"),
        (b'{"a":', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
)
def test_parse_refuses_malformed_input(data: bytes, needle: str) -> None:
    with pytest.raises(EncodingError, match=needle):
        codec.parse(data)


def test_parse_canonical_refuses_equivalent_but_different_bytes() -> None:
    assert codec.parse_canonical(b'{"a":1,"b":2}') == {"a": 1, "b": 2}
    for variant in (b'{"b":2,"a":1}', b'{"a": 1,"b":2}', b'{"a":1,"b":2}\n', b'{"a":"\\u0041"}'):
        with pytest.raises(EncodingError, match="canonical"):
            codec.parse_canonical(variant)


@given(st.binary(max_size=80))
def test_base64url_round_trip(data: bytes) -> None:
    text = codec.b64url_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert codec.b64url_decode(text) == data
    assert codec.b64_decode(codec.b64_encode(data)) == data
    assert codec.hex_decode(codec.hex_encode(data)) == data


@pytest.mark.parametrize("bad", ["AA==", "A", "AB+/", "AB C", "AB\n", "AQ", "é"])
def test_base64url_refuses_non_canonical(bad: str) -> None:
    if bad == "AQ":
        assert codec.b64url_decode(bad) == b"\x01"  # canonical: accepted
        with pytest.raises(EncodingError, match="trailing bits"):
            codec.b64url_decode("AR")
        return
    with pytest.raises(EncodingError):
        codec.b64url_decode(bad, field="sig")


def test_base64url_size_is_enforced() -> None:
    with pytest.raises(EncodingError, match="expected 32 bytes, got 31") as err:
        codec.b64url_decode(codec.b64url_encode(bytes(31)), field="prev", size=32)
    assert err.value.field == "prev"


@pytest.mark.parametrize("bad", ["AB", "0g", "abc", "a b"])
def test_hex_refuses_non_lowercase(bad: str) -> None:
    with pytest.raises(EncodingError):
        codec.hex_decode(bad)
    with pytest.raises(EncodingError, match="expected 2 bytes"):
        codec.hex_decode("00", size=2)


@pytest.mark.parametrize("bad", ["AA=", "A===", "AR==", "é"])
def test_standard_base64_is_strict(bad: str) -> None:
    with pytest.raises(EncodingError):
        codec.b64_decode(bad)


def test_parse_checks_in_one_pass_and_still_names_the_field() -> None:
    # an escaped backslash before "ud800" is text, not a surrogate
    assert codec.parse(b'{"a":"\\\\ud800"}') == {"a": "\\ud800"}
    assert codec.parse(b'{"a":[-9007199254740991,9007199254740991]}') == {
        "a": [-(2**53 - 1), 2**53 - 1]
    }
    with pytest.raises(EncodingError, match="safe range") as err:
        codec.parse(b'{"a":{"b":[1,-9007199254740992]}}')
    assert err.value.field == "$.a.b[1]"
    with pytest.raises(EncodingError):  # refused, not a ValueError escaping
        codec.parse(b'{"a":' + b"9" * 5000 + b"}")
    with pytest.raises(EncodingError, match="surrogate") as err:
        codec.parse(b'{"a":{"b":"x\\uDC00"}}')
    assert err.value.field == "$.a.b"
    with pytest.raises(EncodingError, match="duplicate key 'b'"):
        codec.parse(b'{"a":1,"b":2,"c":3,"b":4}')


@given(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=12))
def test_base64url_accepts_exactly_the_text_its_bytes_encode_to(text: str) -> None:
    """Whatever the decoder accepts re-encodes to the same text, and it accepts every
    text that is some bytes' encoding (the trailing-bits check, both ways)."""
    try:
        data = codec.b64url_decode(text)
    except EncodingError:
        padded = text + "=" * (-len(text) % 4)
        if len(text) % 4 == 1:
            return
        assert codec.b64url_encode(base64.urlsafe_b64decode(padded)) != text
        return
    assert codec.b64url_encode(data) == text


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@given(
    st.text(_B64_ALPHABET + "=+/ é\n", max_size=90) | st.text(_B64_ALPHABET, max_size=90),
    st.sampled_from([None, 0, 1, 16, 32, 64]),
)
def test_base64url_fast_path_answers_as_the_checks_step_by_step(
    text: str, size: int | None
) -> None:
    """`b64url_decode`'s one-test path for the common case and its step-by-step checks
    (`_b64url_decode_checked`) accept the same texts with the same bytes, and refuse the
    others with the same message and field."""
    try:
        expected: bytes | str = codec._b64url_decode_checked(text, "f", size)
    except EncodingError as e:
        expected = f"{e.message}|{e.field}"
    try:
        got: bytes | str = codec.b64url_decode(text, field="f", size=size)
    except EncodingError as e:
        got = f"{e.message}|{e.field}"
    assert got == expected


class _Text(str):
    """A str subclass: not the fast path's, still decoded as before."""


@pytest.mark.parametrize("bad", [None, 7, b"AQ", ["AQ"]])
def test_base64url_refuses_what_is_not_text_and_reads_a_str_subclass(bad: object) -> None:
    with pytest.raises(EncodingError, match="not unpadded base64url") as err:
        codec.b64url_decode(bad, field="sig")  # type: ignore[arg-type]
    assert err.value.field == "sig"
    assert codec.b64url_decode(_Text("AQ"), size=1) == b"\x01"


# --- parse_counted: no duplicate-key hook, the absence of duplicates shown by counting


def _string(draw: st.DrawFn, value: str) -> str:
    """``value`` as a JSON string literal, written as a client might: escaped to ASCII
    or not, and now and then each ``:`` spelled ``\\u003a``."""
    literal = json.dumps(value, ensure_ascii=draw(st.booleans()))
    if draw(st.integers(0, 4)) == 0:
        literal = literal.replace(":", draw(st.sampled_from(["\\u003a", "\\u003A"])))
    return literal


@st.composite
def _json_texts(draw: st.DrawFn, depth: int = 0) -> str:
    """JSON text of objects whose keys may repeat (a duplicate a few times in ten),
    strings with ``:`` and escapes, integers, and now and then a float or an unsafe
    integer."""
    choice = draw(st.integers(0, 9 if depth < 3 else 4))
    if choice <= 1:
        return _string(draw, draw(st.text(st.sampled_from('ab:é"\\\n'), max_size=5)))
    if choice == 2:
        return str(draw(safe_int))
    if choice == 3:
        return draw(st.sampled_from(["null", "true", "1.5", "9007199254740993", "-0"]))
    if choice == 4:
        return draw(st.sampled_from(['""', "[]", "{}", '":"']))
    if choice <= 6:
        items = draw(st.lists(_json_texts(depth + 1), max_size=4))
        return "[" + ",".join(items) + "]"
    keys = draw(st.lists(st.text(st.sampled_from("ab:"), max_size=3), max_size=4))
    if keys and draw(st.integers(0, 3)) == 0:
        keys.insert(draw(st.integers(0, len(keys))), draw(st.sampled_from(keys)))
    members = [_string(draw, k) + draw(st.sampled_from([":", " : "])) for k in keys]
    values = [draw(_json_texts(depth + 1)) for _ in keys]
    return "{" + ",".join(m + v for m, v in zip(members, values, strict=True)) + "}"


@settings(max_examples=examples(1500), deadline=None)
@given(_json_texts())
def test_parse_counted_accepts_with_an_equal_count_exactly_what_parse_accepts(
    text: str,
) -> None:
    """`parse_counted` then `colons` (a duplicate key shown by an unequal count) accept
    exactly the texts `parse` accepts, with the same value; refused, the same error."""
    data = text.encode()
    try:
        expected: Any = codec.parse(data)
    except EncodingError as e:
        expected = e
    try:
        value, count = codec.parse_counted(data)
    except EncodingError as e:
        assert isinstance(expected, EncodingError)
        assert (e.message, e.field) == (expected.message, expected.field)
        return
    if count is None:  # `parse` made it
        assert value == expected
    elif _colons(value) == count:
        assert value == expected  # no duplicate key: `parse` accepts it as well
    else:
        assert isinstance(expected, EncodingError)
        assert "duplicate key" in expected.message


@pytest.mark.parametrize(
    ("text", "counted"),
    [
        (b'{"a":"1:2","b":{"c":[1,":"]}}', 5),
        (b'{"a":1,"a":2}', 2),  # one member left: the count shows the lost one
        (b'{"t":"12\\u003a00"}', None),  # an escape spelling ":": left to `parse`
        (b'{"a":"\\ud800"}', "surrogate"),
        (b'{"a":1.5,"a":1}', "floats"),  # refused by `parse`, its error as always
        (b'{"x":{"a":1,"a":1},"b":2.5}', "duplicate key 'a'"),
        (b'{"a":99999999999999999}', "safe range"),
        (b"\xff", "UTF-8"),
    ],
)
def test_parse_counted_cases(text: bytes, counted: int | str | None) -> None:
    if isinstance(counted, str):
        with pytest.raises(EncodingError, match=counted):
            codec.parse_counted(text)
        return
    value, count = codec.parse_counted(text)
    assert count == counted
    if count is not None:
        assert (_colons(value) == count) == (b'"a":1,"a"' not in text)


def test_counting_needs_json_s_c_scanner(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the C scanner (whose Python fallback reads ``\\u0_3a`` as ``:``), no text
    is counted: `parse` reads every one, duplicates refused by its hook."""
    assert codec._strict_scanner()  # CPython's json: the count is used
    monkeypatch.setattr(json.decoder, "c_scanstring", None)
    assert not codec._strict_scanner()
    monkeypatch.setattr(codec, "_STRICT_SCANNER", False)
    assert codec.parse_counted(b'{"a":"x:y"}') == ({"a": "x:y"}, None)
    with pytest.raises(EncodingError, match="duplicate"):
        codec.parse_counted(b'{"a":1,"a":2}')


def _colons(value: object) -> int:
    """The number of ``:`` the compact JSON of a parsed value holds: one per object
    member, and each ``:`` in its strings (keys and values): what `parse_counted`'s
    caller must show equals the text's count (the route counts it without walking,
    api.routers.entries._colons)."""
    if isinstance(value, str):
        return value.count(":")
    if isinstance(value, dict):
        return sum(1 + key.count(":") + _colons(item) for key, item in value.items())
    if isinstance(value, list):
        return sum(_colons(item) for item in value)
    return 0
