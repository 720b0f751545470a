"""Retention that deletes (ledger.service.retention): scans, owners' daily client hashes,
report photos, report texts and client hashes, spent claim counters, past report counters
and salts go once their documented period is over (docs/PRIVACY.md), on an injected
clock; the log (entries, leaves, nodes, checkpoints, projections) is never touched, so
the audit passes after a run, byte for byte the same log.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from ledger import claimcode
from ledger.errors import LedgerError
from ledger.service.ledger import Ledger
from ledger.service.policies import Policies, ReportPolicy
from tests.e2e.cli_schemas import RETENTION
from tests.factories import GTIN
from tests.integration.signals_world import Clock, SignalWorld
from tests.integration.world import config

#: the log's own tables: what the audit replays and retention must leave alone
LOG_TABLES = ("logs", "entries", "nodes", "checkpoints", "actors", "actor_keys", "units")


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def sw(db_url: str) -> Iterator[SignalWorld]:
    world = SignalWorld.open(db_url)
    yield world
    world.ledger.close()


def fingerprint(sw: SignalWorld, url: str) -> str:
    """SHA-256 over every row of the log's tables for this log, in a fixed order."""
    digest = hashlib.sha256()
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            for table in LOG_TABLES:
                key = "id" if table == "logs" else "log"
                rows = conn.execute(
                    text(f"SELECT * FROM {table} WHERE {key} = :log"), {"log": sw.ledger.log}
                ).all()
                for row in sorted(repr(tuple(r)) for r in rows):
                    digest.update(row.encode())
    finally:
        engine.dispose()
    return digest.hexdigest()


def report_row(sw: SignalWorld, report_id: int) -> dict[str, Any]:
    found = sw.ledger.reports.find(report_id)
    assert found is not None
    return found


def test_each_kind_is_deleted_after_its_period_and_the_audit_still_passes(
    sw: SignalWorld, db_url: str
) -> None:
    sw.mint("SN-1")
    code = sw.mint("SN-2")
    sw.scan("SN-1", "CN", "c0ffee00c0ffee00c0ffee00c0ffee00")
    wrong = claimcode.new_claim_code()
    with pytest.raises(LedgerError):
        sw.ledger.claims.claim(GTIN, "SN-2", wrong, client="badbadbadbadbadbadbadbadbadbad00")
    claimed = sw.ledger.claims.claim(GTIN, "SN-2", code, client="feedfeedfeedfeedfeedfeedfeedfeed")
    assert claimed.owner_token
    report = sw.ledger.reports.report(
        GTIN,
        "SN-1",
        "counterfeit",
        text="call me at +86 138 0000 0000",
        where="Stall 12, Luohu market",
        photo=jpeg(),
        client="abcdabcdabcdabcdabcdabcdabcdabcd",
    )["id"]
    sw.ledger.salt.client_hash("192.0.2.1")
    log_before = fingerprint(sw, db_url)

    # the same day: nothing is due (today's salt and counters stay too)
    first = sw.ledger.retention.run()
    assert first.to_dict() == {k: 0 for k in first.to_dict()}

    sw.clock.advance(days=1, hours=1)  # claim counters forgotten; a new day
    second = sw.ledger.retention.run()
    assert second.claim_attempts == 1  # the wrong code's pair (the unit's was cleared)
    assert second.report_quotas == 2 and second.salts >= 1
    assert second.scans == second.photos == second.contacts == second.owner_clients == 0

    sw.clock.advance(days=90)  # past the scans' 90 days and the photos' 90
    third = sw.ledger.retention.run()
    assert (third.scans, third.owner_clients, third.photos) == (1, 1, 1)
    assert third.contacts == 0
    row = report_row(sw, report)
    assert row["photo"] is None and row["photo_type"] is None
    assert row["text"] and row["where_bought"] and row["client"]  # they last 180 days
    # the owner-token pseudonym stays: the owner's own rescans are still no clone signal
    owners = sw.ledger.reports._signal_store.owner_clients(sw.ledger.log, GTIN, "SN-2")
    assert len(owners) == 1 and next(iter(owners)).startswith("o")

    sw.clock.advance(days=90)  # past the contacts' 180 days
    fourth = sw.ledger.retention.run()
    assert fourth.contacts == 1
    row = report_row(sw, report)
    assert row["text"] is None and row["where_bought"] is None and row["client"] == ""
    assert (row["reason"], row["status"], row["gtin"]) == ("counterfeit", "open", GTIN)
    assert sw.ledger.retention.run().to_dict() == {k: 0 for k in fourth.to_dict()}

    # the log is exactly what it was, and its audit passes
    assert fingerprint(sw, db_url) == log_before
    assert sw.ledger.audit(workers=1).ok


def test_periods_come_from_the_policies(db_url: str) -> None:
    clock = Clock()
    policies = Policies(reports=ReportPolicy(photo_retention=timedelta(days=2)))
    ledger = Ledger.open(db_url, config(f"r-{uuid.uuid4().hex[:10]}"), clock, policies=policies)
    try:
        ledger.reports.report(GTIN, "SN-1", "other", photo=jpeg(), client="c")
        clock.advance(days=1)
        assert ledger.retention.run().photos == 0
        clock.advance(days=1, seconds=1)
        assert ledger.retention.run().photos == 1
    finally:
        ledger.close()


def test_policies_read_from_the_environment() -> None:
    policies = Policies.from_env(
        {
            "PROVENANCE_REPORT_PHOTO_DAYS": "7",
            "PROVENANCE_REPORT_CONTACT_DAYS": "30",
            "PROVENANCE_REPORTS_PER_CLIENT": "2",
            "PROVENANCE_REPORTS_PER_UNIT": "9",
        }
    )
    assert policies.reports == ReportPolicy(
        per_client=2,
        per_unit=9,
        photo_retention=timedelta(days=7),
        contact_retention=timedelta(days=30),
    )
    assert Policies.from_env({}).reports == ReportPolicy()
    with pytest.raises(LedgerError):
        Policies.from_env({"PROVENANCE_REPORTS_PER_CLIENT": "0"})


def test_the_cli_command_runs_the_job(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.main import app

    monkeypatch.setenv("PROVENANCE_HOME", str(tmp_path))
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    done = runner.invoke(app, ["--json", "retention", "run"])
    assert done.exit_code == 0, done.output
    answer = json.loads(done.output)
    kinds = RETENTION["properties"]["deleted"]["properties"]
    assert set(answer) == {"deleted"} and set(answer["deleted"]) == set(kinds)
    assert answer["deleted"]["scans"] == 0
    human = runner.invoke(app, ["retention", "run"])
    assert human.exit_code == 0 and "photos: 0 deleted" in human.output
    refused = runner.invoke(app, ["--server", "http://127.0.0.1:9", "retention", "run"])
    assert refused.exit_code == 2 and "local database" in refused.output


def test_the_server_runs_the_job_at_start_and_purges_the_salt_in_the_background(
    tmp_path: Any,
) -> None:
    import asyncio

    from api.app import create_app
    from ledger.service.settings import Settings

    clock = Clock()
    ledger = Ledger.open(f"sqlite:///{tmp_path}/srv.db", config("srv"), clock)
    filed = ledger.reports.report(GTIN, "SN-1", "other", photo=jpeg(), client="c")["id"]
    clock.advance(days=91)
    app = create_app(Settings.from_env({"PROVENANCE_HOME": str(tmp_path)}), ledger=ledger)
    context = app.state.ctx

    async def main() -> None:
        async with app.router.lifespan_context(app):
            assert (ledger.reports.find(filed) or {})["photo"] is None  # the run at start
            ledger.salt.client_hash("192.0.2.1")
            today = ledger.salt.days()
            clock.advance(days=1)  # midnight passes on a server nobody visits
            purge = asyncio.create_task(context.retain_forever(salt_interval=0.01, every=3))
            for _ in range(200):
                await asyncio.sleep(0.01)
                if not ledger.salt.days():
                    break
            purge.cancel()
            assert today and ledger.salt.days() == []

    try:
        asyncio.run(main())
    finally:
        ledger.close()
