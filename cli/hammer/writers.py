"""Writer tasks: append signed custody events over HTTP, retrying until acknowledged.

`submit` sends one request (``POST /v1/entries`` for a single event, or
``POST /v1/entries:batch``) and, while the server is unreachable or answers 5xx/429,
sends exactly the same bytes again: the same signed events, so a retry of an event the
server committed before it died must come back as a duplicate with the same index.
Writer ``i`` appends the next handoff or receive of units it alone owns, one at a time
or in batches (consecutive events of one unit may share a batch).
"""

from __future__ import annotations

import asyncio
import enum
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from cli.hammer.observe import Observations
from cli.hammer.world import HammerWorld, Unit
from ledger.entry import SignedEvent

REQUEST_TIMEOUT = 60.0  # seconds: a busy two-core machine can stall a request for long
RESEND_SHARE = 0.03  # acknowledged requests sent once more on purpose (idempotency)


class Outcome(enum.Enum):
    """How a submission ended."""

    ACKED = "acked"
    CONFLICT = "conflict"  # 409: another event extended the unit's head first
    REFUSED = "refused"  # any other 4xx: the rules said no
    IN_DOUBT = "in-doubt"  # gave up retrying: the run is over


@dataclass
class Run:
    """What every task of a run shares."""

    client: httpx.AsyncClient
    obs: Observations
    rng: random.Random
    stop: asyncio.Event
    started: float
    seconds: float
    appends: int | None
    #: monotonic time after which unanswered requests are abandoned (in doubt)
    give_up_at: float = float("inf")
    #: events acknowledged before the load began (the world's setup)
    baseline: int = 0
    #: set once ``appends`` events were acknowledged (the load goes on until `stop`)
    enough: asyncio.Event = field(default_factory=asyncio.Event)
    #: set once the chaos task made all its kills (or at once without one)
    chaos_done: asyncio.Event = field(default_factory=asyncio.Event)

    def appended(self) -> int:
        """Events acknowledged since the load began."""
        return len(self.obs.acked) - self.baseline

    def progress(self) -> float:
        """How far the run is, 0..1: by time, or by acknowledged appends if bounded."""
        by_time = (time.monotonic() - self.started) / self.seconds
        by_count = self.appended() / self.appends if self.appends else 0.0
        return min(1.0, max(by_time, by_count))


async def submit(run: Run, events: list[SignedEvent], *, batch: bool | None = None) -> Outcome:
    """Send ``events`` until the server answers for them; record the receipt.

    ``batch`` picks the endpoint (default: at random for a single event).
    """
    if batch is None:
        batch = len(events) > 1 or run.rng.random() < 0.5
    path, body = (
        ("/v1/entries:batch", {"events": [e.to_dict() for e in events]})
        if batch
        else ("/v1/entries", events[0].to_dict())
    )
    content = json.dumps(body).encode()
    outcome = await _send(run, path, content, resend=False)
    if outcome is Outcome.ACKED and run.rng.random() < RESEND_SHARE:
        await _send(run, path, content, resend=True)
    return outcome


async def _send(run: Run, path: str, content: bytes, *, resend: bool) -> Outcome:
    delay, obs = 0.05, run.obs
    while True:
        started = time.monotonic()
        try:
            response = await run.client.post(
                path,
                content=content,
                headers={"Content-Type": "application/json"},
                timeout=REQUEST_TIMEOUT,
            )
        except httpx.HTTPError:
            response = None
        status = 0 if response is None else response.status_code
        if response is not None and status in (200, 201):
            _record(obs, response.json(), started, resend, status)
            return Outcome.ACKED
        if status == 409:
            obs.counts["conflicts"] += 1
            return Outcome.CONFLICT
        if response is not None and status < 500 and status != 429:
            obs.counts["refused"] += 1
            obs.note(f"refused {status}: {response.text[:200]}")
            return Outcome.REFUSED
        if time.monotonic() > run.give_up_at:
            obs.counts["in_doubt"] += 1
            return Outcome.IN_DOUBT
        obs.counts["retries"] += 1
        await asyncio.sleep(delay)
        delay = min(1.0, delay * 2)


def _record(
    obs: Observations, body: dict[str, Any], started: float, resend: bool, status: int
) -> None:
    if resend:
        obs.counts["resent"] += 1
        if status != 200 or not all(r["duplicate"] for r in body["receipts"]):
            obs.duplicates += 1
            obs.note("an acknowledged request sent again was appended again")
    obs.ack(body, (time.monotonic() - started) * 1000)


async def writer(run: Run, hammer: HammerWorld, i: int) -> None:
    """Append the owned units' next events until the run stops (or a request is in doubt)."""
    units, cast = hammer.owned[i], hammer.casts[i]
    idle = list(range(len(units)))
    while not run.stop.is_set() and idle:
        picked = run.rng.sample(idle, 1 if run.rng.random() < 0.6 else min(len(idle), 6))
        events: list[SignedEvent] = []
        after: dict[int, Unit] = {}
        for n in picked:
            unit = units[n]
            for _ in range(run.rng.choice((1, 1, 2))):  # sometimes handoff + receive in one
                signed = hammer.next_event(unit, cast)
                events.append(signed)
                unit = unit.after(signed)
            after[n] = unit
        outcome = await submit(run, events)
        if outcome is Outcome.ACKED:
            for n, unit in after.items():
                units[n] = unit
            if run.appends and run.appended() >= run.appends:
                run.enough.set()
        elif outcome is Outcome.IN_DOUBT:
            return
        else:  # a refused owned unit: the hammer's model of it is wrong; leave it alone
            idle = [n for n in idle if n not in after]
