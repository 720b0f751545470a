"""The resolver's instructions per request under callgrind: a count the machine's load
does not move.

On a shared 2-core machine the server's CPU time per request (bench.resolver_cpu) moves
by 30-50 % between runs of the same code, more than most changes to the scan path can
move it. Valgrind's callgrind counts the instructions the process executes, which is
the same from run to run within ~0.2 % whatever else runs: this tool compares two
commits by that count (it says nothing about cache misses, system calls or bytes on
the wire, which the wrk figures keep).

For each path (the sold unit's JSON view with its label signature, its consumer page as
a phone asks for it, which counts a scan, and the page with ``&lang=zh-CN``, which
counts none) one process under ``valgrind --tool=callgrind --instr-atstart=no``: the
real app (tests.e2e.server.seed's log on SQLite, copied from one seeding), driven
straight through ASGI, no HTTP server; 200 requests of warm-up, then collection is
switched on (``callgrind_control -i on``) for ``--requests`` requests, the queued
scans flushed every ``--flush-every`` requests as the server's flusher does (its writes
counted), and off. The clocks ``time.monotonic`` and ``time.time`` advance a fixed
``--step`` per request (0.5 ms: 2,000 requests/s), so the caches that expire by age
(the signals of a busy unit, the stored facts) expire as often as in a server at that
rate, not every few requests as under valgrind's real slowness.

    .venv/bin/python -m bench.resolver_instructions [--requests 1000] [--paths json,page]
        [--cache]

``--cache`` simulates the first-level caches and prints their misses per request too: the
live server's CPU per request grows faster than its instructions where the code a path
runs does not fit the instruction cache (docs/PERFORMANCE.md, "Session 24").

Needs ``valgrind`` (Debian: ``apt-get install valgrind``); a run of the three paths at
1,000 requests takes about 3-4 minutes (they run side by side).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import callgrind

#: what each path sends: (query suffix, Accept, Accept-Language)
PATHS: dict[str, tuple[str, str, str | None]] = {
    "json": ("", "application/json", None),
    "page": ("", "text/html", "zh-CN"),
    "page-no-scan": ("&lang=zh-CN", "text/html", "zh-CN"),
}
_AGENT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"
_WARM_UP = 200


def _scope(path: str, headers: dict[str, str]) -> dict[str, Any]:
    """An ASGI HTTP scope for ``GET path`` from a fixed client address."""
    raw, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": raw,
        "raw_path": raw.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("198.51.100.1", 4000),
        "server": ("bench", 80),
        "state": {},
    }


async def _call(app: Any, scope: dict[str, Any]) -> int:
    """Send one request through ``app``; return its status."""
    status = [0]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]

    await app(dict(scope), receive, send)
    return status[0]


def _fake_clocks(step: float) -> Callable[[], None]:
    """Replace ``time.monotonic`` and ``time.time`` with clocks that move only when the
    returned function is called, by ``step`` seconds each time."""
    now = [time.monotonic(), time.time()]
    time.monotonic = lambda: now[0]
    time.time = lambda: now[1]

    def tick() -> None:
        now[0] += step
        now[1] += step

    return tick


def drive(name: str, requests: int, flush_every: int, step: float, seeded: str) -> None:
    """Under callgrind: warm up, then collect ``requests`` requests of path ``name``."""
    tick = _fake_clocks(step)
    import gc

    from api.app import create_app
    from ledger import label
    from ledger.gs1 import UnitId
    from ledger.service.ledger import Ledger
    from ledger.service.settings import Settings
    from tests.factories import key
    from tests.integration.world import clock, config

    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
        db = Path(tmp) / "ledger.db"
        shutil.copy(seeded, db)
        units = json.loads(Path(seeded + ".units.json").read_text())
        ledger = Ledger.open(f"sqlite:///{db}", config("bench-resolver"), clock=clock)
        env = {"PROVENANCE_RATE": "1e9", "PROVENANCE_BURST": "1000000"}
        app = create_app(Settings.from_env(env), ledger=ledger)
        gtin, serial = units["sold"]
        signed = label.sign_label(UnitId(gtin=gtin, serial=serial), key(2))
        suffix, accept, language = PATHS[name]
        headers = {"host": "bench", "user-agent": _AGENT, "accept": accept}
        if language:
            headers["accept-language"] = language
        scope = _scope(f"/01/{gtin}/21/{serial}?s={signed}{suffix}", headers)

        async def run() -> None:
            for _ in range(_WARM_UP):
                if await _call(app, scope) != 200:
                    raise SystemExit(f"{name}: the warm-up request failed")
                tick()
            await app.state.ctx.flush_scans()
            gc.collect()
            gc.freeze()  # as the server's lifespan does (api.heap)
            callgrind.collect(True)
            for i in range(requests):
                await _call(app, scope)
                tick()
                if i % flush_every == flush_every - 1:
                    await app.state.ctx.flush_scans()
            callgrind.collect(False)
            await app.state.ctx.flush_scans()

        try:
            asyncio.run(run())
        finally:
            ledger.close()


def measure(
    names: list[str], requests: int, flush_every: int, step: float, cache: bool = False
) -> dict[str, dict[str, int]]:
    """Per path in ``names`` (one callgrind run each), each event callgrind counted per
    request: ``Ir`` (instructions) and, with ``cache``, the first-level cache misses
    (`bench.callgrind.totals`)."""
    callgrind.require()
    from tests.e2e.server import seed

    out: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
        seeded = str(Path(tmp) / "seed.db")
        _, units = seed(f"sqlite:///{seeded}", "bench-resolver")
        Path(seeded + ".units.json").write_text(json.dumps(units))
        runs = {}
        for name in names:
            dump = Path(tmp) / f"{name}.callgrind"
            command = callgrind.command(
                dump,
                "bench.resolver_instructions",
                "--drive",
                name,
                "--requests",
                str(requests),
                "--flush-every",
                str(flush_every),
                "--step",
                str(step),
                "--seeded",
                seeded,
                cache=cache,
            )
            env = callgrind.environment()
            log = (Path(tmp) / f"{name}.log").open("w")
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            runs[name] = (dump, process, log)
        for name, (dump, process, log) in runs.items():
            code = process.wait()
            log.close()
            if code != 0:
                tail = (Path(tmp) / f"{name}.log").read_text()[-2000:]
                raise SystemExit(f"{name}: the run under valgrind failed:\n{tail}")
            out[name] = {k: v // requests for k, v in callgrind.totals(dump).items()}
    return out


def main() -> None:
    """Print instructions per request by path, and the page's share of the JSON's."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--flush-every", type=int, default=1000)
    parser.add_argument("--step", type=float, default=0.0005)
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument(
        "--cache", action="store_true", help="simulate the first-level caches, count misses"
    )
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    parser.add_argument("--seeded", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        drive(args.drive, args.requests, args.flush_every, args.step, args.seeded)
        return
    names = [n for n in args.paths.split(",") if n]
    unknown = sorted(set(names) - set(PATHS))
    if unknown:
        raise SystemExit(f"unknown paths {unknown}: choose from {', '.join(PATHS)}")
    found = measure(names, args.requests, args.flush_every, args.step, args.cache)
    for name, events in found.items():
        misses = (
            f"; first-level misses: instructions {events['I1mr']:,}, data "
            f"{events['D1mr'] + events['D1mw']:,}"
            if "I1mr" in events
            else ""
        )
        print(f"  {name}: {events['Ir']:,} instructions/request{misses}")
    if "json" in found and "page" in found:
        print(f"  JSON over page (the page figure's ratio, in instructions): "
              f"{found['json']['Ir'] / found['page']['Ir']:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
