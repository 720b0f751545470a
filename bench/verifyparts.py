"""Two parts of a group's signatures started together: do they run together?

`python -m bench.verifyparts [--trials 200] [--checks 16]`: the submitter starts two
parts of ``checks`` libsodium checks each on a pool of two threads, then holds the GIL
for 0.4 ms (a group commit's leader making its leaves, ledger.service.append) and waits
for both; for `concurrent.futures.ThreadPoolExecutor` and for
`ledger.verify.spreadpool.SpreadPool`, alternated, it prints how often the second part
started over 0.6 ms after the first (one thread ran both) and the median time to both
answers (docs/PERFORMANCE.md, "spread52"). No target: a detail of the verify step.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import Executor, ThreadPoolExecutor

from nacl.signing import SigningKey, VerifyKey

from ledger.verify.spreadpool import SpreadPool

#: a part started this long after the other (seconds) was not started with it
LATE = 0.0006
#: how long the submitter keeps the GIL after starting the parts (seconds)
HOLD = 0.0004


def _part(checks: int, signed: bytes, key: VerifyKey) -> tuple[float, float]:
    start = time.perf_counter()
    for _ in range(checks):
        key.verify(signed)
    return start, time.perf_counter()


def trial(pool: Executor, checks: int, signed: bytes, key: VerifyKey) -> tuple[bool, float]:
    """One pair of parts: (the second started late, seconds to both answers)."""
    start = time.perf_counter()
    parts = [pool.submit(_part, checks, signed, key) for _ in range(2)]
    until = time.perf_counter() + HOLD
    while time.perf_counter() < until:  # Python, GIL held
        pass
    (a, _), (b, _) = (part.result() for part in parts)
    return abs(a - b) > LATE, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--checks", type=int, default=16)
    args = parser.parse_args()
    secret = SigningKey.generate()
    signed, key = secret.sign(b"x" * 400), secret.verify_key
    pools: dict[str, Executor] = {
        "ThreadPoolExecutor": ThreadPoolExecutor(2),
        "SpreadPool": SpreadPool(2, "parts"),
    }
    results: dict[str, list[tuple[bool, float]]] = {name: [] for name in pools}
    for _ in range(args.trials):
        for name, pool in pools.items():
            time.sleep(0.002)
            results[name].append(trial(pool, args.checks, signed, key))
    for name, runs in results.items():
        late = sum(1 for was_late, _ in runs if was_late)
        median = statistics.median(seconds for _, seconds in runs) * 1000
        print(f"{name:>18}: second part late {late} of {len(runs)}, median {median:.2f} ms")
    for pool in pools.values():
        pool.shutdown()


if __name__ == "__main__":
    main()
