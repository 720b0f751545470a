"""EPCIS in a deployment of several logs: a capture lands in its units' log, the
resolver's JSON-LD comes from the unit's own log, and a document spanning logs is
refused whole (tests/integration/test_deployment.py has the deployment)."""

from __future__ import annotations

from typing import Any

import httpx

from api.app import create_app
from ledger import codec
from ledger.entry import Leaf
from ledger.epcis.sign import sign_document
from ledger.service.deployment import Deployment
from ledger.service.settings import Settings
from tests.epcis_support import assert_valid, unit_events
from tests.factories import GTIN, key
from tests.integration.test_deployment import GTIN_B, ORIGIN_B, beta_events, deployment, run
from tests.integration.world import LedgerWorld
from tests.rules_factories import TIME

__all__ = ["deployment"]  # the fixture, re-exported
LD = {"Accept": "application/ld+json"}


def recall(*links: str) -> dict[str, Any]:
    event = {
        "type": "ObjectEvent",
        "action": "OBSERVE",
        "bizStep": "holding",
        "disposition": "recalled",
        "epcList": list(links),
        "eventTime": TIME,
        "eventTimeZoneOffset": "+00:00",
        "pl:reason": "battery fault",
    }
    return {"type": "EPCISDocument", "epcisBody": {"eventList": [event]}}


def test_capture_and_json_ld_follow_the_units_log(deployment: Deployment) -> None:
    a, b = deployment.for_log("a"), deployment.for_log("b")
    LedgerWorld.base(a)
    b.append_batch(beta_events(Leaf.from_bytes(b.entry(0).leaf, ORIGIN_B).signed))
    app = create_app(Settings.from_env({"PROVENANCE_RATE": "1000"}), deployment=deployment)
    link_b = f"https://id.gs1.org/01/{GTIN_B}/21/B-1"
    head_b = codec.b64url_encode(Leaf.from_bytes(b.entry(3).leaf, ORIGIN_B).signed.hash)
    envelope = sign_document(recall(link_b), "beta", key(10), lambda unit: head_b, ORIGIN_B)
    both = sign_document(
        recall(link_b, f"https://id.gs1.org/01/{GTIN}/21/SN-0001"),
        "beta",
        key(10),
        lambda unit: head_b,
        ORIGIN_B,
    )
    sizes = (a.head().size, b.head().size)

    async def story(client: httpx.AsyncClient) -> None:
        spans = await client.post("/v1/epcis/capture", json=both)
        assert spans.status_code == 422 and spans.json()["field"] == "log"
        assert (a.head().size, b.head().size) == sizes
        created = await client.post("/v1/epcis/capture", json=envelope)
        assert created.status_code == 201, created.text
        assert (a.head().size, b.head().size) == (sizes[0], sizes[1] + 1)
        document = (await client.get(f"/01/{GTIN_B}/21/B-1", headers=LD)).json()
        assert_valid(document)
        assert [e["pl:kind"] for e in unit_events(document)] == ["commission", "recall"]
        assert document["pl:checkpoint"].startswith("test.example/log/b\n")
        other = (await client.get(f"/01/{GTIN}/21/SN-0001", headers=LD)).json()
        assert other["pl:checkpoint"].startswith("test.example/log/a\n")

    run(app, story)
