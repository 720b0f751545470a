"""Cartons and pallets (issue 23): one scan of a pallet's SSCC hands on every unit on it.

The world: the base world (bench.streams) on a fresh SQLite database, N units
commissioned by ``acme`` and packed by the real CLI into N/100 cartons on one pallet
(untimed). Baseline: N pre-signed commissions of other units posted to
``POST /v1/entries:batch`` in one batch by one client, on the same server, just before.
Figures: the wall time of the real ``provenance --server URL handoff PALLET --to
ship-co --as acme --json`` process (start-up, key loading, the container read, signing
N events, one atomic batch), then ``receive PALLET --as ship-co``, each as a rate over
the batch ingest rate; then the same handoff again: every unit a duplicate, exit 0.

    .venv/bin/python -m bench.suite --only cartons           # a pallet of 1,000 units
    .venv/bin/python -m bench.suite --only cartons --quick   # 500 units
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import streams
from bench.appends import open_ledger
from bench.databases import SqliteTarget
from bench.figures import Figure, Run
from bench.ingest import CONFIG, bodies, post_all
from bench.server import serve
from ledger import crypto
from ledger.events import format_time
from ledger.service.keyfiles import write_key_file
from ledger.sscc import sscc_check_digit
from tests.factories import GTIN, key
from tests.rules_factories import ACTORS

_ROOT = Path(__file__).resolve().parents[1]


def _sscc(n: int) -> str:
    body = f"09506000{n:09d}"
    return body + str(sscc_check_digit(body))


def _cli(url: str, home: Path, *args: str) -> tuple[float, dict[str, Any]]:
    """Run ``provenance --server URL --json ARGS`` as a fresh process; (seconds, JSON)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")}
    env.update(PROVENANCE_HOME=str(home), PYTHONPATH=str(_ROOT))
    command = [sys.executable, "-m", "cli", "--server", url, "--json", *args]
    began = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"cartons: {args[0]}: exit {done.returncode}: {done.stderr[-500:]}")
    return seconds, json.loads(done.stdout)


def figures(run: Run) -> list[Figure]:
    """Pallet handoff and receive seconds, as rates over the batch ingest rate."""
    count = run.pick(500, 1000)
    pallet = _sscc(900_000)
    target = SqliteTarget()
    try:
        url = target.fresh("cartons")
        now = format_time(datetime.now(UTC))
        fleet = streams.Fleet(streams.base_world(), now)
        units = fleet.commission("P", count)
        open_ledger(url, streams.base_events(fleet.world)).close()
        baseline_events = bodies(streams.commission_stream("B", count, now), count)
        with tempfile.TemporaryDirectory(prefix="bench-cartons-") as tmp:
            home = Path(tmp)
            for actor in ("acme", "ship-co"):
                pem = crypto.private_key_to_pem(key(ACTORS[actor][1]))
                write_key_file(home / "keys" / f"{actor}.pem", pem)
            with serve(url, CONFIG, 1) as server:
                post_all(server, bodies(units, 1000), 1)  # the units, untimed
                labels = [f"{GTIN}/{s}" for s in fleet.serials]
                for n in range(0, count, 100):  # cartons of 100, then the pallet
                    _cli(server, home, "pack", _sscc(n), *labels[n : n + 100], "--as", "acme")
                cartons = [_sscc(n) for n in range(0, count, 100)]
                _cli(server, home, "pack", pallet, *cartons, "--as", "acme")
                ingest = post_all(server, baseline_events, 1)
                handoff, first = _cli(
                    server, home, "handoff", pallet, "--to", "ship-co", "--as", "acme"
                )
                again, second = _cli(
                    server, home, "handoff", pallet, "--to", "ship-co", "--as", "acme"
                )
                receive, third = _cli(server, home, "receive", pallet, "--as", "ship-co")
    finally:
        target.close()
    if (first["appended"], second["duplicates"], third["appended"]) != (count, count, count):
        raise SystemExit(
            f"cartons: {first['appended']}, {second['duplicates']}, {third['appended']}"
        )
    ingest_rate = ingest.events / ingest.seconds
    print(f"  pallet of {count:,}: handoff {handoff:.1f} s, receive {receive:.1f} s")
    print(f"  batch ingest {ingest_rate:,.0f}/s; the handoff again (duplicates) {again:.1f} s")
    name = f"cartons/pallet/sqlite/{count}-units"
    return [
        Figure.info(f"{name}/handoff-rate", count / handoff, "units/s", ingest_rate),
        Figure.info(f"{name}/receive-rate", count / receive, "units/s", ingest_rate),
        Figure.info(f"{name}/handoff-seconds", handoff, "s"),
        Figure.info(f"{name}/rerun-seconds", again, "s"),
    ]
