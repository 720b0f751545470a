"""A unit's JSON view as gzip (api.viewjson.render_gzip), at the resolver and at
``/v1/units``: the same view as the plain answer for every client that takes gzip, never
a stale one after the unit changed, the plain answer for a client that refuses gzip;
``/v1/units``'s ETag names the encoding and either tag revalidates.

On a SQLite file, through the app in process (httpx decodes the gzip as any client).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api import viewjson
from api.app import create_app
from ledger import label
from ledger.gs1 import UnitId
from ledger.service.settings import Settings
from tests.factories import GTIN, key
from tests.integration.signals_world import SignalWorld


@pytest.fixture
def sw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SignalWorld]:
    # a one-entry unit's view (~2 kB) stands for a large one: the threshold is the
    # unit tests' (tests/unit/test_viewjson.py), the answer's path is this test's
    monkeypatch.setattr(viewjson, "GZIP_ABOVE", 256)
    world = SignalWorld.open(f"sqlite:///{tmp_path}/ledger.db")
    yield world
    world.ledger.close()


def minted_app(sw: SignalWorld) -> FastAPI:
    """The app on ``sw`` with SN-1 minted, its read limits out of the way."""
    sw.mint("SN-1")
    limits = {"PROVENANCE_RATE": "100000", "PROVENANCE_BURST": "100000"}
    return create_app(Settings.from_env(limits), ledger=sw.ledger)


def test_gzip_answers_are_the_views_json_and_follow_a_recall(sw: SignalWorld) -> None:
    app = minted_app(sw)
    signed = label.sign_label(UnitId(gtin=GTIN, serial="SN-1"), key(2))
    url = f"/01/{GTIN}/21/SN-1?s={signed}"

    async def main() -> None:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

            async def get(encoding: str) -> httpx.Response:
                answer = await client.get(
                    url, headers={"Accept": "application/json", "Accept-Encoding": encoding}
                )
                assert answer.status_code == 200
                assert "Accept-Encoding" in answer.headers["vary"]
                return answer

            plain = await get("identity")
            assert "content-encoding" not in plain.headers
            packed = await get("gzip, deflate, br")
            assert packed.headers["content-encoding"] == "gzip"
            assert int(packed.headers["content-length"]) < len(plain.content)
            body: dict[str, Any] = packed.json()
            assert body == plain.json()
            assert body["verdict"] == "genuine"
            refused = await get("gzip;q=0, identity")
            assert "content-encoding" not in refused.headers
            assert refused.json() == plain.json()

            sw.recall("SN-1")
            after = await get("gzip")
            assert after.headers["content-encoding"] == "gzip"
            recalled = after.json()
            assert recalled["verdict"] != "genuine"
            assert len(recalled["entries"]) == len(body["entries"]) + 1
            assert recalled["entries"][-1]["event"]["kind"] == "recall"
            assert recalled == (await get("identity")).json()

    asyncio.run(main())


def test_the_unit_endpoint_gzips_with_its_own_etag(sw: SignalWorld) -> None:
    app = minted_app(sw)
    url = f"/v1/units/{GTIN}/SN-1"

    async def main() -> None:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            plain = await client.get(url, headers={"Accept-Encoding": "identity"})
            packed = await client.get(url, headers={"Accept-Encoding": "gzip"})
            assert plain.status_code == packed.status_code == 200
            assert "content-encoding" not in plain.headers
            assert packed.headers["content-encoding"] == "gzip"
            assert packed.json() == plain.json()
            assert plain.headers["vary"] == packed.headers["vary"] == "Accept-Encoding"
            tag, packed_tag = plain.headers["etag"], packed.headers["etag"]
            assert packed_tag == tag[:-1] + '-gz"'

            async def revalidate(encoding: str, held: str) -> httpx.Response:
                return await client.get(
                    url, headers={"Accept-Encoding": encoding, "If-None-Match": held}
                )

            # a 304 names the answer this client would get, whichever tags it holds (a
            # cache holding both must not serve the gzip one to a client refusing gzip)
            for encoding, mine, other in (("gzip", packed_tag, tag), ("identity", tag, packed_tag)):
                for held in (mine, f"{other}, {mine}", f"W/{mine}", "*"):
                    again = await revalidate(encoding, held)
                    assert again.status_code == 304 and again.headers["etag"] == mine, held
                fresh = await revalidate(encoding, other)
                assert fresh.status_code == 200 and fresh.headers["etag"] == mine
            sw.recall("SN-1")
            after = await client.get(
                url, headers={"Accept-Encoding": "gzip", "If-None-Match": packed_tag}
            )
            assert after.status_code == 200 and after.headers["etag"] != packed_tag
            assert after.json()["entries"][-1]["event"]["kind"] == "recall"

    asyncio.run(main())
