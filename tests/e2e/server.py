"""The API under test, seeded with stories: the real server under uvicorn on a random
loopback port (`start`), or the same app in this process (`start_in_process`).

Both are built from one environment (`server_env`): the live server reads it in its own
process (``uvicorn --factory api.app:app_from_env``), the in-process app is built by the
same ``api.app.app_from_env`` with that environment in place, so both serve the same
configuration and differ only in what stands between the test and the app. Both answer
the same calls (`Served`): ``server.get(path)`` and ``server.post(path, ...)`` send one
request from a fresh client, like ``httpx.get``; ``server.client(address)`` is a client
that keeps its cookies, connecting from ``address``.
"""

from __future__ import annotations

import os
import secrets
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import httpx

from api.app import app_from_env
from cli.hammer.server import ServerProcess, ServerStartError, free_port
from ledger import crypto
from ledger.entry import SignedEvent
from ledger.events import LATEST_VERSION, format_time
from ledger.rules.state import Record
from ledger.service.config import write_key_file
from ledger.service.ledger import Ledger
from tests.e2e.inprocess import LOOPBACK, InProcessApp
from tests.factories import GTIN, LOG_SEED, key
from tests.integration.world import LedgerWorld, clock, config
from tests.rules_factories import World

ROOT = Path(__file__).resolve().parents[2]

#: The in-process app's public URL and the base URL of its clients (no socket listens).
IN_PROCESS_URL = "http://testserver"


class LiveWorld(World):
    """A `World` whose events carry the real time, for a server that reads the real clock."""

    def sign(self, kind: str, actor: str, seed: int | None = None, **fields: Any) -> SignedEvent:
        """Sign with ``time`` = now (unless given)."""
        fields.setdefault("time", format_time(datetime.now(UTC)))
        return super().sign(kind, actor, seed, **fields)

    def check(self, signed: SignedEvent, now: datetime | None = None) -> list[Record]:
        """Run the rules at the real time."""
        return super().check(signed, now or datetime.now(UTC))

    def accept(self, signed: SignedEvent, now: datetime | None = None) -> list[Record]:
        """Check at the real time and apply."""
        return super().accept(signed, now or datetime.now(UTC))


#: the bearer token /metrics wants on every test server (random per run; docs/OPERATIONS.md)
METRICS_TOKEN = secrets.token_urlsafe(16)
#: the header that bears it
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@dataclass(kw_only=True)
class Served(ABC):
    """A seeded API: its base URL, the seeded units, the world that wrote them and the
    environment it was configured by."""

    url: str
    units: dict[str, tuple[str, str]]
    world: LedgerWorld
    env: dict[str, str]

    @abstractmethod
    def client(self, address: str | None = None, **kwargs: Any) -> httpx.Client:
        """A client (it keeps its cookies) whose requests come from ``address`` (default:
        loopback); ``kwargs`` go to ``httpx.Client``."""

    @abstractmethod
    def stop(self) -> None:
        """Stop serving."""

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request from a fresh client (no cookies carried over), like ``httpx.request``;
        ``path`` is relative to `url` (or a full URL)."""
        with self.client() as client:
            return client.request(method, path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """``GET path`` (see `request`)."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """``POST path`` (see `request`)."""
        return self.request("POST", path, **kwargs)


@dataclass(kw_only=True)
class LiveServer(Served):
    """The real server: uvicorn in a child process, reached over loopback TCP."""

    server: ServerProcess

    def client(self, address: str | None = None, **kwargs: Any) -> httpx.Client:
        """A client whose connections start from the loopback ``address`` (another client
        address as the server sees it)."""
        if address is not None:
            kwargs.setdefault("transport", httpx.HTTPTransport(local_address=address))
        return httpx.Client(base_url=self.url, **kwargs)

    def stop(self) -> None:
        """Stop the server and wait for it."""
        self.server.stop()


@dataclass(kw_only=True)
class InProcessServer(Served):
    """The same app in this process, reached through ``httpx.ASGITransport``
    (tests/e2e/inprocess.py)."""

    app: InProcessApp

    def client(self, address: str | None = None, **kwargs: Any) -> httpx.Client:
        """A client whose requests carry ``address`` as the ASGI client address."""
        return self.app.client(address or LOOPBACK, **kwargs)

    def stop(self) -> None:
        """Run the app's shutdown (it closes its databases) and stop its event loop."""
        self.app.stop()


__all__ = [
    "InProcessServer",
    "LiveServer",
    "LiveWorld",
    "Served",
    "free_port",
    "seed",
    "server_env",
    "start",
    "start_in_process",
]


def seed(
    db_url: str,
    name: str,
    event_format: int | None = LATEST_VERSION,
    then: Callable[[LedgerWorld], None] | None = None,
) -> tuple[LedgerWorld, dict[str, tuple[str, str]]]:
    """Write the base world plus a sold and a recalled unit, signed for the log (format
    2); return them by story. The log holds format 2 from genesis, as every new log;
    ``event_format=None``: it still takes format 1 until its ``log.upgrade``
    (`Ledger.init`). ``then`` writes more before the ledger closes (a test playing a
    dishonest operator appends there what the rules, patched out, would refuse)."""
    ledger = Ledger.open(db_url, config(name), clock=clock)
    ledger.init(name="Registry", event_format=event_format)
    world = LedgerWorld.base(ledger)
    w = world.world
    for serial in ("SOLD-1", "RECALL-1"):
        world.append(w.sign("commission", "acme", unit={"gtin": GTIN, "serial": serial}, prev=None))
    for step in (
        ("handoff", "acme", {"to": "shop", "place": "Shenzhen DC"}),
        ("receive", "shop", {"place": "Shanghai store"}),
        ("sell", "shop", {}),
    ):
        world.append(w.on_unit(step[0], step[1], serial="SOLD-1", **step[2]))
    world.append(w.on_unit("recall", "acme", serial="RECALL-1", reason="battery fault"))
    if then is not None:
        then(world)
    ledger.close()
    world.world = LiveWorld(w.state, w.log, w.seeds, w.auths, w.origin)
    units = {
        "genuine": (GTIN, "SN-0001"),
        "sold": (GTIN, "SOLD-1"),
        "recalled": (GTIN, "RECALL-1"),
        "unknown": (GTIN, "NO-SUCH-1"),
    }
    return world, units


def server_env(
    db_url: str, tmp: Path, name: str, public_url: str, extra_env: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment the API is configured by (api.app.app_from_env): this process's,
    plus the log ``name`` in ``db_url`` under the operator key (written to ``tmp``), a
    rate limit no test reaches, a high-water folder of its own, then ``extra_env``."""
    key_file, log_key_file = tmp / "operator.pem", tmp / "log.pem"
    for path, seed in ((key_file, 1), (log_key_file, LOG_SEED)):
        path.unlink(missing_ok=True)  # a second server in the same folder: same keys
        write_key_file(path, crypto.private_key_to_pem(key(seed)))  # 0600: else refused
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "PROVENANCE_OPERATOR_KEY": str(key_file),
        "PROVENANCE_CHECKPOINT_KEY": str(log_key_file),
        "PROVENANCE_ORIGIN": config(name).origin,
        "PROVENANCE_LOG": name,
        "PROVENANCE_PUBLIC_URL": public_url,
        "PROVENANCE_RATE": "1000",
        "PROVENANCE_BURST": "5000",
        "PROVENANCE_BAD_SIGNATURES": "5000",  # tests of refusals share one server
        "PROVENANCE_METRICS_TOKEN": METRICS_TOKEN,
        # the in-process app runs its lifespan in the test process, which must not freeze
        # every earlier test's objects for good (api.heap; tests/unit/test_heap.py)
        "PROVENANCE_GC_FREEZE": "0",
        # each server its own high-water file (ledger.service.highwater): tests that serve
        # a rewritten or shorter log beside an honest one play an operator who lies, and
        # such an operator deletes its own; the backup drill keeps one across restarts
        "PROVENANCE_HIGHWATER_DIR": str(tmp / "highwater" / uuid.uuid4().hex[:8]),
        **(extra_env or {}),
    }


#: ports tried by `start` when the server cannot start on the first
PORT_ATTEMPTS = 3


def start(
    db_url: str,
    tmp: Path,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    name: str | None = None,
    event_format: int | None = LATEST_VERSION,
    then: Callable[[LedgerWorld], None] | None = None,
) -> LiveServer:
    """Seed a fresh log in ``db_url`` and serve it under uvicorn on a random port.

    ``name`` (default: random) names the log; the seeded entries are the same bytes
    whatever the database, so two databases seeded under one name share a history
    prefix (an operator rewriting its log keeps the key and the origin).
    ``event_format``, ``then``: as `seed`.
    """
    name = name or f"e2e-{uuid.uuid4().hex[:8]}"
    world, units = seed(db_url, name, event_format, then)
    for attempt in range(1, PORT_ATTEMPTS + 1):
        port = free_port()
        env = server_env(db_url, tmp, name, f"http://127.0.0.1:{port}", extra_env)
        server = ServerProcess(env, port=port, workers=workers)
        server.start()
        try:
            server.wait_ready()
            break
        except ServerStartError:
            server.kill()
            # uvicorn's startup failure (3), e.g. the free port taken meanwhile by another
            # test's outgoing connection (both come from the ephemeral range): a new port
            if attempt == PORT_ATTEMPTS or server.process is None or server.process.returncode != 3:
                raise
        except BaseException:
            server.kill()
            raise
    return LiveServer(url=server.url, units=units, world=world, server=server, env=env)


def start_in_process(
    db_url: str, tmp: Path, extra_env: dict[str, str] | None = None, name: str | None = None
) -> InProcessServer:
    """Seed a fresh log in ``db_url`` and serve it in this process: the app is built by
    ``api.app.app_from_env`` with `server_env` in place (as the live server builds it),
    then its lifespan started."""
    name = name or f"e2e-{uuid.uuid4().hex[:8]}"
    world, units = seed(db_url, name)
    env = server_env(db_url, tmp, name, IN_PROCESS_URL, extra_env)
    with mock.patch.dict(os.environ, env, clear=True):
        app = app_from_env()
    served = InProcessApp(app, IN_PROCESS_URL).start()
    return InProcessServer(url=IN_PROCESS_URL, units=units, world=world, app=served, env=env)
