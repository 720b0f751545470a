"""Contention rounds: every writer's actor races to extend the same unit head at once.

Each round picks a shared unit and signs one event per writer, all naming the unit's
current head as ``prev``: alternately an inspection by each writer's inspector, or a
handoff from the brand to each writer's warehouse. The events go out concurrently.
The ledger must accept exactly one (the others get 409: nothing written); a second
acceptance would be a fork. A winning handoff is then walked back to the brand
(receive, handoff, receive) so that the next round can race again.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from cli.hammer.world import HammerWorld, Unit
from cli.hammer.writers import Outcome, Run, submit
from ledger import codec
from ledger.entry import SignedEvent


async def racer(run: Run, hammer: HammerWorld) -> None:
    """Run contention rounds until the run stops."""
    racing = list(range(len(hammer.shared)))
    round_ = 0
    while not run.stop.is_set() and racing:
        await asyncio.sleep(run.rng.uniform(0.1, 0.6))
        n = run.rng.choice(racing)
        unit = await _round(run, hammer, hammer.shared[n], handoff=round_ % 2 == 1)
        round_ += 1
        run.obs.counts["races"] += 1
        if unit is None:  # a fork, or the round could not finish: race elsewhere
            racing.remove(n)
        else:
            hammer.shared[n] = unit


async def _round(run: Run, hammer: HammerWorld, unit: Unit, *, handoff: bool) -> Unit | None:
    """One race on ``unit``; the unit afterwards, or None when its head is unknown."""
    world, brand = hammer.world, hammer.brand.actor
    if handoff:
        events = [
            world.sign(brand, "handoff", unit=unit.ref, prev=unit.head, to=c.a)
            for c in hammer.casts
        ]
    else:
        events = [
            world.sign(c.qc, "inspect", unit=unit.ref, prev=unit.head, result="pass")
            for c in hammer.casts
        ]
    outcomes = await asyncio.gather(*(submit(run, [e], batch=False) for e in events))
    won = [e for e, o in zip(events, outcomes, strict=True) if o is Outcome.ACKED]
    if len(won) > 1:
        run.obs.forks_seen += len(won) - 1
        run.obs.note(f"{len(won)} racing events on one head of {unit.serial} were all accepted")
    if len(won) != 1:
        return None
    unit = unit.after(won[0]) if handoff else _moved(unit, won[0])
    if handoff:
        return await _walk_back(run, hammer, unit)
    return unit


async def _walk_back(run: Run, hammer: HammerWorld, unit: Unit) -> Unit | None:
    """The winner receives the unit and hands it back; the brand receives it."""
    world, holder, brand = hammer.world, unit.pending, hammer.brand.actor
    if holder is None:
        return None
    steps = (
        (holder, "receive", {}),
        (holder, "handoff", {"to": brand}),
        (brand, "receive", {}),
    )
    for actor, kind, fields in steps:
        signed = world.sign(actor, kind, unit=unit.ref, prev=unit.head, **fields)
        if await submit(run, [signed]) is not Outcome.ACKED:
            return None
        unit = unit.after(signed)
    return unit


def _moved(unit: Unit, signed: SignedEvent) -> Unit:
    """The unit after an inspection: only the head moves."""
    return replace(unit, head=codec.b64url_encode(signed.hash))
