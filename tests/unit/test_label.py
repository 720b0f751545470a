"""Tests for ledger.label: the signed label message, the label URI, offline verification."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import crypto
from ledger.codec import b64url_decode, b64url_encode
from ledger.errors import EncodingError, GS1Error, KeyFormatError, SignatureError
from ledger.gs1 import CSET82, UnitId, format_digital_link, gtin_check_digit
from ledger.label import (
    MAX_BASE_URL_LENGTH,
    MAX_LABEL_URI_LENGTH,
    label_message,
    label_uri,
    sign_label,
    signed_label_uri,
    verify_label,
    verify_label_signature,
)
from tests.profiles import examples

BASE = "https://id.example.com"
G14 = "09506000134352"
OTHER_G14 = "09506000134369"


def _seed(name: str) -> bytes:
    return hashlib.sha256(f"provenance-ledger test vector {name}".encode()).digest()


BRAND = crypto.private_key_from_seed(_seed("brand"))
OTHER_BRAND = crypto.private_key_from_seed(_seed("other brand"))
PUBLIC = BRAND.public_key()
UNIT = UnitId(gtin=G14, serial="A/B%&+?1")
GOLDEN_URI = (
    "https://id.example.com/01/09506000134352/21/A%2FB%25%26%2B%3F1"
    "?s=YDsCalcmFfijRCH4_oQH_GC3Sxlw_Pw8xVspR7QuNm4oXbkVq4TcTxn9FrF-ourTEr5BzRAsTta1-hMyTPT8CQ"
)

serials = st.text(alphabet=sorted(CSET82), min_size=1, max_size=20)
gtins = st.sampled_from([8, 12, 13, 14]).flatmap(
    lambda n: st.text(alphabet="0123456789", min_size=n - 1, max_size=n - 1).map(
        lambda body: body + str(gtin_check_digit(body))
    )
)


def _sig(uri: str) -> str:
    return uri.rsplit("?s=", 1)[1]


# --- the signed bytes -------------------------------------------------------------------


def test_label_message_bytes() -> None:
    assert label_message(UNIT) == b"09506000134352\nA/B%&+?1\n"
    signed = crypto.DOMAIN_LABEL + label_message(UNIT)
    assert signed == b"provenance-ledger/v1 label\n09506000134352\nA/B%&+?1\n"


def test_golden_uri_from_the_vector_brand_key() -> None:
    # the brand key of tests/vectors/golden.json; Ed25519 signatures are deterministic
    assert crypto.public_key_to_b64(PUBLIC) == "p7TvIlg-SrvudxGNrI2YzRd5B1_2OjytLiZIUTHZJ2E"
    assert signed_label_uri(BASE, UNIT, BRAND) == GOLDEN_URI
    assert verify_label(GOLDEN_URI, PUBLIC).unit_id() == UNIT


def test_signature_is_ed25519_over_domain_and_message() -> None:
    raw = b64url_decode(sign_label(UNIT, BRAND), size=64)
    PUBLIC.verify(raw, b"provenance-ledger/v1 label\n09506000134352\nA/B%&+?1\n")
    with pytest.raises(SignatureError):  # never valid as an event signature
        crypto.verify(PUBLIC, crypto.DOMAIN_EVENT, label_message(UNIT), raw)


@settings(max_examples=examples(300), deadline=None)
@given(g1=gtins, s1=serials, g2=gtins, s2=serials)
def test_message_names_exactly_one_unit(g1: str, s1: str, g2: str, s2: str) -> None:
    a, b = UnitId(gtin=g1, serial=s1), UnitId(gtin=g2, serial=s2)
    assert (label_message(a) == label_message(b)) == (a == b)


def test_label_message_refuses_a_non_unit() -> None:
    with pytest.raises(GS1Error):
        label_message((G14, "SN"))  # type: ignore[arg-type]


# --- the URI ------------------------------------------------------------------------------


@settings(max_examples=examples(150), deadline=None)
@given(gtin=gtins, serial=serials)
def test_round_trip_for_any_gtin_and_serial(gtin: str, serial: str) -> None:
    unit = UnitId(gtin=gtin, serial=serial)
    uri = signed_label_uri(BASE, unit, BRAND)
    assert uri.startswith(f"{BASE}/01/{gtin.rjust(14, '0')}/21/")
    link = verify_label(uri, PUBLIC)
    assert (link.gtin, link.serial, link.base_url) == (unit.gtin, serial, BASE)
    assert len(uri) <= MAX_LABEL_URI_LENGTH


@pytest.mark.parametrize(
    ("short", "long"),
    [("96385074", "00000096385074"), ("036000291452", "00036000291452"), ("9506000134352", G14)],
)
def test_short_gtins_are_normalized_to_14(short: str, long: str) -> None:
    uri = signed_label_uri(BASE, UnitId(gtin=short, serial="SN-1"), BRAND)
    assert f"/01/{long}/21/SN-1?s=" in uri
    assert verify_label(uri, PUBLIC).gtin == long


def test_longest_uri_is_213_characters() -> None:
    base = "https://" + "r" * (MAX_BASE_URL_LENGTH - len("https://.example")) + ".example"
    assert len(base) == MAX_BASE_URL_LENGTH
    unit = UnitId(gtin=G14, serial="/%&+?" * 4)
    uri = signed_label_uri(base, unit, BRAND)
    assert len(uri) == MAX_LABEL_URI_LENGTH == 213
    assert verify_label(uri, PUBLIC).serial == "/%&+?" * 4


def test_base_url_too_long_is_refused() -> None:
    base = "https://" + "r" * (MAX_BASE_URL_LENGTH - 7)
    with pytest.raises(GS1Error) as caught:
        signed_label_uri(base, UNIT, BRAND)
    assert caught.value.field == "base_url"
    assert signed_label_uri(BASE + "/", UNIT, BRAND) == GOLDEN_URI  # trailing slash dropped


def test_label_uri_refuses_a_malformed_signature_or_unit() -> None:
    with pytest.raises(EncodingError):
        label_uri(BASE, UNIT, "abc")
    with pytest.raises(GS1Error):
        label_uri(BASE, "not a unit", sign_label(UNIT, BRAND))  # type: ignore[arg-type]


# --- offline verification: what must fail -------------------------------------------------


def _tampered(uri: str, old: str, new: str) -> str:
    assert old in uri
    return uri.replace(old, new, 1)


@pytest.mark.parametrize(
    "uri",
    [
        _tampered(GOLDEN_URI, "/21/A%2FB%25%26%2B%3F1", "/21/A%2FB%25%26%2B%3F2"),  # serial
        _tampered(GOLDEN_URI, "/21/A%2FB%25%26%2B%3F1", "/21/a%2FB%25%26%2B%3F1"),  # case
        _tampered(GOLDEN_URI, G14, OTHER_G14),  # another GTIN
        GOLDEN_URI[:-1] + ("A" if GOLDEN_URI[-1] != "A" else "Q"),  # altered last byte
        _tampered(GOLDEN_URI, "?s=YDs", "?s=YDt"),  # altered first byte
    ],
)
def test_changed_labels_do_not_verify(uri: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_label(uri, PUBLIC)
    assert caught.value.field == "s"


def test_another_brands_key_does_not_verify() -> None:
    with pytest.raises(SignatureError):
        verify_label(GOLDEN_URI, OTHER_BRAND.public_key())
    forged = signed_label_uri(BASE, UNIT, OTHER_BRAND)
    with pytest.raises(SignatureError):
        verify_label(forged, PUBLIC)


@pytest.mark.parametrize("cut", [1, 2, 3, 43, 85])
def test_truncated_signature_does_not_verify(cut: int) -> None:
    with pytest.raises(SignatureError, match=r"64 bytes|not base64url"):
        verify_label(GOLDEN_URI[:-cut], PUBLIC)


@pytest.mark.parametrize(
    "uri",
    [
        GOLDEN_URI.split("?")[0],  # no query at all
        GOLDEN_URI.split("?")[0] + "?s=",  # empty signature
        GOLDEN_URI + "==",  # padded base64
        GOLDEN_URI.replace("?s=", "?s=+"),  # not base64url
        GOLDEN_URI.split("?")[0] + "?x=" + _sig(GOLDEN_URI),  # signature under another name
    ],
)
def test_missing_or_malformed_signature(uri: str) -> None:
    with pytest.raises(SignatureError):
        verify_label(uri, PUBLIC)


@pytest.mark.parametrize(
    "uri",
    [
        GOLDEN_URI + "&s=" + _sig(GOLDEN_URI),  # twice
        GOLDEN_URI.replace("/21/", "/10/LOT1/21/"),  # lot, and no commission to check it
        GOLDEN_URI.replace("?s=", "?17=281130&s="),  # expiry, likewise
    ],
)
def test_anything_unchecked_in_the_uri_is_refused(uri: str) -> None:
    # (an extra parameter such as &lang=zh is ignored: tests/unit/test_label_binding.py)
    with pytest.raises(GS1Error):
        verify_label(uri, PUBLIC)


def test_uri_without_serial_or_not_a_digital_link() -> None:
    no_serial = format_digital_link(BASE, G14, query=[("s", _sig(GOLDEN_URI))])
    with pytest.raises(GS1Error) as caught:
        verify_label(no_serial, PUBLIC)
    assert caught.value.field == "serial"
    with pytest.raises(GS1Error):
        verify_label("https://id.example.com/hello", PUBLIC)
    with pytest.raises(GS1Error):
        verify_label(GOLDEN_URI + "#frag", PUBLIC)


def test_host_and_scheme_are_not_signed() -> None:
    moved = GOLDEN_URI.replace("https://id.example.com", "http://resolver.example/dl")
    assert verify_label(moved, PUBLIC).base_url == "http://resolver.example/dl"


# --- keys -----------------------------------------------------------------------------------


def test_any_of_several_brand_keys() -> None:
    keys = [OTHER_BRAND.public_key(), PUBLIC]
    assert verify_label(GOLDEN_URI, keys).unit_id() == UNIT
    assert verify_label_signature(UNIT, _sig(GOLDEN_URI), iter(keys)) is PUBLIC


def test_no_key_is_a_key_error() -> None:
    with pytest.raises(KeyFormatError):
        verify_label(GOLDEN_URI, [])
    with pytest.raises(KeyFormatError):
        verify_label(GOLDEN_URI, [b"raw bytes"])  # type: ignore[list-item]


def test_signature_of_wrong_length_is_a_signature_error() -> None:
    short = b64url_encode(b64url_decode(_sig(GOLDEN_URI))[:63])
    with pytest.raises(SignatureError) as caught:
        verify_label_signature(UNIT, short, PUBLIC)
    assert caught.value.field == "s"
