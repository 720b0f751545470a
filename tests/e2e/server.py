"""Start the real API under uvicorn on a random loopback port, seeded with stories."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cli.hammer.server import ServerProcess, free_port
from ledger import crypto
from ledger.entry import SignedEvent
from ledger.events import format_time
from ledger.rules.state import Record
from ledger.service.ledger import Ledger
from tests.factories import GTIN, key
from tests.integration.world import LedgerWorld, clock, config
from tests.rules_factories import World

ROOT = Path(__file__).resolve().parents[2]


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


@dataclass
class LiveServer:
    """A running server: its base URL, the seeded units and the world that wrote them."""

    url: str
    units: dict[str, tuple[str, str]]
    world: LedgerWorld
    server: ServerProcess
    env: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        """Stop the server and wait for it."""
        self.server.stop()


__all__ = ["LiveServer", "LiveWorld", "free_port", "seed", "start"]


def seed(db_url: str, name: str) -> tuple[LedgerWorld, dict[str, tuple[str, str]]]:
    """Write the base world plus a sold and a recalled unit; return them by story."""
    ledger = Ledger.open(db_url, config(name), clock=clock)
    ledger.init(name="Registry")
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
    ledger.close()
    world.world = LiveWorld(w.state, w.log, w.seeds, w.auths)
    units = {
        "genuine": (GTIN, "SN-0001"),
        "sold": (GTIN, "SOLD-1"),
        "recalled": (GTIN, "RECALL-1"),
        "unknown": (GTIN, "NO-SUCH-1"),
    }
    return world, units


def start(
    db_url: str,
    tmp: Path,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    name: str | None = None,
) -> LiveServer:
    """Seed a fresh log in ``db_url`` and serve it on a random port.

    ``name`` (default: random) names the log; the seeded entries are the same bytes
    whatever the database, so two databases seeded under one name share a history
    prefix (an operator rewriting its log keeps the key and the origin).
    """
    name = name or f"e2e-{uuid.uuid4().hex[:8]}"
    world, units = seed(db_url, name)
    key_file = tmp / "operator.pem"
    key_file.write_bytes(crypto.private_key_to_pem(key(1)))
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "PROVENANCE_OPERATOR_KEY": str(key_file),
        "PROVENANCE_ORIGIN": config(name).origin,
        "PROVENANCE_LOG": name,
        "PROVENANCE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PROVENANCE_RATE": "1000",
        "PROVENANCE_BURST": "5000",
        **(extra_env or {}),
    }
    server = ServerProcess(env, port=port, workers=workers)
    server.start()
    try:
        server.wait_ready()
    except BaseException:
        server.kill()
        raise
    return LiveServer(server.url, units, world, server, env)
