"""Claims, clone signals, reports and alerts over HTTP.

Most tests talk to the app in process (``asgi_server``: requests carry the ASGI client
address of their client, the scan flusher runs in the app's lifespan as under uvicorn).
The signals story stays on the real uvicorn server (``live_server``): its clients are told
apart by the address of their real connections (127.0.0.1, 127.0.0.2), and an unknown
unit's view counts only the scans the server's background task has flushed (every
0.5 s), so the story waits for a flush after its twenty probes before it asks again."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from PIL import Image

from ledger import claimcode, codec, crypto, label, reqsig
from ledger.entry import SignedEvent
from ledger.gs1 import UnitId
from tests.e2e.forms import post_form
from tests.e2e.server import LiveServer, Served
from tests.factories import GTIN, key
from tests.rules_factories import World
from tests.unit.test_photo_reencode import gps_jpeg

PROBLEM = "urn:provenance-ledger:problem:"
JSON = {"Accept": "application/json"}
PAGE = {"Accept": "text/html"}


def _append(server: Served, signed: SignedEvent) -> None:
    response = server.post("/v1/entries", json=signed.to_dict())
    assert response.status_code == 201, response.text
    server.world.world.accept(signed)


def mint(server: Served, serial: str) -> str:
    """Commission ``serial`` through the API with a fresh claim code; return the code."""
    world: World = server.world.world
    code = claimcode.new_claim_code()
    salt, digest = claimcode.claim_commitment(code, claimcode.new_salt())
    unit = {"gtin": GTIN, "serial": serial}
    _append(server, world.sign("commission", "acme", unit=unit, prev=None,
                               claim={"salt": salt, "hash": digest}))  # fmt: skip
    return code


def other_client(server: Served, address: str) -> httpx.Client:
    """A client connecting from another loopback address (another daily client hash)."""
    return server.client(address, timeout=10)


def signed_get(server: Served, path: str, seed: int) -> httpx.Response:
    header = reqsig.sign_request(key(seed), "GET", path, b"", datetime.now(UTC))
    return server.get(path, headers={"Authorization": header})


def signed_post(server: Served, path: str, body: dict[str, Any], seed: int) -> httpx.Response:
    data = codec.canonical(body)
    header = reqsig.sign_request(key(seed), "POST", path, data, datetime.now(UTC))
    headers = {"Authorization": header, "Content-Type": "application/json"}
    return server.post(path, content=data, headers=headers)


def view(server: Served, serial: str, client: httpx.Client | None = None, **params: str) -> Any:
    """Scan ``serial``'s label as printed: signed by acme (an unsigned scan is a caution,
    tests/e2e/test_forged_signals.py)."""
    path = f"/01/{GTIN}/21/{serial}"
    params = {"s": label.sign_label(UnitId(gtin=GTIN, serial=serial), key(2)), **params}
    get = server.get if client is None else client.get
    # the page is the check a shopper's phone makes (counted); the JSON is not counted
    assert get(path, params=params, headers=PAGE).status_code == 200
    response = get(path, params=params, headers=JSON)
    assert response.status_code == 200
    return response.json()


def codes(body: dict[str, Any]) -> list[str]:
    return [r["code"] for r in body["reasons"]]


def test_claim_once_resale_once_and_the_owner_cookie(asgi_server: Served) -> None:
    server = asgi_server
    code = mint(server, "HTTP-CLAIM")
    url = f"/v1/units/{GTIN}/HTTP-CLAIM/claim"
    first = server.post(url, json={"code": code})
    assert first.status_code == 201, first.text
    body = first.json()
    again = server.post(url, json={"code": code})
    assert again.status_code == 422 and again.json()["type"] == PROBLEM + "already-claimed"
    # the page's form: the second-hand buyer claims with the transfer code, gets a cookie
    with server.client() as buyer:
        resale = post_form(
            buyer,
            f"/v1/units/{GTIN}/HTTP-CLAIM/claim",
            GTIN,
            "HTTP-CLAIM",
            {"code": body["transfer_code"], "lang": "zh-CN"},
        )
        assert resale.status_code == 201 and "认领成功" in resale.text
        mine = view(server, "HTTP-CLAIM", buyer)
        assert mine["owner"] and mine["verdict"] == "genuine" and "owned" in codes(mine)
        owned = next(r for r in mine["reasons"] if r["code"] == "owned")
        assert owned["text"]["en"]["title"] == "Yours" and owned["text"]["zh-CN"]["title"]
    reused = server.post(url, json={"code": body["transfer_code"]})
    assert reused.json()["code"] == "already-claimed"
    stranger = view(server, "HTTP-CLAIM")
    assert not stranger["owner"] and "claimed" in codes(stranger)


def test_ten_wrong_codes_answer_423_with_retry_after(asgi_server: Served) -> None:
    server = asgi_server
    code = mint(server, "HTTP-LOCK")
    url = f"/v1/units/{GTIN}/HTTP-LOCK/claim"
    with other_client(server, "127.0.0.10") as guesser:
        for _ in range(10):
            answer = guesser.post(url, json={"code": claimcode.new_claim_code()})
            assert answer.json()["code"] == "bad-claim-code"
        locked = guesser.post(url, json={"code": code})  # even the right code waits
    assert locked.status_code == 423
    assert locked.headers["content-type"].startswith("application/problem+json")
    assert locked.json()["type"] == PROBLEM + "claim-locked"
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    with other_client(server, "127.0.0.11") as neighbour:  # another address: not locked
        assert neighbour.post(url, json={"code": code}).status_code == 201


def test_signals_reach_the_resolver_and_the_brands_alerts(live_server: LiveServer) -> None:
    server = live_server
    mint(server, "HTTP-TRAVEL")
    view(server, "HTTP-TRAVEL", place="CN")
    travelled = view(server, "HTTP-TRAVEL", place="US")
    # ?place= is a client's hint, never evidence: a trusted geolocation header is
    # (tests/e2e/test_forged_signals.py shows both in process,
    # tests/e2e/test_forged_signals_live.py the header against the real server)
    assert travelled["verdict"] == "genuine" and codes(travelled) == ["verified"]
    home = mint(server, "HTTP-HOME")
    view(server, "HTTP-HOME", place="CN-SH")
    assert view(server, "HTTP-HOME", place="CN-SH")["verdict"] == "genuine"

    code = mint(server, "HTTP-POST")
    server.post(f"/v1/units/{GTIN}/HTTP-POST/claim", json={"code": code})
    view(server, "HTTP-POST")  # the owner (same address, same day) rescans
    with other_client(server, "127.0.0.2") as client:
        seen = view(server, "HTTP-POST", client)
    assert "post-claim-scans" in codes(seen)

    for i in range(20):
        view(server, f"HTTP-FAKE-{i:02d}")
    time.sleep(1.1)  # at least one flush (every 0.5 s) lands after the twenty probes
    probed = view(server, "HTTP-FAKE-07")
    assert codes(probed) == ["not-found", "serial-probing"]
    del home

    deadline = time.monotonic() + 10  # scans are flushed every 0.5 s
    while True:
        alerts = signed_get(server, "/v1/brands/acme/alerts", seed=2)
        assert alerts.status_code == 200, alerts.text
        found = {(s["unit"] or {}).get("serial"): s["code"] for s in alerts.json()["signals"]}
        if len(found) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "HTTP-TRAVEL" not in found
    assert found["HTTP-POST"] == "post-claim-scans"
    assert found[None] == "serial-probing"
    assert "HTTP-HOME" not in found


def test_alerts_refuse_unsigned_forged_stale_and_other_brands(asgi_server: Served) -> None:
    server = asgi_server
    path = "/v1/brands/acme/alerts"
    unsigned = server.get(path)
    assert unsigned.status_code == 401 and unsigned.json()["type"] == PROBLEM + "unauthenticated"
    rival = signed_get(server, path, seed=8)  # other-brand
    assert rival.status_code == 403 and rival.json()["type"] == PROBLEM + "forbidden"
    assert signed_get(server, path, seed=1).status_code == 200  # the operator
    header = reqsig.sign_request(key(2), "GET", "/v1/brands/other-brand/alerts", b"",
                                 datetime.now(UTC))  # fmt: skip
    replayed = server.get(path, headers={"Authorization": header})
    assert replayed.status_code == 401
    stale = reqsig.sign_request(key(2), "GET", path, b"", datetime(2020, 1, 1, tzinfo=UTC))
    assert server.get(path, headers={"Authorization": stale}).status_code == 401
    unknown = reqsig.sign_request(crypto.generate_private_key(), "GET", path, b"",
                                  datetime.now(UTC))  # fmt: skip
    assert server.get(path, headers={"Authorization": unknown}).status_code == 401


def test_a_report_from_the_form_is_triaged_by_the_brand(asgi_server: Served) -> None:
    server = asgi_server
    mint(server, "HTTP-REPORT")
    fields = {"gtin": GTIN, "serial": "HTTP-REPORT", "reason": "counterfeit", "text": "odd"}
    html = b"<!doctype html><script>alert(document.cookie)</script>"
    with server.client() as shopper:
        refused = post_form(
            shopper, "/v1/reports", GTIN, "HTTP-REPORT", fields,
            files={"photo": ("p.jpg", html, "image/jpeg")},
        )  # fmt: skip
        assert refused.status_code == 400  # an HTML file named .jpg is no photo
        sent = post_form(
            shopper, "/v1/reports", GTIN, "HTTP-REPORT", fields,
            files={"photo": ("p.jpg", gps_jpeg(), "image/jpeg")},
        )  # fmt: skip
    assert sent.status_code == 201 and "Thank you" in sent.text
    # one report is a note until the brand confirms it or independent reporters agree
    assert codes(view(server, "HTTP-REPORT")) == ["report-under-review", "verified"]
    too_big = server.post(
        "/v1/reports",
        json={"gtin": GTIN, "serial": "HTTP-REPORT", "reason": "other",
              "photo": codec.b64url_encode(b"\xff\xd8\xff" + b"\0" * (2 * 1024 * 1024))},
    )  # fmt: skip
    assert too_big.status_code in (413, 422)
    queue = signed_get(server, "/v1/brands/acme/alerts", seed=2).json()
    report = next(r for r in queue["reports"] if r["unit"]["serial"] == "HTTP-REPORT")
    assert report["photo"] and report["status"] == "open"
    photo = signed_get(server, f"/v1/reports/{report['id']}/photo", seed=2)
    # re-encoded on intake: a JPEG without the GPS EXIF (or any metadata) it was sent with
    assert photo.headers["content-type"] == "image/jpeg"
    assert photo.headers["x-content-type-options"] == "nosniff"
    assert photo.headers["content-disposition"] == f'inline; filename="report-{report["id"]}.jpg"'
    with Image.open(io.BytesIO(photo.content)) as image:
        assert image.format == "JPEG" and not image.getexif()
        assert "exif" not in image.info and "icc_profile" not in image.info
    assert b"PhoneMaker" not in photo.content
    assert signed_get(server, f"/v1/reports/{report['id']}/photo", seed=8).status_code == 403
    path = f"/v1/reports/{report['id']}/resolve"
    assert signed_post(server, path, {"action": "close"}, seed=8).status_code == 403
    closed = signed_post(server, path, {"action": "close", "note": "checked"}, seed=2)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert closed.json()["first_response_at"]
    assert signed_post(server, path, {"action": "close"}, seed=2).status_code == 409
    assert view(server, "HTTP-REPORT")["verdict"] == "genuine"
