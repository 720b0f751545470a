"""The compact label encoding (issue 22): the outer QR code holds the label link with an
upper-case scheme and host, the serial in its compact spelling (``$`` escapes) and the
same 64 signature bytes in 155 decimal digits, so it fits QR version 7 at level M for
every serial of up to 16 characters under a 12-character host; the resolver and the offline check accept it and every
label printed before (base64url), with the same Ed25519 check; a forged or altered
compact signature fails both ways."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import ImageOps

from api.app import create_app
from ledger import crypto, gs1, label
from ledger.codec import b64url_decode
from ledger.errors import GS1Error, SignatureError
from ledger.gs1 import CSET82, UnitId, parse_digital_link
from ledger.service.settings import Settings
from qr.matrix import encode
from qr.png import symbol_image
from qr.segments import bit_length, split
from tests.factories import GTIN, key
from tests.integration.signals_world import SignalWorld
from tests.profiles import examples

HOST12 = "https://id.acme12.cn"  # a resolver host of 12 characters
BRAND = key(2)


def _digits(uri: str) -> str:
    return uri.rsplit("?s=", 1)[1]


GOLDEN = (  # docs/FORMAT.md section 8.1, the vector brand key
    "https://id.example.com/01/09506000134352/21/A%2FB%25%26%2B%3F1"
    "?s=YDsCalcmFfijRCH4_oQH_GC3Sxlw_Pw8xVspR7QuNm4oXbkVq4TcTxn9FrF-ourTEr5BzRAsTta1-hMyTPT8CQ"
)
GOLDEN_COMPACT = (
    "HTTPS://ID.EXAMPLE.COM/01/09506000134352/21/A$8B$2$3+$+1?s="
    "0504000053189841594877026201241595359594119721289292903393441326092685611617"
    "07230824076321570522292226053448121755923871075700160718355987295869771619"
    "35881"
)


def test_golden_compact_form() -> None:
    link = parse_digital_link(GOLDEN)
    compact = label.compact_label_uri(link.base_url, link.unit_id(), dict(link.query)["s"])
    assert compact == GOLDEN_COMPACT
    assert (encode(compact).version, encode(GOLDEN).version) == (7, 8)


def test_compact_form_is_the_same_signature_bytes() -> None:
    unit = UnitId(gtin=GTIN, serial="SN-000001")
    usual = label.signed_label_uri(HOST12, unit, BRAND)
    compact = label.compact_label_uri(HOST12, unit, label.sign_label(unit, BRAND))
    assert compact.startswith("HTTPS://ID.ACME12.CN/01/")
    assert "/21/SN-000001?s=" in compact
    digits = _digits(compact)
    assert len(digits) == 155 and digits.isdigit()
    raw = b64url_decode(_digits(usual), size=64)
    assert (
        label.decode_label_signature(digits) == raw == label.decode_label_signature(_digits(usual))
    )
    # either spelling verifies to the same unit under the brand key, offline
    assert label.verify_label(compact, BRAND.public_key()).unit_id() == unit
    assert label.verify_label(usual, BRAND.public_key()).unit_id() == unit


@pytest.mark.parametrize(
    "serial",
    [
        "SN-000001",
        "SN-0000000000001",  # 16 characters
        "ABCDEFGHIJKLMNOP",
        "abcdefghijklmnop",  # lower case: $A$B...
        "Ab-1.x_yZ9:;<=ef",  # mixed case and punctuation
        "A/B%C&D+E?F/G%H&",  # upper case, 7 of 16 percent-escaped in the usual form
        "abcdefgh/%&+?/%&",  # version 8 before the compact spelling of serials
        "////////////////",  # 48 characters of percent-escapes in the usual form
    ],
)
def test_outer_codes_are_version_7_or_below_for_a_12_character_host(serial: str) -> None:
    unit = UnitId(gtin=GTIN, serial=serial)
    signature = label.sign_label(unit, BRAND)
    assert encode(label.compact_label_uri(HOST12, unit, signature)).version <= 7
    # the usual form would need version 8 or 9
    assert encode(label.label_uri(HOST12, unit, signature)).version >= 8


@pytest.mark.parametrize(
    ("serial", "spelled"),
    [
        ("SN-000001", "SN-000001"),
        ("sn-1/", "$S$N-1$8"),
        ("A/B%&+?1", "A$8B$2$3+$+1"),
        ("!\"%&'(),/;<=>?_", "$0$1$2$3$4$5$6$7$8$9$-$.$*$+$:"),
        ("*+:-.", "*+:-."),
    ],
)
def test_the_compact_serial_spelling(serial: str, spelled: str) -> None:
    assert gs1.compact_serial(serial) == spelled
    assert gs1.decode_compact_serial(spelled) == serial


@pytest.mark.parametrize(
    "path",
    [
        "/01/09506000134352/21/$",  # an escape with nothing after it
        "/01/09506000134352/21/$a",  # an escape of a lower-case letter
        "/01/09506000134352/21/$%2F",  # an escape of a character spelled otherwise
        "/01/09506000134352/21/a$A",  # a lower-case letter as is beside an escape
        "/01/09506000134352/21/A$8%2F",  # a percent-escape beside an escape
        "/01/09506000134352/10/$A/21/X",  # a lot is never spelled so
    ],
)
def test_malformed_compact_serials_are_refused(path: str) -> None:
    with pytest.raises(GS1Error) as caught:
        parse_digital_link("https://id.acme12.cn" + path)
    assert caught.value.field in ("serial", "lot")


def test_a_browser_escaping_the_dollar_sign_reads_the_same_unit() -> None:
    link = parse_digital_link("https://id.acme12.cn/01/09506000134352/21/%24S%24N-1%248")
    assert link.serial == "sn-1/"


@pytest.fixture(scope="module")
def zxing() -> ModuleType:
    try:
        import zxingcpp
    except ImportError:
        zxingcpp = None
    if zxingcpp is None:  # as tests/integration/test_qr_render.py: CI needs it
        if os.environ.get("CI") == "true":
            pytest.fail("zxing-cpp is not installed (pip install zxing-cpp)")
        pytest.skip("zxing-cpp is not installed (pip install zxing-cpp)")
    return zxingcpp


@settings(max_examples=examples(60), deadline=None)
@given(serial=st.text(alphabet=sorted(CSET82), min_size=1, max_size=16))
def test_every_serial_of_up_to_16_characters_is_version_7_and_decodes_to_its_unit(
    zxing: ModuleType, serial: str
) -> None:
    """The worst case is 16 characters spelled with escapes: 984 bits of 992."""
    unit = UnitId(gtin=GTIN, serial=serial)
    compact = label.compact_label_uri(HOST12, unit, label.sign_label(unit, BRAND))
    matrix = encode(compact)
    assert matrix.version <= 7
    image = ImageOps.expand(symbol_image(matrix, 4), border=16, fill=255)  # quiet zone
    found = zxing.read_barcodes(image, formats=zxing.BarcodeFormat.QRCode)
    assert [code.text for code in found] == [compact]
    assert (found[0].ec_level, int(found[0].extra["Version"])) == ("M", matrix.version)
    assert label.verify_label(found[0].text, BRAND.public_key()).unit_id() == unit


def test_the_worst_16_character_serial_fills_version_7() -> None:
    unit = UnitId(gtin=GTIN, serial="a/" * 8)
    compact = label.compact_label_uri(HOST12, unit, label.sign_label(unit, BRAND))
    assert bit_length(split(compact, 7), 7) == 984  # of 992 (124 codewords at level M)
    assert encode(compact).version == 7


@settings(max_examples=examples(60), deadline=None)
@given(serial=st.text(alphabet=sorted(CSET82), min_size=1, max_size=20))
def test_any_serial_round_trips_through_the_compact_form(serial: str) -> None:
    unit = UnitId(gtin=GTIN, serial=serial)
    compact = label.compact_label_uri(HOST12, unit, label.sign_label(unit, BRAND))
    link = label.verify_label(compact, BRAND.public_key())
    assert link.unit_id() == unit
    assert encode(compact).version <= 9


def _flip_digit(digits: str, at: int) -> str:
    return digits[:at] + str((int(digits[at]) + 1) % 10) + digits[at + 1 :]


def test_a_forged_or_altered_compact_signature_fails() -> None:
    unit = UnitId(gtin=GTIN, serial="SN-000001")
    compact = label.compact_label_uri(HOST12, unit, label.sign_label(unit, BRAND))
    digits = _digits(compact)
    head = compact[: -len(digits)]
    for bad in (
        _flip_digit(digits, 0),
        _flip_digit(digits, 154),
        _flip_digit(digits, 77),
    ):
        with pytest.raises(SignatureError):
            label.verify_label(head + bad, BRAND.public_key())
    other = label.compact_label_uri(HOST12, unit, label.sign_label(unit, key(5)))
    with pytest.raises(SignatureError):
        label.verify_label(other, BRAND.public_key())  # another key
    moved = label.compact_label_uri(
        HOST12, UnitId(gtin=GTIN, serial="SN-000002"), label.sign_label(unit, BRAND)
    )
    with pytest.raises(SignatureError):
        label.verify_label(moved, BRAND.public_key())  # the signature of another unit


@pytest.mark.parametrize(
    "text",
    [
        "9" * 155,  # above 2**512: no 64-byte signature
        "1" * 154,  # a digit short
        "1" * 156,
        "\u0661" * 155,  # Arabic-Indic digits: str.isdigit, not ASCII
        "+" + "1" * 154,
        " " + "1" * 154,
        "",
    ],
)
def test_malformed_signature_texts_are_refused(text: str) -> None:
    with pytest.raises(SignatureError) as caught:
        label.decode_label_signature(text)
    assert caught.value.field == "s"


def test_each_signature_has_one_decimal_text() -> None:
    raw = bytes(63) + b"\x01"  # a small number: zero-padded to 155 digits
    unit = UnitId(gtin=GTIN, serial="1")
    from ledger.codec import b64url_encode

    compact = label.compact_label_uri(HOST12, unit, b64url_encode(raw))
    assert _digits(compact) == "0" * 154 + "1"
    assert label.decode_label_signature(_digits(compact)) == raw


def test_the_compact_form_keeps_a_path_prefix_and_port_spelled() -> None:
    unit = UnitId(gtin=GTIN, serial="x")
    signature = label.sign_label(unit, BRAND)
    compact = label.compact_label_uri("http://192.168.1.5:8000/Res", unit, signature)
    assert compact.startswith("HTTP://192.168.1.5:8000/Res/01/")  # the path keeps its case
    assert parse_digital_link(compact).base_url == "http://192.168.1.5:8000/Res"


# --- the resolver -----------------------------------------------------------------------


@pytest.fixture
def sw(tmp_path: Path) -> Iterator[SignalWorld]:
    world = SignalWorld.open(f"sqlite:///{tmp_path}/ledger.db")
    yield world
    world.ledger.close()


def _views(sw: SignalWorld, paths: list[str]) -> list[tuple[int, dict[str, Any]]]:
    """GET each path from the resolver as JSON: (status, body)."""
    app = create_app(
        Settings.from_env({"PROVENANCE_RATE": "100000", "PROVENANCE_BURST": "100000"}),
        ledger=sw.ledger,
    )
    found: list[tuple[int, dict[str, Any]]] = []

    async def main() -> None:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                for path in paths:
                    answer = await client.get(path, headers={"Accept": "application/json"})
                    found.append((answer.status_code, answer.json()))

    asyncio.run(main())
    return found


def _path(uri: str) -> str:
    return "/" + uri.split("://", 1)[1].split("/", 1)[1]


def test_the_resolver_accepts_old_and_compact_labels_and_refuses_forged_ones(
    sw: SignalWorld,
) -> None:
    sw.mint("SN-000001")
    unit = UnitId(gtin=GTIN, serial="SN-000001")
    signature = label.sign_label(unit, BRAND)
    compact = label.compact_label_uri(HOST12, unit, signature)
    old = label.label_uri(HOST12, unit, signature)  # labels already printed
    forged = label.compact_label_uri(HOST12, unit, label.sign_label(unit, key(5)))
    altered = compact[:-1] + str((int(compact[-1]) + 1) % 10)
    head = compact.split("?s=")[0]
    malformed = [
        f"{head}?s={'9' * 155}",  # above 2**512
        f"{head}?s={'%D9%A1' * 155}",  # Arabic-Indic digits
        f"{head}?s={'1' * 5000}",  # huge
    ]
    answers = _views(sw, [_path(u) for u in (compact, old, forged, altered, *malformed)])
    assert [status for status, _ in answers[:-1]] == [200] * 6
    views = [body for _, body in answers]
    assert [v["unit"]["label"] for v in views[:2]] == ["valid", "valid"]
    assert views[0]["verdict"] == views[1]["verdict"] != "invalid"
    for view in views[2:-1]:
        assert view["verdict"] == "invalid"
        assert view.get("unit") is None or view["unit"]["label"] == "invalid"
    status, problem = answers[-1]  # 5,000 digits: refused by the URI length, no 5xx
    assert (status, problem["type"]) == (422, "urn:provenance-ledger:problem:gs1")


def test_the_resolver_reads_a_compact_serial_as_the_unit_and_refuses_a_moved_one(
    sw: SignalWorld,
) -> None:
    sw.mint("sn-1/")
    sw.mint("SN-1/")
    unit = UnitId(gtin=GTIN, serial="sn-1/")
    compact = label.compact_label_uri(HOST12, unit, label.sign_label(unit, BRAND))
    assert "/21/$S$N-1$8?s=" in compact
    # the signature of sn-1/ under the upper-case serial's spelling: another unit
    moved = compact.replace("/21/$S$N-1$8?", "/21/SN-1$8?")
    (status, view), (moved_status, moved_view) = _views(sw, [_path(compact), _path(moved)])
    assert (status, view["unit"]["serial"], view["unit"]["label"]) == (200, "sn-1/", "valid")
    assert (moved_status, moved_view["unit"]["serial"]) == (200, "SN-1/")
    assert (moved_view["unit"]["label"], moved_view["verdict"]) == ("invalid", "invalid")


def test_a_public_key_of_the_brand_checks_the_label_a_phone_decodes() -> None:
    """What a verifier app does with the QR text: no network, the brand's key."""
    unit = UnitId(gtin=GTIN, serial="SN-000042")
    text = label.compact_label_uri(HOST12, unit, label.sign_label(unit, BRAND))
    public = crypto.public_key_from_b64(
        crypto.public_key_to_b64(BRAND.public_key())  # as published in the log
    )
    assert label.verify_label(text, [key(5).public_key(), public]).serial == "SN-000042"
