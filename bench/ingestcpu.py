"""Where the CPU of ``POST /v1/entries:batch`` goes, per event, in every thread.

    .venv/bin/python -m bench.ingestcpu [--events 5000] [--batch 1000]
    .venv/bin/python -m bench.ingestcpu --single [--events 2000]

The real app (bench.resolver_app, the bench server's settings: no quota limit, SQLite in
a temp folder holding the base world) is driven in this process through httpx's ASGI
transport, one batch at a time, after two untimed warm-up batches. Each step below is
timed in the CPU time of the thread that runs it (`time.thread_time`), so the figures
hold on a loaded machine, where wall-clock profiles (and cProfile, which sees one
thread) do not: a batch's signatures are verified in the verifier children
(ledger.service.sigpool), whose own CPU is read from /proc (`bench.proccpu`) and shown
on a line of its own, and smaller sets on the verify threads
(ledger.verify.batchverify), outside the log lock and without the GIL: both show up
here, where cProfile shows only the caller waiting for them. Steps nest (the write
transaction holds the map commit and the SQL); "process" is all threads' CPU, client
included.

``--direct sqlite|postgresql``: no HTTP, `Ledger.append_batch` of the same commissions
(bench.appends' ledger and fixed clock; PostgreSQL in a schema of its own, as
bench.databases makes), so the write path of either database is seen alone. That
process has not frozen its heap as the server does (api.heap), so the collector costs
more there.

``--single``: each event its own ``POST /v1/entries`` from `CLIENTS` concurrent clients
(as bench.ingest's single-event figure: group commit gathers them), then the same
bodies to ``POST /bench/bare`` (bench.resolver_app: the body read and parsed, a
constant receipt), so the HTTP stack's own CPU per request is measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

import api.context
import api.quota
import api.routers.entries
import ledger.map.heads
import ledger.service.append
import ledger.service.headmap
import ledger.service.highwater
import ledger.service.ledger
import ledger.service.treeappend
import ledger.store.writer
import ledger.verify.batchverify
from bench import streams
from bench.appends import open_ledger
from bench.databases import PostgresTarget, SqliteTarget
from bench.ingest import BARE, CLIENTS, CONFIG, SINGLE, bodies, single_bodies
from bench.proccpu import cpu_seconds
from bench.server import METRICS_TOKEN
from ledger import crypto
from ledger.events import format_time
from ledger.service import sigpool
from ledger.service.config import write_key_file

#: (owner, attribute, label, depth): the steps timed, in the order shown
STEPS: list[tuple[Any, str, str, int]] = [
    (api.routers.entries.codec, "parse", "route: body JSON (codec.parse)", 0),
    # a batch's body since parse32: parsed without the duplicate-key hook, then counted
    # (`parse` itself runs only for a body that fails either: not nested in these)
    (api.routers.entries.codec, "parse_counted", "route: body JSON (codec.parse)", 0),
    (api.routers.entries, "_colons", "route: body JSON (codec.parse)", 0),
    (api.routers.entries, "_signed", "route: SignedEvent.from_json", 0),
    (api.context.Context, "ledger_for_events", "route: the request's ledger copy", 0),
    (ledger.service.ledger.Ledger, "_read_key_owners", "quota: key owner reads (sql)", 0),
    # the batch's events the log holds already are not charged (api.quota._check_new)
    (ledger.service.ledger.Ledger, "logged_events", "quota: logged events read (sql)", 0),
    (api.quota, "_verified_signers", "quota: signature check (who pays)", 0),
    (ledger.service.ledger.Ledger, "take_write_tokens", "quota: bucket take (sql)", 0),
    # nested in the quota's check when the quota asks (the append's own call is then
    # answered by the event's memo, ledger.entry.verify_event): not to be added to it
    (ledger.verify.batchverify, "_first_bad", "Ed25519 verify (in the quota's check, append)", 0),
    (ledger.service.append.Appender, "_verify_known", "append: verify known keys", 0),
    (ledger.service.append, "_leaves", "append: leaves and their packing, before the lock", 0),
    (ledger.service.append.Appender, "_write", "append: write transaction", 0),
    (ledger.store.writer.WriteTx, "find_event_hashes", "sql: idempotency read", 1),
    (ledger.service.append, "load_state_for", "prefetch: rule state", 1),
    (ledger.service.append, "_accept", "rules", 1),
    (ledger.service.append.Leaf, "build", "leaf bytes", 1),
    (ledger.service.treeappend.TreeAppender, "add", "Merkle tree", 1),
    (ledger.map.heads.HeadTracker, "add", "map: add", 1),  # (MapKeeper inherits it)
    (ledger.service.headmap.MapKeeper, "commit", "map: commit (headmap)", 1),
    (ledger.store.writer.WriteTx, "insert_entries", "sql: entries", 1),
    (ledger.store.writer.WriteTx, "upsert", "sql: projections", 1),
    (ledger.store.writer.WriteTx, "insert_nodes", "sql: tree nodes", 1),
    (ledger.service.highwater.HighWater, "before_commit", "high-water file (fdatasync)", 1),
    (api.routers.entries, "_receipt", "route: receipt JSON", 0),
]
#: the cyclic collector's own time (`Steps` times it through `gc.callbacks`): it is
#: also counted in whichever step it interrupted, so it moves between steps run to run
GC = "cyclic garbage collector (inside the steps it interrupts)"
#: how many signatures libsodium checked (`crypto.verify` calls in this process, a memo
#: hit makes none; and the items handed to the verifier children, ledger.service.sigpool)
VERIFIED = "Ed25519 signatures checked"
#: the verifier children's own CPU (`bench.proccpu`: they are processes, not threads)
CHILDREN = "Ed25519 verify in the verifier children (ledger.service.sigpool)"


class Steps:
    """Thread-CPU seconds spent in each of `STEPS` while installed."""

    def __init__(self) -> None:
        self.cpu: Counter[str] = Counter()
        self.verified: list[None] = []  # one item a `crypto.verify` call
        self._children: dict[int, float] = {}  # verifier child's pid: its CPU at first use
        self.children_seconds = 0.0  # their CPU since, read by `remove`
        self._undo: list[Callable[[], None]] = []

    def install(self) -> None:
        """Wrap every step (none of them recurses, so no call is counted twice); a step
        the code does not have (an older commit, for a paired run) stays at zero. The
        collector's collections are timed too (`GC`)."""
        started: dict[int, float] = {}

        def collecting(phase: str, _info: dict[str, int]) -> None:
            now, thread = time.thread_time(), threading.get_ident()
            if phase == "start":
                started[thread] = now
            elif thread in started:
                self.cpu[GC] += now - started.pop(thread)

        gc.callbacks.append(collecting)
        self._undo.append(functools.partial(gc.callbacks.remove, collecting))
        verify = crypto.verify

        def counted(*args: Any) -> None:
            self.verified.append(None)  # (atomic: the verify threads count too)
            verify(*args)

        crypto.verify = counted  # type: ignore[assignment]
        self._undo.append(functools.partial(setattr, crypto, "verify", verify))
        send = sigpool._Child.send

        def sending(child: sigpool._Child, items: list[Any], deadline: float) -> None:
            self._children.setdefault(child.proc.pid, cpu_seconds(child.proc.pid))
            self.verified.extend([None] * len(items))
            send(child, items, deadline)

        sigpool._Child.send = sending  # type: ignore[method-assign,assignment]
        self._undo.append(functools.partial(setattr, sigpool._Child, "send", send))
        for owner, name, label, _ in STEPS:
            original = vars(owner).get(name)
            if original is None:
                continue
            self._undo.append(functools.partial(setattr, owner, name, original))
            setattr(owner, name, self._wrap(original, label))

    def remove(self) -> None:
        """Put every original back, after reading into `children_seconds` the CPU the
        verifier children spent since this process first handed each one work."""
        self.children_seconds = sum(
            cpu_seconds(pid) - start for pid, start in self._children.items()
        )
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


async def _post_all(
    app: Any, work: Sequence[bytes], path: str = "/v1/entries:batch", clients: int = 1
) -> None:
    """Post every body to ``path``, ``clients`` requests at a time, each 201 or exit."""
    headers = {"Content-Type": "application/json"}
    transport = httpx.ASGITransport(app=app)
    queue = list(reversed(work))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def one_client() -> None:
            while queue:
                answer = await client.post(path, content=queue.pop(), headers=headers)
                if answer.status_code != 201:
                    raise SystemExit(f"HTTP {answer.status_code}: {answer.text[:300]}")

        await asyncio.gather(*(one_client() for _ in range(clients)))


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
    per_event[GC] = steps.cpu[GC] / events * 1e6
    per_event[VERIFIED] = len(steps.verified) / events
    per_event[CHILDREN] = steps.children_seconds / events * 1e6
    return per_event, cpu / events * 1e6, events / wall


def measure_direct(events: int, batch: int, db: str) -> tuple[dict[str, float], float, float]:
    """As `measure`, through `Ledger.append_batch` on ``db`` (sqlite or postgresql)
    instead of HTTP: the write path alone, on either database."""
    events_all = streams.commission_stream("D", 2 * batch + events)
    base = streams.base_events(streams.base_world())
    target = PostgresTarget() if db == "postgresql" else SqliteTarget()
    try:
        ledger = open_ledger(target.fresh("ingestcpu", slot=DIRECT_SLOT), base)
        try:
            for start in range(0, 2 * batch, batch):
                ledger.append_batch(events_all[start : start + batch])
            steps = Steps()
            steps.install()
            try:
                cpu, wall = time.process_time(), time.perf_counter()
                for start in range(2 * batch, len(events_all), batch):
                    ledger.append_batch(events_all[start : start + batch])
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            finally:
                steps.remove()
        finally:
            ledger.close()
    finally:
        target.close()
    per_event = {label: steps.cpu[label] / events * 1e6 for _, _, label, _ in STEPS}
    per_event[GC] = steps.cpu[GC] / events * 1e6
    per_event[VERIFIED] = len(steps.verified) / events
    return per_event, cpu / events * 1e6, events / wall


#: the PostgreSQL schema slot of ``--direct postgresql`` (bench.databases), apart from
#: the suite's
DIRECT_SLOT = 27


def measure_single(events: int) -> tuple[dict[str, float], float, float, float, float]:
    """({step: CPU us per event}, process CPU us per event, events/s, and the same two
    for ``POST /bench/bare``) of ``events`` single commissions from `CLIENTS`
    concurrent clients to a fresh in-process app."""
    now = format_time(datetime.now(UTC))
    warm = single_bodies(streams.commission_stream("W", 200, now))
    timed = single_bodies(streams.commission_stream("I", events, now))
    steps = Steps()
    with tempfile.TemporaryDirectory(prefix="bench-ingestcpu-") as tmp:
        app = _app(Path(tmp))

        async def timed_run(path: str) -> tuple[float, float]:
            cpu, wall = time.process_time(), time.perf_counter()
            await _post_all(app, timed, path, CLIENTS)
            return time.process_time() - cpu, time.perf_counter() - wall

        async def run() -> tuple[float, float, float, float]:
            async with app.router.lifespan_context(app):
                await _post_all(app, warm, SINGLE, CLIENTS)
                await _post_all(app, warm, BARE, CLIENTS)
                steps.install()
                try:
                    cpu, wall = await timed_run(SINGLE)
                finally:
                    steps.remove()
                return cpu, wall, *(await timed_run(BARE))

        cpu, wall, bare_cpu, bare_wall = asyncio.run(run())
    per_event = {label: steps.cpu[label] / events * 1e6 for _, _, label, _ in STEPS}
    per_event[GC] = steps.cpu[GC] / events * 1e6
    per_event[VERIFIED] = len(steps.verified) / events
    return per_event, cpu / events * 1e6, events / wall, bare_cpu / events * 1e6, events / bare_wall


def main(argv: Sequence[str] | None = None) -> None:
    """Print the CPU per event of each step of a batch ingest, and the load average."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--single", action="store_true", help="POST /v1/entries, concurrent")
    parser.add_argument("--direct", choices=("sqlite", "postgresql"), help="no HTTP")
    args = parser.parse_args(argv)
    if args.direct:
        steps, process, rate = measure_direct(args.events, args.batch, args.direct)
        print(
            f"{args.events:,} events in batches of {args.batch:,}, Ledger.append_batch on "
            f"{args.direct}: {rate:,.0f} events/s wall"
        )
    elif args.single:
        steps, process, rate, bare, bare_rate = measure_single(args.events)
        print(f"{args.events:,} single events, {CLIENTS} clients: {rate:,.0f} events/s wall")
        print(f"POST /bench/bare, same bodies: {bare:7.1f} us/request, {bare_rate:,.0f}/s wall")
    else:
        steps, process, rate = measure(args.events, args.batch)
        print(f"{args.events:,} events in batches of {args.batch:,}: {rate:,.0f} events/s wall")
    print(f"process CPU (all threads, client included): {process:7.1f} us/event")
    shown = set()
    for _, _, label, depth in STEPS:
        if label not in shown:  # (a label may time several functions)
            shown.add(label)
            print(f"{'  ' * depth}{steps[label]:7.1f} us/event  {label}")
    print(f"{steps.get(CHILDREN, 0.0):7.1f} us/event  {CHILDREN}")
    print(f"{steps[GC]:7.1f} us/event  {GC}")
    print(f"{steps[VERIFIED]:7.2f} per event   {VERIFIED}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
