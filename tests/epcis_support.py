"""EPCIS test helpers: the GS1 JSON Schema, the GS1 example, envelopes from worlds.

The schema and example are GS1's, copied with their NOTICE into tests/data/epcis/.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

from ledger import codec, gs1
from ledger.entry import Leaf, SignedEvent
from ledger.epcis.export import Entry, export_document
from ledger.epcis.sign import sign_document
from ledger.events import UnitEvent
from tests.factories import key
from tests.rules_factories import ORIGIN

DATA = Path(__file__).parent / "data" / "epcis"
EXAMPLE = DATA / "Example_9.6.1-ObjectEventWithDigitalLink.jsonld"
CREATED = "2026-11-28T12:00:00.000Z"


@cache
def _validator() -> Any:
    schema = json.loads((DATA / "EPCIS-JSON-Schema.json").read_text())
    # Formats (uri, date-time) are checked too: jsonschema_rs validates them for draft-07.
    return jsonschema_rs.validator_for(schema)


def schema_errors(document: Any) -> list[str]:
    """Every GS1 EPCIS 2.0 JSON Schema violation of ``document`` (empty if valid)."""
    return [f"{list(e.instance_path)}: {e.message}" for e in _validator().iter_errors(document)]


def assert_valid(document: Any) -> None:
    """Fail with the schema's messages unless ``document`` validates."""
    errors = schema_errors(document)
    assert not errors, errors


def example() -> dict[str, Any]:
    """A fresh copy of GS1's Example 9.6.1 (ObjectEvents with Digital Link EPCs)."""
    return copy.deepcopy(json.loads(EXAMPLE.read_text()))


def entries_of(log: Sequence[SignedEvent], received: Any) -> list[Entry]:
    """The (index, leaf hash, leaf) of each signed event, as if logged at ``received``."""
    out = []
    for index, signed in enumerate(log):
        leaf = Leaf.build(signed, received)
        out.append((index, leaf.hash, leaf))
    return out


def unit_events(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's eventList."""
    return list(document["epcisBody"]["eventList"])


def runs_by_actor(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Split an exported document into consecutive runs of one signer, each a document."""
    runs: list[tuple[str, list[dict[str, Any]]]] = []
    for event in unit_events(document):
        actor = event["pl:actor"].rsplit(":", 1)[1]
        if runs and runs[-1][0] == actor:
            runs[-1][1].append(event)
        else:
            runs.append((actor, [event]))
    return [(actor, {**document, "epcisBody": {"eventList": events}}) for actor, events in runs]


def envelopes(
    document: dict[str, Any], seeds: dict[str, int], head_of: Any, log: str | None = ORIGIN
) -> Iterable[tuple[str, dict[str, Any]]]:
    """Sign each run of ``document`` as its actor (key seed from ``seeds``), for the
    log ``log`` (format 2; None: format 1)."""
    for actor, part in runs_by_actor(document):
        yield actor, sign_document(part, actor, key(seeds[actor]), head_of, log)


def custody_chain(log: Sequence[SignedEvent], gtin: str, serial: str) -> list[tuple[str, str]]:
    """(kind, actor) of a unit's events in log order."""
    unit = gs1.UnitId(gtin=gtin, serial=serial)
    return [
        (s.event.kind, s.event.actor)
        for s in log
        if isinstance(s.event, UnitEvent) and s.event.unit == unit
    ]


def head_b64(signed: SignedEvent) -> str:
    """A signed event's hash as a unit head."""
    return codec.b64url_encode(signed.hash)


__all__ = ["CREATED", "export_document"]
