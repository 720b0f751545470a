"""Scan lists (issue 23): a clerk's ``provenance handoff --from-file`` of N lines against a
real server, as a ratio to the batch ingest rate measured on the same server just before.

The world: the base world (bench.streams) on a fresh SQLite database, N units
commissioned by ``acme`` (posted before timing). Baseline: N pre-signed commissions of
other units posted to ``POST /v1/entries:batch`` in batches of 1,000 by one client (the
CLI's one connection), on the same server. Figure: the wall time of the real
``provenance --server URL handoff --to ship-co --from-file scans.txt --as acme --json``
process for N lines (GTIN/serial, one per line), everything included: interpreter
start-up, key loading, the custody reads (1,000 units a request), signing each event,
the batched appends; every line must be ``appended``. Target: under 30 s for 10,000
lines (docs/CLI.md). Then the same list again: every line a duplicate, exit 0. The clerk
process's own CPU seconds (getrusage of the child) are reported too: under load the wall
time follows the machine, the CPU seconds do not.

    .venv/bin/python -m bench.suite --only scanlist          # 10,000 lines
    .venv/bin/python -m bench.suite --only scanlist --quick  # 2,000 lines
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import streams
from bench.appends import open_ledger
from bench.databases import SqliteTarget
from bench.figures import Figure, Run
from bench.ingest import CONFIG, bodies, post_all
from bench.server import serve
from ledger import crypto
from ledger.events import format_time
from ledger.service.keyfiles import write_key_file
from tests.factories import GTIN, key
from tests.rules_factories import ACTORS

TARGET_SECONDS = 30.0
_ROOT = Path(__file__).resolve().parents[1]


def _clerk(url: str, home: Path, scans: Path) -> tuple[float, float, dict[str, int]]:
    """Run the scan-list handoff as a fresh process; (seconds, the process's CPU
    seconds, outcome counts)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")}
    env.update(PROVENANCE_HOME=str(home), PYTHONPATH=str(_ROOT))
    command = [sys.executable, "-m", "cli", "--server", url, "--json", "handoff"]
    command += ["--to", "ship-co", "--from-file", str(scans), "--as", "acme"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if done.returncode != 0:
        raise SystemExit(f"scanlist: exit {done.returncode}: {done.stderr[-500:]}")
    summary = json.loads(done.stdout)
    return seconds, cpu, {k: summary[k] for k in ("appended", "duplicates", "refused")}


def figures(run: Run) -> list[Figure]:
    """Scan-list handoff seconds (ratio to the same count ingested in batches), rerun."""
    count = run.pick(2000, 10_000)
    target = SqliteTarget()
    try:
        url = target.fresh("scanlist")
        now = format_time(datetime.now(UTC))
        fleet = streams.Fleet(streams.base_world(), now)
        units = fleet.commission("S", count)
        open_ledger(url, streams.base_events(fleet.world)).close()
        baseline_events = bodies(streams.commission_stream("B", count, now), 1000)
        with tempfile.TemporaryDirectory(prefix="bench-scanlist-") as tmp:
            home = Path(tmp)
            pem = crypto.private_key_to_pem(key(ACTORS["acme"][1]))
            write_key_file(home / "keys" / "acme.pem", pem)
            scans = home / "scans.txt"
            scans.write_text("".join(f"{GTIN}/{s}\n" for s in fleet.serials), "utf-8")
            with serve(url, CONFIG, 1) as server:
                post_all(server, bodies(units, 1000), 1)  # the units to hand off, untimed
                ingest = post_all(server, baseline_events, 1)
                seconds, cpu, first = _clerk(server, home, scans)
                again, _, second = _clerk(server, home, scans)
    finally:
        target.close()
    if first != {"appended": count, "duplicates": 0, "refused": 0}:
        raise SystemExit(f"scanlist: first run {first}")
    if second != {"appended": 0, "duplicates": count, "refused": 0}:
        raise SystemExit(f"scanlist: rerun {second}")
    rate, ingest_rate = count / seconds, ingest.events / ingest.seconds
    print(f"  {count:,} lines: {seconds:.1f} s ({rate:,.0f}/s; batch ingest {ingest_rate:,.0f}/s)")
    print(f"  the clerk's process: {cpu:.1f} CPU s ({1000 * cpu / count:.2f} ms a line)")
    print(f"  rerun, all duplicates: {again:.1f} s")
    name = f"scanlist/handoff/sqlite/{count}-lines"
    return [
        Figure.value_at_most(f"{name}/seconds", seconds, "s", TARGET_SECONDS),
        Figure.info(f"{name}/rate", rate, "lines/s", ingest_rate),
        Figure.info(f"{name}/rerun-seconds", again, "s"),
        Figure.info(f"{name}/cli-cpu-seconds", cpu, "s"),
    ]
