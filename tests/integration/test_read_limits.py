"""Public log reads (entries, checkpoints, proofs, actors, the key) spend the client's
public budget: past it, 429 ``rate-limited`` with Retry-After; another client is not
held back; a range of entries costs by its length."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from ledger.service.settings import Settings
from tests.integration.signals_world import SignalWorld

READS = [
    "/v1/entries/0",
    "/v1/entries?start=0&end=2",
    "/v1/checkpoint",
    "/v1/log/key",
    "/v1/proofs/inclusion?index=0&size=2",
    "/v1/proofs/consistency?old=1&new=2",
    "/v1/actors/acme",
]


@pytest.fixture
def sw(tmp_path: Path) -> Iterator[SignalWorld]:
    world = SignalWorld.open(f"sqlite:///{tmp_path}/ledger.db")
    yield world
    world.ledger.close()


def statuses(sw: SignalWorld, path: str, times: int, client: str) -> list[httpx.Response]:
    settings = Settings.from_env({"PROVENANCE_RATE": "0.01", "PROVENANCE_BURST": "3"})
    app = create_app(settings, ledger=sw.ledger)

    async def main() -> list[httpx.Response]:
        out = []
        for address in (client, "198.51.100.99"):  # the second: another client
            transport = httpx.ASGITransport(app=app, client=(address, 4000))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                for _ in range(times if address == client else 1):
                    out.append(await http.get(path))
        return out

    return asyncio.run(main())


@pytest.mark.parametrize("path", READS)
def test_a_read_past_the_budget_is_429_with_retry_after(sw: SignalWorld, path: str) -> None:
    *mine, other = statuses(sw, path, 4, "203.0.113.7")
    assert [r.status_code for r in mine] == [200, 200, 200, 429], path
    refused = mine[-1]
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith("rate-limited")
    assert int(refused.headers["retry-after"]) >= 1
    assert other.status_code == 200  # the budget is the client's, not the server's


def test_a_long_range_of_entries_costs_more() -> None:
    from api.readlimits import read_cost

    class Fake:
        def __init__(self, query: str) -> None:
            self.url = httpx.URL(f"http://t/v1/entries?{query}")
            self.query_params = dict(httpx.QueryParams(query))

    assert read_cost(Fake("start=0&end=1000")) == 11  # type: ignore[arg-type]
    assert read_cost(Fake("start=5&end=6")) == 1  # type: ignore[arg-type]
    assert read_cost(Fake("start=0")) == 2  # type: ignore[arg-type]
    assert read_cost(Fake("start=x&end=99999999999999999999")) == 1  # type: ignore[arg-type]


def test_a_range_costing_more_than_the_burst_is_served_alone(sw: SignalWorld) -> None:
    first, second, _ = statuses(sw, "/v1/entries?start=0&end=1000", 2, "203.0.113.8")
    assert (first.status_code, second.status_code) == (200, 429)
