"""Tests for ledger.gs1: GTINs, AI values, expiry dates, unit paths, GS1 Digital Link URIs."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import GS1Error, LedgerError, ValidationError
from ledger.gs1 import (
    CSET82,
    DigitalLink,
    UnitId,
    company_prefix_matches,
    expiry_date,
    format_digital_link,
    gtin_check_digit,
    normalize_gtin,
    parse_digital_link,
    validate_cpv,
    validate_expiry,
    validate_gtin,
    validate_lot,
    validate_serial,
)
from tests.profiles import examples

BASE = "https://id.example.com"
G14 = "09506000134352"
ALL82 = "".join(sorted(CSET82))
UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

# (GTIN, its GTIN-14). Check digits verified by hand: weights 3,1,3,... from the right
# of the body, check = (10 - sum % 10) % 10. E.g. 5901234123457: body reversed
# 5,4,3,2,1,4,3,2,1,0,9,5 -> 15+4+9+2+3+4+9+2+3+0+27+5 = 83 -> 7.
# 9780306406157: 5,1,6,0,4,6,0,3,0,8,7,9 -> 15+1+18+0+12+6+0+3+0+8+21+9 = 93 -> 7.
# 10614141000415: 1,4,0,0,0,1,4,1,4,1,6,0,1 -> 3+4+0+0+0+1+12+1+12+1+18+0+3 = 55 -> 5.
# 73513537: 3,5,3,1,5,3,7 -> 9+5+9+1+15+3+21 = 63 -> 7.
# 614141000036: 3,0,0,0,0,1,4,1,4,1,6 -> 9+0+0+0+0+1+12+1+12+1+18 = 54 -> 6.
KNOWN_GOOD = [
    ("09506000134352", "09506000134352"),
    ("4006381333931", "04006381333931"),
    ("96385074", "00000096385074"),
    ("036000291452", "00036000291452"),
    ("5901234123457", "05901234123457"),
    ("9780306406157", "09780306406157"),
    ("10614141000415", "10614141000415"),
    ("73513537", "00000073513537"),
    ("614141000036", "00614141000036"),
]

serials = st.text(alphabet=ALL82, min_size=1, max_size=20)


def _raises(field: str) -> pytest.RaisesExc[GS1Error]:
    return pytest.raises(GS1Error, match=rf"^{field}: ")


# --- GTIN ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("gtin", "gtin14"), KNOWN_GOOD)
def test_known_good_gtins_validate_and_normalize(gtin: str, gtin14: str) -> None:
    validate_gtin(gtin)
    assert normalize_gtin(gtin) == gtin14
    assert normalize_gtin(gtin14) == gtin14
    assert gtin_check_digit(gtin[:-1]) == int(gtin[-1])


@pytest.mark.parametrize(("gtin", "_"), KNOWN_GOOD)
def test_every_single_digit_change_fails(gtin: str, _: str) -> None:
    failures = 0
    for pos, original in enumerate(gtin):
        for digit in "0123456789":
            if digit == original:
                continue
            changed = gtin[:pos] + digit + gtin[pos + 1 :]
            with pytest.raises(GS1Error) as info:
                validate_gtin(changed)
            assert info.value.field == "gtin"
            assert "expected" in info.value.message
            failures += 1
    assert failures == 9 * len(gtin)


def test_wrong_check_digit_says_which_was_expected() -> None:
    with pytest.raises(GS1Error) as info:
        validate_gtin("4006381333932")
    assert info.value.field == "gtin"
    assert info.value.message == "check digit is 2, expected 1"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0950600013435a",
        " 4006381333931",
        "4006381333931 ",
        "4006381333931\n",
        "+4006381333931",
        "-4006381333931",
        "4006381333931.0",
        "\uff14\uff10\uff10\uff16\uff13\uff18\uff11\uff13\uff13\uff13\uff19\uff13\uff11",
        "\u0664\u0660\u0660\u0666\u0663\u0668\u0661\u0663\u0663\u0663\u0669\u0663\u0661",
        "²006381333931",
        None,
        4006381333931,
        b"4006381333931",
    ],
)
def test_non_digit_gtins_fail(text: object) -> None:
    with _raises("gtin"):
        validate_gtin(text)


@pytest.mark.parametrize("length", [n for n in range(1, 21) if n not in (8, 12, 13, 14)])
def test_wrong_lengths_fail_even_with_a_valid_check_digit(length: int) -> None:
    body = ("1234567890" * 2)[: length - 1]
    # GTIN-19/20 bodies are longer than any check digit covers: the tail stands in
    gtin = body + str(gtin_check_digit(body[-17:])) if body else "7"
    with pytest.raises(GS1Error, match="8, 12, 13 or 14 digits") as info:
        validate_gtin(gtin)
    assert info.value.field == "gtin"


def test_validate_gtin_names_the_callers_field() -> None:
    with pytest.raises(GS1Error) as info:
        validate_gtin("123", field="unit.gtin")
    assert info.value.field == "unit.gtin"
    assert isinstance(info.value, ValidationError)
    assert isinstance(info.value, LedgerError)
    assert info.value.code == "gs1"


@pytest.mark.parametrize("body", ["", "12a", "1" * 18, None])
def test_check_digit_body_must_be_1_to_17_digits(body: object) -> None:
    with _raises("gtin"):
        gtin_check_digit(body)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("gtin", "prefix", "expected"),
    [
        ("09506000134352", "9506000", True),
        ("09506000134352", "950600013435", True),
        ("19506000134359", "9506000", True),  # indicator digit 1 is ignored
        ("09506000134352", "0950", False),  # the indicator is not part of the prefix
        ("09506000134352", "9506001", False),
        ("4006381333931", "4006381", True),  # GTIN-13 is normalized first
        ("036000291452", "0036000", True),  # UPC-A: GTIN-13 form has a leading 0
        ("036000291452", "036000", False),
    ],
)
def test_company_prefix_matches(gtin: str, prefix: str, expected: bool) -> None:
    assert company_prefix_matches(gtin, prefix) is expected


@pytest.mark.parametrize("prefix", ["", "950", "9506000134352", "95060a0", " 9506", None])
def test_company_prefix_format_is_checked(prefix: object) -> None:
    with _raises("prefix"):
        company_prefix_matches(G14, prefix)  # type: ignore[arg-type]


def test_company_prefix_needs_a_valid_gtin() -> None:
    with _raises("gtin"):
        company_prefix_matches("09506000134353", "9506000")


# --- serial, lot, cpv ---------------------------------------------------------------------


@pytest.mark.parametrize("check", [validate_serial, validate_lot, validate_cpv])
def test_value_rules(check: object) -> None:
    assert callable(check)
    for chunk in (ALL82[i : i + 20] for i in range(0, 82, 20)):
        check(chunk)
    check("x" * 20)
    for bad in ("", "x" * 21, "A B", "é", "#", "~", "@", "$", "[", "\\", "\x00", "\t", None, 7):
        with pytest.raises(GS1Error):
            check(bad)


def test_value_errors_name_the_field() -> None:
    for check, field in ((validate_serial, "serial"), (validate_lot, "lot"), (validate_cpv, "cpv")):
        with _raises(field):
            check("x" * 21)
    with _raises("unit.serial"):
        validate_serial("", field="unit.serial")


def test_cset82_has_82_characters() -> None:
    assert len(CSET82) == 82
    assert not CSET82 & set(" #$@[\\]^`{|}~")


@given(st.text(min_size=1, max_size=20).filter(lambda s: not set(s) <= CSET82))
@settings(max_examples=examples(300), deadline=None)
def test_any_character_outside_cset82_is_refused(text: str) -> None:
    with _raises("serial"):
        validate_serial(text)


# --- expiry (AI 17) -----------------------------------------------------------------------


@pytest.mark.parametrize("good", ["251231", "250200", "240229", "000229", "990131", "251130"])
def test_valid_expiry_dates(good: str) -> None:
    assert validate_expiry(good) is None  # a refusal raises GS1Error (the cases below)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("251301", "month 13"),
        ("250001", "month 00"),
        ("250230", "day 30"),
        ("250229", "day 29"),
        ("250431", "day 31"),
        ("2501", "six ASCII digits"),
        ("2501011", "six ASCII digits"),
        ("25013a", "six ASCII digits"),
        ("\uff12\uff15\uff10\uff11\uff10\uff11", "six ASCII digits"),
        ("", "six ASCII digits"),
    ],
)
def test_invalid_expiry_dates(bad: str, reason: str) -> None:
    with pytest.raises(GS1Error, match=reason) as info:
        validate_expiry(bad)
    assert info.value.field == "expiry"


@pytest.mark.parametrize(
    ("yymmdd", "today", "expected"),
    [
        ("251231", date(2025, 6, 1), date(2025, 12, 31)),
        ("250200", date(2025, 6, 1), date(2025, 2, 28)),  # DD=00: last day of the month
        ("240200", date(2025, 6, 1), date(2024, 2, 29)),
        ("751231", date(2025, 6, 1), date(2075, 12, 31)),  # D = 50: current century
        ("761231", date(2025, 6, 1), date(1976, 12, 31)),  # D = 51: previous century
        ("991231", date(2025, 6, 1), date(1999, 12, 31)),
        ("500101", date(2099, 1, 1), date(2050, 1, 1)),  # D = -49: current century
        ("490101", date(2099, 1, 1), date(2149, 1, 1)),  # D = -50: next century
        ("000300", date(2060, 1, 1), date(2100, 3, 31)),
    ],
)
def test_expiry_date_century_window(yymmdd: str, today: date, expected: date) -> None:
    assert expiry_date(yymmdd, today) == expected


def test_expiry_date_checks_leap_years_in_the_right_century() -> None:
    assert expiry_date("000229", date(2025, 1, 1)) == date(2000, 2, 29)
    with _raises("expiry"):
        expiry_date("000229", date(2060, 1, 1))  # 2100 is not a leap year


@pytest.mark.parametrize("today", [None, "2025-01-01", 20250101])
def test_expiry_date_needs_a_date(today: object) -> None:
    with _raises("today"):
        expiry_date("251231", today)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["251301", "250230", "2501"])
def test_expiry_date_refuses_malformed_dates(bad: str) -> None:
    with _raises("expiry"):
        expiry_date(bad, date(2025, 1, 1))


# --- UnitId -------------------------------------------------------------------------------


def test_unit_id_normalizes_and_formats_its_path() -> None:
    unit = UnitId(gtin="4006381333931", serial="A/B%2F&C+D?E")
    assert unit == UnitId("04006381333931", "A/B%2F&C+D?E")
    assert unit.gtin == "04006381333931"
    assert unit.path() == "/01/04006381333931/21/A%2FB%252F%26C%2BD%3FE"
    assert UnitId.from_path(unit.path()) == unit


@pytest.mark.parametrize(
    ("gtin", "serial", "field"),
    [
        ("4006381333932", "X", "gtin"),
        (G14, "", "serial"),
        (G14, "A#B", "serial"),
        (G14, None, "serial"),
    ],
)
def test_unit_id_refuses_invalid_parts(gtin: str, serial: str, field: str) -> None:
    with _raises(field):
        UnitId(gtin, serial)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("01/09506000134352/21/X", "path"),
        ("/01/09506000134352", "path"),
        ("/01/09506000134352/10/L/21/X", "path"),
        ("/r/01/09506000134352/21/X", "path"),
        ("/01/09506000134352/21/X/", "path"),
        ("/01/09506000134352/21/X?q=1", "serial"),
        ("/01/09506000134352/21/%2", "serial"),
        ("/01/09506000134353/21/X", "gtin"),
        (None, "path"),
    ],
)
def test_unit_id_from_path_refuses_malformed_paths(path: str, field: str) -> None:
    with _raises(field):
        UnitId.from_path(path)


@given(gtin=st.sampled_from([g for g, _ in KNOWN_GOOD]), serial=serials)
@settings(max_examples=examples(300), deadline=None)
def test_unit_id_path_round_trips(gtin: str, serial: str) -> None:
    unit = UnitId(gtin, serial)
    assert UnitId.from_path(unit.path()) == unit
    assert UnitId.from_path(unit.path()).serial == serial


def test_every_cset82_character_is_encoded_as_the_standard_says() -> None:
    for ch in ALL82:
        encoded = UnitId(G14, ch).path().rsplit("/", 1)[1]
        assert encoded == (ch if ch in UNRESERVED else f"%{ord(ch):02X}")
    # the characters RFC 3986 reserves or forbids in a path segment are never raw
    for ch in "/%&+?\"<>!'()*,;:=":
        assert UnitId(G14, ch).path().endswith(f"/21/%{ord(ch):02X}")


# --- GS1 Digital Link: format and parse ---------------------------------------------------


def test_format_puts_qualifiers_in_path_order_and_expiry_in_the_query() -> None:
    uri = format_digital_link(BASE, "4006381333931", serial="S1", lot="L1", expiry="251231")
    assert uri == "https://id.example.com/01/04006381333931/10/L1/21/S1?17=251231"
    uri = format_digital_link(BASE + "/", G14, serial="S", lot="L", cpv="V", query=[("s", "a b")])
    assert uri == "https://id.example.com/01/09506000134352/22/V/10/L/21/S?s=a%20b"
    assert format_digital_link(BASE, "96385074") == "https://id.example.com/01/00000096385074"


AWKWARD = ["/", "%", "&", "+", "?", "A/B%2F&C+D?E", "%25", "%2F", "..", ".", "a=b;c", "x" * 20]


@pytest.mark.parametrize("serial", [*AWKWARD, *(ALL82[i : i + 20] for i in range(0, 82, 20))])
def test_awkward_serials_and_lots_round_trip(serial: str) -> None:
    uri = format_digital_link(BASE, G14, serial=serial, lot=serial, expiry="250200")
    link = parse_digital_link(uri)
    assert (link.serial, link.lot, link.expiry, link.gtin) == (serial, serial, "250200", G14)
    assert link.to_uri() == uri
    assert link.unit_id() == UnitId(G14, serial)
    path = uri.split("://", 1)[1].split("?")[0]
    assert path.count("/") == 6  # host/01/g/10/l/21/s: no value adds a segment
    assert all(c in UNRESERVED or c in "%/:" for c in uri.split("?")[0])


def test_hash_is_not_in_cset82_so_it_never_reaches_a_uri() -> None:
    with _raises("serial"):
        format_digital_link(BASE, G14, serial="A/B%2F&C+D?E#F")
    with _raises("serial"):
        parse_digital_link(f"{BASE}/01/{G14}/21/A%23F")
    with _raises("uri"):
        parse_digital_link(f"{BASE}/01/{G14}/21/A#F")


@given(serial=serials, lot=st.none() | serials, cpv=st.none() | serials)
@settings(max_examples=examples(400), deadline=None)
def test_any_serial_lot_and_cpv_round_trip(serial: str, lot: str | None, cpv: str | None) -> None:
    uri = format_digital_link(BASE + "/resolver", G14, serial=serial, lot=lot, cpv=cpv)
    link = parse_digital_link(uri)
    assert (link.serial, link.lot, link.cpv) == (serial, lot, cpv)
    assert link.base_url == BASE + "/resolver"


@given(lot=serials)
@settings(max_examples=examples(200), deadline=None)
def test_any_lot_without_serial_round_trips(lot: str) -> None:
    link = parse_digital_link(format_digital_link(BASE, G14, lot=lot))
    assert (link.lot, link.serial) == (lot, None)


query_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
query_names = query_text.filter(lambda s: s not in ("", "01", "10", "17", "21", "22", "235"))


@given(pairs=st.lists(st.tuples(query_names, query_text), max_size=5))
@settings(max_examples=examples(200), deadline=None)
def test_other_query_parameters_round_trip_in_order(pairs: list[tuple[str, str]]) -> None:
    uri = format_digital_link(BASE, G14, serial="S", expiry="251231", query=pairs)
    link = parse_digital_link(uri)
    assert link.query == tuple(pairs)
    assert link.expiry == "251231"


@pytest.mark.parametrize(
    ("gtin", "gtin14"), [("96385074", "00000096385074"), ("036000291452", "00036000291452")]
)
def test_short_gtins_in_uris_are_normalized(gtin: str, gtin14: str) -> None:
    link = parse_digital_link(f"{BASE}/01/{gtin}/21/X")
    assert link.gtin == gtin14
    assert parse_digital_link(f"{BASE}/01/4006381333931").gtin == "04006381333931"


def test_parse_accepts_prefixes_http_case_lowercase_hex_and_raw_sub_delims() -> None:
    link = parse_digital_link("HTTP://Example.COM:8080/a/b%2Dc/01/96385074/21/a%2fb(c)!*?s=1")
    assert link.base_url == "http://example.com:8080/a/b%2Dc"
    assert link.host == "example.com:8080"
    assert (link.gtin, link.serial, link.lot, link.expiry) == (
        "00000096385074",
        "a/b(c)!*",
        None,
        None,
    )
    assert link.query == (("s", "1"),)
    assert (
        link.to_uri()
        == "http://example.com:8080/a/b%2Dc/01/00000096385074/21/a%2Fb%28c%29%21%2A?s=1"
    )


def test_parse_keeps_query_parameters_for_the_label_signature() -> None:
    link = parse_digital_link(f"{BASE}/01/{G14}/21/X?sig=AbC-_d&k=1%2B2&17=260101&sig=2&flag")
    assert link.expiry == "260101"
    assert link.query == (("sig", "AbC-_d"), ("k", "1+2"), ("sig", "2"), ("flag", ""))
    assert link.param("sig") == "AbC-_d"
    assert link.param("missing") is None


def test_a_link_without_serial_names_no_unit() -> None:
    link = parse_digital_link(f"{BASE}/01/{G14}/10/L")
    with _raises("serial"):
        link.unit_id()


MALFORMED = [
    (f"{BASE}/01/{G14}/21/{'x' * 21}", "serial"),
    (f"{BASE}/01/{G14}/21/{'%41' * 21}", "serial"),
    (f"{BASE}/01/{G14}/21/A B", "serial"),
    (f"{BASE}/01/{G14}/21/A%20B", "serial"),
    (f"{BASE}/01/{G14}/21/é", "serial"),
    (f"{BASE}/01/{G14}/21/%C3%A9", "serial"),
    (f"{BASE}/01/{G14}/21/%00", "serial"),
    (f"{BASE}/01/{G14}/21/a~b", "serial"),
    (f"{BASE}/01/{G14}/21/a[b", "serial"),
    (f"{BASE}/01/{G14}/21/", "serial"),
    (f"{BASE}/01/{G14}/21/%2", "serial"),
    (f"{BASE}/01/{G14}/21/%ZZ", "serial"),
    (f"{BASE}/01/{G14}/21/A%", "serial"),
    (f"{BASE}/01/{G14}/21/%G1", "serial"),
    (f"{BASE}/01/{G14}/10/%2x/21/S", "lot"),
    (f"{BASE}/01/{G14}/99/X", "path"),
    (f"{BASE}/01/{G14}/235/X", "path"),
    (f"{BASE}/01/{G14}/lot/X", "path"),
    (f"{BASE}/01/{G14}/21/S/10/L", "path"),
    (f"{BASE}/01/{G14}/21/S/22/V", "path"),
    (f"{BASE}/01/{G14}/21/S/21/T", "path"),
    (f"{BASE}/01/{G14}/01/{G14}", "path"),
    (f"{BASE}/01/{G14}/21", "path"),
    (f"{BASE}/01/{G14}/21/S/", "path"),
    (f"{BASE}/21/S", "path"),
    (f"{BASE}/gtin/{G14}", "path"),
    (f"{BASE}/", "path"),
    (BASE, "path"),
    (f"{BASE}?17=251231", "path"),
    (f"{BASE}/a%zz/01/{G14}", "path"),
    (f"{BASE}//01/{G14}", "path"),
    (f"{BASE}/01/{G14}1/21/S", "gtin"),
    (f"{BASE}/01/09506000134353/21/S", "gtin"),
    (f"{BASE}/01/0950600013435a/21/S", "gtin"),
    (f"{BASE}/01/{G14}/21/S#frag", "uri"),
    (f"ftp://id.example.com/01/{G14}", "uri"),
    (f"id.example.com/01/{G14}", "uri"),
    (f"https:///01/{G14}", "uri"),
    (f"https://user@id.example.com/01/{G14}", "uri"),
    (f"https://-bad.example.com/01/{G14}", "uri"),
    (f"https://exa mple.com/01/{G14}", "uri"),
    (f"https://[::1]/01/{G14}", "uri"),
    (f"{BASE}/01/{G14}/21/{'x' * 3000}", "uri"),
    (f"{BASE}/01/{G14}/21/S?17=251301", "expiry"),
    (f"{BASE}/01/{G14}/21/S?17=250230", "expiry"),
    (f"{BASE}/01/{G14}/21/S?17=2501", "expiry"),
    (f"{BASE}/01/{G14}/21/S?17=251231&17=251231", "expiry"),
    (f"{BASE}/01/{G14}?21=S", "query"),
    (f"{BASE}/01/{G14}/21/S?10=L", "query"),
    (f"{BASE}/01/{G14}/21/S?sig=%ZZ", "query"),
    (f"{BASE}/01/{G14}/21/S?sig=%FF", "query"),
    (f"{BASE}/01/{G14}/21/S?=x", "query"),
    (f"{BASE}/01/{G14}/21/S?a=b c", "query"),
]


@pytest.mark.parametrize(("uri", "field"), MALFORMED)
def test_malformed_uris_fail_naming_the_field(uri: str, field: str) -> None:
    with pytest.raises(GS1Error) as info:
        parse_digital_link(uri)
    assert info.value.field == field


@pytest.mark.parametrize("uri", [None, 42, b"https://id.example.com/01/09506000134352"])
def test_parse_refuses_non_strings(uri: object) -> None:
    with _raises("uri"):
        parse_digital_link(uri)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"base_url": "ftp://h"}, "base_url"),
        ({"base_url": "https://h/x?y=1"}, "base_url"),
        ({"base_url": "https://h#f"}, "base_url"),
        ({"base_url": "https://h/01"}, "base_url"),
        ({"base_url": "https://h/a b"}, "base_url"),
        ({"gtin": "123"}, "gtin"),
        ({"serial": ""}, "serial"),
        ({"serial": "x" * 21}, "serial"),
        ({"serial": "A B"}, "serial"),
        ({"lot": "é"}, "lot"),
        ({"cpv": ""}, "cpv"),
        ({"expiry": "251301"}, "expiry"),
        ({"query": [("17", "251231")]}, "query"),
        ({"query": [("21", "X")]}, "query"),
        ({"query": [("", "X")]}, "query"),
        ({"query": [("a", 1)]}, "query"),
        ({"query": [("a",)]}, "query"),
        ({"query": "a=b"}, "query"),
        ({"query": [("a", "\ud800")]}, "query"),
    ],
)
def test_format_refuses_malformed_parts(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"base_url": BASE, "gtin": G14, **kwargs}
    with _raises(field):
        format_digital_link(**args)  # type: ignore[arg-type]
    with _raises(field):
        DigitalLink(**args)  # type: ignore[arg-type]
