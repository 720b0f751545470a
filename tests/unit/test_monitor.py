"""The brand monitor's pure core (ledger.audit.monitor) and look-alike names
(ledger.rules.skeleton): what touches a brand is reported, the brand's own entries are
not, and the state survives a round trip."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import codec, crypto
from ledger.audit.monitor import Brand, Keyring, MonitorState, entry_dict, scan
from ledger.entry import Leaf
from ledger.errors import ValidationError
from ledger.rules.skeleton import look_alike, skeleton
from tests.factories import key as tkey
from tests.factories import public_b64
from tests.profiles import examples
from tests.rules_factories import World

ACME_KEY = crypto.key_id(codec.b64url_decode(public_b64(2)))
OPERATOR_KEY = crypto.key_id(codec.b64url_decode(public_b64(1)))
GTIN_ACME = "09506000134352"


#: key id -> seed of `tests.factories.key`, so `served` can sign as any test key
SEEDS = {crypto.key_id(codec.b64url_decode(public_b64(n))): n for n in range(1, 20)}


def served(index: int, kind: str, actor: str, key: str, **fields: Any) -> dict[str, Any]:
    """A served entry dict, as `entry_dict` reads it from a leaf: signed (format 1) by
    the key whose id is ``key``."""
    event = {"kind": kind, "actor": actor, "time": "2026-11-28T12:00:00Z", **fields}
    sig = crypto.sign(tkey(SEEDS[key]), crypto.DOMAIN_EVENT, codec.canonical(event))
    return {
        "index": index,
        "event": event,
        "key": key,
        "sig": codec.b64url_encode(sig),
        "v": 1,
        "origin": None,
        "hash": f"H{index}",
    }


GENESIS = served(
    0,
    "actor.register",
    "operator",
    OPERATOR_KEY,
    subject="operator",
    role="operator",
    name="Registry",
    keys=[public_b64(1)],
)


def registered() -> tuple[Brand, Keyring]:
    """Acme, after the genesis, its registration and one authorization (of ``shop``, id
    ``H2``), and the keys the monitor learnt."""
    entries = [
        GENESIS,
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
    alerts, brand, keyring = scan(Brand("acme"), Keyring(), entries)
    assert alerts == []
    return brand, keyring


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
    # full-width letters and digits (confusables.txt, else NFKC); the full-width hyphen
    # is left out: Unicode's prototype for it is the katakana prolonged sound mark
    wide = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in name)
    assert look_alike(name, wide)


def test_the_brands_own_entries_raise_nothing() -> None:
    brand, keyring = registered()
    own = [
        served(3, "commission", "acme", ACME_KEY, unit={"gtin": GTIN_ACME, "serial": "A"}),
        served(4, "product.register", "acme", ACME_KEY, gtin=GTIN_ACME, name="Sneaker"),
        served(5, "key.rotate", "acme", ACME_KEY, subject="acme", add=[public_b64(3)], remove=[]),
        served(6, "authorization.revoke", "acme", ACME_KEY, authorization="H2"),
    ]
    alerts, after, _ = scan(brand, keyring, own)
    assert alerts == []
    assert crypto.key_id(codec.b64url_decode(public_b64(3))) in after.keys  # rotated in


def test_what_touches_the_brand_is_reported() -> None:
    brand, keyring = registered()
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
    alerts, after, keyring = scan(brand, keyring, entries)
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
    assert scan(after, keyring, [unrelated])[0] == []


def test_entry_dict_reads_a_real_leaf_and_the_state_round_trips() -> None:
    world = World.base()
    signed = world.sign("commission", "acme", unit={"gtin": GTIN_ACME, "serial": "Z"}, prev=None)
    leaf = Leaf.build(signed, __import__("datetime").datetime.now(__import__("datetime").UTC))
    item = entry_dict(7, leaf.data, world.origin)
    assert item["key"] == ACME_KEY and item["event"]["kind"] == "commission"
    assert item["hash"] == codec.b64url_encode(signed.hash)
    state = MonitorState("log+key", None, 8, *registered())
    again = MonitorState.from_dict(state.to_dict(), "acme", None)
    assert again == state
    with pytest.raises(ValidationError):
        MonitorState.from_dict(state.to_dict(), "other", None)
    with pytest.raises(ValidationError):
        MonitorState.from_dict(state.to_dict(), "acme", "another+key")
    with pytest.raises(ValidationError):
        MonitorState.from_dict({**state.to_dict(), "next_index": -1}, "acme", None)


def test_a_forged_entry_is_reported_and_teaches_nothing() -> None:
    brand, keyring = registered()
    good = served(3, "commission", "acme", ACME_KEY, unit={"gtin": GTIN_ACME, "serial": "A"})
    # the server rewrites a signed entry (another serial), keeping the brand's signature
    rewritten = {
        **good,
        "index": 4,
        "event": {**good["event"], "unit": {"gtin": GTIN_ACME, "serial": "B"}},
    }
    # an entry signed as the shop by a key no one was given, and one by the operator's key
    # posing as acme, and a key rotation nobody signed (which must not add its key)
    unknown = served(5, "sell", "shop", crypto.key_id(codec.b64url_decode(public_b64(15))))
    posing = {**served(6, "commission", "operator", OPERATOR_KEY), "index": 6}
    posing["event"] = {**posing["event"], "actor": "acme"}
    rotate = served(7, "key.rotate", "acme", ACME_KEY, subject="acme", add=[public_b64(16)])
    rotate["sig"] = codec.b64url_encode(bytes(64))
    after_rotate = served(
        8, "commission", "acme", crypto.key_id(codec.b64url_decode(public_b64(16)))
    )
    alerts, _, kept = scan(brand, keyring, [good, rewritten, unknown, posing, rotate, after_rotate])
    assert [(a.index, a.code) for a in alerts] == [
        (4, "forged-entry"),
        (5, "forged-entry"),
        (6, "forged-entry"),
        (7, "forged-entry"),
        (8, "forged-entry"),
    ]
    assert kept == keyring  # nothing forged added a key
    assert "no current key" in alerts[1].message and "operator's key" in alerts[2].message


def test_the_monitor_verifies_a_real_log_and_follows_rotations() -> None:
    """Real leaves of the scripted log (format 2, bound to an origin) all verify; the
    keys of every actor are learnt; a key rotated out signs nothing afterwards."""
    import datetime

    world = World.base(origin="test.example/log", format=2)
    world.do("key.rotate", "shop", subject="shop", add=[public_b64(17)], remove=[])
    old = crypto.key_id(codec.b64url_decode(public_b64(5)))
    world.seeds["shop"] = 17
    world.do("key.rotate", "shop", subject="shop", add=[], remove=[old])
    when = datetime.datetime.now(datetime.UTC)
    items = [
        entry_dict(i, Leaf.build(s, when).data, "test.example/log") for i, s in enumerate(world.log)
    ]
    alerts, _, keyring = scan(Brand("acme"), Keyring(), items)
    assert alerts == []
    assert keyring.keys[crypto.key_id(codec.b64url_decode(public_b64(17)))][0] == "shop"
    assert old not in keyring.keys
    stale = world.copy()
    stale.seeds["shop"] = 5
    late = stale.sign(
        "authorize",
        "shop",
        partner="x",
        role="courier",
        gtins=[GTIN_ACME],
        prefixes=[],
        not_before="2026-01-01T00:00:00Z",
        not_after="2027-01-01T00:00:00Z",
    )
    item = entry_dict(len(world.log), Leaf.build(late, when).data, "test.example/log")
    assert [a.code for a in scan(Brand("acme"), keyring, [item])[0]] == ["forged-entry"]
    # and in another log's origin the same leaf does not verify
    moved = entry_dict(3, Leaf.build(world.log[3], when).data, "test.example/other")
    assert [a.code for a in scan(Brand("acme"), keyring, [moved])[0]] == ["forged-entry"]


def test_what_a_scoped_key_signs_is_listed_and_outside_its_scope_is_an_alarm() -> None:
    """A key the brand rotated in with a scope (the console's) is the brand's only within
    it: each entry it signs there is a notice, anything else (a unit, a key rotation, as
    a dishonest log would let through) an alarm, and it never becomes a full key."""
    brand, keyring = registered()
    console = crypto.key_id(codec.b64url_decode(public_b64(12)))
    lend = served(
        3, "key.rotate", "acme", ACME_KEY, subject="acme", add=[public_b64(12)], scope=["console"]
    )
    entries = [
        lend,
        served(4, "product.register", "acme", console, gtin=GTIN_ACME, name="Sneaker"),
        served(5, "flag", "acme", console, unit={"gtin": GTIN_ACME, "serial": "A"}, reason="x"),
        served(6, "commission", "acme", console, unit={"gtin": GTIN_ACME, "serial": "C"}),
        served(7, "key.rotate", "acme", console, subject="acme", add=[public_b64(13)]),
    ]
    alerts, after, kept = scan(brand, keyring, entries)
    assert [(a.index, a.code, a.severity) for a in alerts] == [
        (4, "scoped-key-signature", "notice"),
        (5, "scoped-key-signature", "notice"),
        (6, "scoped-key-out-of-scope", "alarm"),
        (6, "foreign-unit", "alarm"),
        (7, "scoped-key-out-of-scope", "alarm"),
        (7, "foreign-key-change", "alarm"),
    ]
    assert alerts[0].to_dict()["severity"] == "notice" and "console" in alerts[0].message
    assert after.scoped == {console: ("console",)} and console not in after.keys
    assert crypto.key_id(codec.b64url_decode(public_b64(13))) not in after.keys
    state = MonitorState("log+key", None, 8, after, kept)
    assert MonitorState.from_dict(state.to_dict(), "acme", None) == state
    # the brand takes the key back: what it signs afterwards is nobody's
    back = served(8, "key.rotate", "acme", ACME_KEY, subject="acme", add=[], remove=[console])
    late = served(9, "product.register", "acme", console, gtin=GTIN_ACME, name="Late")
    alerts, after, _ = scan(after, kept, [back, late])
    assert [a.code for a in alerts] == ["forged-entry"] and after.scoped == {}


def test_an_older_state_file_is_refused_with_a_reason() -> None:
    state = MonitorState("log+key", None, 8, *registered()).to_dict()
    for old, why in (("v1", "verified no signature"), ("v2", "scoped keys")):
        data = {**state, "format": f"provenance-ledger/monitor-state@{old}"}
        with pytest.raises(ValidationError, match=why):
            MonitorState.from_dict(data, "acme", None)
