"""bench.resolver_app: the bench's server app (the real app, its bare endpoints put first
of all routes) builds and serves, with the hot routes (api.hotroutes) in front of a
router whose first routes are the bench's: a single event and a scan answered, the bare
POST too. Its hot routes were once refused there at the first request (session 48)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bench import streams
from bench.appends import open_ledger
from bench.ingest import CONFIG, single_bodies
from bench.resolver_app import BARE_RECEIPT
from bench.resolver_app import app as bench_app
from ledger import crypto
from ledger.events import format_time
from ledger.service.config import write_key_file


def test_the_bench_app_serves_single_events_scans_and_its_bare_posts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    open_ledger(url, streams.base_events(streams.base_world())).close()
    keys = {}
    for name, key in (("operator", CONFIG.operator_key), ("log", CONFIG.log_key)):
        keys[name] = tmp_path / f"{name}.pem"
        write_key_file(keys[name], crypto.private_key_to_pem(key))  # 0600
    env = {
        "DATABASE_URL": url,
        "PROVENANCE_OPERATOR_KEY": str(keys["operator"]),
        "PROVENANCE_CHECKPOINT_KEY": str(keys["log"]),
        "PROVENANCE_ORIGIN": CONFIG.origin,
        "PROVENANCE_LOG": CONFIG.name,
        "PROVENANCE_PUBLIC_URL": "http://test",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = bench_app()
    assert getattr(app.router.routes[0], "path", None) == "/bench/bare"
    event = streams.commission_stream("T", 1, format_time(datetime.now(UTC)))[0]
    body = single_bodies([event])[0]

    async def story() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            headers = {"content-type": "application/json"}
            posted = await client.post("/v1/entries", content=body, headers=headers)
            assert posted.status_code == 201, posted.text
            assert posted.json()["receipts"][0]["duplicate"] is False
            unit = event.event.unit  # type: ignore[attr-defined]
            scan = await client.get(
                f"/01/{unit.gtin}/21/{unit.serial}", headers={"accept": "application/json"}
            )
            assert scan.status_code == 200, scan.text
            assert len(scan.json()["entries"]) == 1
            bare = await client.post("/bench/bare", content=body, headers=headers)
            assert bare.status_code == 201 and bare.json() == BARE_RECEIPT

    try:
        asyncio.run(story())
    finally:
        app.state.ctx.deployment.close()
