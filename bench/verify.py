"""Raw Ed25519 verification rates: the baselines the append figures are divided by.

Two verifiers over the same pre-made signatures (real format-2 event messages
``DOMAIN_EVENT_V2 || origin || "\n" || JCS(event)`` with their signatures and signers'
public keys):

- ``cryptography``: `Ed25519PublicKey.verify` (OpenSSL), what the ledger uses;
- ``libsodium``: PyNaCl's `VerifyKey.verify` (``crypto_sign_open``), a bench-only
  dependency (issue 9 expects it to be about twice as fast).

Public-key objects are built before timing; one call verifies one signature. The
one-core rate runs in this process (best of ``rounds``); the all-core rate runs one
process per core, all released together by a barrier each round, and is the sum of the
processes' rates (best round). Those processes start once per set of samples and serve
every later all-core measurement of the run. Every signature is checked once before
timing.

No database, no ledger code beyond reading the signed events.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nacl.signing import VerifyKey

from ledger import crypto
from ledger.entry import SignedEvent
from tests.factories import key
from tests.rules_factories import ACTORS

VERIFIERS = ("cryptography", "libsodium")
#: how long a worker waits for the others at a round's start
BARRIER_SECONDS = 120

#: (raw public key, message, signature)
Sample = tuple[bytes, bytes, bytes]


def samples(events: Sequence[SignedEvent]) -> list[Sample]:
    """Turn signed events (by the base world's actors) into verification samples."""
    public = {}
    for _, seed in ACTORS.values():
        raw = crypto.public_key_to_raw(key(seed).public_key())
        public[crypto.key_id(key(seed).public_key())] = raw
    # the exact signed message, domain included (format 2 names the log: ledger.entry)
    return [(public[s.key], s.message, s.sig) for s in events]


def _calls(which: str, items: Sequence[Sample]) -> list[tuple[Callable[..., Any], bytes, bytes]]:
    """Return (bound verify, first argument, second argument) per sample."""
    if which == "cryptography":
        keys = {pk: Ed25519PublicKey.from_public_bytes(pk) for pk, _, _ in items}
        return [(keys[pk].verify, sig, msg) for pk, msg, sig in items]
    if which == "libsodium":
        nacl_keys = {pk: VerifyKey(pk) for pk, _, _ in items}
        return [(nacl_keys[pk].verify, msg, sig) for pk, msg, sig in items]
    raise SystemExit(f"unknown verifier {which!r}")


def _rate(calls: Sequence[tuple[Callable[..., Any], bytes, bytes]]) -> float:
    start = time.perf_counter()
    for verify, first, second in calls:
        verify(first, second)
    return len(calls) / (time.perf_counter() - start)


def one_core(which: str, items: Sequence[Sample], rounds: int = 3) -> float:
    """Verifications per second in this process (best of ``rounds``).

    Raises:
        InvalidSignature, nacl.exceptions.BadSignatureError: a sample does not verify.
    """
    calls = _calls(which, items)
    _rate(calls[:100])  # warm-up (and a check: a bad sample raises)
    return max(_rate(calls) for _ in range(rounds))


def _worker(items: Sequence[Sample], barrier: Barrier, conn: Connection) -> None:
    """One pool process: for each ``(which, rounds)`` asked, time ``rounds`` rounds (each
    released by ``barrier``) and answer their rates, or the failure as text; None ends it."""
    prepared: dict[str, list[tuple[Callable[..., Any], bytes, bytes]]] = {}
    while (asked := conn.recv()) is not None:
        which, rounds = asked
        try:
            if which not in prepared:
                prepared[which] = _calls(which, items)
            calls = prepared[which]
            _rate(calls[:100])  # warm-up (and a check: a bad sample raises)
            rates = []
            for _ in range(rounds):
                barrier.wait(BARRIER_SECONDS)
                rates.append(_rate(calls))
            conn.send(rates)
        except BaseException as e:  # reported to the parent, which stops the run
            barrier.abort()  # the others must not wait for this one
            conn.send(f"{type(e).__name__}: {e}")


class _Pool:
    """One process per core, started once per sample set and reused by every all-core
    measurement: spawning fresh processes (an interpreter, cryptography, the samples)
    costs seconds per measurement on a loaded machine, and a run measures a dozen times."""

    def __init__(self, items: Sequence[Sample]) -> None:
        context = mp.get_context("spawn")
        self.size = os.cpu_count() or 1
        self.barrier = context.Barrier(self.size)
        self.conns: list[Connection] = []
        self.procs = []
        for _ in range(self.size):
            parent, child = context.Pipe()
            proc = context.Process(
                target=_worker, args=(list(items), self.barrier, child), daemon=True
            )
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    def rates(self, which: str, rounds: int) -> list[list[float]]:
        """Each process's rates of ``rounds`` rounds run together."""
        self.barrier.reset()
        for conn in self.conns:
            conn.send((which, rounds))
        answers = []
        for conn, proc in zip(self.conns, self.procs, strict=True):
            if not conn.poll(BARRIER_SECONDS + 60):
                raise SystemExit(f"a {which} verify worker did not answer (pid {proc.pid})")
            answers.append(conn.recv())
        failed = [a for a in answers if isinstance(a, str)]
        if failed:
            raise SystemExit(f"a {which} verify worker failed: {failed[0]}")
        return answers

    def close(self) -> None:
        """Stop the processes (each finishes its loop)."""
        for conn in self.conns:
            try:
                conn.send(None)
            except OSError:
                pass  # already gone
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()


#: the pool of the samples last measured (by identity: bench.baselines makes them once
#: per run), closed when other samples come or the process exits
_pool: tuple[Sequence[Sample], _Pool] | None = None


def _pool_for(items: Sequence[Sample]) -> _Pool:
    global _pool
    if _pool is None or _pool[0] is not items:
        close_pool()
        _pool = (items, _Pool(items))
    return _pool[1]


def close_pool() -> None:
    """Stop the all-core worker processes, if any are running."""
    global _pool
    if _pool is not None:
        _pool[1].close()
        _pool = None


atexit.register(close_pool)


def all_cores(which: str, items: Sequence[Sample], rounds: int = 3) -> tuple[float, int]:
    """Return (sum of per-process verifications per second, processes): one per core.

    The processes are started at the first call for ``items`` and reused by later ones.

    Raises:
        SystemExit: a worker failed (e.g. a sample does not verify) or did not answer.
    """
    pool = _pool_for(items)
    try:
        results = pool.rates(which, rounds)
    except BaseException:
        close_pool()  # the next call starts afresh
        raise
    return max(sum(r[i] for r in results) for i in range(rounds)), pool.size


def check_all(items: Sequence[Sample]) -> None:
    """Verify every sample once with both verifiers (raises on any bad one)."""
    for which in VERIFIERS:
        for verify, first, second in _calls(which, items):
            verify(first, second)
