"""Serve a benchmark log over HTTP: the real app (plus a bare endpoint) under uvicorn.

`serve` writes the operator key to a temp file, starts uvicorn with
``bench.resolver_app:app`` (the configured app plus ``GET /bench/bare``, so the bare
baseline runs on exactly the same server settings) on a free loopback port, waits for
``/healthz`` and yields the base URL; it stops the server on exit. Rate limits are lifted
(a benchmark is one client making many requests). `wrk` drives it with ``wrk_run``.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from api.httpproto import PROTOCOL_PATH
from bench.proccpu import descendants
from ledger import crypto
from ledger.service.config import write_key_file
from ledger.service.ledger import LogConfig

ROOT = Path(__file__).resolve().parents[1]
#: what an app or a browser's fetch sends for JSON: every one of them takes gzip
ACCEPT_JSON = (
    'wrk.headers["Accept"] = "application/json"\nwrk.headers["Accept-Encoding"] = "gzip"\n'
)
#: JSON from a client that takes no compression (wrk's own default: no Accept-Encoding)
IDENTITY_JSON = 'wrk.headers["Accept"] = "application/json"\n'


#: the bearer token /metrics wants on the bench's servers (random per run)
METRICS_TOKEN = secrets.token_urlsafe(16)
#: the header that bears it
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def metric_total(url: str, sample: str) -> float | None:
    """The sum of the samples of the server at ``url`` whose name and labels match
    ``sample`` (a regular expression), from its ``/metrics`` as this bench's scraper;
    None if it reports none."""
    connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=30)
    try:
        connection.request("GET", "/metrics", headers=METRICS_AUTH)
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    found = re.findall(rf"^{sample} (\S+)$", text, re.M)
    return sum(float(value) for value in found) if found else None


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(
    db_url: str,
    config: LogConfig,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    reuse_port: bool = False,
) -> Iterator[str]:
    """Run the app on ``db_url``'s log ``config`` with ``workers`` processes; yield its URL.

    ``extra_env`` adds settings (e.g. ``DATABASE_REPLICA_URLS``). With ``workers`` > 1,
    or ``reuse_port``, each worker is on a socket of its own bound with ``SO_REUSEPORT``,
    under the supervisor of ``provenance serve --workers`` (`bench.serve_workers`), as
    production runs them: uvicorn's ``--workers`` shares one socket that it binds with
    Nagle's algorithm left on (`cli.reuseport.reuse_port_socket`). Else one plain
    uvicorn process.
    """
    assert isinstance(config.operator_key, crypto.Ed25519PrivateKey)
    assert isinstance(config.log_key, crypto.Ed25519PrivateKey)
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        key_file, log_key_file = Path(tmp) / "operator.pem", Path(tmp) / "log.pem"
        write_key_file(key_file, crypto.private_key_to_pem(config.operator_key))  # 0600
        write_key_file(log_key_file, crypto.private_key_to_pem(config.log_key))
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "PROVENANCE_OPERATOR_KEY": str(key_file),
            "PROVENANCE_CHECKPOINT_KEY": str(log_key_file),
            "PROVENANCE_ORIGIN": config.origin,
            "PROVENANCE_LOG": config.name,
            "PROVENANCE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "PROVENANCE_RATE": "10000000",
            "PROVENANCE_BURST": "10000000",
            "PROVENANCE_METRICS_TOKEN": METRICS_TOKEN,
            "PROVENANCE_WRITE_RATE": "1000000000",  # no write quota per actor (api.quota)
            "PROVENANCE_WRITE_BURST": "10000000",
            **(extra_env or {}),
        }
        start = [*(sys.executable, "-m", "uvicorn", "--factory", "bench.resolver_app:app")]
        # as `provenance serve` runs it (cli.commands.server.uvicorn_options): no proxy
        # headers, so no ProxyHeadersMiddleware in front of every request either
        quiet = (
            *("--log-level", "warning", "--no-access-log", "--no-proxy-headers"),
            *("--http", PROTOCOL_PATH),
        )
        processes = []
        if reuse_port or workers > 1:
            # the production supervisor (cli.reuseport, as `provenance serve --workers`)
            workers_command = [sys.executable, "-m", "bench.serve_workers"]
            command = [*workers_command, "--port", str(port), "--workers", str(workers)]
            processes.append(subprocess.Popen(command, cwd=ROOT, env=env))
        else:
            command = [
                *start,
                *("--host", "127.0.0.1", "--port", str(port)),
                *quiet,
            ]
            processes.append(subprocess.Popen(command, cwd=ROOT, env=env))
        url = f"http://127.0.0.1:{port}"
        try:
            for process in processes:
                _wait_ready(url, process)
            yield url
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    # The stdlib's client and short sleeps: the server is usually up within a second or
    # two, and every serve() of the run waits here (httpx's client set-up per try and
    # 0.1 s naps added up to seconds per run).
    host = urlsplit(url).netloc  # no proxy from the environment: straight to the server
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the benchmark server exited with code {process.returncode}")
        connection = http.client.HTTPConnection(host, timeout=1)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except (OSError, http.client.HTTPException):  # not listening yet, reset, timed out
            pass
        finally:
            connection.close()
        time.sleep(0.02)
    raise SystemExit("the benchmark server did not answer /healthz within 60 s")


#: wrk's threads (`wrk_run`)
WRK_THREADS = 2


def wrk_run(
    url: str,
    seconds: float,
    connections: int = 64,
    script: str = ACCEPT_JSON,
    args: Sequence[str] = (),
) -> dict[str, float]:
    """Drive ``url`` with wrk (`WRK_THREADS` threads); return rps, p50_ms, p99_ms,
    non_2xx, requests and seconds (wrk's own run time), plus every ``counter NAME
    VALUE`` line the script's ``done`` printed, by name. ``args`` go to the script's
    ``init``."""
    tool = shutil.which("wrk")
    if tool is None:
        raise SystemExit("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        command = [tool, f"-t{WRK_THREADS}", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
        command += ["--latency", "-s", lua.name, url]
        if args:
            command += ["--", *args]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in ([\d.]+\w+),", out)
    lat = {m.group(1): _ms(m.group(2)) for m in re.finditer(r"\s+(50|99)%\s+([\d.]+\w+)", out)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if rps is None or total is None or "50" not in lat or "99" not in lat:
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    counters = {
        m.group(1): float(m.group(2)) for m in re.finditer(r"^counter (\w+) (\d+)$", out, re.M)
    }
    return {
        **counters,
        "rps": float(rps.group(1)),
        "requests": float(total.group(1)),
        "seconds": _ms(total.group(2)) / 1000,
        "p50_ms": lat["50"],
        "p99_ms": lat["99"],
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


def _ms(text: str) -> float:
    number = re.match(r"[\d.]+", text)
    assert number is not None
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
    return float(number.group(0)) * unit[text[number.end() :]]


#: what a map child's command line holds (ledger.service.mapworker starts it)
MAP_CHILD = b"ledger.service.mapchild"


def map_children() -> dict[int, int]:
    """The map child processes (ledger.service.mapworker) below this process, pid -> the
    CPU ticks each has used so far (Linux /proc; empty elsewhere)."""
    return {
        pid: int(fields[11]) + int(fields[12])  # utime, stime
        for pid, (command, fields) in descendants().items()
        if MAP_CHILD in command
    }


def map_children_settled(count: int, timeout: float = 30.0) -> bool:
    """Wait until at least ``count`` map children run below this process and none used
    CPU for 0.3 s (each has imported, connected and waits for its first request);
    whether that happened within ``timeout`` seconds. A server that keeps receiving
    large batches has them ready: its steady state, which a warm-up should reach."""
    deadline = time.monotonic() + timeout
    before = map_children()
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = map_children()
        if len(now) >= count and now == before:
            return True
        before = now
    return False
