"""api.headers.SecurityHeaders: the headers added to a response start, and one the
route set itself (in any case) left alone."""

from __future__ import annotations

from typing import Any

from api.headers import BASE_POLICY, SecurityHeaders


async def _app(scope: Any, receive: Any, send: Any) -> None:  # never called
    raise AssertionError


def _added(headers: list[tuple[bytes, bytes]], path: str = "/x") -> list[tuple[bytes, bytes]]:
    guard = SecurityHeaders(_app, page="page-policy", special=[("/docs", "docs-policy")])
    message: dict[str, Any] = {"type": "http.response.start", "status": 200, "headers": headers}
    guard._add({"type": "http", "path": path}, message)
    return list(message["headers"])


def test_a_page_gets_the_page_headers_and_other_answers_the_base_ones() -> None:
    page = _added([(b"content-type", b"text/html; charset=utf-8")])
    assert page[1:] == [
        (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy", b"page-policy"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
    ]
    other = _added([(b"content-type", b"application/json")])
    assert other[1:] == [
        (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy", BASE_POLICY.encode()),
        (b"referrer-policy", b"no-referrer"),
    ]
    assert (b"content-security-policy", b"docs-policy") in _added([], path="/docs")


def test_a_header_the_route_set_is_left_alone_in_any_case() -> None:
    own = [(b"Content-Type", b"TEXT/HTML"), (b"Content-Security-Policy", b"sandbox")]
    found = _added(own)
    assert [v for n, v in found if n.lower() == b"content-security-policy"] == [b"sandbox"]
    assert (b"x-frame-options", b"DENY") in found  # still taken for a page
