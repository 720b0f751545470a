"""The served OpenAPI document describes every JSON response (tests/openapi_audit.py):
no empty schema, no object of anything, at the top of a body or inside it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from api.app import create_app
from api.problems import problem
from ledger.errors import LedgerError
from ledger.service.ledger import Ledger
from ledger.service.settings import Settings
from tests.integration.world import config
from tests.openapi_audit import main, undescribed


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``/openapi.json`` as the app generates it."""
    tmp: Path = tmp_path_factory.mktemp("openapi")
    ledger = Ledger.open(f"sqlite:///{tmp}/o.db", config("openapi"))
    ledger.init(name="Registry")
    try:
        yield create_app(Settings.from_env({}), ledger=ledger).openapi()
    finally:
        ledger.close()


def test_every_json_response_is_described(document: dict[str, Any]) -> None:
    assert undescribed(document) == []


def test_the_write_bodies_are_one_of_the_kinds(document: dict[str, Any]) -> None:
    """Both write bodies name the signed event; its event is the union of every kind."""
    schemas = document["components"]["schemas"]
    for path in ("/v1/entries", "/v1/entries:batch"):
        body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        text = str(body["schema"])
        assert "#/components/schemas/SignedEvent" in text, path
    union = schemas["Event"]
    assert len(union["oneOf"]) == len(union["discriminator"]["mapping"]) == 23
    assert schemas["SignedEvent"]["properties"]["event"] == {"$ref": "#/components/schemas/Event"}
    assert schemas["EntryView"]["properties"]["event"] == {"$ref": "#/components/schemas/Event"}


def test_the_audit_flags_what_says_nothing() -> None:
    """The audit itself: each way a JSON body can go undescribed is found, a closed or
    fully typed one is not, and a page or a picture needs only its media type."""
    closed = {"type": "object", "additionalProperties": False, "properties": {}}
    typed_map = {"type": "object", "additionalProperties": {"type": "integer"}}

    def doc(**bodies: Any) -> dict[str, Any]:
        responses = {
            status: {"description": "-", **({"content": body} if body is not None else {})}
            for status, body in bodies.items()
        }
        components = {"schemas": {"Open": {"type": "object", "properties": {"x": {}}}}}
        return {"paths": {"/x": {"get": {"responses": responses}}}, "components": components}

    json = "application/json"
    found = undescribed(
        doc(
            **{
                "200": {json: {"schema": {}}},
                "201": {json: {}},
                "202": {json: {"schema": {"type": "object"}}},
                "203": {json: {"schema": {"type": "object", "additionalProperties": True}}},
                "204": None,
                "206": {"application/ld+json": {"schema": {"$ref": "#/components/schemas/Open"}}},
                "207": {json: {"schema": {"type": "array", "items": {}}}},
                "208": None,
                "304": None,
                "400": {"application/problem+json": {"schema": closed}},
                "401": {json: {"schema": typed_map}},
                "402": {"text/html": {"schema": {"type": "string"}}, "image/png": {}},
            }
        )
    )
    assert [(status, at) for _, _, status, _, at in found] == [
        ("200", "#"),
        ("201", "no schema"),
        ("202", "#"),
        ("203", "#"),
        ("206", "#/components/schemas/Open/properties/x"),
        ("207", "#/items"),
        ("208", "no content"),
    ]


def test_the_audit_runs_as_a_tool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m tests.openapi_audit FILE``: one line per finding, exit 1 if any."""
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text('{"paths": {}}')
    bad.write_text('{"paths": {"/x": {"get": {"responses": {"200": {"description": "-"}}}}}}')
    assert main([str(good)]) == 0
    assert main([str(bad)]) == 1
    assert capsys.readouterr().out == "GET /x 200 - no content\n"


def test_problems_with_their_own_members_are_described(document: dict[str, Any]) -> None:
    """The refusals that add members (a witness's stale size, a wrong claim code's
    attempts, an EPCIS capture's refused events) are valid problems as the server
    builds them; a member no refusal adds is not."""
    from ledger.epcis.errors import CaptureRefusedError, Refusal, UnmappedError
    from ledger.errors import StaleCheckpointError
    from ledger.rules.errors import BadClaimCodeError

    schema = {"components": document["components"], "$ref": "#/components/schemas/Problem"}
    check = jsonschema_rs.validator_for(schema)
    errors: list[LedgerError] = [
        StaleCheckpointError("stale", size=7),
        BadClaimCodeError("wrong", attempts_left=2, wait_after=60),
        CaptureRefusedError([Refusal(0, 1, UnmappedError("unmapped", field="bizStep"), "ni:x")], 2),
    ]
    for error in errors:
        extra = error.problem_fields  # type: ignore[attr-defined]
        body = json.loads(
            problem(error.status, error.code, error.message, error.field, **extra).body
        )
        assert check.is_valid(body), body
        assert not check.is_valid({**body, "unknown": 1})
