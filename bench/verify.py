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
processes' rates (best round). Every signature is checked once before timing.

No database, no ledger code beyond reading the signed events.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable, Sequence
from multiprocessing.synchronize import Barrier
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nacl.signing import VerifyKey

from ledger import crypto
from ledger.entry import SignedEvent
from tests.factories import key
from tests.rules_factories import ACTORS

VERIFIERS = ("cryptography", "libsodium")

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


def _worker(which: str, items: Sequence[Sample], rounds: int, barrier: Barrier, out: Any) -> None:
    calls = _calls(which, items)
    _rate(calls[:100])
    rates = []
    for _ in range(rounds):
        barrier.wait()
        rates.append(_rate(calls))
    out.put(rates)


def all_cores(which: str, items: Sequence[Sample], rounds: int = 3) -> tuple[float, int]:
    """Return (sum of per-process verifications per second, processes): one per core."""
    workers = os.cpu_count() or 1
    context = mp.get_context("spawn")
    barrier = context.Barrier(workers)
    out = context.Queue()
    procs = [
        context.Process(target=_worker, args=(which, items, rounds, barrier, out))
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    results = [out.get() for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode:
            raise SystemExit(f"a {which} verify worker failed (exit code {proc.exitcode})")
    return max(sum(r[i] for r in results) for i in range(rounds)), workers


def check_all(items: Sequence[Sample]) -> None:
    """Verify every sample once with both verifiers (raises on any bad one)."""
    for which in VERIFIERS:
        for verify, first, second in _calls(which, items):
            verify(first, second)
