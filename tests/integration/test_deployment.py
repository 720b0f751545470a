"""Several logs behind one app: configuration, routing of writes and reads, audits.

Two logs with their own origins and operator keys, each in its own SQLite database,
served by one app: brand ``acme`` (prefix 9506000) is routed to log ``a``, brand
``beta`` (prefix 9506001) to log ``b``. The real PostgreSQL version of this story, and
the replica story, are in tests/integration/test_scaling.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from api.app import create_app
from api.context import _implied_size, min_size
from ledger import crypto, label, note
from ledger.entry import Leaf, SignedEvent
from ledger.errors import StorageError, ValidationError
from ledger.gs1 import UnitId
from ledger.service.audit import audit_log
from ledger.service.config import write_key_file
from ledger.service.deployment import Deployment, DeploymentConfig
from ledger.service.ledger import Ledger, Scan
from ledger.service.settings import Settings
from tests.factories import GTIN, LOG_SEED, key, public_b64
from tests.integration.world import LedgerWorld, clock
from tests.rules_factories import World

GTIN_B = "09506001000014"
PROBLEM = "urn:provenance-ledger:problem:"
JSON = {"Accept": "application/json"}
#: the two logs' origins: each log's events are signed for it
ORIGIN_A, ORIGIN_B = "test.example/log/a", "test.example/log/b"


def write_config(tmp: Path, url_a: str, url_b: str) -> Path:
    """A deployment file: log a (default, operator key 1), log b (operator key 9)."""
    for name, seed in (("a", 1), ("b", 9), ("a-log", LOG_SEED), ("b-log", LOG_SEED - 1)):
        pem = tmp / f"{name}.pem"
        write_key_file(pem, crypto.private_key_to_pem(key(seed)))  # 0600: else refused
    path = tmp / "logs.toml"
    path.write_text(
        f"""
default = "a"

[logs.a]
origin = "{ORIGIN_A}"
database = "{url_a}"
operator_key = "a.pem"
checkpoint_key = "a-log.pem"

[logs.b]
origin = "{ORIGIN_B}"
database = "{url_b}"
operator_key = "b.pem"
checkpoint_key = "b-log.pem"

[routes.prefixes]
"9506000" = "a"
"9506001" = "b"

[routes.brands]
beta = "b"
""",
        encoding="utf-8",
    )
    return path


def run(app: FastAPI, story: Callable[[httpx.AsyncClient], Coroutine[Any, Any, None]]) -> None:
    """Run ``story`` against ``app`` in process, then flush the queued scans."""

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await story(client)
        await app.state.ctx.flush_scans()

    asyncio.run(main())


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    """Two logs on two SQLite databases."""
    path = write_config(tmp_path, f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db")
    opened = Deployment.open(DeploymentConfig.from_toml(path), clock=clock)
    yield opened
    opened.close()


def beta_events(genesis: SignedEvent) -> list[SignedEvent]:
    """In log b: operator (key 9) registers brand beta, which registers and mints a unit
    (signed for log b)."""
    world = World(origin=ORIGIN_B)
    world.seeds.update(operator=9, beta=10)
    world.accept(genesis)
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
    commission = world.sign("commission", "beta", unit=unit, prev=None)
    return [register, product, commission]


def test_units_land_in_their_brands_log_and_are_found_there(deployment: Deployment) -> None:
    a, b = deployment.for_log("a"), deployment.for_log("b")
    LedgerWorld.base(a)  # acme and its unit SN-0001, written to log a directly
    settings = Settings.from_env(
        {"PROVENANCE_RATE": "1000", "PROVENANCE_BURST": "1000", "PROVENANCE_METRICS_TOKEN": "t"}
    )
    app = create_app(settings, deployment=deployment)

    async def story(client: httpx.AsyncClient) -> None:
        genesis_b = Leaf.from_bytes(b.entry(0).leaf, ORIGIN_B).signed
        for signed in beta_events(genesis_b):  # through the single-log URL: routed to b
            assert (await client.post("/v1/entries", json=signed.to_dict())).status_code == 201
        assert b.head().size == 4
        assert a.unit_entries(GTIN_B, "B-1") == []
        assert len(b.unit_entries(GTIN_B, "B-1")) == 1
        # the resolver finds each unit in its own log, verified against that log's key
        for gtin, serial, log, brand in ((GTIN, "SN-0001", a, 2), (GTIN_B, "B-1", b, 10)):
            signed = label.sign_label(UnitId(gtin=gtin, serial=serial), key(brand))
            await client.get(f"/01/{gtin}/21/{serial}?s={signed}")  # the page: a scan
            view = await client.get(f"/01/{gtin}/21/{serial}?s={signed}", headers=JSON)
            assert view.json()["verdict"] == "genuine"
            checkpoint = note.verify_checkpoint(view.json()["checkpoint"], log.verifier_key)
            assert checkpoint.origin == log.config.origin
        # single-log URLs serve the default log; /logs/{name}/... the named one
        default = (await client.get("/v1/checkpoint")).text
        assert default.startswith("test.example/log/a\n")
        assert (await client.get("/logs/a/v1/checkpoint")).text == default
        named = (await client.get("/logs/b/v1/checkpoint")).text
        assert named.startswith("test.example/log/b\n4\n")
        assert (await client.get("/logs/b/v1/log/key")).text.strip() == b.verifier_key
        entry = (await client.get("/logs/b/v1/entries/3")).json()["entries"][0]
        unit = (await client.get(f"/v1/units/{GTIN_B}/B-1")).json()
        assert entry["leaf_hash"] == unit["entries"][0]["leaf_hash"]
        metrics = (await client.get("/metrics", headers={"Authorization": "Bearer t"})).text
        assert 'provenance_log_size{log="b"} 4.0' in metrics

    run(app, story)
    # each scan was written to its unit's own log
    assert a.scan_summary(GTIN, "SN-0001")[0] == 1
    assert b.scan_summary(GTIN_B, "B-1")[0] == 1
    assert a.scan_summary(GTIN_B, "B-1")[0] == 0
    for log in (a, b):
        assert audit_log(log.store, log.log, log.verifier_key, workers=1).ok


def test_a_scan_batch_one_log_of_which_failed_stores_the_others_once(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch of scans of two logs is written a log at a time: when log b's write
    fails after log a's was stored, a's scans leave the queue and b's are queued
    again, so the retry stores each scan once (a's were stored twice)."""
    a, b = deployment.for_log("a"), deployment.for_log("b")
    context = create_app(
        Settings.from_env({"PROVENANCE_RATE": "1000", "PROVENANCE_BURST": "1000"}),
        deployment=deployment,
    ).state.ctx
    real, failures = Ledger.record_scan_rows, [0]

    def failing_once(self: Ledger, rows: Any) -> None:
        if self is b and not failures[0]:
            failures[0] += 1
            raise StorageError("database write failed; nothing was written: locked")
        real(self, rows)

    monkeypatch.setattr(Ledger, "record_scan_rows", failing_once)
    now = clock()

    async def main() -> None:
        for i in range(3):
            context.scans.add(Scan(GTIN, "SN-0001", now, "CN", f"a{i}", "x"))
            context.scans.add(Scan(GTIN_B, "B-1", now, "CN", f"b{i}", "x"))
        with pytest.raises(StorageError, match="locked"):
            await context.flush_scans()
        assert len(context.scans) == 3  # b's three, queued again; a's stored
        assert (a.scan_summary(GTIN, "SN-0001")[0], b.scan_summary(GTIN_B, "B-1")[0]) == (3, 0)
        assert (await context.unit_view(GTIN, "SN-0001", None))["scans"]["count"] == 3
        assert (await context.unit_view(GTIN_B, "B-1", None))["scans"]["count"] == 3
        await context.flush_scans()
        assert len(context.scans) == 0

    asyncio.run(main())
    assert (a.scan_summary(GTIN, "SN-0001")[0], b.scan_summary(GTIN_B, "B-1")[0]) == (3, 3)


def test_writes_to_the_wrong_log_or_an_unknown_log_are_refused(deployment: Deployment) -> None:
    a, b = deployment.for_log("a"), deployment.for_log("b")
    before = (a.head(), b.head())
    events = beta_events(Leaf.from_bytes(b.entry(0).leaf, ORIGIN_B).signed)

    async def story(client: httpx.AsyncClient) -> None:
        wrong = await client.post("/logs/a/v1/entries", json=events[0].to_dict())
        assert wrong.status_code == 422
        assert wrong.json()["type"] == PROBLEM + "validation"
        assert "belong to log 'b'" in wrong.json()["detail"]
        unknown = await client.get("/logs/zzz/v1/checkpoint")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("application/problem+json")
        acme_unit = World.base(ORIGIN_A).log[-1]  # acme's commission: log a
        mixed = {"events": [events[0].to_dict(), acme_unit.to_dict()]}
        spans = await client.post("/v1/entries:batch", json=mixed)
        assert spans.status_code == 422
        assert "different logs" in spans.json()["detail"]

    run(create_app(Settings.from_env({}), deployment=deployment), story)
    assert (a.head(), b.head()) == before


def test_one_log_without_a_file_is_the_default(tmp_path: Path) -> None:
    key_file = tmp_path / "op.pem"
    write_key_file(key_file, crypto.private_key_to_pem(key(1)))
    settings = Settings.from_env(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path}/one.db",
            "DATABASE_REPLICA_URLS": " postgresql+psycopg://r1/x , postgresql+psycopg://r2/x",
            "PROVENANCE_OPERATOR_KEY": str(key_file),
            "PROVENANCE_LOG": "solo",
        }
    )
    config = settings.deployment()
    assert [s.name for s in config.logs] == ["solo"]
    assert config.logs[0].replica_urls == ("postgresql+psycopg://r1/x", "postgresql+psycopg://r2/x")
    assert config.routing.default == "solo"
    assert config.routing.log_for_gtin(GTIN) == "solo"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("", "logs"),
        ("[logs.a]\ndatabase = 'sqlite:///x'\noperator_key = 'k'\n", "logs.a.origin"),
        ("[logs.a]\norigin = 'o'\ndatabase = 'sqlite:///x'\n", "logs.a"),
        (
            "[logs.a]\norigin = 'o'\ndatabase = 'd'\noperator_key = 'k'\nreplicas = 'r'\n",
            "logs.a.replicas",
        ),
        (
            "[logs.a]\norigin = 'o'\ndatabase = 'd'\noperator_key = 'k'\n"
            "[logs.b]\norigin = 'p'\ndatabase = 'd'\noperator_key = 'k'\n",
            "default",
        ),
        (
            "default = 'a'\n[logs.a]\norigin = 'o'\ndatabase = 'd'\noperator_key = 'k'\n"
            "[routes.prefixes]\n'9506000' = 'nowhere'\n",
            "routes",
        ),
        ("[logs.a\n", "logs"),
    ],
)
def test_a_bad_deployment_file_names_what_is_wrong(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "logs.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError) as bad:
        DeploymentConfig.from_toml(path)
    assert bad.value.field == field


def test_a_missing_deployment_file_is_a_validation_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read"):
        DeploymentConfig.from_toml(tmp_path / "absent.toml")


def _request(query: str = "", headers: dict[str, str] | None = None, **path: str) -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "path_params": path,
    }
    return Request(scope)


def test_min_size_comes_from_the_query_or_the_header() -> None:
    assert min_size(_request()) == 0
    assert min_size(_request("min_size=12")) == 12
    assert min_size(_request(headers={"Provenance-Min-Size": "7"})) == 7
    for bad in ("-1", "x", "1.5", "9" * 19, "١٢"):
        with pytest.raises(ValidationError) as refused:
            min_size(_request(f"min_size={bad}"))
        assert refused.value.field == "min_size"


def test_a_fixed_size_in_the_url_is_an_implied_floor() -> None:
    assert _implied_size(_request()) == 0
    assert _implied_size(_request("size=40")) == 40
    assert _implied_size(_request("old=3&new=90")) == 90
    assert _implied_size(_request(index="41")) == 42  # entry 41 exists: size 42
    assert _implied_size(_request("size=abc", index="x")) == 0  # FastAPI refuses these
