"""The chaos task: SIGKILL the server at random moments and start it again.

The ``kills`` moments are spread over the run (by progress, see `Run.progress`): one
at a random point of each of ``kills`` equal slots between 10 % and 85 % of the run,
so that every kill lands while writers and readers are busy and the run ends with a
server that has been up for a while. Each kill takes the whole process group (every
uvicorn worker) down at once, without any chance to flush; the server is restarted
after a short random pause and the task waits until it answers ``/healthz``.
"""

from __future__ import annotations

import asyncio

from cli.hammer.server import ServerProcess, ServerStartError
from cli.hammer.writers import Run

START_ATTEMPTS = 3


def kill_points(run: Run, kills: int) -> list[float]:
    """Progress fractions at which to kill: one random point per slot of [0.10, 0.85]."""
    width = 0.75 / max(kills, 1)
    return [0.10 + width * (k + run.rng.random()) for k in range(kills)]


async def chaos(run: Run, server: ServerProcess, kills: int) -> None:
    """Kill and restart ``server`` at each kill point, then set ``run.chaos_done``.

    Raises:
        ServerStartError: the server would not come back after a kill.
    """
    try:
        for point in kill_points(run, kills):
            while run.progress() < point:
                if run.stop.is_set():
                    return
                await asyncio.sleep(0.05)
            await asyncio.to_thread(server.kill)
            run.obs.counts["kills"] += 1
            await asyncio.sleep(run.rng.uniform(0.0, 0.5))
            await restart(server)
    finally:
        run.chaos_done.set()


async def restart(server: ServerProcess) -> None:
    """Start ``server`` and wait until it is ready, trying a few times.

    Raises:
        ServerStartError: it did not come up after `START_ATTEMPTS` tries.
    """
    for attempt in range(START_ATTEMPTS):
        server.start()
        try:
            await asyncio.to_thread(server.wait_ready)
            return
        except ServerStartError:
            await asyncio.to_thread(server.kill)
            if attempt == START_ATTEMPTS - 1:
                raise
            await asyncio.sleep(1.0)
