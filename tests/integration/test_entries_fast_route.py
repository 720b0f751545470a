"""``POST /v1/entries`` through its raw route (api.routers.entries `FAST_ROUTE`, first
of all routes) answers as the typed route does: the same refusals as problem+json
(``/logs/{log}/v1/entries`` still goes through the typed route, and is the reference
here), the size limit and the write quota in front of it, a refused event leaving the
log byte-for-byte unchanged, and the metrics counting it under its template."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from api.app import create_app
from api.routers import entries
from ledger.entry import SignedEvent
from ledger.service.settings import Settings
from tests.factories import GTIN
from tests.integration.test_write_quota import FakeClock, _quota, _run
from tests.integration.world import LedgerWorld, dump


def _commission(world: LedgerWorld, serial: str) -> SignedEvent:
    unit = {"gtin": GTIN, "serial": serial}
    return world.world.sign("commission", "acme", unit=unit, prev=None)


def _app(world: LedgerWorld, **env: str) -> FastAPI:
    settings = {"PROVENANCE_RATE": "1000", "PROVENANCE_BAD_SIGNATURES": "1000", **env}
    return create_app(Settings.from_env(settings), ledger=world.ledger)


def _same(fast: httpx.Response, typed: httpx.Response) -> None:
    """The same answer but for what names the request (the instance, the path)."""
    assert fast.status_code == typed.status_code, (fast.text, typed.text)
    for header in ("content-type", "allow", "retry-after", "cache-control"):
        assert fast.headers.get(header) == typed.headers.get(header), header
    if fast.headers["content-type"].startswith("application/problem+json"):
        a, b = fast.json(), typed.json()
        assert (a["type"], a["status"], a.get("field")) == (b["type"], b["status"], b.get("field"))


def test_the_fast_route_is_first_and_counted_under_its_template(world: LedgerWorld) -> None:
    app = _app(world)
    assert entries.FAST_ROUTE in app.router.routes[:3]
    name = world.ledger.config.name

    async def story(client: httpx.AsyncClient) -> None:
        ok = await client.post("/v1/entries", json=_commission(world, "F-1").to_dict())
        assert ok.status_code == 201, ok.text
        again = await client.post("/v1/entries", json=_commission(world, "F-1").to_dict())
        typed = await client.post(
            f"/logs/{name}/v1/entries", json=_commission(world, "F-1").to_dict()
        )
        _same(again, typed)  # a duplicate: 200, the same receipt
        assert again.json() == typed.json()

    _run(app, story)
    assert app.state.ctx.metrics.requests.count("/v1/entries", "POST", 201) == 1


@pytest.mark.parametrize(
    "case", ["not-json", "not-an-event", "bad-signature", "rule", "too-large", "wrong-type"]
)
def test_refusals_are_the_typed_routes_and_change_nothing(world: LedgerWorld, case: str) -> None:
    app = _app(world)
    name = world.ledger.config.name
    world.append(_commission(world, "R-0"))
    good = _commission(world, "R-1")
    headers = {"content-type": "application/json"}
    body: Any
    if case == "not-json":
        body = b"{not json"
    elif case == "not-an-event":
        body = b'{"event": {}}'
    elif case == "bad-signature":
        forged = replace(good, sig=bytes([good.sig[0] ^ 1]) + good.sig[1:])
        body = httpx.Request("POST", "/", json=forged.to_dict()).content
    elif case == "rule":  # a handoff of R-0 from a head it does not have
        unit = {"gtin": GTIN, "serial": "R-0"}
        stale = world.world.sign("handoff", "acme", unit=unit, prev="A" * 43, to="ship-co")
        body = httpx.Request("POST", "/", json=stale.to_dict()).content
    elif case == "too-large":  # above the single event's limit (max_event_bytes)
        body = b'{"pad": "' + b"x" * 2 * 1024 * 1024 + b'"}'
    else:
        body = httpx.Request("POST", "/", json=good.to_dict()).content
        headers = {"content-type": "text/plain"}
    before = dump(world.ledger)

    async def story(client: httpx.AsyncClient) -> None:
        fast = await client.post("/v1/entries", content=body, headers=headers)
        typed = await client.post(f"/logs/{name}/v1/entries", content=body, headers=headers)
        assert fast.status_code >= 400, fast.text
        _same(fast, typed)

    _run(app, story)
    assert dump(world.ledger) == before


def test_another_method_is_refused_as_before(world: LedgerWorld) -> None:
    app = _app(world)
    name = world.ledger.config.name

    async def story(client: httpx.AsyncClient) -> None:
        fast = await client.put("/v1/entries", json={})
        typed = await client.put(f"/logs/{name}/v1/entries", json={})
        assert fast.status_code == typed.status_code == 405
        assert fast.json()["type"] == typed.json()["type"]
        # what the app answered before the fast route (80862fd), for this path alone
        assert fast.headers["allow"] == "GET, POST"
        listed = await client.get("/v1/entries")  # the read of the same path is served
        assert listed.status_code == 200, listed.text

    _run(app, story)


def test_the_write_quota_stands_in_front(world: LedgerWorld) -> None:
    app = _app(world)
    app.state.write_quota = _quota(60, 1, FakeClock())
    before: dict[str, Any] = {}

    async def story(client: httpx.AsyncClient) -> None:
        ok = await client.post("/v1/entries", json=_commission(world, "Q-1").to_dict())
        assert ok.status_code == 201, ok.text
        before.update(dump(world.ledger))
        over = await client.post("/v1/entries", json=_commission(world, "Q-2").to_dict())
        assert over.status_code == 429, over.text
        assert over.headers["content-type"].startswith("application/problem+json")
        assert over.json()["type"].endswith(":write-quota")
        assert over.headers["retry-after"]

    _run(app, story)
    assert dump(world.ledger) == before


def test_a_route_before_the_entries_that_answers_post_v1_entries_is_refused() -> None:
    earlier = APIRouter()
    earlier.add_api_route("/v1/{anything}", lambda: {}, methods=["POST"])
    app = FastAPI()
    app.include_router(earlier)
    app.include_router(entries.router)
    with pytest.raises(RuntimeError, match="before the entries'"):
        entries.install_fast_route(app.router.routes)
    assert entries.FAST_ROUTE not in app.router.routes
    fine = FastAPI()
    fine.include_router(entries.router)
    entries.install_fast_route(fine.router.routes)
    assert fine.router.routes[0] is entries.FAST_ROUTE


def _note_the_layers(monkeypatch: pytest.MonkeyPatch, route: Any, seen: list[bool]) -> None:
    """Make ``route``'s endpoint note, per request, whether FastAPI's layers (its exit
    stack middleware, which only the router's way passes) ran before it."""
    endpoint = route.endpoint

    async def noting(request: Any) -> Any:
        seen.append("fastapi_middleware_astack" in request.scope)
        return await endpoint(request)

    monkeypatch.setattr(route, "endpoint", noting)


def test_single_events_and_scans_are_answered_inside_the_apps_middleware(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """api.hotroutes answers them: neither FastAPI's layers nor the router run first (the
    route's endpoint sees no exit stack), the answers are the routes' own."""
    from api.routers import resolver

    app = _app(world)
    seen: list[bool] = []
    _note_the_layers(monkeypatch, entries.FAST_ROUTE, seen)
    _note_the_layers(monkeypatch, resolver.FAST_ROUTE, seen)

    async def story(client: httpx.AsyncClient) -> None:
        ok = await client.post("/v1/entries", json=_commission(world, "H-1").to_dict())
        assert ok.status_code == 201, ok.text
        assert ok.headers["x-content-type-options"] == "nosniff"  # the app's middleware ran
        scan = await client.get(f"/01/{GTIN}/21/H-1", headers={"accept": "application/json"})
        assert scan.status_code == 200, scan.text
        assert scan.json()["verdict"]
        batch = await client.post(  # not a hot route: the router's way, as before
            "/v1/entries:batch", json={"events": [_commission(world, "H-2").to_dict()]}
        )
        assert batch.status_code == 201, batch.text

    _run(app, story)
    assert seen == [False, False]


def test_an_unexpected_error_is_the_servers_500_either_way(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception no handler takes goes on from the hot route to the server's error
    middleware: the same 500 problem as through the typed route, nothing written."""
    name = world.ledger.config.name
    app = _app(world)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(type(world.ledger), "submit", broken)
    before = dump(world.ledger)

    async def answered(client: httpx.AsyncClient) -> None:
        body = _commission(world, "U-1").to_dict()
        fast = await client.post("/v1/entries", json=body)
        typed = await client.post(f"/logs/{name}/v1/entries", json=body)
        assert fast.status_code == 500
        _same(fast, typed)
        assert fast.json()["type"].endswith(":internal")

    async def main() -> None:  # (`_run`'s transport raises the app's error after the 500)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await answered(client)

    asyncio.run(main())
    assert dump(world.ledger) == before
