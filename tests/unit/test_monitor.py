"""The brand monitor's pure core (ledger.audit.monitor) and look-alike names
(ledger.audit.skeleton): what touches a brand is reported, the brand's own entries are
not, and the state survives a round trip."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import codec, crypto
from ledger.audit.monitor import Brand, MonitorState, entry_dict, scan
from ledger.audit.skeleton import look_alike, skeleton
from ledger.entry import Leaf
from ledger.errors import ValidationError
from tests.factories import public_b64
from tests.profiles import examples
from tests.rules_factories import World

ACME_KEY = crypto.key_id(codec.b64url_decode(public_b64(2)))
OPERATOR_KEY = crypto.key_id(codec.b64url_decode(public_b64(1)))
GTIN_ACME = "09506000134352"


def served(index: int, kind: str, actor: str, key: str, **fields: Any) -> dict[str, Any]:
    """A served entry dict, as `entry_dict` reads it from a leaf."""
    return {
        "index": index,
        "event": {"kind": kind, "actor": actor, "time": "2026-11-28T12:00:00Z", **fields},
        "key": key,
        "hash": f"H{index}",
    }


def registered() -> Brand:
    """Acme, after its registration and one authorization (of ``shop``, id ``H2``)."""
    entries = [
        served(
            1,
            "actor.register",
            "operator",
            OPERATOR_KEY,
            subject="acme",
            role="brand",
            name="Acme",
            keys=[public_b64(2)],
            prefixes=["9506000"],
        ),
        served(2, "authorize", "acme", ACME_KEY, partner="shop", role="retailer"),
    ]
    alerts, brand = scan(Brand("acme"), entries)
    assert alerts == []
    return brand


@pytest.mark.parametrize(
    ("brand", "other"),
    [
        ("Acme", "ACME"),
        ("Acme", "\u0410\u0441m\u0435"),  # Cyrillic A, ES, IE
        ("Nike", "\uff2e\uff49\uff4b\uff45"),  # full width
        ("Nike", "NIKE"),  # case folded first
        ("Paypal", "paypa1"),  # 1 passes for l
        ("Modern", "rnodern"),  # rn passes for m
        ("工力食品", "エカ食品"),  # katakana E and KA pass for the ideographs
        ("口子", "\u2f1d子"),  # the Kangxi radical mouth (NFKC) is 口
        ("Acme  Ltd", " acme ltd "),
    ],
)
def test_look_alike_names_share_a_skeleton(brand: str, other: str) -> None:
    assert look_alike(brand, other)


@pytest.mark.parametrize(
    ("brand", "other"), [("Acme", "Acne"), ("工力", "土力"), ("华为", "华力"), ("Nike", "Nikes")]
)
def test_different_names_do_not(brand: str, other: str) -> None:
    assert not look_alike(brand, other)


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -"))
@settings(max_examples=examples(200), deadline=None)
def test_case_never_matters_and_a_skeleton_is_its_own(name: str) -> None:
    assert skeleton(name.upper()) == skeleton(name.lower())
    assert skeleton(skeleton(name)) == skeleton(name)
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in name)
    assert look_alike(name, wide)  # full-width forms (NFKC)


def test_the_brands_own_entries_raise_nothing() -> None:
    brand = registered()
    own = [
        served(3, "commission", "acme", ACME_KEY, unit={"gtin": GTIN_ACME, "serial": "A"}),
        served(4, "product.register", "acme", ACME_KEY, gtin=GTIN_ACME, name="Sneaker"),
        served(5, "key.rotate", "acme", ACME_KEY, subject="acme", add=[public_b64(3)], remove=[]),
        served(6, "authorization.revoke", "acme", ACME_KEY, authorization="H2"),
    ]
    alerts, after = scan(brand, own)
    assert alerts == []
    assert crypto.key_id(codec.b64url_decode(public_b64(3))) in after.keys  # rotated in


def test_what_touches_the_brand_is_reported() -> None:
    brand = registered()
    stranger = crypto.key_id(codec.b64url_decode(public_b64(9)))
    entries = [
        # a key recovery, as the served entry of a kind this client may not know
        served(10, "key.recover", "operator", OPERATOR_KEY, subject="acme", keys=["k"]),
        served(11, "key.rotate", "operator", OPERATOR_KEY, subject="acme", add=[public_b64(9)]),
        served(12, "commission", "acme", stranger, unit={"gtin": GTIN_ACME, "serial": "F"}),
        served(
            13,
            "actor.register",
            "operator",
            OPERATOR_KEY,
            subject="acme-2",
            role="brand",
            name="ACME",
            keys=[public_b64(9)],
            prefixes=["95060001"],
        ),
        served(14, "product.register", "acme-2", stranger, gtin=GTIN_ACME, name="Fake"),
        served(15, "authorization.revoke", "operator", OPERATOR_KEY, authorization="H2"),
        served(16, "actor.revoke", "operator", OPERATOR_KEY, subject="shop", reason="x"),
        served(17, "actor.revoke", "operator", OPERATOR_KEY, subject="acme", reason="x"),
        served(
            18,
            "actor.register",
            "operator",
            OPERATOR_KEY,
            subject="wide",
            role="brand",
            name="Wide",
            keys=[public_b64(8)],
            prefixes=["950"],  # holds the brand's prefix
        ),
    ]
    alerts, after = scan(brand, entries)
    codes = [(a.index, a.code) for a in alerts]
    assert codes == [
        (10, "key-recovery"),
        (11, "foreign-key-change"),
        (12, "foreign-signature"),
        (12, "foreign-unit"),
        (13, "overlapping-prefix"),
        (13, "look-alike-name"),
        (14, "foreign-product"),
        (15, "partner-revoked"),
        (16, "partner-revoked"),
        (17, "brand-revoked"),
        (18, "overlapping-prefix"),
    ]
    assert after.keys == brand.keys  # a rotation by another is never trusted
    unrelated = served(
        19, "actor.register", "operator", OPERATOR_KEY, subject="b", name="Beta", prefixes=["9507"]
    )
    assert scan(after, [unrelated])[0] == []


def test_entry_dict_reads_a_real_leaf_and_the_state_round_trips() -> None:
    world = World.base()
    signed = world.sign("commission", "acme", unit={"gtin": GTIN_ACME, "serial": "Z"}, prev=None)
    leaf = Leaf.build(signed, __import__("datetime").datetime.now(__import__("datetime").UTC))
    item = entry_dict(7, leaf.data, world.origin)
    assert item["key"] == ACME_KEY and item["event"]["kind"] == "commission"
    assert item["hash"] == codec.b64url_encode(signed.hash)
    state = MonitorState("log+key", None, 8, registered())
    again = MonitorState.from_dict(state.to_dict(), "acme", None)
    assert again == state
    with pytest.raises(ValidationError):
        MonitorState.from_dict(state.to_dict(), "other", None)
    with pytest.raises(ValidationError):
        MonitorState.from_dict(state.to_dict(), "acme", "another+key")
    with pytest.raises(ValidationError):
        MonitorState.from_dict({**state.to_dict(), "next_index": -1}, "acme", None)
