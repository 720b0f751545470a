"""The operator's actor list (issue 21, docs/CONSOLE.md "The operator"): the console page's
read of N registered actors, the 200 newest shown with their keys, signed documents and
revocation reasons.

The world: N couriers registered by the operator on a fresh SQLite database (untimed),
one in ten blacklisted. Baseline, in the same run and right before: the command line's
actor list (``ledger.partners.actors()``: one read of every actor record, no keys, no
entries). Figure: ``OperatorService.actors`` (the same records, their keys, and the
registration and revocation entries of the shown ones in one read) as a multiple of the
baseline; the median of 5 after 2 warm-up reads each.

    .venv/bin/python -m bench.suite --only operator           # 2,000 actors
    .venv/bin/python -m bench.suite --only operator --quick   # 500 actors
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.databases import SqliteTarget
from bench.figures import Figure, Run
from ledger import crypto, entry
from ledger.events import event_from_dict, parse_time
from ledger.service.console import ConsoleService
from ledger.service.console_auth import Staff
from ledger.service.ledger import Ledger, LogConfig
from ledger.service.operator import LIST_LIMIT, OperatorService
from tests.factories import LOG_SEED, key

NOW = "2026-11-28T12:00:00.000Z"
_CLOCK = parse_time(NOW)
#: the actor list may cost at most this multiple of the bare record read
TARGET = 12.0
_ADMIN = Staff("bench-admin", "operator", "operator", "admin")


def _median_seconds(read: Callable[[], Any]) -> float:
    for _ in range(2):
        read()
    times = []
    for _ in range(5):
        began = time.perf_counter()
        read()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def _sign(ledger: Ledger, **fields: Any) -> entry.SignedEvent:
    event = event_from_dict({"actor": "operator", "time": NOW, **fields})
    return entry.sign_event(event, key(1), log=ledger.origin)


def _courier(ledger: Ledger, n: int) -> entry.SignedEvent:
    public = crypto.public_key_to_b64(crypto.generate_private_key().public_key())
    return _sign(
        ledger, kind="actor.register", subject=f"courier-{n:05d}", role="courier",
        name=f"Courier {n:05d} Ltd", keys=[public],
    )  # fmt: skip


def figures(run: Run) -> list[Figure]:
    """The actor list's seconds as a multiple of the bare actor read."""
    count = run.pick(500, 2000)
    target = SqliteTarget()
    try:
        config = LogConfig(origin="bench.example/operator", operator_key=key(1),
                           log_key=key(LOG_SEED))  # fmt: skip
        ledger = Ledger.open(target.fresh("operator"), config, clock=lambda: _CLOCK)
        try:
            ledger.init()
            events = [_courier(ledger, n) for n in range(count)]
            events += [
                _sign(ledger, kind="actor.revoke", subject=f"courier-{n:05d}", reason="bench")
                for n in range(0, count, 10)
            ]
            for i in range(0, len(events), 500):
                ledger.append_batch(events[i : i + 500])
            ops = OperatorService(ConsoleService(ledger), ledger)
            baseline = _median_seconds(ledger.partners.actors)
            shown = ops.actors(_ADMIN)
            if len(shown) != min(count + 1, LIST_LIMIT):
                raise SystemExit(f"operator: {len(shown)} actors shown")
            page = _median_seconds(lambda: ops.actors(_ADMIN))
        finally:
            ledger.close()
    finally:
        target.close()
    print(
        f"  {count:,} actors: bare read {baseline * 1000:.1f} ms, console list {page * 1000:.1f} ms"
    )
    name = f"operator/actors/sqlite/{count}-actors"
    return [
        Figure.info(f"{name}/bare-read-ms", baseline * 1000, "ms"),
        Figure.ratio_at_most(f"{name}/list-ms", page * 1000, "ms", baseline * 1000, TARGET),
    ]
