"""Event signatures as an audit hands them over: plain tuples, verified in order.

`bad_raw` is what every path of the audit's signature check runs (the verify threads,
the worker pool, the verifier process), so all of them accept exactly what
`ledger.crypto.verify` accepts (`ledger.sigcheck.verifies`, what `verify_raw` checks
for a raw key). `serve` is the verifier children's loop (`ledger.audit.sigproc`,
`ledger.service.sigpool`): this module imports nothing of the ledger beyond
`ledger.sigcheck` and `ledger.errors`, and neither `typing` nor `pickle`: a batch
crosses as `frame` writes it (a format tag, its length, then `marshal` of the items,
which hold only ints and bytes), so a child is up in ~15 ms (docs/PERFORMANCE.md "audit42").
"""

from __future__ import annotations

import marshal
import struct
import sys

from ledger.sigcheck import verifies

#: `typing.TYPE_CHECKING` without importing `typing` (a child's start); mypy reads any
#: constant of this name as True
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import BinaryIO

#: (index, raw public key, signing domain, message after it, signature): what an audit
#: collects per entry (the domain says the event format, ledger.entry.signed_message)
Raw = tuple[int, bytes, bytes, bytes, bytes]

#: a batch's answer from `serve`: the count of bad indices, then each (little-endian)
COUNT = struct.Struct("<I")
INDEX = struct.Struct("<Q")
#: a batch as `frame` writes it: `MAGIC`, its length in bytes, then that many of `marshal`
LENGTH = struct.Struct("<I")
#: a frame's first bytes: the format, and this interpreter's marshal version (a child
#: started from files of another version ends at once instead of waiting for a length
#: it misreads; its parent then verifies the batch itself)
MAGIC = b"RS1" + bytes([marshal.version])
#: the largest batch a child reads (a batch of 1,000 items is ~400 kB)
MAX_FRAME = 64 << 20


def bad_raw(items: Sequence[Raw]) -> list[int]:
    """The indices of ``items`` whose signature does not verify, in the order given."""
    return [
        index
        for index, public, domain, message, signature in items
        if not verifies(public, domain, message, signature)
    ]


def answer(bad: Sequence[int]) -> bytes:
    """One batch's answer as `serve` writes it."""
    return COUNT.pack(len(bad)) + b"".join(INDEX.pack(i) for i in bad)


def frame(items: Sequence[Raw]) -> bytes:
    """``items`` as `serve` reads a batch: `MAGIC`, the length, then `marshal` of them
    (the same interpreter on both sides, so the same marshal version; a bytes-like field
    arrives as bytes).

    Raises:
        ValueError: the batch is larger than `MAX_FRAME`, or an item is not marshallable.
    """
    data = marshal.dumps(list(items))
    if len(data) > MAX_FRAME:
        raise ValueError(f"a batch of {len(data)} bytes is over {MAX_FRAME}")
    return MAGIC + LENGTH.pack(len(data)) + data


def read_frame(source: BinaryIO) -> list[Raw] | None:
    """The next batch `frame` wrote on ``source``; None at its end, and for a cut frame,
    one not in this format or over `MAX_FRAME` (the caller stops reading)."""
    head = _read_exactly(source, len(MAGIC) + LENGTH.size)
    if head is None or head[: len(MAGIC)] != MAGIC:
        return None
    (size,) = LENGTH.unpack_from(head, len(MAGIC))
    data = _read_exactly(source, size) if size <= MAX_FRAME else None
    if data is None:
        return None
    items: list[Raw] = marshal.loads(data)  # noqa: S302 - from the process that started us
    return items


def _read_exactly(source: BinaryIO, size: int) -> bytes | None:
    """``size`` bytes from ``source`` (a raw stream may return fewer a read), or None
    when it ends first."""
    data = source.read(size)
    while len(data) < size:
        more = source.read(size - len(data))
        if not more:
            return None
        data += more
    return data


def serve(source: BinaryIO | None = None, sink: BinaryIO | None = None) -> None:
    """Read batches of `Raw` items (`frame`) from ``source`` (stdin) until it ends;
    answer each with `answer(bad_raw(items))` on ``sink`` (stdout), in order.

    Only the process that started this one writes to its stdin (`marshal` is used for
    speed, not across a trust boundary)."""
    source = source or sys.stdin.buffer
    sink = sink or sys.stdout.buffer
    while (items := read_frame(source)) is not None:
        sink.write(answer(bad_raw(items)))
        sink.flush()
