"""Event signatures as an audit hands them over: plain tuples, verified in order.

`bad_raw` is what every path of the audit's signature check runs (the verify threads,
the worker pool, the verifier process), so all of them accept exactly what
`ledger.crypto.verify` accepts (`ledger.sigcheck.verify_raw`, what it runs for a raw
key). `serve` is the verifier process's loop (`ledger.audit.sigproc`): this module
imports nothing of the ledger beyond `ledger.sigcheck` and `ledger.errors` (no
pyca/cryptography), so the process is up in a few tens of milliseconds.
"""

from __future__ import annotations

import pickle
import struct
import sys
from collections.abc import Sequence
from typing import BinaryIO

from ledger.errors import LedgerError
from ledger.sigcheck import verify_raw

#: (index, raw public key, signing domain, message after it, signature): what an audit
#: collects per entry (the domain says the event format, ledger.entry.signed_message)
Raw = tuple[int, bytes, bytes, bytes, bytes]

#: a batch's answer from `serve`: the count of bad indices, then each (little-endian)
COUNT = struct.Struct("<I")
INDEX = struct.Struct("<Q")


def bad_raw(items: Sequence[Raw]) -> list[int]:
    """The indices of ``items`` whose signature does not verify, in the order given."""
    bad = []
    for index, public, domain, message, signature in items:
        try:
            verify_raw(public, domain, message, signature)
        except LedgerError:
            bad.append(index)
    return bad


def answer(bad: Sequence[int]) -> bytes:
    """One batch's answer as `serve` writes it."""
    return COUNT.pack(len(bad)) + b"".join(INDEX.pack(i) for i in bad)


def serve(source: BinaryIO | None = None, sink: BinaryIO | None = None) -> None:
    """Read pickled lists of `Raw` items from ``source`` (stdin) until it ends; answer
    each with `answer(bad_raw(items))` on ``sink`` (stdout), in order.

    Only the auditing process that started this one writes to its stdin (pickle is
    used for speed, not across a trust boundary)."""
    source = source or sys.stdin.buffer
    sink = sink or sys.stdout.buffer
    while True:
        try:
            items = pickle.load(source)  # noqa: S301 (from the process that started this one)
        except EOFError:
            return
        sink.write(answer(bad_raw(items)))
        sink.flush()
