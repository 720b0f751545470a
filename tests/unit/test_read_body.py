"""`api.readbody.read_body` and `api.jsonbody.json_body` on raw ASGI messages: the body
as sent, in one chunk or many; refused past the limit, declared or streamed; a client
gone; only ``application/json`` (one header, any parameters) read as JSON."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import ClientDisconnect, Request

from api.jsonbody import UnsupportedMediaTypeError, is_json, json_body
from api.problems import PayloadTooLargeError
from api.readbody import read_body


def _request(
    chunks: list[bytes], headers: list[tuple[bytes, bytes]], end: bool = True
) -> tuple[Request, list[int]]:
    """A request whose receive hands out ``chunks`` (the last ends the body if ``end``,
    else the client disconnects after them); the count of receives made."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": c, "more_body": end is False or i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    if not end:
        messages.append({"type": "http.disconnect"})
    made = [0]

    async def receive() -> dict[str, Any]:
        made[0] += 1
        return messages.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}
    return Request(scope, receive), made


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=6), st.integers(0, 300))
def test_the_body_is_what_was_sent_or_refused_past_the_limit(
    chunks: list[bytes], limit: int
) -> None:
    request, _ = _request(chunks, [])
    body = b"".join(chunks)
    if len(body) <= limit:
        assert _run(read_body(request, limit)) == body
    else:
        with pytest.raises(PayloadTooLargeError):
            _run(read_body(request, limit))


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    request, made = _request([b"x" * 10], [(b"content-length", b"11")])
    with pytest.raises(PayloadTooLargeError, match="11 bytes"):
        _run(read_body(request, 10))
    assert made == [0]
    request, _ = _request([b"x" * 10], [(b"content-length", b"10")])
    assert _run(read_body(request, 10)) == b"x" * 10


def test_a_client_gone_midway_is_a_disconnect() -> None:
    request, _ = _request([b"{", b'"a"'], [], end=False)
    with pytest.raises(ClientDisconnect):
        _run(read_body(request, 100))


@pytest.mark.parametrize(
    ("values", "accepted"),
    [
        ([b"application/json"], True),
        ([b"Application/JSON; charset=utf-8"], True),
        ([b" application/json ;x=1"], True),
        ([], False),
        ([b"text/plain"], False),
        ([b"application/json-patch+json"], False),
        ([b"application/x-www-form-urlencoded"], False),
        ([b"application/json", b"application/json"], False),  # two headers: refused
    ],
)
def test_only_one_application_json_content_type_is_json(
    values: list[bytes], accepted: bool
) -> None:
    headers = [(b"content-type", v) for v in values]
    request, made = _request([b"{}"], headers)
    assert is_json(request) is accepted
    if accepted:
        assert _run(json_body(request, 100)) == b"{}"
    else:
        with pytest.raises(UnsupportedMediaTypeError):
            _run(json_body(request, 100))
        assert made == [0]  # refused before the body is read


def test_the_first_declared_length_decides_and_a_message_may_carry_no_body() -> None:
    request, made = _request([b"x"], [(b"content-length", b"9"), (b"content-length", b"1")])
    with pytest.raises(PayloadTooLargeError, match="9 bytes"):
        _run(read_body(request, 5))
    assert made == [0]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}  # no body, no more_body: an empty body

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
    assert _run(read_body(Request(scope, receive), 10)) == b""


def test_a_client_gone_before_any_body_is_a_disconnect() -> None:
    request, _ = _request([], [], end=False)
    with pytest.raises(ClientDisconnect):
        _run(read_body(request, 100))


def test_a_content_type_padded_with_a_non_ascii_space_is_not_json() -> None:
    # read as latin-1 text, "\xa0" was stripped as a space; the check on the raw bytes
    # refuses it: a stricter gate in front of the JSON routes (a CSRF defence)
    request, _ = _request([b"{}"], [(b"content-type", b"application/json\xa0")])
    assert not is_json(request)
