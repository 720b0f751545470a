"""api.viewjson: the cached encoding of a view's static part is the view's own."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from collections import OrderedDict
from typing import Any

import pytest

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


def big_entries(n: int = 60, mark: str = "a") -> list[dict[str, Any]]:
    """Entries whose encoding passes `viewjson.GZIP_ABOVE`."""
    return [
        {"index": i, "leaf": mark * 40 + f"{i:04d}", "proof": ["p" * 43] * 12} for i in range(n)
    ]


def gunzip_json(parts: tuple[bytes, ...]) -> Any:
    return json.loads(gzip.decompress(b"".join(parts)))


def test_a_gzip_answer_is_the_same_json_its_large_part_deflated_once() -> None:
    entries = big_entries()
    first = view(entries)
    assert len(viewjson.render_parts(first)[1]) >= viewjson.GZIP_ABOVE
    packed = asyncio.run(viewjson.render_gzip(first))
    assert packed is not None
    assert gunzip_json(packed) == json.loads(viewjson.render(first)) == first
    assert len(b"".join(packed)) < len(viewjson.render(first)) / 4
    # another request on the same kept objects: the very deflated bytes, a fresh tail
    again = {**view(entries, verdict="caution"), "scans": {"count": 3, "first": None}}
    repacked = asyncio.run(viewjson.render_gzip(again))
    assert repacked is not None and repacked[0] is packed[0]
    assert gunzip_json(repacked) == again
    # the per-request part is sent as it is, after the deflated part
    assert b'"verdict":"caution"' in repacked[1]


def test_a_gzip_answer_is_never_another_views() -> None:
    """Equal content in new objects, a changed checkpoint, a grown chain: each is
    deflated afresh, never served from the bytes kept for other objects."""
    entries = big_entries()
    old = asyncio.run(viewjson.render_gzip(view(entries)))
    assert old is not None
    grown = view([*entries, {"index": 999, "leaf": "recall", "proof": []}])
    moved = {**view(entries), "checkpoint": "origin\n9\nroot9\n"}
    other = view(big_entries(mark="b"))
    for changed in (grown, moved, other):
        packed = asyncio.run(viewjson.render_gzip(changed))
        assert packed is not None and packed[0] is not old[0]
        assert gunzip_json(packed) == changed


def test_a_small_view_or_one_without_entries_gets_no_gzip_answer() -> None:
    assert asyncio.run(viewjson.render_gzip(view([{"index": 0, "leaf": "AA"}]))) is None
    assert asyncio.run(viewjson.render_gzip(view([]))) is None


def test_the_deflated_bytes_count_in_the_kept_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(viewjson, "_kept", OrderedDict())
    monkeypatch.setattr(viewjson, "_size", [0])
    entries = big_entries()
    viewjson.render(view(entries))
    plain = viewjson._size[0]
    packed = asyncio.run(viewjson.render_gzip(view(entries)))
    assert packed is not None
    assert viewjson._size[0] == plain + len(packed[0])
    # a budget of about two views: the oldest goes, and its deflated bytes with it
    monkeypatch.setattr(viewjson, "MAX_BYTES", 2 * viewjson._size[0] + 10)
    for mark in "bcd":
        asyncio.run(viewjson.render_gzip(view(big_entries(mark=mark))))
        assert viewjson._size[0] == sum(k.size() for k in viewjson._kept.values())
        assert viewjson._size[0] <= viewjson.MAX_BYTES
    assert len(viewjson._kept) == 2


def test_a_failed_deflate_falls_back_to_the_plain_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_: bytes) -> Any:
        raise MemoryError

    entries = big_entries(mark="z")  # the same kept entry both times
    monkeypatch.setattr(viewjson.gzipparts, "deflate_prefix", broken)
    assert asyncio.run(viewjson.render_gzip(view(entries))) is None
    monkeypatch.undo()
    packed = asyncio.run(viewjson.render_gzip(view(entries)))
    assert packed is not None  # tried again once it can
    assert gunzip_json(packed) == view(entries)


def held_deflates(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Make every deflate wait on the thread until the returned event is set."""
    release = threading.Event()
    real = viewjson.gzipparts.deflate_prefix

    def held(*pieces: bytes) -> Any:
        release.wait(10)
        return real(*pieces)

    monkeypatch.setattr(viewjson.gzipparts, "deflate_prefix", held)
    return release


def test_a_view_replaced_while_its_deflate_runs_is_not_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The kept entry is replaced (the unit grew) while its deflate is on the thread:
    the waiting request still gets its own view's gzip, and the budget counts only the
    entries kept."""
    monkeypatch.setattr(viewjson, "_kept", OrderedDict())
    monkeypatch.setattr(viewjson, "_size", [0])
    release = held_deflates(monkeypatch)
    entries = big_entries(mark="r")
    old = view(entries)

    async def race() -> tuple[bytes, ...] | None:
        waiting = asyncio.create_task(viewjson.render_gzip(old))
        await asyncio.sleep(0.05)
        # the same list object, another checkpoint: the kept entry is replaced
        viewjson.render({**old, "checkpoint": "origin\n7\nroot7\n"})
        release.set()
        return await waiting

    packed = asyncio.run(race())
    assert packed is not None and gunzip_json(packed) == old
    assert viewjson._size[0] == sum(k.size() for k in viewjson._kept.values())
    (kept,) = viewjson._kept.values()
    assert kept.deflated is None  # the new entry has not been deflated


def test_past_max_pending_deflates_a_view_is_answered_plain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = held_deflates(monkeypatch)
    views = [view(big_entries(mark=m)) for m in "mnopqrs"]

    async def crowd() -> list[tuple[bytes, ...] | None]:
        tasks = [asyncio.create_task(viewjson.render_gzip(v)) for v in views]
        await asyncio.sleep(0.05)
        release.set()
        return await asyncio.gather(*tasks)

    answers = asyncio.run(crowd())
    packed = [a for a in answers if a is not None]
    assert len(packed) == viewjson.MAX_PENDING
    assert all(gunzip_json(a) == v for a, v in zip(answers, views, strict=True) if a)
    # once the queue drained, the others are deflated when next asked
    assert all(asyncio.run(viewjson.render_gzip(v)) is not None for v in views)


def test_many_waiting_requests_share_one_deflate(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = viewjson.gzipparts.deflate_prefix

    def counted(*pieces: bytes) -> Any:
        calls.append(1)
        return real(*pieces)

    monkeypatch.setattr(viewjson.gzipparts, "deflate_prefix", counted)
    entries = big_entries(mark="w")

    async def many() -> list[tuple[bytes, ...] | None]:
        return await asyncio.gather(*(viewjson.render_gzip(view(entries)) for _ in range(20)))

    answers = asyncio.run(many())
    assert len(calls) == 1
    assert all(a is not None and gunzip_json(a) == view(entries) for a in answers)
