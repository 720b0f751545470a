"""The seller check (ledger.service.partners.authorization) on SQLite and PostgreSQL,
each answer verified offline (ledger.verify.authorization.verify_answer): authorized,
expired, revoked and never-authorized sellers, and answers tampered with refused."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from ledger import codec, shapes
from ledger.verify.authorization import AuthorizationProofError, verify_answer
from tests.factories import GTIN
from tests.integration.test_shapes import conforms
from tests.integration.world import LedgerWorld
from tests.rules_factories import NOW


def test_authorized_then_expired_is_proven(world: LedgerWorld) -> None:
    ledger = world.ledger
    answer = ledger.partners.authorization("acme", "shop", GTIN, NOW)
    check = verify_answer(answer, ledger.verifier_key)
    assert answer["authorized"] and check.authorized and check.status == "authorized"
    assert check.authorization == answer["authorization"]["id"] == world.world.auths["shop"]
    assert [e["role"] for e in answer["entries"]] == ["grant", "key"]
    later = ledger.partners.authorization("acme", "shop", GTIN, NOW + timedelta(days=3650))
    assert later["status"] == "expired" and not later["authorized"]
    assert verify_answer(later, ledger.verifier_key).status == "expired"


def test_revoked_is_proven_with_its_revocation(world: LedgerWorld) -> None:
    grant = world.world.auths["ship-co"]
    world.append(world.world.sign("authorization.revoke", "acme", authorization=grant))
    answer = world.ledger.partners.authorization("acme", "ship-co", GTIN, NOW)
    assert [e["role"] for e in answer["entries"]] == ["grant", "revocation", "key"]
    conforms(json.loads(json.dumps(answer)), shapes.AuthorizationAnswerShape)
    check = verify_answer(answer, world.ledger.verifier_key)
    assert (check.status, check.authorized) == ("revoked", False)
    assert check.revoked_at == answer["authorization"]["revoked_at"]
    before = world.ledger.partners.authorization("acme", "ship-co", GTIN, NOW - timedelta(days=1))
    assert verify_answer(before, world.ledger.verifier_key).status == "authorized"


def test_never_authorized_and_other_gtins(world: LedgerWorld) -> None:
    ledger = world.ledger
    never = ledger.partners.authorization("acme", "other-brand", None, NOW)
    assert (never["status"], never["entries"], never["authorization"]) == (
        "never-authorized",
        [],
        None,
    )
    assert verify_answer(never, ledger.verifier_key).status == "never-authorized"
    # ship-co's grant names one GTIN: another GTIN is not covered
    other = ledger.partners.authorization("acme", "ship-co", "09506000134369", NOW)
    assert other["status"] == "never-authorized"


def _tampered(answer: dict, how: str) -> dict:
    bad = copy.deepcopy(answer)
    if how == "status":
        bad["status"] = "authorized"
    elif how == "at":
        bad["at"] = "2020-01-01T00:00:00Z"
    elif how == "leaf":
        leaf = bytearray(codec.b64url_decode(bad["entries"][0]["leaf"]))
        leaf[-5] ^= 1
        bad["entries"][0]["leaf"] = codec.b64url_encode(bytes(leaf))
    elif how == "drop-revocation":
        bad["entries"] = [e for e in bad["entries"] if e["role"] != "revocation"]
    elif how == "no-grant":
        bad["entries"] = []
    return bad


@pytest.mark.parametrize("how", ["status", "at", "leaf", "drop-revocation", "no-grant"])
def test_a_tampered_answer_is_refused(world: LedgerWorld, how: str) -> None:
    grant = world.world.auths["ship-co"]
    world.append(world.world.sign("authorization.revoke", "acme", authorization=grant))
    answer = world.ledger.partners.authorization("acme", "ship-co", GTIN, NOW)
    verify_answer(answer, world.ledger.verifier_key)  # the good answer holds
    with pytest.raises(AuthorizationProofError):
        verify_answer(_tampered(answer, how), world.ledger.verifier_key)


def test_another_logs_key_refuses_the_answer(world: LedgerWorld) -> None:
    from ledger import note
    from tests.factories import key

    answer = world.ledger.partners.authorization("acme", "shop", GTIN, NOW)
    origin = answer["checkpoint"].split("\n", 1)[0]
    stranger = note.Signer(origin, key(99)).verifier.to_text()  # same name, another key
    with pytest.raises(AuthorizationProofError):
        verify_answer(answer, stranger)
