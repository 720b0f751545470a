"""``provenance export epcis`` and ``import epcis`` (tests/cli_runner.py), against a local
database and against a real server: exports validate against GS1's schema, a partner's
document is signed locally and appended, and the GS1 example is refused in one line
naming each event's reason, with the log unchanged."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.events import format_time
from tests.e2e.server import free_port
from tests.e2e.test_cli import GTIN, PREFIX, WINDOW, Cli, clean_env, start_serve, stop
from tests.epcis_support import EXAMPLE, assert_valid, unit_events

U1, U2 = f"{GTIN}/SN-000001", f"{GTIN}/SN-000002"


@pytest.fixture(scope="module", params=["local", "server"])
def cli(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """A log with acme, swift (courier) and shop (retailer), two units, U1 with swift."""
    tmp = tmp_path_factory.mktemp(f"epcis-{request.param}")
    db_url = f"sqlite:///{tmp / 'ledger.db'}"
    port = free_port()
    env = clean_env(PROVENANCE_HOME=str(tmp / "home"))
    run = Cli(env, tmp, ["--db", db_url], request.param)
    run("init", schema="init")
    server = None
    if request.param == "server":
        server = start_serve(run, db_url, port, tmp / "serve.log")
        run.target = ["--server", f"http://127.0.0.1:{port}"]
    try:
        public = {}
        for actor in ("acme", "swift", "shop"):
            run("keys", "new", actor, schema="keys")
            public[actor] = run("keys", "export", actor).stdout.strip()
        run.sh(
            f"actor register acme --role brand --name Acme --prefix {PREFIX} --public-key {public['acme']}"
        )
        run.sh(f"actor register swift --role courier --name Swift --public-key {public['swift']}")
        run.sh(f"actor register shop --role retailer --name Shop --public-key {public['shop']}")
        run.sh(f"product register {GTIN} --name Runner --as acme")
        run.sh(f"authorize grant swift --role courier --prefix {PREFIX} {WINDOW} --as acme")
        run.sh(f"authorize grant shop --role retailer --prefix {PREFIX} {WINDOW} --as acme")
        run.sh(f"mint {GTIN} --count 2 --out labels --formats png --as acme")
        run.sh(f"handoff {U1} --to swift --place Dongguan --as acme")
        yield run
    finally:
        if server is not None:
            stop(server)


def partner_document(serial: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    now = format_time(datetime.now(UTC))
    base = {
        "type": "ObjectEvent",
        "action": "OBSERVE",
        "epcList": [f"https://id.gs1.org/01/{GTIN}/21/{serial}"],
        "eventTime": now,
        "eventTimeZoneOffset": "+00:00",
    }
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": now,
        "epcisBody": {"eventList": [{**base, **e} for e in events]},
    }


def test_import_signs_locally_and_appends_then_export_shows_it(cli: Cli) -> None:
    document = partner_document(
        "SN-000001",
        [
            {
                "bizStep": "receiving",
                "disposition": "in_progress",
                "readPoint": {"id": "urn:epc:id:sgln:9506000.00010.0"},
            },
            {
                "bizStep": "shipping",
                "disposition": "in_transit",
                "destinationList": [
                    {"type": "possessing_party", "destination": "urn:provenance-ledger:actor:shop"}
                ],
            },
        ],
    )
    assert_valid(document)
    path = cli.cwd / "partner.jsonld"
    path.write_text(json.dumps(document))
    receipt = cli("import", "epcis", str(path), "--as", "swift", schema="receipt")
    assert len(receipt["receipts"]) == 2 and not any(r["duplicate"] for r in receipt["receipts"])
    exported = json.loads(cli("export", "epcis", "--unit", U1).stdout)
    assert_valid(exported)
    assert [(e["pl:kind"], e["pl:actor"]) for e in unit_events(exported)] == [
        ("commission", "urn:provenance-ledger:actor:acme"),
        ("handoff", "urn:provenance-ledger:actor:acme"),
        ("receive", "urn:provenance-ledger:actor:swift"),
        ("handoff", "urn:provenance-ledger:actor:swift"),
    ]
    assert unit_events(exported)[2]["pl:place"] == "urn:epc:id:sgln:9506000.00010.0"
    assert [e["pl:index"] for e in unit_events(exported)][-2:] == [
        r["index"] for r in receipt["receipts"]
    ]
    # signed again on the new head, the receive no longer fits: the unit left swift
    again = cli("import", "epcis", str(path), "--as", "swift", code=1, error="epcis-refused")
    assert "event 0 epc 0: not-recipient (actor)" in again.stderr
    assert "event 1: epcis-not-checked" in again.stderr


def test_export_range_to_a_file(cli: Cli) -> None:
    out = cli.cwd / "log.jsonld"
    info = cli("export", "epcis", "--out", str(out), schema="export epcis")
    document = json.loads(out.read_text())
    assert_valid(document)
    assert info == {"file": str(out), "events": len(unit_events(document))}
    assert {e["pl:kind"] for e in unit_events(document)} >= {"commission", "handoff"}
    part = json.loads(cli("export", "epcis", "--start", "1", "--end", "12").stdout)
    assert all(1 <= e["pl:index"] < 12 for e in unit_events(part))


def test_the_gs1_example_is_refused_in_one_line_and_changes_nothing(cli: Cli) -> None:
    before = json.loads(cli("export", "epcis").stdout)
    example = cli.cwd / EXAMPLE.name
    shutil.copyfile(EXAMPLE, example)
    done = cli("import", "epcis", str(example), "--as", "swift", code=1, error="epcis-refused")
    line = done.stderr.strip()
    assert "2 of 2 EPCIS events refused; nothing was appended" in line
    assert "event 0: epcis-party (destinationList)" in line
    assert "event 1: not-found (unit): unit 70614141123451/2018 is not in the log" in line
    after = json.loads(cli("export", "epcis").stdout)
    assert unit_events(after) == unit_events(before)


def test_import_usage_errors(cli: Cli) -> None:
    cli("import", "epcis", "missing.jsonld", "--as", "swift", code=2, error="cannot read")
    bad = cli.cwd / "bad.json"
    bad.write_text('{"type": "EPCISDocument"}')
    cli("import", "epcis", str(bad), "--as", "swift", code=1, error="eventList")
    cli("export", "epcis", "--unit", U1, "--start", "3", code=2, error="not both")


def test_cli_epcis_does_not_leak_the_key(cli: Cli, tmp_path: Path) -> None:
    document = partner_document("SN-000002", [{"bizStep": "repairing"}])
    path = tmp_path / "x.jsonld"
    path.write_text(json.dumps(document))
    done = cli("import", "epcis", str(path), "--as", "acme", code=1, error="epcis-unmapped")
    assert "PRIVATE KEY" not in done.stderr + done.stdout
