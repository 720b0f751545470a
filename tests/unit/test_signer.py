"""The signer interface and the log key's place in the rules (issues 16 and 17).

- `crypto.Signer`: a key in memory satisfies it as it is; any other implementation (a
  token) signs events and notes that verify with the public key alone, and never
  exports itself;
- the ``pkcs11:`` URI of a key in a token: parsed strictly, round-trips every label;
- the genesis names the log key; the rules keep it apart from every actor's keys.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import crypto, entry, note
from ledger.errors import KeyFormatError, KeyUnavailableError, SignatureError
from ledger.rules.errors import ForeignKeyError, GenesisError, KeyInUseError
from ledger.rules.registry import LOG_KEY_OWNER, log_key
from ledger.service.pkcs11 import Pkcs11Uri, is_uri
from tests.factories import LOG_SEED, key, public_b64
from tests.profiles import examples
from tests.rules_factories import World, base

MODULE = "/usr/lib/softhsm/libsofthsm2.so"


class TokenLike:
    """A signer that is not an in-memory key (as a token's): it only signs."""

    def __init__(self, seed: int) -> None:
        self._key = key(seed)
        self.signed = 0

    def public_key(self) -> crypto.Ed25519PublicKey:
        return self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        self.signed += 1
        return self._key.sign(data)


# --- the Signer protocol ----------------------------------------------------------------


def test_an_in_memory_key_and_a_token_like_signer_are_both_signers() -> None:
    assert isinstance(key(1), crypto.Signer)
    assert isinstance(TokenLike(1), crypto.Signer)
    assert not isinstance(key(1).public_key(), crypto.Signer)  # a public key signs nothing


def test_a_token_like_signer_signs_events_that_verify_with_the_public_key_alone() -> None:
    token = TokenLike(2)
    signed = World.genesis().sign(
        "product.register", "acme", seed=2, gtin="09506000134352", name="Sneaker"
    )
    again = entry.sign_event(signed.event, token, log=signed.origin)
    assert again.sig == signed.sig and token.signed == 1  # Ed25519 is deterministic
    entry.verify_event(again, crypto.public_key_to_raw(key(2).public_key()))
    with pytest.raises(SignatureError):
        entry.verify_event(again, crypto.public_key_to_raw(key(3).public_key()))


def test_a_token_like_signer_signs_checkpoints_and_never_exports_itself() -> None:
    origin = "test.example/log"
    signer = note.Signer(origin, TokenLike(LOG_SEED))
    assert signer.verifier == note.Signer(origin, key(LOG_SEED)).verifier
    text = note.sign_checkpoint(note.Checkpoint(origin, 3, bytes(32)), signer)
    assert note.verify_checkpoint(text, signer.verifier.to_text()).size == 3
    with pytest.raises(KeyFormatError, match="cannot be exported"):
        signer.to_text()
    # the in-memory key still exports (witness keys are kept as text)
    assert note.Signer.from_text(note.Signer(origin, key(1)).to_text()).verifier.key_hash


def test_a_console_key_in_a_token_signs_requests_that_verify() -> None:
    from datetime import UTC, datetime

    from ledger import reqsig

    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    header = reqsig.sign_request(TokenLike(2), "GET", "/v1/brands/acme/alerts", b"", now)
    parsed = reqsig.parse_header(header)
    reqsig.verify_request(parsed, public_b64(2), "GET", "/v1/brands/acme/alerts", b"", now)
    with pytest.raises(reqsig.AuthenticationError):
        reqsig.verify_request(parsed, public_b64(3), "GET", "/v1/brands/acme/alerts", b"", now)


def test_something_that_is_no_signer_is_refused() -> None:
    with pytest.raises(KeyFormatError, match="Ed25519 private key"):
        note.Signer("test.example/log", key(1).public_key())  # type: ignore[arg-type]


# --- pkcs11: URIs -----------------------------------------------------------------------


def test_a_uri_names_module_token_key_and_pin_source() -> None:
    uri = Pkcs11Uri.parse(
        f"pkcs11:token=ledger;object=log%20key?module-path={MODULE}&pin-source=env:LEDGER_PIN"
    )
    assert uri == Pkcs11Uri(Path(MODULE), "ledger", "log key", "env:LEDGER_PIN")
    assert is_uri("pkcs11:token=a") and not is_uri("/etc/provenance/log.pem")
    assert "LEDGER_PIN" not in str(uri) and "log key" in str(uri)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/etc/log.pem", "starts with pkcs11:"),
        (f"pkcs11:object=k?module-path={MODULE}", "no token"),
        (f"pkcs11:token=t?module-path={MODULE}", "no object"),
        ("pkcs11:token=t;object=k", "no module-path"),
        (f"pkcs11:token=t;object=k?module-path={MODULE}&pin-value=1234", "must not hold the PIN"),
        (f"pkcs11:token=t;object=k;token=u?module-path={MODULE}", "given twice"),
        (f"pkcs11:token=t;object=k;slot=1?module-path={MODULE}", "unknown"),
        (f"pkcs11:token=t;object=k?module-path={MODULE}&pin-source=https://x", "pin-source"),
        (f"pkcs11:token;object=k?module-path={MODULE}", "malformed"),
        (f"pkcs11:token=t;object=k?module-path={MODULE}&token=u", "given twice"),
        (f"pkcs11:token=%FF;object=k?module-path={MODULE}", "not UTF-8"),
    ],
)
def test_malformed_uris_are_refused_with_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(KeyFormatError, match=message):
        Pkcs11Uri.parse(text)


@settings(max_examples=examples(200))
@given(
    token=st.text(min_size=1, max_size=32),
    label=st.text(min_size=1, max_size=32),
)
def test_any_label_round_trips_percent_encoded(token: str, label: str) -> None:
    text = (
        f"pkcs11:token={quote(token, safe='')};object={quote(label, safe='')}?module-path={MODULE}"
    )
    uri = Pkcs11Uri.parse(text)
    assert (uri.token, uri.object, uri.module) == (token, label, Path(MODULE))


def test_the_pin_comes_from_its_source_and_never_from_nowhere(tmp_path: Path) -> None:
    from ledger.service.config import write_key_file

    base = f"pkcs11:token=t;object=k?module-path={MODULE}"
    assert Pkcs11Uri.parse(base).pin({"PROVENANCE_PKCS11_PIN": " 1234\n"}) == "1234"
    assert Pkcs11Uri.parse(base + "&pin-source=env:P").pin({"P": "99"}) == "99"
    with pytest.raises(KeyUnavailableError, match="set P"):
        Pkcs11Uri.parse(base + "&pin-source=env:P").pin({})
    with pytest.raises(KeyUnavailableError, match="empty"):
        Pkcs11Uri.parse(base).pin({"PROVENANCE_PKCS11_PIN": "  "})
    good, exposed = tmp_path / "pin", tmp_path / "exposed"
    write_key_file(good, b"5678\n")
    exposed.write_text("5678")
    exposed.chmod(0o644)
    assert Pkcs11Uri.parse(f"{base}&pin-source=file:{good}").pin({}) == "5678"
    with pytest.raises(KeyFormatError, match="readable by others"):
        Pkcs11Uri.parse(f"{base}&pin-source=file:{exposed}").pin({})
    binary = tmp_path / "binary"
    write_key_file(binary, b"\xff\xfe")
    with pytest.raises(KeyFormatError, match="not text"):
        Pkcs11Uri.parse(f"{base}&pin-source=file:{binary}").pin({})


def test_a_malformed_attribute_never_echoes_what_may_be_a_pin() -> None:
    with pytest.raises(KeyFormatError) as refused:
        Pkcs11Uri.parse(f"pkcs11:token=t;object=k?module-path={MODULE}&pin-value4711")
    assert "4711" not in str(refused.value)


# --- the log key in the rules -----------------------------------------------------------


def _genesis(**extra: object) -> World:
    world = World()
    world.do(
        "actor.register",
        "operator",
        subject="operator",
        role="operator",
        name="Registry",
        keys=[public_b64(1)],
        **extra,
    )
    return world


def test_the_genesis_registers_the_log_key_to_no_actor() -> None:
    world = _genesis(log_key=public_b64(LOG_SEED))
    named = log_key(world.state)
    assert named is not None and named.actor == LOG_KEY_OWNER
    assert named.public_key == public_b64(LOG_SEED) and named.added_index == 0
    assert LOG_KEY_OWNER not in world.state.actors
    assert log_key(_genesis().state) is None  # a log from before: none named


def test_one_key_for_both_roles_is_refused_at_genesis() -> None:
    with pytest.raises(GenesisError, match="log key"):
        _genesis(log_key=public_b64(1))
    assert World().state.keys == {}


def test_only_the_genesis_names_a_log_key() -> None:
    world = base()
    before = world.state.records()
    signed = world.sign(
        "actor.register",
        "operator",
        subject="late-log",
        role="courier",
        name="Late",
        keys=[public_b64(60)],
        log_key=public_b64(61),
    )
    with pytest.raises(GenesisError, match="only entry 0"):
        world.check(signed)
    assert world.state.records() == before


def test_the_log_key_can_never_become_an_actors_key() -> None:
    world = _genesis(log_key=public_b64(LOG_SEED))
    for actor, extra in (("courier-x", {}), ("brand-x", {"prefixes": ["9506009"]})):
        role = "courier" if actor == "courier-x" else "brand"
        signed = world.sign(
            "actor.register",
            "operator",
            subject=actor,
            role=role,
            name="X",
            keys=[public_b64(LOG_SEED)],
            **extra,
        )
        with pytest.raises(KeyInUseError, match=LOG_KEY_OWNER):
            world.check(signed)
    rotate = world.sign(
        "key.rotate", "operator", subject="operator", add=[public_b64(LOG_SEED)], remove=[]
    )
    with pytest.raises(KeyInUseError):
        world.check(rotate)


def test_the_log_key_signs_for_no_one() -> None:
    world = _genesis(log_key=public_b64(LOG_SEED))
    signed = world.sign(
        "actor.register",
        "operator",
        seed=LOG_SEED,  # the log key signing as the operator
        subject="courier-y",
        role="courier",
        name="Y",
        keys=[public_b64(62)],
    )
    with pytest.raises(ForeignKeyError):
        world.check(signed)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("NoSuchToken", "no token labelled 'ledger'"),
        ("TokenNotPresent", "is not present"),
        ("PinLocked", "is locked (too many wrong PINs)"),  # SoftHSM2 never locks: here
        ("PinExpired", "has expired"),
        ("PinIncorrect", "refused the PIN"),
        ("UserPinNotInitialized", "no user PIN set"),
        ("NoSuchKey", "no Ed25519 key labelled 'log'"),
        ("MultipleObjectsReturned", "several keys labelled 'log'"),
        ("DeviceRemoved", "failed: DeviceRemoved"),
    ],
)
def test_every_token_failure_is_one_key_unavailable_line(name: str, message: str) -> None:
    exceptions = pytest.importorskip("pkcs11.exceptions")
    from ledger.service.pkcs11 import _errors

    uri = Pkcs11Uri.parse(f"pkcs11:token=ledger;object=log?module-path={MODULE}")
    with pytest.raises(KeyUnavailableError) as refused, _errors(uri):
        raise getattr(exceptions, name)()
    assert message in refused.value.message and "\n" not in refused.value.message
    assert refused.value.code == "key-unavailable" and refused.value.status == 503
