"""schemathesis against the app's own OpenAPI, served by a real uvicorn server on SQLite.

Each operation of ``/openapi.json`` gets its documented examples and fuzzed requests,
schema-valid and schema-invalid (schemathesis' positive and negative modes): over 1,000
requests in all, counted and asserted. Every response must

- not be a 5xx;
- when it is a 4xx, be RFC 9457 ``application/problem+json`` whose ``type`` is
  ``urn:provenance-ledger:problem:<code>`` and whose ``status`` is the response's;
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
collected before the test fails, so one run shows them all. The whole module takes ~30 s.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.e2e.server import LiveServer, start

PROBLEM = "application/problem+json"
PROBLEM_TYPE = "urn:provenance-ledger:problem:"
MIN_REQUESTS = 1000
# Examples per operation; operations without parameters run out of distinct requests
# early, so the others carry the total.
MAX_EXAMPLES = 150
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


def _check(case: schemathesis.Case) -> int:
    """Send one generated request, hold its response to the rules above; its status."""
    response = case.call(timeout=30)
    where = f"{case.method} {response.request.url} -> {response.status_code}"
    assert response.status_code < 500, f"{where}: {response.content[:500]!r}"
    if 400 <= response.status_code < 500:
        content_type = (response.headers.get("content-type") or [""])[0]
        failures = _problem_failures(response.status_code, content_type, response.content)
        assert not failures, f"{where}: {failures}: {response.content[:500]!r}"
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
    return response.status_code


def _fuzz(operation: schemathesis.APIOperation, sent: Counter[tuple[str, int]]) -> None:
    """Run one operation's examples and fuzzed cases; raise the first (shrunk) failure."""
    strategy = st.one_of(
        *operation.get_strategies_from_examples(),
        *(operation.as_strategy(generation_mode=mode) for mode in schemathesis.GenerationMode),
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        sent[operation.label, _check(case)] += 1

    run()


@pytest.mark.slow  # the full fuzzing run: over 1,000 requests
def test_every_response_is_as_documented(api_schema: schemathesis.BaseSchema) -> None:
    """At least 1,000 generated requests; no 5xx, 4xx as problems, all as documented."""
    sent: Counter[tuple[str, int]] = Counter()
    failures: dict[str, str] = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        try:
            _fuzz(operation, sent)
        # schemathesis reports its check failures as a BaseExceptionGroup; every operation
        # runs either way, and every failure is reported below.
        except (Exception, BaseExceptionGroup) as e:
            failures[operation.label] = f"{type(e).__name__}: {e}"
    total = sum(sent.values())
    print(f"\nschemathesis: {total} requests answered without a failure")
    for (label, status), count in sorted(sent.items()):
        print(f"  {label:40} {status} x {count}")
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())
    assert total >= MIN_REQUESTS, f"only {total} requests"


def test_undeclared_methods_get_405_problems(
    server: LiveServer, api_schema: schemathesis.BaseSchema
) -> None:
    """A method no route declares: 405, problem+json, ``Allow`` naming the declared ones."""
    values = {"index": "0", "gtin": "09506000134352", "serial": "SN-0001", "lot": "L1"}
    values["actor_id"] = "acme"
    values.update(brand="acme", report_id="1")
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for template, operations in sorted(api_schema.raw_schema["paths"].items()):
            path = template.format(**values)
            declared = {method.upper() for method in operations}
            if template.endswith("/claim"):
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
