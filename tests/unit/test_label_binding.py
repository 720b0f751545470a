"""A label bound to its unit (ledger.label, ledger.gs1, ledger.verify.verdict): its lot and
expiry must be the commission's, parameters it did not sign are ignored, a label scanned
without a signature is a caution, a lot outside set 82 has its own error code."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import crypto
from ledger.errors import BadLotError, GS1Error, LabelMismatchError, SignatureError
from ledger.gs1 import UnitId, format_digital_link, parse_digital_link, validate_lot
from ledger.label import ScannedLabel, check_binding, sign_label, verify_label
from ledger.rules.state import UnitRecord
from ledger.verify.verdict import judge
from ledger.vocab import LabelState
from tests.profiles import examples

BASE = "https://id.example.com"
GTIN14 = "09506000134352"
UNIT = UnitId(gtin=GTIN14, serial="A/B%&+?1")
KEY = crypto.generate_private_key()
SIG = sign_label(UNIT, KEY)
WECHAT = (("from", "singlemessage"), ("isappinstalled", "0"))


def uri(
    *, lot: str | None = None, expiry: str | None = None, extra: tuple[tuple[str, str], ...] = ()
) -> str:
    return format_digital_link(
        BASE, UNIT.gtin, UNIT.serial, lot, expiry, query=(("s", SIG), *extra)
    )


# --- parameters the label did not sign -----------------------------------------------------


def test_wechat_and_utm_parameters_are_ignored_offline_and_by_the_resolver() -> None:
    shared = uri(extra=(*WECHAT, ("utm_source", "moments"), ("lang", "zh")))
    assert verify_label(shared, KEY.public_key()).unit_id() == UNIT
    assert ScannedLabel.from_link(parse_digital_link(shared)) == ScannedLabel(signature=SIG)


_names = st.text(string.ascii_letters + string.digits + "_-.", min_size=1, max_size=12).filter(
    lambda n: n not in ("s", "17", "01", "10", "21", "22", "235")
)
_values = st.text(string.ascii_letters + string.digits + " %&=+?/", max_size=20)


@settings(max_examples=examples(100))
@given(extra=st.lists(st.tuples(_names, _values), max_size=6), at=st.integers(0, 6))
def test_no_unsigned_parameter_changes_what_the_label_says(
    extra: list[tuple[str, str]], at: int
) -> None:
    """Anywhere in the query, any parameter but s and AI 17 leaves the label as it was."""
    query = [*extra[:at], ("s", SIG), *extra[at:]]
    text = format_digital_link(BASE, UNIT.gtin, UNIT.serial, query=query)
    assert ScannedLabel.from_link(parse_digital_link(text)) == ScannedLabel(signature=SIG)
    assert verify_label(text, KEY.public_key()).unit_id() == UNIT


def test_two_signatures_are_refused() -> None:
    with pytest.raises(GS1Error) as caught:
        ScannedLabel.from_link(parse_digital_link(uri(extra=(("s", SIG),))))
    assert caught.value.field == "query"


def test_no_signature_is_still_no_label_offline() -> None:
    bare = format_digital_link(BASE, UNIT.gtin, UNIT.serial, query=WECHAT)
    with pytest.raises(SignatureError):
        verify_label(bare, KEY.public_key())
    assert ScannedLabel.from_link(parse_digital_link(bare)) == ScannedLabel()


# --- lot and expiry bound to the commission ---------------------------------------------------


def test_the_commissions_lot_and_expiry_pass_others_are_a_mismatch() -> None:
    commission = ("L2026-11", "281130")
    good = uri(lot="L2026-11", expiry="281130")
    assert verify_label(good, KEY.public_key(), commission=commission).lot == "L2026-11"
    assert verify_label(uri(), KEY.public_key(), commission=commission)  # shows neither
    for bad, field in (
        (uri(lot="L2025-01"), "lot"),
        (uri(expiry="300101"), "expiry"),
        (uri(lot="L2026-11", expiry="290101"), "expiry"),
    ):
        with pytest.raises(LabelMismatchError) as caught:
            verify_label(bad, KEY.public_key(), commission=commission)
        assert caught.value.field == field and caught.value.code == "label-mismatch"
    with pytest.raises(LabelMismatchError):  # a lot the commission left out
        verify_label(uri(lot="L1"), KEY.public_key(), commission=(None, None))
    with pytest.raises(GS1Error):  # a lot with no commission to check it against
        verify_label(uri(lot="L1"), KEY.public_key())


@settings(max_examples=examples(100))
@given(
    shown=st.one_of(st.none(), st.sampled_from(["L1", "L2", "X-9"])),
    recorded=st.one_of(st.none(), st.sampled_from(["L1", "L2", "X-9"])),
)
def test_binding_passes_exactly_when_the_label_shows_nothing_or_the_commissions_lot(
    shown: str | None, recorded: str | None
) -> None:
    scanned = ScannedLabel(signature=SIG, lot=shown)
    if shown is None or shown == recorded:
        check_binding(scanned, recorded, None)
    else:
        with pytest.raises(LabelMismatchError):
            check_binding(scanned, recorded, None)


@pytest.mark.parametrize("lot", ["L\n1", "中", "L#1", "L" * 21, ""])
def test_a_lot_outside_set_82_is_bad_lot(lot: str) -> None:
    with pytest.raises(BadLotError) as caught:
        validate_lot(lot)
    assert caught.value.code == "bad-lot" and caught.value.field == "lot"
    assert isinstance(caught.value, GS1Error)  # still a GS1 identifier error


@pytest.mark.parametrize("raw", ["L%0A1", "%E4%B8%AD", "L%231", "L" * 21, "L%ZZ"])
def test_a_scanned_lot_outside_set_82_is_bad_lot(raw: str) -> None:
    with pytest.raises(BadLotError):
        parse_digital_link(f"{BASE}/01/{GTIN14}/10/{raw}/21/S1?s={SIG}")
    with pytest.raises(GS1Error) as other:  # a bad serial keeps the general code
        parse_digital_link(f"{BASE}/01/{GTIN14}/21/{raw}")
    assert other.value.code == "gs1"


# --- the verdict ---------------------------------------------------------------------------------


def _unit(lot: str | None = None) -> UnitRecord:
    return UnitRecord(gtin=GTIN14, serial="S1", head="h", head_index=1, length=1, brand="acme", commissioned_index=1,
                      custodian="acme", lot=lot)  # fmt: skip


def test_an_unsigned_label_is_a_caution_a_mismatch_is_invalid_absent_is_nothing() -> None:
    verdict, reasons = judge(_unit(), {}, [], LabelState.UNSIGNED)
    assert (verdict, [r.code for r in reasons]) == ("caution", ["label-unsigned"])
    evidence = {"field": "lot", "label": "L2", "unit": "L1"}
    verdict, reasons = judge(_unit("L1"), {}, [], LabelState.MISMATCH, label_evidence=evidence)
    assert (verdict, [r.code for r in reasons]) == ("invalid", ["label-mismatch"])
    assert reasons[0].evidence == evidence
    for state in (LabelState.VALID, LabelState.ABSENT):
        assert judge(_unit(), {}, [], state)[0] == "genuine"
    assert judge(_unit(), {}, [], LabelState.INVALID)[0] == "invalid"
