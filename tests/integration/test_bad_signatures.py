"""A per-client limit on bad signatures (api.badsigs): a client whose writes keep
failing on their signatures gets 429 ``bad-signatures`` (problem+json, ``Retry-After``)
before anything else is looked at, even for a well-signed write; another client, and
the same client's honest writes before its limit, are not affected; signed requests
with a bad signature count too; reads never do; the bucket refills."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api import badsigs
from api.app import create_app
from api.ratelimit import MemoryLimiter
from ledger import codec
from ledger.entry import SignedEvent
from ledger.service.settings import Settings
from tests.factories import GTIN
from tests.integration.world import LedgerWorld, dump

PROBLEM = "urn:provenance-ledger:problem:"


class FakeClock:
    """Seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _app(world: LedgerWorld, allowed: int) -> FastAPI:
    env = {"PROVENANCE_RATE": "1000", "PROVENANCE_BAD_SIGNATURES": str(allowed)}
    return create_app(Settings.from_env(env), ledger=world.ledger)


def _run(
    app: FastAPI, story: Callable[[Callable[[str], httpx.AsyncClient]], Awaitable[None]]
) -> None:
    async def main() -> None:
        clients: list[httpx.AsyncClient] = []

        def client(address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            made = httpx.AsyncClient(transport=transport, base_url="http://test")
            clients.append(made)
            return made

        try:
            await story(client)
        finally:
            for made in clients:
                await made.aclose()

    asyncio.run(main())


def _commission(world: LedgerWorld, serial: str) -> SignedEvent:
    return world.world.sign("commission", "acme", unit={"gtin": GTIN, "serial": serial}, prev=None)


def _forged(signed: SignedEvent) -> dict[str, Any]:
    body = signed.to_dict()
    sig = bytearray(codec.b64url_decode(body["sig"]))
    sig[0] ^= 1
    return {**body, "sig": codec.b64url_encode(bytes(sig))}


def test_a_client_sending_bad_signatures_gets_429_and_honest_clients_do_not(
    world: LedgerWorld,
) -> None:
    app = _app(world, 3)

    async def story(client: Callable[[str], httpx.AsyncClient]) -> None:
        attacker, honest = client("203.0.113.7"), client("198.51.100.9")
        ok = await attacker.post("/v1/entries", json=_commission(world, "S-0").to_dict())
        assert ok.status_code == 201, ok.text  # a good write spends nothing
        for n in range(3):
            refused = await attacker.post("/v1/entries", json=_forged(_commission(world, f"X-{n}")))
            assert refused.status_code == 403 and refused.json()["code"] == "bad-signature"
        before = dump(world.ledger)
        for body in (_forged(_commission(world, "X-9")), _commission(world, "S-1").to_dict()):
            limited = await attacker.post("/v1/entries", json=body)
            assert limited.status_code == 429, limited.text
            assert limited.headers["content-type"].startswith("application/problem+json")
            assert limited.json()["type"] == PROBLEM + "bad-signatures"
            assert int(limited.headers["Retry-After"]) >= 1
        assert dump(world.ledger) == before
        batch = await attacker.post(
            "/v1/entries:batch", json={"events": [_forged(_commission(world, "B"))]}
        )
        assert batch.status_code == 429
        assert (await attacker.get("/v1/log/key")).status_code == 200  # reads pass
        for n in range(5):  # another client: unaffected, its good writes pass
            ok = await honest.post("/v1/entries", json=_commission(world, f"H-{n}").to_dict())
            assert ok.status_code == 201, ok.text

    _run(app, story)


def test_bad_request_signatures_count_and_the_allowance_refills(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    limiter = MemoryLimiter(2 / badsigs.WINDOW, 2, clock=clock)
    monkeypatch.setattr("api.app.make_guard_limiter", lambda allowed, redis_url: limiter)
    app = _app(world, 2)

    async def story(client: Callable[[str], httpx.AsyncClient]) -> None:
        attacker = client("203.0.113.8")
        headers = {"Authorization": 'Signature keyId="nobody", signature="AAAA"'}
        for _ in range(2):  # a signed request (a brand's answer) whose signature fails
            refused = await attacker.post(
                "/v1/reports/1/resolve", json={"action": "ack"}, headers=headers
            )
            assert refused.status_code == 401, refused.text
        limited = await attacker.post("/v1/entries", json=_commission(world, "R-0").to_dict())
        assert limited.status_code == 429
        clock.now += badsigs.WINDOW / 2 + 1  # one failure's worth refilled
        ok = await attacker.post("/v1/entries", json=_commission(world, "R-0").to_dict())
        assert ok.status_code == 201, ok.text

    _run(app, story)
