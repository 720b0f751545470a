"""``POST /v1/entries`` (one event, by group commit) verifies its signature once although
the write quota's who-pays check and the append both ask (the success is remembered on
the request's own bound event under the exact key bytes, ledger.entry.verify_event);
what did not verify there is verified by the append and refused, the log unchanged.
On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from ledger import codec, crypto
from ledger.service.settings import Settings
from tests.factories import GTIN
from tests.factories import key as seed_key
from tests.integration.world import LedgerWorld, dump


def _app(world: LedgerWorld) -> FastAPI:
    env = {"PROVENANCE_RATE": "100000", "PROVENANCE_BURST": "100000"}
    return create_app(Settings.from_env(env), ledger=world.ledger)


def _post(app: FastAPI, body: dict[str, Any]) -> httpx.Response:
    async def main() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            async with app.router.lifespan_context(app):
                return await client.post("/v1/entries", json=body)

    return asyncio.run(main())


def _commission(world: LedgerWorld, serial: str, **sign: Any) -> dict[str, Any]:
    unit = {"gtin": GTIN, "serial": serial}
    return world.world.sign("commission", "acme", unit=unit, prev=None, **sign).to_dict()


@pytest.fixture
def verifies(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bytes]]:
    """(raw key, signature) of each `crypto.verify` call (it still checks them)."""
    calls: list[tuple[bytes, bytes]] = []
    real = crypto.verify

    def counting(key: Any, domain: bytes, message: bytes, signature: bytes) -> None:
        calls.append((bytes(key), bytes(signature)))
        real(key, domain, message, signature)

    monkeypatch.setattr(crypto, "verify", counting)
    return calls


def test_a_single_event_is_verified_once(
    world: LedgerWorld, verifies: list[tuple[bytes, bytes]]
) -> None:
    body = _commission(world, "ONE-1")
    answer = _post(_app(world), body)
    assert answer.status_code == 201, answer.text
    assert [sig for _, sig in verifies] == [codec.b64url_decode(body["sig"])]


def test_a_forged_signature_is_verified_again_by_the_append_and_refused(
    world: LedgerWorld, verifies: list[tuple[bytes, bytes]]
) -> None:
    body = _commission(world, "ONE-2")
    sig = bytearray(codec.b64url_decode(body["sig"]))
    sig[5] ^= 1
    forged = {**body, "sig": codec.b64url_encode(bytes(sig))}
    before = dump(world.ledger)
    answer = _post(_app(world), forged)
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    # the quota's check failed (nothing remembered), so the append checked it again
    assert [s for _, s in verifies] == [bytes(sig), bytes(sig)]
    assert dump(world.ledger) == before


def test_an_altered_event_under_a_good_signature_is_refused(world: LedgerWorld) -> None:
    body = _commission(world, "ONE-3")
    altered = {**body, "event": {**body["event"], "unit": {"gtin": GTIN, "serial": "ONE-X"}}}
    before = dump(world.ledger)
    answer = _post(_app(world), altered)
    assert answer.status_code == 403, answer.text
    assert dump(world.ledger) == before


def test_a_valid_signature_under_another_actors_key_is_refused(
    world: LedgerWorld, verifies: list[tuple[bytes, bytes]]
) -> None:
    """acme's event signed (validly) with ship-co's key: the quota charges nobody and
    verifies nothing; the append verifies it under the key it names, then the rules
    require acme's key, which did not sign it: refused, the log unchanged."""
    ship_co = world.world.seeds["ship-co"]
    body = _commission(world, "ONE-4", seed=ship_co)
    before = dump(world.ledger)
    answer = _post(_app(world), body)
    assert answer.status_code in (403, 422), answer.text
    assert dump(world.ledger) == before
    ship_raw = crypto.public_key_to_raw(seed_key(ship_co).public_key())
    # checked once, under the key it names; never taken as signed by acme's
    assert verifies == [(ship_raw, codec.b64url_decode(body["sig"]))]
