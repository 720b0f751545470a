"""The HTTP API: a custody story written and read back, every proof checked by an
independent few-line verifier, and bad writes refused cleanly.

Most tests talk to the app in process (``asgi_server``), on SQLite and PostgreSQL. On the
real uvicorn server stays what depends on it: a write, the caching headers and problems
as a real server sends them, and an oversized body refused by a real server with its
length declared and streamed in chunks, which an in-process client cannot send
(``live_server``, SQLite); the per-client rate limit of a server configured for it."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger import codec, merkle
from ledger.entry import SignedEvent
from tests.e2e.server import METRICS_AUTH, LiveServer, Served
from tests.factories import GTIN
from tests.rules_factories import World

PROBLEM = "application/problem+json"

#: The real-server checks are about HTTP, not storage: the in-process tests make the same
#: assertions on SQLite and PostgreSQL, the real server makes them once, on SQLite.
REAL_SERVER_ON_SQLITE = pytest.mark.parametrize("live_server", ["sqlite"], indirect=True)


# --- an independent verifier: hashlib + cryptography + base64, no ledger code ------------


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _node(a: bytes, b: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + a + b).digest()


def _root_from_proof(index: int, size: int, leaf_hash: bytes, proof: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2, step by step."""
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise AssertionError("proof too long")
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0, "proof too short"
    return r


def _checkpoint(text: str, verifier_key: str) -> tuple[int, bytes]:
    name, key_hash, blob = verifier_key.strip().split("+")
    raw = base64.b64decode(blob)
    assert (
        raw[0] == 1 and hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() == key_hash
    )
    body, _, sigs = text.partition("\n\n")
    for line in sigs.splitlines():
        signer, sig = line.removeprefix("\u2014 ").split(" ")
        data = base64.b64decode(sig)
        if signer == name and data[:4].hex() == key_hash:
            Ed25519PublicKey.from_public_bytes(raw[1:]).verify(data[4:], (body + "\n").encode())
            _origin, size, root = body.split("\n")[:3]
            return int(size), base64.b64decode(root)
    raise AssertionError("no signature by the log's key")


def check_entries(
    body: dict[str, Any], verifier_key: str, keys: dict[str, bytes] | None = None
) -> None:
    """Verify every entry in ``body`` against its checkpoint, independently."""
    size, root = _checkpoint(body["checkpoint"], verifier_key)
    for item in body["entries"]:
        leaf = _b64url(item["leaf"])
        leaf_hash = hashlib.sha256(b"\x00" + leaf).digest()
        assert leaf_hash == _b64url(item["leaf_hash"])
        proof = [_b64url(p) for p in item["proof"]]
        assert _root_from_proof(item["index"], size, leaf_hash, proof) == root
        parsed = json.loads(leaf)
        assert parsed["event"] == item["event"]
        if keys is not None and parsed["key"] in keys:
            event = json.dumps(
                parsed["event"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode()
            # docs/FORMAT.md section 3: format 2 ("v": 2) names the log's origin
            origin = body["checkpoint"].split("\n", 1)[0].encode()
            message = (
                b"provenance-ledger/v2 event\n" + origin + b"\n" + event
                if parsed.get("v") == 2
                else b"provenance-ledger/v1 event\n" + event
            )
            Ed25519PublicKey.from_public_bytes(keys[parsed["key"]]).verify(
                _b64url(parsed["sig"]), message
            )


# --- the story ------------------------------------------------------------------------


def _post(server: Served, signed: SignedEvent) -> httpx.Response:
    return server.post("/v1/entries", json=signed.to_dict(), timeout=10)


def _keys(world: World) -> dict[str, bytes]:
    from ledger import crypto

    out = {}
    for seed in set(world.seeds.values()):
        public = crypto.private_key_from_seed(bytes([seed]) * 32).public_key()
        out[crypto.key_id(public)] = crypto.public_key_to_raw(public)
    return out


def test_a_custody_story_written_and_read_back(asgi_server: Served) -> None:
    server, w = asgi_server, asgi_server.world.world
    verifier_key = server.get("/v1/log/key").text
    serial = "STORY-1"
    story = [
        w.sign("commission", "acme", unit={"gtin": GTIN, "serial": serial}, prev=None, lot="L7"),
    ]
    first = _post(server, story[0])
    assert first.status_code == 201, first.text
    w.accept(story[0])
    steps = [
        ("handoff", "acme", {"to": "ship-co", "place": "Shenzhen DC"}),
        ("receive", "ship-co", {"place": "Shenzhen DC"}),
        ("inspect", "insp", {"result": "pass", "note": "seal intact"}),
        ("handoff", "ship-co", {"to": "shop"}),
        ("receive", "shop", {"place": "Shanghai store"}),
        ("sell", "shop", {}),
    ]
    for kind, actor, fields in steps:
        signed = w.on_unit(kind, actor, serial=serial, **fields)
        response = _post(server, signed)
        assert response.status_code == 201, response.text
        receipt = response.json()
        size, _root = _checkpoint(receipt["checkpoint"], verifier_key)
        assert size == receipt["size"] and receipt["receipts"][0]["index"] < size
        w.accept(signed)
    view = server.get(f"/v1/units/{GTIN}/{serial}").json()
    assert view["verdict"] == "caution" and [r["code"] for r in view["reasons"]] == ["sold"]
    assert [e["event"]["kind"] for e in view["entries"]] == ["commission", *[s[0] for s in steps]]
    check_entries(view, verifier_key, _keys(w))
    # The same signed event again: 200, same index, nothing new.
    again = _post(server, w.log[-1])
    assert again.status_code == 200 and again.json()["receipts"][0]["duplicate"]
    # Ranges, single entries and proofs check out too.
    head = _size(server)
    page = server.get("/v1/entries", params={"start": 0, "end": head}).json()
    assert [e["index"] for e in page["entries"]] == list(range(head))
    check_entries(page, verifier_key, _keys(w))
    _immutable_entry(server, head, verifier_key)
    old = 10
    proof = server.get("/v1/proofs/consistency", params={"old": old, "new": head}).json()
    old_size, old_root = _checkpoint(
        server.get("/v1/checkpoint", params={"size": old}).text, verifier_key
    )
    _, new_root = _checkpoint(page["checkpoint"], verifier_key)
    assert old_size == old
    merkle.verify_consistency(old, head, old_root, new_root, [_b64url(p) for p in proof["proof"]])


def _immutable_entry(server: Served, head: int, verifier_key: str) -> None:
    """The last entry at size ``head``: verified, cached for good, 304 on its ETag."""
    one = server.get(f"/v1/entries/{head - 1}", params={"size": head})
    assert one.headers["cache-control"].endswith("immutable")
    check_entries(one.json(), verifier_key)
    assert (
        server.get(
            f"/v1/entries/{head - 1}",
            params={"size": head},
            headers={"If-None-Match": one.headers["etag"]},
        ).status_code
        == 304
    )


def _unit_etag_revalidates(server: Served) -> None:
    """A unit view's ETag answers 304."""
    unit = server.get(f"/v1/units/{GTIN}/SN-0001")
    assert (
        server.get(
            f"/v1/units/{GTIN}/SN-0001", headers={"If-None-Match": unit.headers["etag"]}
        ).status_code
        == 304
    )


def _size(server: Served) -> int:
    return int(server.get("/healthz").json()["size"])


def _forged(w: World) -> dict[str, Any]:
    signed = w.on_unit("handoff", "acme", to="ship-co").to_dict()
    signed["sig"] = codec.b64url_encode(bytes(64))
    return signed


TWO_MB = (
    "2 MB body",
    lambda w: b'{"event": "' + b"x" * 2_000_000 + b'"}',
    413,
    "payload-too-large",
)

BAD_WRITES = [
    ("bad signature", lambda w: json.dumps(_forged(w)).encode(), 403, "bad-signature"),
    (
        "stale prev",
        lambda w: json.dumps(
            w.sign(
                "handoff",
                "acme",
                unit={"gtin": GTIN, "serial": "SN-0001"},
                prev=codec.b64url_encode(bytes(32)),
                to="ship-co",
            ).to_dict()
        ).encode(),
        409,
        "head-conflict",
    ),
    (
        "unauthorized actor",
        lambda w: json.dumps(w.on_unit("handoff", "ship-co", to="shop").to_dict()).encode(),
        422,
        "not-custodian",
    ),
    TWO_MB,
    ("malformed JSON", lambda w: b'{"event": {"kind": ', 400, "encoding"),
    (
        "float in event",
        lambda w: json.dumps({**w.on_unit("sell", "acme").to_dict(), "x": 1.5}).encode(),
        400,
        "encoding",
    ),
    ("schema error", lambda w: b'{"event": {}, "key": "x", "sig": "y"}', 422, "validation"),
]


def _refused(server: Served, content: Any, status: int, code: str) -> None:
    """POSTing ``content`` to /v1/entries answers ``status`` with problem ``code``, and
    neither the log's size nor its checkpoint changes."""
    before = _size(server)
    checkpoint = server.get("/v1/checkpoint").text
    response = server.post(
        "/v1/entries",
        content=content,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert (
        problem["type"] == f"urn:provenance-ledger:problem:{code}" and problem["status"] == status
    )
    assert _size(server) == before
    assert server.get("/v1/checkpoint").text == checkpoint


@pytest.mark.parametrize(
    ("name", "body", "status", "code"), BAD_WRITES, ids=[b[0] for b in BAD_WRITES]
)
def test_bad_writes_are_refused_and_change_nothing(
    asgi_server: Served, name: str, body: Any, status: int, code: str
) -> None:
    _refused(asgi_server, body(asgi_server.world.world), status, code)


def test_batch_is_all_or_nothing_over_http(asgi_server: Served) -> None:
    w = asgi_server.world.world
    good = w.on_unit("handoff", "acme", to="ship-co")
    stale = w.on_unit("sell", "acme")
    before = _size(asgi_server)
    response = asgi_server.post(
        "/v1/entries:batch", json={"events": [good.to_dict(), stale.to_dict()]}
    )
    assert response.status_code == 409 and response.json()["field"] == "events[1].prev"
    assert _size(asgi_server) == before
    ok = asgi_server.post("/v1/entries:batch", json={"events": [good.to_dict()]})
    assert ok.status_code == 201 and ok.json()["size"] == before + 1


def test_the_signed_sizes_are_listed_and_only_they_are_served(asgi_server: Served) -> None:
    w = asgi_server.world.world
    before = _size(asgi_server)
    events = [
        w.sign(
            "commission", "acme", unit={"gtin": "09506000134352", "serial": f"CPS-{n}"}, prev=None
        )
        for n in range(2)
    ]
    assert (
        asgi_server.post(
            "/v1/entries:batch", json={"events": [e.to_dict() for e in events]}
        ).status_code
        == 201
    )
    listed = asgi_server.get("/v1/checkpoints", params={"start": before}).json()
    assert listed == {"sizes": [before, before + 2], "next": None}  # one per batch
    for size in listed["sizes"]:
        assert asgi_server.get("/v1/checkpoint", params={"size": size}).status_code == 200
    for path in ("/v1/checkpoint", "/v1/entries/0"):  # no checkpoint at before + 1
        assert asgi_server.get(path, params={"size": before + 1}).status_code == 404
    page = asgi_server.get("/v1/checkpoints", params={"start": 1, "limit": 2}).json()
    assert (
        len(page["sizes"]) == 2
        and page["next"]
        == asgi_server.get(
            "/v1/checkpoints", params={"start": page["sizes"][1] + 1, "limit": 1}
        ).json()["sizes"][0]
    )
    for bad in ({"start": 0}, {"limit": 1001}, {"start": "x"}):
        assert asgi_server.get("/v1/checkpoints", params=bad).status_code == 422


ERRORS = [
    ("/v1/actors/nobody", 404),
    ("/v1/entries/99999", 404),
    ("/v1/proofs/inclusion?index=5&size=2", 422),
    ("/nope", 404),
    ("/v1/units/123/x", 422),
]


def _problems(server: Served, errors: list[tuple[str, int]]) -> None:
    for path, status in errors:
        response = server.get(path)
        assert response.status_code == status, (path, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)


def test_reads_and_errors(asgi_server: Served) -> None:
    assert asgi_server.get("/v1/actors/acme").json()["role"] == "brand"
    _problems(asgi_server, ERRORS)
    metrics = asgi_server.get("/metrics", headers=METRICS_AUTH).text
    assert "provenance_http_requests_total" in metrics and "provenance_log_size" in metrics
    _unit_etag_revalidates(asgi_server)


@REAL_SERVER_ON_SQLITE
def test_writes_reads_and_refusals_over_real_http(live_server: LiveServer) -> None:
    """What the in-process tests check of HTTP, as uvicorn receives and sends it (one test,
    so that one server serves it): a write whose receipt's checkpoint verifies, immutable
    entries and unit views revalidated by ETag, problems as application/problem+json (a
    route's and the router's own 404), and a 2 MB body refused over a real connection with
    its length declared (refused before it is read) and streamed in chunks with no length
    (refused once the limit is passed)."""
    server, w = live_server, live_server.world.world
    verifier_key = server.get("/v1/log/key").text
    signed = w.sign("commission", "acme", unit={"gtin": GTIN, "serial": "LIVE-1"}, prev=None)
    response = _post(server, signed)
    assert response.status_code == 201, response.text
    w.accept(signed)
    receipt = response.json()
    size, _root = _checkpoint(receipt["checkpoint"], verifier_key)
    assert size == receipt["size"] == _size(server)
    _immutable_entry(server, size, verifier_key)
    _unit_etag_revalidates(server)
    _problems(server, [("/v1/actors/nobody", 404), ("/nope", 404)])
    _name, body, status, code = TWO_MB
    content = body(w)
    _refused(server, content, status, code)
    chunks = (content[i : i + 65536] for i in range(0, len(content), 65536))
    _refused(server, chunks, status, code)


def test_public_endpoints_answer_429_with_retry_after(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from tests.e2e.server import start

    tmp = tmp_path_factory.mktemp("limited")
    server = start(
        f"sqlite:///{tmp}/ledger.db",
        tmp,
        # One token per 20 s: the fifth request is limited however slow a busy machine is.
        extra_env={"PROVENANCE_RATE": "0.05", "PROVENANCE_BURST": "3"},
    )
    try:
        gtin, serial = server.units["genuine"]
        statuses = [server.get(f"/v1/units/{gtin}/{serial}") for _ in range(5)]
        assert [r.status_code for r in statuses[:3]] == [200, 200, 200]
        limited = statuses[-1]
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert limited.headers["content-type"].startswith(PROBLEM)
        assert limited.json()["type"] == "urn:provenance-ledger:problem:rate-limited"
        assert server.get("/healthz").status_code == 200  # writes and health are not limited
    finally:
        server.stop()
