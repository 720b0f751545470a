"""The health of a deployment's logs, for the operator's console (docs/CONSOLE.md,
"The operator"): each log's size, its latest checkpoint and how old it is, the
high-water mark kept outside the database (ledger.service.highwater), each configured
witness and the last size it cosigned (ledger.service.cosigning), and the read
replicas with their lag (docs/SCALING.md).

Read-only: nothing here writes, signs or repairs. A mark below the log's size means
the file lags the database (a failed write; the next commit raises it); a mark above
it means the database holds less than the log published, which the start-up guard
refuses to serve (ledger.service.startguard).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ledger.errors import LedgerError
from ledger.events import parse_time
from ledger.service.ledger import Ledger


def log_health(ledger: Ledger, now: datetime) -> dict[str, Any]:
    """One log's health at ``now``: ``name``, ``origin``, ``size``, ``checkpoint``
    (``size``, ``signed_at``, ``age_seconds``), ``mark`` (``size``, ``state``: ``ok``,
    ``behind`` the log, ``ahead`` of it, ``none`` kept, ``error``; ``error`` its
    message), ``witnesses`` (`CosigningService.witness_status`, lagging ones marked)
    and ``replicas`` (``name``, ``up``, ``lag_entries``, ``lag_seconds``)."""
    primary = ledger.reading(primary=True)
    size = primary.head().size
    checkpoint: dict[str, Any] | None = None
    if size:
        stored = primary.stored_checkpoint()
        age = int((now - parse_time(stored.signed_at)).total_seconds())
        checkpoint = {"size": stored.size, "signed_at": stored.signed_at, "age_seconds": age}
    return {
        "name": ledger.config.name,
        "origin": ledger.origin,
        "size": size,
        "checkpoint": checkpoint,
        "mark": _mark(ledger, size),
        "witnesses": primary.cosigning.witness_status(size, now),
        "replicas": [
            {
                "name": r.name,
                "up": r.up,
                "lag_entries": r.lag_entries,
                "lag_seconds": None if r.lag_seconds is None else round(r.lag_seconds, 1),
            }
            for r in ledger.replica_status()
        ],
    }


def deployment_health(ledgers: Iterable[Ledger], now: datetime) -> list[dict[str, Any]]:
    """`log_health` of each log, by name."""
    return [log_health(x, now) for x in sorted(ledgers, key=lambda x: x.config.name)]


def _mark(ledger: Ledger, size: int) -> dict[str, Any]:
    water = ledger.high_water
    if water is None:
        return {"size": None, "state": "none", "error": None}
    try:
        mark = water.read(ledger.verifier_key)
    except LedgerError as e:  # a state file of another log, or altered
        return {"size": None, "state": "error", "error": e.message}
    if mark is None:
        return {"size": None, "state": "none", "error": None}
    state = "ok" if mark.size == size else "behind" if mark.size < size else "ahead"
    return {"size": mark.size, "state": state, "error": None}
