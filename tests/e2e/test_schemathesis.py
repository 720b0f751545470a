"""schemathesis against every route of the app, served by a real uvicorn server on SQLite.

The fuzzed document is the served ``/openapi.json`` completed with what it leaves out
(`complete`), so that every route the app mounts is fuzzed, which a test checks:

- examples for the claim's unit (its request bodies, JSON or the page's form answered
  by an HTML page, and the report's are in the served document: api/schemas_forms.py);
- the resolver's catch-all ``/01/{rest}`` (every other Digital Link form) and, on the
  resolver's routes (the shopper's page), a drawn ``Accept`` (``text/html`` as a browser
  sends it, JSON, JSON-LD) and ``Accept-Language``;
- on the page's routes and forms, drawn ``Cookie`` and ``Origin`` headers; a form from
  the server's own origin first loads the unit's page as a browser does and posts the
  anti-forgery cookie and token it hands out (if any), so the fuzzed body gets past them;
- the log-scoped routes again under ``/logs/{log}`` (the served log, or another name);
- ``/docs`` and ``/openapi.json`` themselves.

Each operation gets its documented examples and fuzzed requests, schema-valid and
schema-invalid (schemathesis' positive and negative modes): over 2,000 requests in all,
counted and asserted, in the full run (marked slow: about 45 s on two idle cores, over two
minutes on busy ones); the default run sends over 350 over the same routes. Every
response must

- not be a 5xx;
- when it is a 4xx, be RFC 9457 ``application/problem+json`` whose ``type`` is
  ``urn:provenance-ledger:problem:<code>`` and whose ``status`` is the response's, or,
  for a browser's request (a form post, or ``Accept: text/html``), an HTML error page;
- pass schemathesis' built-in checks: a documented status code and content type, a body
  matching the documented schema, documented headers, schema-invalid input refused.

One built-in check is left out: ``positive_data_acceptance`` expects every schema-valid
request to succeed, but what the ledger refuses on meaning (a signature that does not
verify, a GTIN check digit, an index beyond the tree) cannot be said in JSON Schema; those
refusals are checked here to be documented problems instead.

The coverage phase's probe of undeclared methods is done by hand below: each gets 405,
as a problem, with an ``Allow`` header naming exactly the declared methods.

schemathesis' pytest plugin (``schemathesis.pytest.from_fixture``) does not run under the
installed pytest 9 (it sets ``Function._nodeid``), so the Hypothesis tests are built here
from the public strategies (``APIOperation.as_strategy``) and run one operation at a time,
derandomized so that CI sees the same requests each run; every operation's failure is
collected before the test fails, so one run shows them all.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance
from starlette.routing import BaseRoute

from api.app import LOG_SCOPED, app_from_env
from tests.e2e.server import LiveServer, start
from tests.openapi_copy import COPY, text

PROBLEM = "application/problem+json"
PROBLEM_TYPE = "urn:provenance-ledger:problem:"
# (examples per operation, requests asserted in all): the full run (slow: about 45 s on
# two idle cores, over 2 minutes on busy ones) and the default run's smaller one over the
# same routes. Operations without parameters run out of distinct requests early, so the
# others carry the total.
FULL = (80, 2000)
QUICK = (12, 350)
HTML = "text/html"
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
#: what a browser, an app and an EPCIS client send to the resolver (the shopper's page)
ACCEPTS = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    HTML,
    "application/json",
    "application/ld+json",
    "*/*",
    "",
)
#: the shopper's page: each must have been answered with an HTML page (200)
PAGES = (
    "GET /01/{gtin}/21/{serial}",
    "GET /01/{gtin}/10/{lot}/21/{serial}",
    "GET /01/{gtin}/22/{cpv}/21/{serial}",
)
#: the page's forms: each must have been posted in each encoding a browser uses
FORMS_SENT = tuple(
    (label, form)
    for label in ("POST /v1/units/{gtin}/{serial}/claim", "POST /v1/reports")
    for form in ("application/x-www-form-urlencoded", "multipart/form-data")
)
#: operations whose JSON answer (200) each run must have checked against its schema
ANSWERED = (
    ("GET /v1/entries", "application/json"),
    ("GET /v1/entries/{index}", "application/json"),
    ("GET /v1/units/{gtin}/{serial}", "application/json"),
    ("GET /v1/proofs/map-update", "application/json"),
    ("GET /v1/log/incidents", "application/json"),
    ("GET /v1/brands/{brand}/retailers", "application/json"),
    ("GET /01/{gtin}/21/{serial}", "application/ld+json"),
)
#: the browser routes: the page and its forms, sent the headers a browser (or a hostile
#: page or script) sends
BROWSER_ROUTES = ("/01/", "/v1/units/{gtin}/{serial}/claim", "/v1/reports")
#: cookies: none, a crowd of them, a forged owner cookie, junk
COOKIES = (
    "",
    "; ".join(f"c{n}=v{n}" for n in range(300)),
    "pl_owner_" + "0" * 16 + "=" + "A" * 43,
    "pl_owner_x=; =; ;;; a",
)
#: Origin: this site's (most often: a form from the server's own page, sent with the
#: anti-forgery cookie and token that page hands out), none, another site's, an opaque
#: one, junk
ORIGINS = ("SELF", "SELF", "SELF", "", "https://evil.example", "null", "not a url")
#: one answer: operation, request media type, status, response media type
Sent = tuple[str, str, int, str]
LANGUAGES = ("en", "zh-CN,zh;q=0.9", "fr-CH, fr;q=0.9, en;q=0.8", "", "*", "x" * 200)
# Methods no route declares: each gets 405 with an Allow header, as a problem.
UNDECLARED = ("PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One seeded server for the whole module (tests/e2e/server.py)."""
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    live = start(f"sqlite:///{tmp}/ledger.db", tmp)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def api_schema(server: LiveServer) -> schemathesis.BaseSchema:
    """The OpenAPI document exactly as the running server serves it."""
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


@pytest.fixture(scope="module")
def full_schema(
    server: LiveServer, api_schema: schemathesis.BaseSchema, mounted: set[tuple[str, str]]
) -> dict[str, Any]:
    """The served document completed with every route it leaves out (`complete`)."""
    log = server.env["PROVENANCE_LOG"]
    return complete(api_schema.raw_schema, log, server.url, {p for _, p in mounted})


@pytest.fixture(scope="module")
def mounted(server: LiveServer) -> set[tuple[str, str]]:
    """(METHOD, path template) of every route the server's app mounts: the app built
    from the server's environment, as the server built it (only its routes are read)."""
    with mock.patch.dict(os.environ, server.env, clear=True):
        app = app_from_env()
    try:
        return set(_app_routes(app.router.routes))
    finally:
        app.state.ctx.deployment.close()


def _problems(*statuses: int) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Problem"}
    return {
        str(status): {"description": "problem", "content": {PROBLEM: {"schema": ref}}}
        for status in statuses
    }


_UNIT_PARAMS = [
    {
        "name": "gtin",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "examples": ["09506000134352", "9506000134352"]},
    },
    {
        "name": "serial",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "examples": ["SN-0001", "SOLD-1", "NO-SUCH-1"]},
    },
]


def complete(served: dict[str, Any], log: str, url: str, mounted: set[str]) -> dict[str, Any]:
    """``served`` plus every route it leaves out, as the module docstring lists them
    (the framework's pages among the ``mounted`` paths)."""
    raw = copy.deepcopy(served)
    raw["servers"] = [{"url": url}]
    paths: dict[str, Any] = raw["paths"]

    claim = paths["/v1/units/{gtin}/{serial}/claim"]["post"]
    claim["parameters"] = copy.deepcopy(_UNIT_PARAMS)

    # The resolver's catch-all ``/01/{rest:path}``: every other Digital Link form (a CPV,
    # with or without a lot), and ``rest`` as one segment (its "/" sent as %2F: a serial
    # holding a slash, or garbage). Each goes to the same route.
    with_lot = paths["/01/{gtin}/10/{lot}/21/{serial}"]["get"]
    cpv = {
        "name": "cpv",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[-#/0-9A-Z]{1,20}$", "examples": ["CPV-1"]},
    }
    for template in ("/01/{gtin}/22/{cpv}/10/{lot}/21/{serial}", "/01/{gtin}/22/{cpv}/21/{serial}"):
        operation = copy.deepcopy(with_lot)
        operation["operationId"] = f"resolve_cpv_{len(paths)}"
        params = [
            p
            for p in operation["parameters"]
            if p["in"] != "path" or "{" + p["name"] + "}" in template
        ]
        operation["parameters"] = [params[0], cpv, *params[1:]]
        paths[template] = {"get": operation}
    rest = copy.deepcopy(with_lot)
    rest["operationId"] = "resolve_other"
    rest["parameters"] = [
        {
            "name": "rest",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "examples": ["09506000134352", "SN%2F1"]},
        },
        *(p for p in with_lot["parameters"] if p["in"] == "query"),
    ]
    paths["/01/{rest}"] = {"get": rest}

    # The log-scoped routes again under /logs/{log}: the served log, or another.
    log_param = {
        "name": "log",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": [log, "no-such-log"]},
    }
    for path in sorted(_log_scoped_paths()):
        item = copy.deepcopy(paths[path])
        for method, operation in item.items():
            operation["operationId"] = f"{operation.get('operationId', method)}_in_log"
            operation["parameters"] = [log_param, *operation.get("parameters", [])]
            operation["responses"] = {**_problems(404), **operation["responses"]}
        paths["/logs/{log}" + path] = item

    def page(media: str) -> dict[str, Any]:
        ok = {"200": {"description": "ok", "content": {media: {"schema": {}}}}}
        return {"get": {"operationId": f"framework_{len(paths)}", "responses": ok}}

    for path, media in _FRAMEWORK.items():
        if path in mounted:
            paths[path] = page(media)
    return raw


#: FastAPI's own pages, fuzzed when the app mounts them
_FRAMEWORK = {
    "/docs": HTML,
    "/openapi.json": "application/json",
}


def _log_scoped_paths() -> set[str]:
    """The paths the app mounts again under ``/logs/{log}`` (api.app.LOG_SCOPED)."""
    return {_template(route) for module in LOG_SCOPED for route in module.router.routes}


def _template(route: BaseRoute) -> str:
    """A route's path as an OpenAPI template (``{serial:path}`` -> ``{serial}``)."""
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", getattr(route, "path", ""))


def _app_routes(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(METHOD, path template) of every route an app mounts, looking into included routers."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _app_routes(included.routes, prefix + (getattr(route, "prefix", "") or ""))
            continue
        if getattr(route, "include_in_schema", True) is False:
            continue  # outside the API: the console's pages (tests/e2e/test_console_access.py)
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                yield method, prefix + _template(route)


def _problem_failures(status: int, content_type: str, body: bytes) -> list[str]:
    """What is wrong with a 4xx response as RFC 9457 problem details (empty: nothing)."""
    if content_type.split(";")[0].strip() != PROBLEM:
        return [f"content type {content_type!r}, expected {PROBLEM}"]
    try:
        problem = json.loads(body)
    except ValueError:
        return ["the body is not JSON"]
    if not isinstance(problem, dict):
        return ["the body is not a JSON object"]
    failures = []
    if not str(problem.get("type", "")).startswith(PROBLEM_TYPE):
        failures.append(f"type {problem.get('type')!r} is not under {PROBLEM_TYPE}")
    if problem.get("status") != status:
        failures.append(f"status member {problem.get('status')!r} is not {status}")
    return failures


def _from_browser(case: schemathesis.Case) -> bool:
    """A browser's request: one of the page's forms, or a page asked for as HTML."""
    accept = str((case.headers or {}).get("Accept", ""))
    return case.media_type in FORMS or accept.startswith(HTML)


def _html_failures(content_type: str, body: bytes) -> list[str]:
    """What is wrong with a 4xx answered to a browser as an HTML page (empty: nothing)."""
    if content_type.split(";")[0].strip() != HTML:
        return [f"content type {content_type!r}, expected {HTML}"]
    if not body.lstrip().lower().startswith(b"<!doctype html"):
        return ["the body is not an HTML document"]
    return []


_TOKEN_FIELD = re.compile(r'name="csrf" value="([^"]*)"')


def _as_this_browser(case: schemathesis.Case) -> None:
    """A form posted from this site's own page (``Origin`` is the server's): first load
    the unit's page as a browser does, then post with the anti-forgery cookie and token it
    hands out (when the server hands any out), so that the fuzzed form reaches past them."""
    base = case.operation.schema.get_base_url()
    headers = case.headers or {}
    body = case.body
    if case.media_type not in FORMS or headers.get("Origin") != base or not isinstance(body, dict):
        return
    unit = case.path_parameters or {}
    gtin, serial = unit.get("gtin", body.get("gtin")), unit.get("serial", body.get("serial"))
    if not isinstance(gtin, str) or not isinstance(serial, str):
        return
    path = f"/01/{quote(gtin, safe='')}/21/{quote(serial, safe='')}"
    page = httpx.get(base + path, headers={"Accept": HTML}, timeout=30)
    token = _TOKEN_FIELD.search(page.text)
    if token is None:
        return
    body["csrf"] = token.group(1)
    cookies = "; ".join(f"{k}={v}" for k, v in page.cookies.items())
    case.headers = {
        **headers,
        "Cookie": "; ".join(c for c in (headers.get("Cookie"), cookies) if c),
    }


def _check(case: schemathesis.Case) -> tuple[int, str]:
    """Send one generated request, hold its response to the rules above; its status and
    media type."""
    _as_this_browser(case)
    response = case.call(timeout=30)
    where = f"{case.method} {response.request.url} -> {response.status_code}"
    assert response.status_code < 500, f"{where}: {response.content[:500]!r}"
    if 400 <= response.status_code < 500:
        content_type = (response.headers.get("content-type") or [""])[0]
        failures = _problem_failures(response.status_code, content_type, response.content)
        if failures and _from_browser(case):
            failures = _html_failures(content_type, response.content)
        assert not failures, f"{where}: {failures}: {response.content[:500]!r}"
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
    media = (response.headers.get("content-type") or [""])[0].split(";")[0].strip()
    return response.status_code, media


def _fuzz(operation: schemathesis.APIOperation, sent: Counter[Sent], examples: int) -> None:
    """Run one operation's examples and fuzzed cases; raise the first (shrunk) failure.

    The browser routes (the shopper's page and its forms) also draw ``Accept`` and
    ``Accept-Language`` (as browsers, apps and EPCIS clients send them), ``Cookie`` and
    ``Origin`` headers (as a browser, or a hostile page or script, sends them).
    """
    cases = st.one_of(
        *operation.get_strategies_from_examples(),
        *(operation.as_strategy(generation_mode=mode) for mode in schemathesis.GenerationMode),
    )
    strategy = cases
    if operation.path.startswith(BROWSER_ROUTES):
        strategy = st.builds(
            _with_headers,
            cases,
            st.sampled_from(ACCEPTS),
            st.sampled_from(LANGUAGES),
            st.sampled_from(COOKIES),
            st.sampled_from(ORIGINS),
        )

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        sent[operation.label, case.media_type or "-", *_check(case)] += 1

    run()


def _with_headers(
    case: schemathesis.Case, accept: str, language: str, cookie: str, origin: str
) -> schemathesis.Case:
    base = case.operation.schema.get_base_url()
    drawn = {
        "Accept": accept,
        "Accept-Language": language,
        "Cookie": cookie,
        "Origin": base if origin == "SELF" else origin,
    }
    case.headers = {**(case.headers or {}), **{k: v for k, v in drawn.items() if v}}
    return case


def test_the_fuzzed_document_covers_every_route(
    mounted: set[tuple[str, str]], full_schema: dict[str, Any]
) -> None:
    """Every (method, path) the app mounts is an operation of the fuzzed document."""
    fuzzed = {
        (method.upper(), path) for path, item in full_schema["paths"].items() for method in item
    }
    assert mounted - fuzzed == set(), f"routes no fuzzing reaches: {sorted(mounted - fuzzed)}"
    assert ("POST", "/v1/units/{gtin}/{serial}/claim") in mounted


@pytest.mark.parametrize(
    ("examples", "least"),
    [pytest.param(*FULL, marks=pytest.mark.slow, id="full"), pytest.param(*QUICK, id="quick")],
)
def test_every_response_is_as_documented(
    full_schema: dict[str, Any], examples: int, least: int
) -> None:
    """At least ``least`` generated requests (2,000 in the full run) over every route; no
    5xx, 4xx as problems (or HTML pages for browsers), all as documented."""
    schema = schemathesis.openapi.from_dict(full_schema)
    schema.config.update(base_url=full_schema["servers"][0]["url"])
    sent: Counter[Sent] = Counter()
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            _fuzz(operation, sent, examples)
        # schemathesis reports its check failures as a BaseExceptionGroup; every operation
        # runs either way, and every failure is reported below.
        except (Exception, BaseExceptionGroup) as e:
            failures[operation.label] = f"{type(e).__name__}: {e}"
    total = sum(sent.values())
    print(f"\nschemathesis: {total} requests answered without a failure")
    for (label, request, status, media), count in sorted(sent.items()):
        print(f"  {label:44} {request:33} {status} {media:24} x {count}")
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())
    assert total >= least, f"only {total} requests"
    # the browser's side was reached, not only the JSON API: the page and both forms
    pages = {label for label, _, status, media in sent if media == HTML and status == 200}
    assert set(PAGES) <= pages, f"no HTML page from {sorted(set(PAGES) - pages)}"
    forms = {(label, request) for label, request, _, _ in sent}
    assert set(FORMS_SENT) <= forms, f"never posted: {sorted(set(FORMS_SENT) - forms)}"
    # the JSON shapes were answered and checked, not only refusals
    answered = {(label, media) for label, _, status, media in sent if status == 200}
    assert set(ANSWERED) <= answered, f"no 200 from {sorted(set(ANSWERED) - answered)}"


def test_undeclared_methods_get_405_problems(
    server: LiveServer, api_schema: schemathesis.BaseSchema
) -> None:
    """A method no route declares: 405, problem+json, ``Allow`` naming the declared ones."""
    values = {"index": "0", "gtin": "09506000134352", "serial": "SN-0001", "lot": "L1"}
    values["actor_id"] = "acme"
    values.update(brand="acme", report_id="1", sscc="095060000000000015", image_hash="A" * 43)
    values["level"] = "0"
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for template, operations in sorted(api_schema.raw_schema["paths"].items()):
            path = template.format(**values)
            declared = {method.upper() for method in operations}
            if template.endswith(("/claim", "/consume")):
                # A serial may hold "/" (GS1 CSET 82), so GET /v1/units/{gtin}/{serial} also
                # matches .../{serial}/claim: both methods are really allowed there.
                declared.add("GET")
            for method in UNDECLARED:
                response = client.request(method, path)
                where = f"{method} {path} -> {response.status_code}"
                assert response.status_code == 405, where
                allow = {m.strip() for m in response.headers.get("allow", "").split(",")}
                assert allow - {"HEAD"} == declared, f"{where}: Allow {allow}, not {declared}"
                content_type = response.headers.get("content-type", "")
                failures = _problem_failures(405, content_type, response.content)
                assert not failures, f"{where}: {failures}"


_B = "XyZ"
_MULTIPART = {"Content-Type": f"multipart/form-data; boundary={_B}"}
_URLENCODED = {"Content-Type": "application/x-www-form-urlencoded"}


def _part(name: str, value: str, filename: str | None = None) -> str:
    extra = f'; filename="{filename}"' if filename else ""
    return f'--{_B}\r\nContent-Disposition: form-data; name="{name}"{extra}\r\n\r\n{value}\r\n'


#: (what, method, path, headers, body): broken bodies a generator rarely builds
_HOSTILE: list[tuple[str, str, str, dict[str, str], bytes | None]] = [
    ("multipart without a boundary", "POST", "{claim}", {"Content-Type": "multipart/form-data"}, b"code=x"),
    ("truncated multipart", "POST", "{claim}", _MULTIPART, f'--{_B}\r\nContent-Disposition: form-data; name="code"\r\n\r\nab'.encode()),
    ("binary junk as multipart", "POST", "{claim}", _MULTIPART, b"\x00\xff" * 100),
    ("a file where a code goes", "POST", "{claim}", _MULTIPART, (_part("code", "abc", "a.txt") + f"--{_B}--\r\n").encode()),
    ("a hundred fields", "POST", "{claim}", _URLENCODED, "&".join(f"f{i}=1" for i in range(100)).encode()),
    ("percent-encoded non-UTF-8", "POST", "{claim}", _URLENCODED, b"code=%ff%fe&lang=%c3"),
    ("an oversized field", "POST", "{claim}", _URLENCODED, b"code=" + b"A" * 5000),
    ("multipart without a boundary", "POST", "/v1/reports", {"Content-Type": "multipart/form-data"}, b"x"),
    ("two photos", "POST", "/v1/reports", _MULTIPART, (_part("photo", "a", "a") * 2 + f"--{_B}--\r\n").encode()),
    ("a file where the GTIN goes", "POST", "/v1/reports", _MULTIPART, (_part("gtin", "09506000134352", "g") + f"--{_B}--\r\n").encode()),
    ("a photo that is not base64url", "POST", "/v1/reports", {"Content-Type": "application/json"}, b'{"gtin":"09506000134352","serial":"SN-0001","reason":"other","photo":"////"}'),
    ("a crowd of cookies", "GET", "{page}", {"Accept": HTML, "Cookie": "; ".join(f"c{i}=v" for i in range(2000))}, None),
    ("a junk owner cookie", "GET", "{page}", {"Accept": HTML, "Cookie": "pl_owner_" + "0" * 16 + "=\x7f"}, None),
    ("junk language and query", "GET", "{page}?lang=%00%ff&17=999999", {"Accept": HTML, "Accept-Language": ";q=,,;"}, None),
]  # fmt: skip


@pytest.mark.parametrize(("what", "method", "path", "headers", "body"), _HOSTILE)
def test_hostile_bodies_and_headers_are_refused_clearly(
    server: LiveServer,
    what: str,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
) -> None:
    """Broken multipart bodies, oversized or non-UTF-8 forms, crowds of cookies: never a
    5xx; a refusal is a problem, or an HTML page for the browser's form."""
    unit = "09506000134352/SN-0001"
    target = path.format(claim=f"/v1/units/{unit}/claim", page="/01/09506000134352/21/SN-0001")
    response = httpx.request(method, server.url + target, headers=headers, content=body)
    where = f"{what}: {method} {target} -> {response.status_code}"
    assert response.status_code < 500, f"{where}: {response.text[:300]}"
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", "")
        failures = _problem_failures(response.status_code, content_type, response.content)
        if failures and (method == "POST" or headers.get("Accept", "").startswith(HTML)):
            failures = _html_failures(content_type, response.content)
        assert not failures, f"{where}: {failures}"


#: (operation, path parameters, query, component, member dropped from the document):
#: a real answer each, and a document that no longer names one member of its shape
_DRIFTS = [
    ("GET /v1/entries/{index}", {"index": 0}, {}, "EntryView", "received"),
    ("GET /v1/entries", {}, {"start": 0, "end": 20}, "EventHandoff", "to"),
    ("GET /v1/entries", {}, {"start": 0, "end": 1}, "EventActorRegister", "log_key"),
    ("GET /v1/units/{gtin}/{serial}", {"gtin": "09506000134352", "serial": "SN-0001"}, {},
     "UnitInfo", "label"),
    ("GET /v1/checkpoints", {}, {}, "CheckpointSizes", "next"),
    ("GET /v1/log/incidents", {}, {}, "Incidents", "origin"),
    ("GET /v1/proofs/map-update", {}, {"old": 1, "new": 2}, "MapUpdateProof", "compact"),
    ("GET /v1/brands/{brand}/retailers", {"brand": "acme"}, {}, "Retailers", "at"),
]  # fmt: skip


def _answer(
    document: dict[str, Any], label: str, path: dict[str, Any], query: dict[str, Any]
) -> tuple[schemathesis.Case, Any]:
    """The served answer to ``label`` with these parameters, and a checker that holds it
    to ``document`` (schemathesis' own response checks, as the fuzzing runs them)."""
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=document["servers"][0]["url"])
    method, template = label.split(" ", 1)
    operation = schema[template][method]
    case = operation.Case(path_parameters=path, query=query)
    return case, case.call(timeout=30)


@pytest.mark.parametrize(("label", "path", "query", "component", "member"), _DRIFTS)
def test_a_response_that_drifts_from_the_document_fails_the_check(
    full_schema: dict[str, Any],
    label: str,
    path: dict[str, Any],
    query: dict[str, Any],
    component: str,
    member: str,
) -> None:
    """The conformance check bites: a real answer passes against the served document,
    and fails once the document's shape lacks one member the answer has (the shapes are
    closed, so an unnamed member is drift: a server adding one fails the same way)."""
    case, response = _answer(full_schema, label, path, query)
    assert response.status_code == 200, response.content[:300]
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
    drifted = copy.deepcopy(full_schema)
    shape = drifted["components"]["schemas"][component]
    assert member in shape["properties"], f"{component} has no {member}"
    del shape["properties"][member]
    if member in shape.get("required", []):
        shape["required"].remove(member)
    case, response = _answer(drifted, label, path, query)
    with pytest.raises(BaseException, match=r"(?i)schema|additional"):
        case.validate_response(response, excluded_checks=[positive_data_acceptance])


def test_the_committed_copy_is_the_served_document(server: LiveServer) -> None:
    """docs/openapi.json is exactly what a configured server serves at /openapi.json
    (after an API change: ``python -m tests.openapi_copy`` rewrites it)."""
    served = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    committed = json.loads(COPY.read_text(encoding="utf-8"))
    assert committed == served, "docs/openapi.json is stale: run python -m tests.openapi_copy"
    assert COPY.read_text(encoding="utf-8") == text(served)  # and spelled as the tool writes
