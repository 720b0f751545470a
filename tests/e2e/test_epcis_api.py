"""EPCIS over HTTP: the resolver's JSON-LD validates against GS1's schema;
``POST /v1/epcis/capture`` appends a partner's signed document, and refuses a tampered one
or the GS1 example with one problem listing a reason per event.

The resolver's content negotiation is checked on the real uvicorn server (``live_server``:
the ``Accept`` header in, ``application/ld+json`` out, as a real server passes them); the
captures talk to the app in process (``asgi_server``)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from ledger import codec
from ledger.entry import Leaf
from ledger.epcis.sign import sign_document
from ledger.events import format_time
from tests.e2e.server import LiveServer, Served
from tests.epcis_support import assert_valid, example, unit_events
from tests.factories import key

PROBLEM = "application/problem+json"


def size(server: Served) -> int:
    return int(server.get("/v1/checkpoint").text.splitlines()[1])


def head_over_http(server: Served) -> Any:
    def head(unit: Any) -> str:
        view = server.get(f"/v1/units/{unit.gtin}/{unit.serial}").json()
        origin = view["checkpoint"].split("\n", 1)[0]  # format 2: the hash names the log
        leaf = Leaf.from_bytes(codec.b64url_decode(view["entries"][-1]["leaf"]), origin)
        return codec.b64url_encode(leaf.signed.hash)

    return head


def handoff_document(gtin: str, serial: str, to: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": format_time(now),
        "epcisBody": {
            "eventList": [
                {
                    "type": "ObjectEvent",
                    "action": "OBSERVE",
                    "bizStep": "shipping",
                    "disposition": "in_transit",
                    "epcList": [f"https://id.gs1.org/01/{gtin}/21/{serial}"],
                    "eventTime": now.astimezone().isoformat(timespec="milliseconds"),
                    "eventTimeZoneOffset": "+00:00",
                    "destinationList": [
                        {
                            "type": "possessing_party",
                            "destination": f"urn:provenance-ledger:actor:{to}",
                        }
                    ],
                }
            ]
        },
    }


def test_resolver_answers_ld_json_with_a_valid_epcis_document(live_server: LiveServer) -> None:
    server = live_server
    gtin, serial = server.units["sold"]
    response = server.get(f"/01/{gtin}/21/{serial}", headers={"Accept": "application/ld+json"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    document = response.json()
    assert_valid(document)
    events = unit_events(document)
    assert [(e["pl:kind"], e["bizStep"], e.get("disposition")) for e in events] == [
        ("commission", "commissioning", "active"),
        ("handoff", "shipping", "in_transit"),
        ("receive", "receiving", "in_progress"),
        ("sell", "retail_selling", "retail_sold"),
    ]
    view = server.get(f"/v1/units/{gtin}/{serial}").json()
    assert [e["pl:index"] for e in events] == [e["index"] for e in view["entries"]]
    assert [e["pl:leafHash"] for e in events] == [e["leaf_hash"] for e in view["entries"]]
    # not counted as a consumer scan
    assert view["scans"]["count"] == 0
    gtin, serial = server.units["unknown"]
    empty = server.get(f"/01/{gtin}/21/{serial}", headers={"Accept": "application/ld+json"})
    assert empty.status_code == 200 and unit_events(empty.json()) == []
    assert_valid(empty.json())


def test_capture_appends_and_refusals_list_each_event(asgi_server: Served) -> None:
    server = asgi_server
    gtin, serial = server.units["genuine"]
    envelope = sign_document(
        handoff_document(gtin, serial, "ship-co"),
        "acme",
        key(2),
        head_over_http(server),
        server.world.world.origin,
    )
    # tampered: the recipient changed after signing
    forged = copy.deepcopy(envelope)
    forged["document"]["epcisBody"]["eventList"][0]["destinationList"][0]["destination"] = (
        "urn:provenance-ledger:actor:shop"
    )
    before = size(server)
    refused = server.post("/v1/epcis/capture", json=forged)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM
    problem = refused.json()
    assert problem["type"] == "urn:provenance-ledger:problem:epcis-refused"
    assert [(e["event"], e["epc"], e["code"]) for e in problem["events"]] == [
        (0, 0, "bad-signature")
    ]
    assert size(server) == before
    # the genuine envelope
    created = server.post("/v1/epcis/capture", json=envelope)
    assert created.status_code == 201, created.text
    receipt = created.json()
    assert receipt["size"] == before + 1
    entry = server.get(f"/v1/entries/{receipt['receipts'][0]['index']}").json()["entries"][0]
    assert entry["event"]["kind"] == "handoff" and entry["event"]["to"] == "ship-co"
    again = server.post("/v1/epcis/capture", json=envelope)
    assert again.status_code == 200 and again.json()["receipts"][0]["duplicate"]
    # the GS1 example as published: refused, with a reason for each of its two events
    gs1 = example()
    lenient = {
        "format": "provenance-ledger/epcis-capture/v1",
        "actor": "ship-co",
        "key": envelope["key"],
        "document": gs1,
        "signatures": [[], []],
    }
    refused = server.post("/v1/epcis/capture", json=lenient)
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM
    assert [(e["event"], e["code"], e.get("field")) for e in refused.json()["events"]] == [
        (0, "epcis-party", "destinationList"),
        (1, "epcis-signature-count", "signatures"),
    ]
    assert size(server) == before + 1


def test_capture_refuses_malformed_envelopes_as_problems(asgi_server: Served) -> None:
    server = asgi_server
    for body, field in (
        ({"format": "provenance-ledger/epcis-capture/v1"}, "actor"),
        ([], "envelope"),
    ):
        response = server.post("/v1/epcis/capture", json=body)
        assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
        assert response.json()["field"] == field
    response = server.post(
        "/v1/epcis/capture", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["code"] == "encoding"
