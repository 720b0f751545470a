"""api.bodylimit.route_limits: its look-up (a dict for the fixed paths, patterns for the
others, GET and the like at once) answers every request as the table of patterns it
replaced did (session 48), for the app's routes, their log-scoped twins and strangers'
paths."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from api.bodylimit import (
    CLAIM_BODY,
    COSIGNATURE_BODY,
    DOCUMENT_BODY,
    IMAGE_BODY,
    REPORT_BODY,
    route_limits,
)
from ledger.service.settings import Settings

SETTINGS = Settings.from_env({})

#: the table `route_limits` matched every request against, in order, before
REFERENCE = [
    ("POST", re.compile(r"/v1/reports"), REPORT_BODY),
    ("POST", re.compile(r"/v1/reports/[^/]+/resolve"), SETTINGS.max_event_bytes),
    ("POST", re.compile(r"/v1/units/.+/claim"), CLAIM_BODY),
    ("POST", re.compile(r"/v1/entries"), SETTINGS.max_event_bytes),
    ("POST", re.compile(r"/v1/entries:batch"), SETTINGS.max_batch_bytes),
    ("POST", re.compile(r"/v1/epcis/capture"), SETTINGS.max_batch_bytes),
    ("POST", re.compile(r"/v1/checkpoint/cosignatures"), COSIGNATURE_BODY),
    ("POST", re.compile(r"/console/products/image"), IMAGE_BODY),
    ("POST", re.compile(r"/v1/products/[^/]+/image"), IMAGE_BODY),
    ("POST", re.compile(r"/console/operator/actors(/[a-z0-9._-]+/document)?"), DOCUMENT_BODY),
]
_LOG_PREFIX = re.compile(r"^/logs/[^/]+(?=/)")


def _reference(method: str, path: str) -> int:
    path = _LOG_PREFIX.sub("", path, count=1)
    for verb, pattern, size in REFERENCE:
        if method == verb and pattern.fullmatch(path):
            return size
    return SETTINGS.max_event_bytes


ROUTES = [
    "/v1/reports",
    "/v1/reports/r-1/resolve",
    "/v1/reports//resolve",
    "/v1/units/01/09506000134352/21/S1/claim",
    "/v1/units/claim",
    "/v1/entries",
    "/v1/entries:batch",
    "/v1/epcis/capture",
    "/v1/checkpoint/cosignatures",
    "/console/products/image",
    "/v1/products/09506000134352/image",
    "/v1/products/a/b/image",
    "/console/operator/actors",
    "/console/operator/actors/acme.co/document",
    "/console/operator/actors/ACME/document",
    "/healthz",
    "/",
    "",
]
SEGMENTS = st.sampled_from(["v1", "entries", "reports", "claim", "image", "logs", "x", "", "a.b"])


@given(
    method=st.sampled_from(["POST", "GET", "PUT", "post", "DELETE"]),
    route=st.sampled_from(ROUTES) | st.lists(SEGMENTS, max_size=5).map(lambda p: "/".join(p)),
    prefix=st.sampled_from(["", "/logs/acme", "/logs/", "/logs/a/b", "/logs"]),
    tail=st.sampled_from(["", "/", "x", "/extra"]),
)
def test_the_look_up_answers_as_the_pattern_table(
    method: str, route: str, prefix: str, tail: str
) -> None:
    limit = route_limits(SETTINGS)
    path = prefix + route + tail
    assert limit(method, path) == _reference(method, path)


def test_each_route_keeps_its_limit() -> None:
    limit = route_limits(SETTINGS)
    for route in ROUTES:
        for prefix in ("", "/logs/acme"):
            assert limit("POST", prefix + route) == _reference("POST", prefix + route)
    assert limit("POST", "/console/operator/actors") == DOCUMENT_BODY
    assert limit("GET", "/v1/reports") == SETTINGS.max_event_bytes
