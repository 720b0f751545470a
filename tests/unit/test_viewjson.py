"""api.viewjson: the cached encoding of a view's static part is the view's own."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from api import viewjson


def view(entries: list[dict[str, Any]], verdict: str = "genuine") -> dict[str, Any]:
    return {
        "verdict": verdict,
        "reasons": [{"code": "x", "message": "m"}],
        "entries": entries,
        "checkpoint": "origin\n3\nroot\n",
        "map_proof": None,
        "versions": None,
        "scans": {"count": 2, "first": None},
    }


def test_render_is_the_views_json_and_reuses_only_the_same_objects() -> None:
    entries = [{"index": 0, "leaf": "AA"}]
    first = view(entries)
    assert json.loads(viewjson.render(first)) == first
    again = view(entries, verdict="caution")  # same entries object: its bytes reused
    assert json.loads(viewjson.render(again)) == again
    # equal content in another object, or the same list with another checkpoint:
    # encoded afresh, never another view's bytes
    other = view([{"index": 0, "leaf": "BB"}])
    assert json.loads(viewjson.render(other)) == other
    moved = {**view(entries), "checkpoint": "origin\n4\nroot2\n"}
    assert json.loads(viewjson.render(moved)) == moved
    assert json.loads(viewjson.render(view([]))) == view([])  # no entries: plain


def test_a_parts_response_sends_the_parts_whole_with_their_length() -> None:
    """What `PartsResponse` sends is the joined view, with its true Content-Length and
    the headers given, in one body message per part (the last one ends the body) when
    they are `PartsResponse.JOIN_BELOW` or more, joined into one message below."""
    parts = viewjson.render_parts(view([{"index": i, "leaf": "AA" * i} for i in range(300)]))
    assert sum(len(p) for p in parts) >= viewjson.PartsResponse.JOIN_BELOW
    response = viewjson.PartsResponse(
        parts, media_type="application/json", headers={"Cache-Control": "no-store"}
    )
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        raise AssertionError("a response reads nothing")

    asyncio.run(response({"type": "http"}, receive, send))
    start, *bodies = sent
    headers = dict(start["headers"])
    body = b"".join(m["body"] for m in bodies)
    assert body == viewjson.render(view([{"index": i, "leaf": "AA" * i} for i in range(300)]))
    assert headers[b"content-length"] == str(len(body)).encode()
    assert [k for k, _ in start["headers"]].count(b"content-length") == 1
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"cache-control"] == b"no-store"
    assert [m["more_body"] for m in bodies] == [True] * (len(bodies) - 1) + [False]
    assert len(bodies) == len(parts) == 3

    small = view([{"index": 0, "leaf": "AA"}])
    sent.clear()
    asyncio.run(
        viewjson.PartsResponse(viewjson.render_parts(small))({"type": "http"}, receive, send)
    )
    start, *bodies = sent
    assert [(m["body"], m["more_body"]) for m in bodies] == [(viewjson.render(small), False)]
    assert dict(start["headers"])[b"content-length"] == str(len(viewjson.render(small))).encode()


def test_kept_parts_encode_as_json_dumps_and_only_for_the_same_objects() -> None:
    """The per-request part, its kept pieces (reasons, unit, witnesses) reused by
    identity, is byte for byte what ``json.dumps`` of the whole view writes (rest first),
    and a changed object of the same content is encoded afresh."""
    entries = [{"index": 0, "leaf": "AA"}]
    reasons = [{"code": "sold", "message": "m", "text": {"zh-CN": {"title": "已售出"}}}]
    unit = {"gtin": "09506000134352", "pending": None, "sold": True, "flags": 0}

    def whole(v: dict[str, Any]) -> bytes:
        rest = {k: x for k, x in v.items() if k not in viewjson.STATIC}
        static = {k: x for k, x in v.items() if k in viewjson.STATIC}
        text = json.dumps({**rest, **static}, ensure_ascii=False, separators=(",", ":"))
        return text.encode()

    for owner in (False, True, None):
        v = {**view(entries), "reasons": reasons, "unit": unit, "owner": owner,
             "witnesses": {"configured": 0, "vouched": 0}}  # fmt: skip
        assert viewjson.render(v) == whole(v)
    other = {**view(entries), "reasons": [{**reasons[0], "code": "recalled"}], "unit": unit}
    assert viewjson.render(other) == whole(other)
