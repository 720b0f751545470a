"""Report quotas: per client (daily client hash) and per unit per UTC day, refused with
429 ``report-quota`` and ``Retry-After`` before the photo is decoded or stored.

The attack: one client files report after report with a 2 MiB photo (20 of them grew the
database by 40 MiB), or many clients bury one unit under reports.
"""

from __future__ import annotations

import asyncio
import io
import re
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from PIL import Image

from api.app import create_app
from ledger.errors import LedgerError
from ledger.service.ledger import Ledger
from ledger.service.policies import Policies, ReportPolicy
from ledger.service.reports import ReportQuotaError, seconds_to_next_day
from ledger.service.settings import Settings
from tests.factories import GTIN
from tests.integration.signals_world import Clock
from tests.integration.world import config


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "blue").save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def reporting(db_url: str) -> Iterator[tuple[Ledger, Clock]]:
    clock = Clock()
    policies = Policies(reports=ReportPolicy(per_client=5, per_unit=8))
    ledger = Ledger.open(db_url, config(f"q-{uuid.uuid4().hex[:10]}"), clock, policies=policies)
    yield ledger, clock
    ledger.close()


def stored(ledger: Ledger) -> list[dict[str, object]]:
    return ledger.reports._signal_store.reports(ledger.log)


def file(ledger: Ledger, serial: str, client: str, photo: bytes | None = None) -> int:
    done = ledger.reports.report(GTIN, serial, "counterfeit", photo=photo, client=client)
    return int(done["id"])


def test_a_client_gets_five_reports_a_day_then_429_until_midnight(
    reporting: tuple[Ledger, Clock],
) -> None:
    ledger, clock = reporting
    for i in range(5):
        file(ledger, f"SN-{i}", "client-a", jpeg())
    rows = len(stored(ledger))
    with pytest.raises(ReportQuotaError) as refused:
        file(ledger, "SN-9", "client-a", jpeg())
    assert refused.value.status == 429 and refused.value.code == "report-quota"
    assert refused.value.retry_after == seconds_to_next_day(clock.now)
    assert len(stored(ledger)) == rows  # nothing of the refused report was stored
    file(ledger, "SN-9", "client-b")  # another client is not held back
    clock.advance(seconds=refused.value.retry_after)  # the next UTC day
    file(ledger, "SN-9", "client-a")


def test_a_unit_gets_its_quota_from_all_clients_together(reporting: tuple[Ledger, Clock]) -> None:
    ledger, _ = reporting
    for i in range(8):
        file(ledger, "SN-1", f"client-{i}")
    with pytest.raises(ReportQuotaError, match="about this unit"):
        file(ledger, "SN-1", "client-new")
    file(ledger, "SN-2", "client-new")  # other units are not held back


def test_the_quota_is_checked_before_the_photo_is_decoded(
    reporting: tuple[Ledger, Clock],
) -> None:
    """A spent client is refused 429 even for a photo that would be 400: its bytes are
    never decoded, so a flood of bombs costs the server a counter read each."""
    ledger, _ = reporting
    for i in range(5):
        file(ledger, f"SN-{i}", "client-a")
    with pytest.raises(ReportQuotaError):
        file(ledger, "SN-9", "client-a", b"<html>not an image</html>")
    with pytest.raises(LedgerError) as bad:
        file(ledger, "SN-9", "client-b", b"<html>not an image</html>")
    assert bad.value.code == "bad-photo"


def test_concurrent_reports_never_pass_the_quota(reporting: tuple[Ledger, Clock]) -> None:
    ledger, _ = reporting
    barrier = threading.Barrier(10)

    def attempt(i: int) -> bool:
        barrier.wait()
        try:
            file(ledger, f"SN-{i}", "client-racer")
        except ReportQuotaError:
            return False
        return True

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(attempt, range(20)))
    assert sum(results) == 5
    assert sum(1 for r in stored(ledger) if r["client"] == "client-racer") == 5


def test_seconds_to_next_day() -> None:
    from datetime import UTC

    assert seconds_to_next_day(datetime(2026, 1, 1, 23, 59, 59, 500_000, tzinfo=UTC)) == 1
    assert seconds_to_next_day(datetime(2026, 1, 1, tzinfo=UTC)) == 86_400
    assert seconds_to_next_day(datetime(2026, 1, 1, 12, tzinfo=UTC)) == 43_200


Send = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


def _answers(tmp_path: object, name: str, per_client: int, count: int, send: Send) -> list[Any]:
    """``count`` requests ``send(client, i)`` from one client to an app whose reports
    quota allows ``per_client`` a day; their answers."""
    ledger = Ledger.open(
        f"sqlite:///{tmp_path}/{name}.db",
        config(name),
        policies=Policies(reports=ReportPolicy(per_client=per_client)),
    )
    # the forms' Origin is the public URL's (api/csrf.py: never the Host header)
    env = {"PROVENANCE_HOME": "/nonexistent", "PROVENANCE_PUBLIC_URL": "http://test"}
    app = create_app(Settings.from_env(env), ledger=ledger)
    answers: list[httpx.Response] = []

    async def main() -> None:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.20", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for i in range(count):
                answers.append(await send(client, i))

    try:
        asyncio.run(main())
    finally:
        ledger.close()
    return answers


def test_the_api_answers_429_problem_with_retry_after(tmp_path: object) -> None:
    async def send(client: httpx.AsyncClient, i: int) -> httpx.Response:
        body = {"gtin": GTIN, "serial": f"SN-{i}", "reason": "other"}
        return await client.post("/v1/reports", json=body)

    answers = _answers(tmp_path, "quota-api", 2, 3, send)
    assert [a.status_code for a in answers] == [201, 201, 429]
    refused = answers[-1]
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"] == "urn:provenance-ledger:problem:report-quota"
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= 86_400
    assert timedelta(seconds=wait) <= timedelta(days=1)


def test_the_page_form_over_quota_gets_a_page_with_retry_after(tmp_path: object) -> None:
    """The page's report form (a browser) gets an HTML page, and the same Retry-After."""

    async def send(client: httpx.AsyncClient, i: int) -> httpx.Response:
        page = await client.get(f"/01/{GTIN}/21/SN-{i}", headers={"Accept": "text/html"})
        token = re.search(r'name="csrf" value="([^"]*)"', page.text)
        assert token, page.text[:300]
        form = {"gtin": GTIN, "serial": f"SN-{i}", "reason": "other", "csrf": token[1]}
        return await client.post("/v1/reports", data=form, headers={"Origin": "http://test"})

    answers = _answers(tmp_path, "quota-form", 1, 2, send)
    assert [a.status_code for a in answers] == [201, 429]
    refused = answers[-1]
    assert refused.headers["content-type"].startswith("text/html")
    assert 1 <= int(refused.headers["retry-after"]) <= 86_400
