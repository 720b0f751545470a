"""Where the CPU of ``POST /v1/entries:batch`` goes, per event, in every thread.

    .venv/bin/python -m bench.ingestcpu [--events 5000] [--batch 1000]

The real app (bench.resolver_app, the bench server's settings: no quota limit, SQLite in
a temp folder holding the base world) is driven in this process through httpx's ASGI
transport, one batch at a time, after two untimed warm-up batches. Each step below is
timed in the CPU time of the thread that runs it (`time.thread_time`), so the figures
hold on a loaded machine, where wall-clock profiles (and cProfile, which sees one
thread) do not: signature verification runs on the verify threads
(ledger.verify.batchverify), outside the log lock and without the GIL, and shows up
here, where cProfile shows only the caller waiting for it. Steps nest (the write
transaction holds the map commit and the SQL); "process" is all threads' CPU, client
included.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

import api.quota
import api.routers.entries
import ledger.service.append
import ledger.service.headmap
import ledger.service.highwater
import ledger.store.writer
import ledger.verify.batchverify
from bench import streams
from bench.appends import open_ledger
from bench.ingest import CONFIG, bodies
from bench.server import METRICS_TOKEN
from ledger import crypto
from ledger.events import format_time
from ledger.service.config import write_key_file

#: (owner, attribute, label, depth): the steps timed, in the order shown
STEPS: list[tuple[Any, str, str, int]] = [
    (api.routers.entries.codec, "parse", "route: body JSON (codec.parse)", 0),
    (api.routers.entries, "_signed", "route: SignedEvent.from_json", 0),
    (api.quota, "_verified_signers", "quota: key owners + signature check", 0),
    (ledger.verify.batchverify, "_first_bad", "Ed25519 verify (verify threads: quota, append)", 0),
    (ledger.service.append.Appender, "_verify_known", "append: verify known keys", 0),
    (ledger.service.append.Appender, "_write", "append: write transaction", 0),
    (ledger.store.writer.WriteTx, "find_event_hashes", "sql: idempotency read", 1),
    (ledger.service.append, "load_state_for", "prefetch: rule state", 1),
    (ledger.service.append, "_accept", "rules", 1),
    (ledger.service.append.Leaf, "build", "leaf bytes", 1),
    (ledger.service.append._TreeAppender, "add", "Merkle tree", 1),
    (ledger.service.headmap.MapKeeper, "add", "map: add", 1),
    (ledger.service.headmap.MapKeeper, "commit", "map: commit (headmap)", 1),
    (ledger.store.writer.WriteTx, "insert_entries", "sql: entries", 1),
    (ledger.store.writer.WriteTx, "upsert", "sql: projections", 1),
    (ledger.store.writer.WriteTx, "insert_nodes", "sql: tree nodes", 1),
    (ledger.service.highwater.HighWater, "before_commit", "high-water file (fdatasync)", 1),
    (api.routers.entries, "_receipt", "route: receipt JSON", 0),
]


class Steps:
    """Thread-CPU seconds spent in each of `STEPS` while installed."""

    def __init__(self) -> None:
        self.cpu: Counter[str] = Counter()
        self._undo: list[Callable[[], None]] = []

    def install(self) -> None:
        """Wrap every step (none of them recurses, so no call is counted twice)."""
        for owner, name, label, _ in STEPS:
            original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
            self._undo.append(functools.partial(setattr, owner, name, original))
            setattr(owner, name, self._wrap(original, label))

    def remove(self) -> None:
        """Put every original back."""
        while self._undo:
            self._undo.pop()()

    def _wrap(self, function: Any, label: str) -> Any:
        wrapped = function.__func__ if isinstance(function, classmethod) else function

        @functools.wraps(wrapped)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return wrapped(*args, **kwargs)
            finally:
                self.cpu[label] += time.thread_time() - start

        return classmethod(timed) if isinstance(function, classmethod) else timed


def _app(folder: Path) -> Any:
    """The bench server's app on a fresh SQLite log holding the base world."""
    url = f"sqlite:///{folder / 'ingest.db'}"
    open_ledger(url, streams.base_events(streams.base_world())).close()
    assert isinstance(CONFIG.operator_key, crypto.Ed25519PrivateKey)
    assert isinstance(CONFIG.log_key, crypto.Ed25519PrivateKey)
    write_key_file(folder / "op.pem", crypto.private_key_to_pem(CONFIG.operator_key))
    write_key_file(folder / "log.pem", crypto.private_key_to_pem(CONFIG.log_key))
    os.environ.update(
        {
            "DATABASE_URL": url,
            "PROVENANCE_OPERATOR_KEY": str(folder / "op.pem"),
            "PROVENANCE_CHECKPOINT_KEY": str(folder / "log.pem"),
            "PROVENANCE_ORIGIN": CONFIG.origin,
            "PROVENANCE_LOG": CONFIG.name,
            "PROVENANCE_PUBLIC_URL": "http://127.0.0.1:1",
            "PROVENANCE_RATE": "10000000",
            "PROVENANCE_BURST": "10000000",
            "PROVENANCE_METRICS_TOKEN": METRICS_TOKEN,
            "PROVENANCE_WRITE_RATE": "1000000000",
            "PROVENANCE_WRITE_BURST": "10000000",
            "PROVENANCE_HIGHWATER_DIR": str(folder / "highwater"),
        }
    )
    from bench.resolver_app import app

    return app()


async def _post_all(app: Any, work: Sequence[bytes]) -> None:
    headers = {"Content-Type": "application/json"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for body in work:
            answer = await client.post("/v1/entries:batch", content=body, headers=headers)
            if answer.status_code != 201:
                raise SystemExit(f"HTTP {answer.status_code}: {answer.text[:300]}")


def measure(events: int, batch: int) -> tuple[dict[str, float], float, float]:
    """({step: CPU us per event}, process CPU us per event, events/s) of ``events``
    commissions posted in batches of ``batch`` to a fresh in-process app."""
    now = format_time(datetime.now(UTC))
    warm = bodies(streams.commission_stream("W", 2 * batch, now), batch)
    timed = bodies(streams.commission_stream("I", events, now), batch)
    steps = Steps()
    with tempfile.TemporaryDirectory(prefix="bench-ingestcpu-") as tmp:
        app = _app(Path(tmp))

        async def run() -> tuple[float, float]:
            async with app.router.lifespan_context(app):
                await _post_all(app, warm)
                steps.install()
                try:
                    cpu, wall = time.process_time(), time.perf_counter()
                    await _post_all(app, timed)
                    return time.process_time() - cpu, time.perf_counter() - wall
                finally:
                    steps.remove()

        cpu, wall = asyncio.run(run())
    per_event = {label: steps.cpu[label] / events * 1e6 for _, _, label, _ in STEPS}
    return per_event, cpu / events * 1e6, events / wall


def main(argv: Sequence[str] | None = None) -> None:
    """Print the CPU per event of each step of a batch ingest, and the load average."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args(argv)
    steps, process, rate = measure(args.events, args.batch)
    print(f"{args.events:,} events in batches of {args.batch:,}: {rate:,.0f} events/s wall")
    print(f"process CPU (all threads, client included): {process:7.1f} us/event")
    for _, _, label, depth in STEPS:
        print(f"{'  ' * depth}{steps[label]:7.1f} us/event  {label}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
