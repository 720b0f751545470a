"""One hammer run: a log and a server, the world, the tasks, the checks, the report.

With a database URL the run creates a fresh log (its own name and operator key) in
that database, serves it with uvicorn on a loopback port and may kill it; with a
server URL it appends to that server's log (the operator's key registers the world)
and kills nothing. The run is bounded: writers stop at ``seconds`` (or ``appends``)
once every kill happened, at most ``2 * seconds``; unanswered requests are abandoned
``GRACE`` seconds later, and every server it started is stopped before it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from cli.common import write_private_key
from cli.hammer import checks
from cli.hammer.chaos import chaos
from cli.hammer.observe import Observations
from cli.hammer.racer import racer
from cli.hammer.readers import Reader
from cli.hammer.report import Report
from cli.hammer.server import ServerProcess
from cli.hammer.world import HammerWorld, plan
from cli.hammer.writers import Outcome, Run, submit, writer
from ledger import crypto
from ledger.audit.replay import AuditReport, audit_source
from ledger.errors import LedgerError
from ledger.service.audit import audit_database
from ledger.service.ledger import Ledger, LogConfig

GRACE = 90.0  # seconds past the end in which in-flight requests may still be answered


class HammerSetupError(LedgerError):
    """The hammer could not build its world (the server refused it)."""

    code = "hammer-setup"


@dataclass(frozen=True)
class Config:
    """A run's parameters (see ``provenance hammer --help``)."""

    seconds: float
    kills: int = 0
    db: str | None = None
    server: str | None = None
    operator_key: crypto.Ed25519PrivateKey | None = None
    workers: int = 1
    writers: int = 4
    readers: int = 2
    units: int = 20
    shared: int = 4
    appends: int | None = None
    seed: int | None = None


@dataclass
class LocalLog:
    """The log a run created: where it is and how to check it."""

    db: str
    name: str
    verifier_key: str


def hammer(config: Config) -> Report:
    """Run the hammer and return its report.

    Raises:
        ServerStartError: the server did not start (or come back after a kill).
        HammerSetupError: the server refused the world.
    """
    with tempfile.TemporaryDirectory(prefix="provenance-hammer-") as tmp:
        server: ServerProcess | None = None
        local: LocalLog | None = None
        try:
            if config.db:
                local, server = _local_server(config.db, config.workers, Path(tmp))
                operator = crypto.private_key_from_pem((Path(tmp) / "operator.pem").read_bytes())
                url = server.url
            elif config.server and config.operator_key:
                operator, url = config.operator_key, config.server
            else:
                raise HammerSetupError("a run needs a database, or a server and its operator key")
            started = time.monotonic()
            obs, log = asyncio.run(_run(config, url, operator, server))
            elapsed = time.monotonic() - started
            if server is not None:
                server.stop()
            audit = checks.judge_audit(_audit(local, url, checks.trusted_checkpoints(obs)))
        finally:
            if server is not None and server.alive():
                server.stop()
    database = "server" if local is None else local.db.split(":", 1)[0].split("+", 1)[0]
    return Report.build(obs, log, audit, database=database, workers=config.workers, seconds=elapsed)


def _local_server(db: str, workers: int, tmp: Path) -> tuple[LocalLog, ServerProcess]:
    """Create a fresh log in ``db`` (genesis written here) and start its server."""
    key, log_key = crypto.generate_private_key(), crypto.generate_private_key()
    key_file, log_key_file = tmp / "operator.pem", tmp / "log.pem"
    write_private_key(key_file, key)  # 0600, as every key file
    write_private_key(log_key_file, log_key)
    name = f"hammer-{secrets.token_hex(4)}"
    origin = f"hammer.provenance.invalid/{name}"
    # The genesis entry is written before any worker starts, so workers never race for it.
    ledger = Ledger.open(db, LogConfig(origin=origin, operator_key=key, name=name, log_key=log_key))
    try:
        ledger.init(name="Hammer operator")
        local = LocalLog(db, name, ledger.verifier_key)
    finally:
        ledger.close()
    server = ServerProcess(env={}, workers=workers, log_file=tmp / "server.log")
    server.env = {
        **os.environ,
        "DATABASE_URL": db,
        "PROVENANCE_OPERATOR_KEY": str(key_file),
        "PROVENANCE_CHECKPOINT_KEY": str(log_key_file),
        "PROVENANCE_ORIGIN": origin,
        "PROVENANCE_LOG": name,
        "PROVENANCE_PUBLIC_URL": server.url,
        # The hammer is one client doing the work of many: no public rate limit for it.
        "PROVENANCE_RATE": "1000000",
        "PROVENANCE_BURST": "1000000",
        # nor a write quota per actor (api.quota): it measures the log, not the meter
        "PROVENANCE_WRITE_RATE": "100000000",
        "PROVENANCE_WRITE_BURST": "1000000",
    }
    for name in ("REDIS_URL", "PROVENANCE_LOGS", "DATABASE_REPLICA_URLS"):
        server.env.pop(name, None)  # one log, one database, nothing shared
    server.start()
    server.wait_ready()
    return local, server


async def _run(
    config: Config, url: str, operator: crypto.Ed25519PrivateKey, server: ServerProcess | None
) -> tuple[Observations, checks.LogFacts]:
    limits = httpx.Limits(max_connections=4 * config.writers + config.readers + 8)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        key = (await client.get("/v1/log/key")).raise_for_status().text.strip()
        obs = Observations(os.environ.get("PROVENANCE_LOG_KEY", key).strip())
        rng = random.Random(config.seed)
        run = Run(client, obs, rng, asyncio.Event(), time.monotonic(), config.seconds, None)
        world = await _setup(run, operator, config)
        obs.latencies_ms.clear()  # setup batches are not the load being measured
        run.started, run.appends, run.baseline = time.monotonic(), config.appends, len(obs.acked)
        run.give_up_at = run.started + 2 * config.seconds + GRACE
        keys = world.public_keys()
        async with asyncio.TaskGroup() as group:
            group.create_task(_stop_after(run, config.seconds))
            for i in range(config.writers):
                group.create_task(writer(run, world, i))
            for _ in range(config.readers):
                group.create_task(Reader(run, world, keys).loop())
            group.create_task(racer(run, world))
            if server is not None and config.kills:
                group.create_task(chaos(run, server, config.kills))
            else:
                run.chaos_done.set()
        return obs, await checks.read_log(client, obs)


async def _setup(run: Run, operator: crypto.Ed25519PrivateKey, config: Config) -> HammerWorld:
    """Register the world and commission its units (retried through restarts as needed)."""
    served = await run.client.get("/v1/checkpoint", timeout=60)
    served.raise_for_status()
    origin = served.text.split("\n", 1)[0]  # the hammer's events are signed for this log
    world, batches = plan(operator, config.writers, config.units, config.shared, origin)
    for batch in batches:
        run.give_up_at = time.monotonic() + GRACE
        if await submit(run, batch, batch=True) is not Outcome.ACKED:
            raise HammerSetupError(f"the server refused the hammer's world: {run.obs.anomalies}")
    return world


async def _stop_after(run: Run, seconds: float) -> None:
    """Stop after ``seconds`` (or the appends) once every kill happened.

    Restarts on a busy machine can take long enough for kill points to fall late: the
    load goes on for up to another ``seconds`` until the chaos task made all its kills.
    """
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(run.enough.wait(), timeout=seconds)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(run.chaos_done.wait(), timeout=seconds)
    run.give_up_at = min(run.give_up_at, time.monotonic() + GRACE)
    run.stop.set()


def _audit(local: LocalLog | None, url: str, trusted: list[str]) -> AuditReport:
    """The full audit: of the database for a log the run created, else over HTTP."""
    if local is not None:
        report = audit_database(local.db, local.name, local.verifier_key, trusted=trusted)
        if report is None:
            raise HammerSetupError(f"the log {local.name} vanished from {local.db}")
        return report
    from cli.backends.http import Http
    from cli.backends.remote_source import RemoteSource

    http = Http(url)
    try:
        key = os.environ.get("PROVENANCE_LOG_KEY") or http.text("/v1/log/key").strip()
        return audit_source(RemoteSource(http), key.strip(), trusted=trusted)
    finally:
        http.close()
