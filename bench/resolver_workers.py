"""``resolver/json/2-workers``: the resolver's JSON on two worker processes against one,
in paired rounds on one machine.

One figure of one run each is at the mercy of whatever else the machine does in those
seconds (the suite runs on 2 cores it shares with the load generator and often with
other work). So both servers run side by side on the same log: one worker, and two
workers, each worker a uvicorn process on its own ``SO_REUSEPORT`` socket
(`bench.server.serve`, ``reuse_port``: the kernel spreads wrk's connections evenly,
where uvicorn's ``--workers`` leaves them to whichever process accepts first). Each
round measures both back to back, in alternating order (one-two, two-one, ...), and the
figure is the round whose ratio is the median of `ROUNDS`.

    .venv/bin/python -m bench.resolver_workers [--seconds 4]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench.server import serve, wrk_run
from ledger import label
from ledger.gs1 import UnitId
from ledger.service.ledger import LogConfig
from tests.e2e.server import seed
from tests.factories import key
from tests.integration.world import config

#: paired rounds; the figure is the median one
ROUNDS = 3

Rounds = list[dict[str, float]]


def paired_rounds(url_db: str, log: LogConfig, path: str, seconds: float) -> Rounds:
    """Per round: the one-worker and the two-worker server's wrk figures on ``path``
    (rps as ``one`` and ``two``, their p99 as ``one_p99`` and ``two_p99``)."""
    rounds: Rounds = []
    with (
        serve(url_db, log, workers=1, reuse_port=True) as one,
        serve(url_db, log, workers=2, reuse_port=True) as two,
    ):
        bases = {"one": one, "two": two}
        for base in bases.values():
            wrk_run(f"{base}{path}", 2)  # warm every worker: connections, caches
        for i in range(ROUNDS):
            order = ("one", "two") if i % 2 == 0 else ("two", "one")
            measured = {name: wrk_run(f"{bases[name]}{path}", seconds) for name in order}
            if any(r["non_2xx"] for r in measured.values()):
                raise SystemExit(f"resolver workers benchmark: non-2xx answers {measured}")
            rounds.append(
                {
                    "one": measured["one"]["rps"],
                    "two": measured["two"]["rps"],
                    "one_p99": measured["one"]["p99_ms"],
                    "two_p99": measured["two"]["p99_ms"],
                }
            )
    return rounds


def median_round(rounds: Rounds) -> dict[str, float]:
    """The round whose two-to-one ratio is the median (the upper one of an even count)."""
    ratios = [r["two"] / r["one"] if r["one"] else 0.0 for r in rounds]
    middle = statistics.median_high(ratios)
    return rounds[ratios.index(middle)]


def measure(seconds: float) -> tuple[dict[str, float], Rounds]:
    """Seed the resolver group's log, run `paired_rounds` on its sold unit's label URL;
    return the median round and all of them."""
    with tempfile.TemporaryDirectory(prefix="bench-resolver-workers-") as tmp:
        url_db = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        name = "bench-resolver"
        _, units = seed(url_db, name)
        gtin, serial = units["sold"]
        signed = label.sign_label(UnitId(gtin=gtin, serial=serial), key(2))
        rounds = paired_rounds(url_db, config(name), f"/01/{gtin}/21/{serial}?s={signed}", seconds)
    return median_round(rounds), rounds


def main() -> None:
    """Print each round and the median."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    middle, rounds = measure(args.seconds)
    for r in rounds:
        print(f"one {r['one']:,.0f} req/s, two {r['two']:,.0f} req/s: {r['two'] / r['one']:.2f}x")
    print(f"median: {middle['two'] / middle['one']:.2f}x")


if __name__ == "__main__":
    main()
