"""``/metrics`` is not answered on the public port without its bearer token
(``PROVENANCE_METRICS_TOKEN``), and not at all on a server without that setting.

The attack: anyone reads per-route request counts, scans and log sizes (how busy which
logs and brands are) from the public port.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from ledger.service.ledger import Ledger
from ledger.service.settings import Settings
from tests.integration.world import config

PROBLEM = "application/problem+json"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger.open(f"sqlite:///{tmp_path}/m.db", config("metrics"))
    opened.init(name="Registry")
    yield opened
    opened.close()


def scrape(ledger: Ledger, env: dict[str, str], headers: dict[str, Any]) -> httpx.Response:
    app = create_app(Settings.from_env(env), ledger=ledger)
    answers: list[httpx.Response] = []

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answers.append(await client.get("/metrics", headers=headers))

    asyncio.run(main())
    return answers[0]


def test_without_the_setting_metrics_are_not_served(ledger: Ledger) -> None:
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
        answer = scrape(ledger, {}, headers)
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith(PROBLEM)
        assert "provenance_" not in answer.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Bearer s3cret-metrics-tokeN"},  # one letter's case
        {"Authorization": "Basic czNjcmV0LW1ldHJpY3MtdG9rZW4="},
        {"Authorization": "s3cret-metrics-token"},  # no scheme
        {"Authorization": "Bearer s3cret-metrics-token-and-more"},
        {"Authorization": "Bearer ключ".encode()},  # not ASCII: refused, no crash
    ],
    ids=["none", "wrong", "case", "basic", "no-scheme", "longer", "non-ascii"],
)
def test_a_scrape_without_the_token_is_refused_401(ledger: Ledger, headers: dict[str, str]) -> None:
    answer = scrape(ledger, {"PROVENANCE_METRICS_TOKEN": "s3cret-metrics-token"}, headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert answer.json()["type"] == "urn:provenance-ledger:problem:unauthenticated"
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "provenance_" not in answer.text


def test_the_token_bearer_gets_the_metrics(ledger: Ledger) -> None:
    env = {"PROVENANCE_METRICS_TOKEN": "s3cret-metrics-token"}
    for scheme in ("Bearer", "bearer"):
        answer = scrape(ledger, env, {"Authorization": f"{scheme} s3cret-metrics-token"})
        assert answer.status_code == 200
        assert 'provenance_log_size{log="metrics"} 1.0' in answer.text
