"""Past one machine, for real: a streaming replica serving reads, and two logs in one server.

The module starts its own PostgreSQL primary and a hot-standby replica of it
(tests/integration/pgcluster.py: initdb, pg_basebackup -R, on free ports in temporary
folders, as the postgres user), then the real API under uvicorn with
``DATABASE_URL`` = the primary and ``DATABASE_REPLICA_URLS`` = the replica. It shows:

1. resolver reads are served by the replica (those memory cannot answer: warm views
   come from memory), counted by the app (``/metrics``) and by each server itself
   (``pg_stat_database.xact_commit``); the app reads nothing from the primary;
2. read-your-writes: with the replica's replay paused, a unit just written is unknown
   on the replica but found with ``min_size`` (query or header) set to the receipt's size;
3. stopping the replica sends reads to the primary without a single error;
4. two logs on two databases behind one server: units of brand A land in log A, of
   brand B in log B; the resolver finds each in its own log; each audits clean.

Needs the PostgreSQL server binaries (``/usr/lib/postgresql/*/bin``): skipped with one
line without them, a failure in CI (``CI=true``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli.hammer.server import ServerProcess
from ledger import label, note
from ledger.entry import SignedEvent
from ledger.gs1 import UnitId
from ledger.service.audit import audit_log
from ledger.service.viewcache import SIZE_TTL
from ledger.store import Store
from tests.cli_runner import run_cli
from tests.e2e.server import METRICS_AUTH, LiveServer, LiveWorld, free_port, seed, start
from tests.factories import GTIN, key, public_b64
from tests.integration.pgcluster import Cluster, Site, clusters, server_binaries, wait_for
from tests.integration.test_deployment import write_config

pytestmark = pytest.mark.postgres
JSON = {"Accept": "application/json"}
GTIN_B = "09506001000014"  # under beta's prefix 9506001
READS = 200
#: rounds of reads, each after the memory's log size went stale (ledger.service.viewcache)
ROUNDS = 4


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """A temporary place for this module's PostgreSQL clusters, removed afterwards."""
    if server_binaries() is None:
        message = "no PostgreSQL server binaries (initdb, pg_basebackup) to start clusters"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI must run the replica tests")
        pytest.skip(message + "; install postgresql to run these tests")
    with clusters() as started:
        yield started


@pytest.fixture(scope="module")
def pair(site: Site) -> tuple[Cluster, Cluster]:
    """A primary and its streaming replica."""
    primary = site.primary()
    return primary, site.replica_of(primary)


@pytest.fixture(scope="module")
def server(
    pair: tuple[Cluster, Cluster], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The API with writes on the primary and reads on the replica."""
    primary, replica = pair
    live = start(
        primary.url(),
        tmp_path_factory.mktemp("replicated"),
        extra_env={"DATABASE_REPLICA_URLS": replica.url()},
    )
    yield live
    live.stop()


def commits(cluster: Cluster) -> int:
    """Transactions committed in the ledger's database, as the server itself counts them."""
    rows = cluster.execute(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    )
    return int(str(rows[0][0]))


def log_size(cluster: Cluster) -> int:
    """The largest log's size as this server sees it."""
    return int(str(cluster.execute("SELECT coalesce(max(size), 0) FROM logs")[0][0]))


def metric(url: str, name: str, **labels: str) -> float | None:
    """One sample of ``/metrics`` by name and labels, or None."""
    text = httpx.get(f"{url}/metrics", headers=METRICS_AUTH).text
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            return float(match.group(2))
    return None


def test_resolver_reads_are_served_by_the_replica(
    server: LiveServer, pair: tuple[Cluster, Cluster]
) -> None:
    primary, replica = pair
    wait_for(lambda: log_size(replica) == log_size(primary), what="the replica to catch up")
    gtin, serial = server.units["genuine"]
    app_before = metric(server.url, "provenance_db_read_transactions", role="primary") or 0.0
    replica_before = metric(server.url, "provenance_db_read_transactions", role="replica") or 0.0
    before_primary, before_replica = commits(primary), commits(replica)
    with httpx.Client(base_url=server.url, headers=JSON) as client:
        signed = label.sign_label(UnitId(gtin=gtin, serial=serial), key(2))  # acme's label
        for round_ in range(ROUNDS):
            if round_:
                time.sleep(SIZE_TTL + 0.2)  # memory's log size is stale: a read is due
            for _ in range(READS // ROUNDS):
                view = client.get(f"/01/{gtin}/21/{serial}", params={"s": signed})
                assert view.status_code == 200 and view.json()["verdict"] == "genuine"
    app_after = metric(server.url, "provenance_db_read_transactions", role="primary") or 0.0
    replica_after = metric(server.url, "provenance_db_read_transactions", role="replica") or 0.0
    # Warm views come from memory; each round's first view (the log size gone stale)
    # and the background refreshes read the database: the replica, never the primary.
    app_reads = replica_after - replica_before
    assert app_reads >= ROUNDS, app_reads
    assert app_after - app_before <= 2  # the /metrics scrapes' own reads
    # Sessions report their statistics at most once a second and when idle: wait for them.
    wait_for(lambda: commits(replica) - before_replica >= ROUNDS, what="the replica's commit count")
    replica_reads = commits(replica) - before_replica
    primary_work = commits(primary) - before_primary
    assert metric(server.url, "provenance_replica_up") == 1.0
    print(
        f"\n{READS} resolver reads: app reads on the replica +{app_reads}; "
        f"replica commits +{replica_reads}, primary +{primary_work}"
    )


def test_check_archive_refuses_a_copy_still_in_recovery(
    server: LiveServer, pair: tuple[Cluster, Cluster]
) -> None:
    # a copy restored from a base backup accepts connections while it still replays its
    # WAL archive, as a standby does: a check then would audit a log still growing
    _, replica = pair
    env = {**server.env, "NO_COLOR": "1", "COLUMNS": "300"}
    done = run_cli(["check-archive", "--restored", replica.url()], env=env)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "is still in recovery" in done.stderr and "pg_is_in_recovery()" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def _commission(server: LiveServer, serial: str) -> SignedEvent:
    world = server.world.world
    unit = {"gtin": GTIN, "serial": serial}
    return world.sign("commission", "acme", unit=unit, prev=None)


def test_a_client_reads_its_own_write_while_the_replica_lags(
    server: LiveServer, pair: tuple[Cluster, Cluster]
) -> None:
    primary, replica = pair
    replica.execute("SELECT pg_wal_replay_pause()")
    try:
        receipt = httpx.post(
            f"{server.url}/v1/entries", json=_commission(server, "RYW-1").to_dict()
        )
        assert receipt.status_code == 201
        size = receipt.json()["size"]
        wait_for(lambda: log_size(primary) == size, what="the primary's head")
        unit = f"{server.url}/v1/units/{GTIN}/RYW-1"
        # the replica has not replayed the write: a plain read does not see it ...
        assert httpx.get(unit).json()["verdict"] == "unknown"
        lag = metric(server.url, "provenance_replica_lag_entries")
        assert lag is not None and lag >= 1
        # ... a read that names the size it knows does, from the primary
        for seen in (
            httpx.get(unit, params={"min_size": size}),
            httpx.get(unit, headers={"Provenance-Min-Size": str(size)}),
            httpx.get(
                f"{server.url}/01/{GTIN}/21/RYW-1",
                params={
                    "min_size": size,
                    "s": label.sign_label(UnitId(gtin=GTIN, serial="RYW-1"), key(2)),
                },
                headers=JSON,
            ),
        ):
            assert seen.status_code == 200
            view = seen.json()
            assert view["verdict"] == "genuine" and len(view["entries"]) == 1
            assert view["entries"][0]["index"] == size - 1
        bad = httpx.get(unit, params={"min_size": "-1"})
        assert bad.status_code == 422 and bad.json()["type"].endswith(":validation")
    finally:
        replica.execute("SELECT pg_wal_replay_resume()")
    wait_for(lambda: log_size(replica) == log_size(primary), what="the replica to catch up")
    assert httpx.get(f"{server.url}/v1/units/{GTIN}/RYW-1").json()["verdict"] == "genuine"


def test_stopping_the_replica_sends_reads_to_the_primary(
    server: LiveServer, pair: tuple[Cluster, Cluster]
) -> None:
    _, replica = pair
    gtin, serial = server.units["sold"]
    before = metric(server.url, "provenance_db_read_transactions", role="primary") or 0.0
    replica.stop("fast")
    with httpx.Client(base_url=server.url, headers=JSON) as client:
        for round_ in range(ROUNDS):
            if round_:
                time.sleep(SIZE_TTL + 0.2)  # memory's log size is stale: a read is due
            for _ in range(50 // ROUNDS):
                view = client.get(f"/01/{gtin}/21/{serial}")
                assert view.status_code == 200, view.text
                assert view.json()["verdict"] == "caution"
                assert client.get("/v1/checkpoint").status_code == 200
    after = metric(server.url, "provenance_db_read_transactions", role="primary") or 0.0
    assert after - before >= ROUNDS
    assert metric(server.url, "provenance_replica_up") == 0.0
    assert httpx.get(f"{server.url}/healthz").status_code == 200


# --- two logs on two databases behind one server ----------------------------------------


def _cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run ``provenance ARGS`` (expecting ``--json``) and return its JSON output."""
    done = subprocess.run(
        [sys.executable, "-m", "cli", *args], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _beta_events() -> list[SignedEvent]:
    """Log b's operator (key 9) registers brand beta, which registers and mints B-1
    (signed for log b)."""
    world = LiveWorld(origin="test.example/log/b")
    world.seeds.update(operator=9, beta=10)
    register = world.sign(
        "actor.register",
        "operator",
        subject="beta",
        role="brand",
        name="Beta",
        keys=[public_b64(10)],
        prefixes=["9506001"],
    )
    product = world.sign("product.register", "beta", gtin=GTIN_B, name="Beta Bag")
    unit = {"gtin": GTIN_B, "serial": "B-1"}
    return [register, product, world.sign("commission", "beta", unit=unit, prev=None)]


def test_two_logs_on_two_databases_behind_one_server(
    pair: tuple[Cluster, Cluster], tmp_path: Path
) -> None:
    primary, _ = pair
    for database in ("brand_a", "brand_b"):
        primary.execute(f'CREATE DATABASE "{database}"', "postgres")
    url_a, url_b = primary.url("brand_a"), primary.url("brand_b")
    _, units = seed(url_a, "a")  # acme's units, in log a, before the server starts
    port = free_port()
    env = {
        **os.environ,
        "PROVENANCE_LOGS": str(write_config(tmp_path, url_a, url_b)),
        "PROVENANCE_HOME": str(tmp_path / "home"),  # the audits' kept checkpoints
        "PROVENANCE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PROVENANCE_RATE": "1000",
        "PROVENANCE_BURST": "5000",
    }
    server = ServerProcess(env, port=port)
    server.start()
    url = server.url
    try:
        server.wait_ready()
        with httpx.Client(base_url=url) as client:
            for signed in _beta_events():  # single-log URL: routed to log b
                assert client.post("/v1/entries", json=signed.to_dict()).status_code == 201
            keys = {n: client.get(f"/logs/{n}/v1/log/key").text.strip() for n in ("a", "b")}
            assert keys["a"] != keys["b"]
            for (gtin, serial), log, brand in (
                (units["genuine"], "a", 2),
                ((GTIN_B, "B-1"), "b", 10),
            ):
                signed = label.sign_label(UnitId(gtin=gtin, serial=serial), key(brand))
                view = client.get(f"/01/{gtin}/21/{serial}?s={signed}", headers=JSON).json()
                assert view["verdict"] == "genuine"
                checkpoint = note.verify_checkpoint(view["checkpoint"], keys[log])
                assert checkpoint.origin == f"test.example/log/{log}"
            assert client.get("/logs/b/v1/checkpoint").text.startswith("test.example/log/b\n4\n")
        for log in ("a", "b"):  # the auditor's command, against the server
            report = _cli(env, "--server", url, "--json", "audit", "--log", log)
            assert report["ok"] and report["entries"] > 1
        assert _cli(env, "--server", url, "--log", "b", "--json", "audit")["entries"] == 4
    finally:
        server.stop()
    # the operator's command, on each database (found through the deployment file)
    assert _cli(env, "--json", "audit", "--log", "b")["entries"] == 4
    assert _cli(env, "--json", "audit")["ok"]  # the default log, a
    # each log lives in its own database only, and audits clean on its own
    for database_url, name, verifier in ((url_a, "a", keys["a"]), (url_b, "b", keys["b"])):
        store = Store.open(database_url, create=False)
        try:
            head = store.find_log(name)
            assert head is not None
            other = "b" if name == "a" else "a"
            assert store.find_log(other) is None
            assert audit_log(store, head.id, verifier, workers=1).ok
        finally:
            store.close()
