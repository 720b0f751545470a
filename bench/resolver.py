"""Resolver JSON throughput and latency at 64 concurrent clients, against a bare endpoint.

Run: ``python -m bench.resolver [--quick]``. Seeds a log (SQLite), starts uvicorn with
the real app plus ``/bench/bare`` (bench/resolver_app.py), then drives both with ``wrk``
(64 connections, 2 threads) and reports requests/s, p50 and p99 for each, and the ratio
(target >= 0.5) and p99 (target < 50 ms). Writes bench/results/resolver.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.server import free_port, seed  # noqa: E402
from tests.factories import key  # noqa: E402
from tests.integration.world import config  # noqa: E402

LUA = """
wrk.headers["Accept"] = "application/json"
"""


def _wrk(url: str, seconds: int, script: Path) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = {m.group(1): _ms(m.group(2)) for m in re.finditer(r"\s+(50|99)%\s+([\d.]+\w+)", out)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": lat["50"],
        "p99_ms": lat["99"],
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


def _ms(text: str) -> float:
    value, unit = float(re.match(r"[\d.]+", text).group(0)), re.sub(r"[\d.]+", "", text)  # type: ignore[union-attr]
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    """Seed, serve, measure, report."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    seconds = 5 if parser.parse_args().quick else 15
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    tmp = Path(tempfile.mkdtemp())
    name = "bench"
    url_db = f"sqlite:///{tmp}/ledger.db"
    _, units = seed(url_db, name)
    (tmp / "operator.pem").write_bytes(
        __import__("ledger.crypto", fromlist=["x"]).private_key_to_pem(key(1))
    )
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url_db,
        "PROVENANCE_OPERATOR_KEY": str(tmp / "operator.pem"),
        "PROVENANCE_ORIGIN": config(name).origin,
        "PROVENANCE_LOG": name,
        "PROVENANCE_RATE": "1000000",
        "PROVENANCE_BURST": "1000000",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.resolver_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        script = tmp / "accept.lua"
        script.write_text(LUA)
        gtin, serial = units["sold"]
        bare = _wrk(f"{base}/bench/bare", seconds, script)
        resolver = _wrk(f"{base}/01/{gtin}/21/{serial}", seconds, script)
    finally:
        server.terminate()
        server.wait(10)
    ratio = resolver["rps"] / bare["rps"]
    figures = [
        {
            "name": "bare endpoint requests/s (64 clients)",
            "value": bare["rps"],
            "unit": "req/s",
            "baseline": None,
            "ratio": None,
            "target": None,
            "pass": None,
        },
        {
            "name": "resolver JSON requests/s (64 clients)",
            "value": resolver["rps"],
            "unit": "req/s",
            "baseline": bare["rps"],
            "ratio": ratio,
            "target": 0.5,
            "pass": ratio >= 0.5,
        },
        {
            "name": "resolver JSON p50",
            "value": resolver["p50_ms"],
            "unit": "ms",
            "baseline": bare["p50_ms"],
            "ratio": None,
            "target": None,
            "pass": None,
        },
        {
            "name": "resolver JSON p99",
            "value": resolver["p99_ms"],
            "unit": "ms",
            "baseline": bare["p99_ms"],
            "ratio": None,
            "target": 50,
            "pass": resolver["p99_ms"] < 50,
        },
    ]
    out = ROOT / "bench" / "results" / "resolver.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    for f in figures:
        print(
            f"{f['name']:<42} {f['value']:>10.1f} {f['unit']:<6} ratio {f['ratio'] if f['ratio'] is None else round(f['ratio'], 3)}  target {f['target']}  pass {f['pass']}"
        )
    print(f"non-2xx: bare {bare['non_2xx']:.0f}, resolver {resolver['non_2xx']:.0f}")


if __name__ == "__main__":
    main()
