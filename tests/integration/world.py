"""The rules tests' `World`, driven through a real `Ledger` (store + service).

Every event the world signs is appended to the ledger; only what the ledger accepts
is applied to the world's in-memory state, so the two must stay equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from ledger.entry import Leaf, SignedEvent
from ledger.service.ledger import BatchReceipt, Ledger, LogConfig
from ledger.store import nodetiles
from ledger.store.records import RECORD_TABLES
from tests.factories import LOG_SEED, key
from tests.rules_factories import NOW, World

ORIGIN = "test.example/log"
TABLES = ["logs", "entries", "nodes", "checkpoints", *(t.name for t in RECORD_TABLES.values())]


def config(name: str) -> LogConfig:
    """The test log's configuration: operator key seed 1, as in rules_factories; the log
    key (checkpoints) seed `LOG_SEED`."""
    return LogConfig(
        origin=f"{ORIGIN}/{name}", operator_key=key(1), name=name, log_key=key(LOG_SEED)
    )


def clock() -> Any:
    """The fixed time the rules tests use."""
    return NOW


@dataclass
class LedgerWorld:
    """A `World` whose events go through ``ledger``."""

    ledger: Ledger
    world: World

    @classmethod
    def base(cls, ledger: Ledger) -> LedgerWorld:
        """Replay `World.base()`'s events (after the ledger's own genesis) into ledger,
        signed for it (format 2): the world goes on signing for the ledger's log."""
        genesis = Leaf.from_bytes(ledger.entry(0).leaf, ledger.origin).signed
        world = World(origin=ledger.origin)
        world.accept(genesis, NOW)
        scripted = World.base(ledger.origin)
        for signed in scripted.log[1:]:
            ledger.append(signed, NOW)
            world.accept(signed, NOW)
        world.seeds, world.auths = scripted.seeds, scripted.auths
        return cls(ledger, world)

    def append(self, signed: SignedEvent) -> BatchReceipt:
        """Append through the ledger, then mirror the accepted event in the world."""
        receipt = self.ledger.append(signed, NOW)
        if not receipt.receipts[0].duplicate:
            self.world.accept(signed, NOW)
        return receipt


def dump(ledger: Ledger, *, runs_as_nodes: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the ledger's log in every table, ordered: for byte-for-byte checks.
    ``runs_as_nodes``: the ``nodes`` table's runs cut into one row per node (a migration
    down and up again may store the same nodes in other runs: 0029_node_runs)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with ledger.store.engines.reader.connect() as conn:
        for table in TABLES:
            column = "id" if table == "logs" else "log"
            rows = conn.execute(
                text(f"SELECT * FROM {table} WHERE {column} = :log"),
                {"log": ledger.log},
            )
            out[table] = sorted(
                tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows
            )
    if runs_as_nodes and "nodes" in out:
        out["nodes"] = sorted(
            (log, *node)
            for log, level, idx, hashes in out["nodes"]
            for node in nodetiles.cut(level, idx, hashes)
        )
    return out


def cut_node_out(conn: Any, log: int, level: int, node: int) -> None:
    """Damage a stored tree: node ``node`` of ``level`` taken out of the ``nodes`` run
    holding it (the run split around it; 0029_node_runs), as a lost row would leave it."""
    first, run = conn.execute(
        text(
            "SELECT idx, hash FROM nodes WHERE log = :log AND level = :lv AND idx <= :i"
            " ORDER BY idx DESC LIMIT 1"
        ),
        {"log": log, "lv": level, "i": node},
    ).one()
    run, at = bytes(run), (node - first) * nodetiles.HASH
    conn.execute(
        text("DELETE FROM nodes WHERE log = :log AND level = :lv AND idx = :i"),
        {"log": log, "lv": level, "i": first},
    )
    parts = ((first, run[:at]), (node + 1, run[at + nodetiles.HASH :]))
    conn.execute(
        text("INSERT INTO nodes (log, level, idx, hash) VALUES (:log, :lv, :i, :h)"),
        [{"log": log, "lv": level, "i": i, "h": h} for i, h in parts if h],
    )
