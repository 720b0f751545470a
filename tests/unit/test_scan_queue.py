"""api.scans: the queue is bounded by count and bytes (oldest dropped and counted), read
per unit, and a failed batch goes back to its front, in order; the flusher outlives a
database outage and never writes a batch twice, even when cancelled mid-write."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.metrics import Metrics
from api.scanflush import ScanFlusher
from api.scanpack import (
    Packed,
    _widen,
    micros_of,
    pack,
    rows_of,
    scan_bytes,
    squeeze,
    unpack,
)
from api.scans import MAX_BYTES, MAX_SCANS, ScanQueue
from ledger.errors import StorageError
from ledger.service.ledger import Scan
from ledger.service.scanfacts import scan_facts
from ledger.signals.places import HEADER, HINT, stored_place

T0 = datetime(2026, 12, 3, tzinfo=UTC)
GTIN = sys.intern("09506000134352")


def scan(i: int, serial: str | None = None) -> Scan:
    """A scan as the resolver makes it: 32-hex client and network hashes."""
    return Scan(
        GTIN,
        serial or f"SN-{i:08d}",
        T0 + timedelta(milliseconds=i),
        "CN",
        f"{i:032x}",
        "mobile",
        f"{i + 1:032x}",
    )


def test_a_hundred_thousand_scans_of_a_launch_fit_in_32_mb() -> None:
    queue = ScanQueue()
    for i in range(MAX_SCANS):  # 20,000 units scanned five times each
        assert queue.add(scan(i, f"SN-{i % 20_000:08d}")) == 0
    assert len(queue) == MAX_SCANS and queue.nbytes <= MAX_BYTES
    assert queue.add(scan(MAX_SCANS, "SN-X")) == 1 and queue.dropped == 1
    assert queue.pending(GTIN, "SN-00000000")[0] == 4  # its oldest scan went


def test_a_flood_of_distinct_units_is_bounded_by_bytes() -> None:
    queue = ScanQueue()
    for i in range(MAX_SCANS):
        queue.add(scan(i))
    assert queue.nbytes <= MAX_BYTES and queue.dropped == MAX_SCANS - len(queue) > 0
    assert queue.pending(GTIN, "SN-00000000") == (0, None, [])  # the oldest went


def test_the_byte_bound_drops_the_oldest() -> None:
    queue = ScanQueue(max_scans=1000, max_bytes=10 * scan_bytes(pack(scan(0))))
    for i in range(25):
        queue.add(scan(i, "A" if i % 2 else "B"))
    assert queue.nbytes <= queue.max_bytes and 0 < queue.dropped == 25 - len(queue)
    count, first, recent = queue.pending(GTIN, "A")
    assert count == len(recent) and first == recent[0] and recent[-1] == scan(23, "A")


def test_views_read_one_unit_and_a_failed_batch_returns_in_order() -> None:
    queue = ScanQueue()
    for i in range(5):
        queue.add(scan(i, "A" if i < 3 else "B"))
    batch = queue.take(limit=4)
    assert queue.generation % 2 == 1  # odd while written
    assert queue.pending(GTIN, "A")[0] == 3  # still counted while written
    assert [queue.queued_count(GTIN, u) for u in ("A", "B", "C")] == [3, 2, 0]
    assert queue.queued(GTIN, "A") == (3, scan(0, "A")) and queue.queued(GTIN, "C") == (0, None)
    assert queue.settle(stored=False) == 0 and queue.generation % 2 == 0
    assert queue.take() == [*batch, pack(scan(4, "B"))]
    queue.settle(stored=True)
    assert len(queue) == 0 and queue.nbytes == 0 and queue.pending(GTIN, "A") == (0, None, [])


def test_a_packed_scan_unpacks_equal() -> None:
    for one in (scan(7), Scan(GTIN, "x/y", T0, None, "o" + "a" * 31, "bot", None)):
        assert unpack(pack(one)) == one


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
    ),
    st.sampled_from([None, "CN"]),
    st.sampled_from(["a" * 32, "o" + "b" * 31, "not-a-hash"]),
    st.sampled_from([None, "c" * 32]),
    st.sampled_from([None, "CN-SH"]),
)
def test_fields_recorded_are_queued_as_their_scan_would_be(
    at: datetime, place: str | None, client: str, network: str | None, region: str | None
) -> None:
    # the resolver's scans are queued from their fields (ScanQueue.record), the tests'
    # from Scan objects (add): the same packed scan, the unit's serial string shared
    one = Scan(GTIN, "SN-1", at, place, client, "mobile", network, region)
    by_scan, by_fields = ScanQueue(), ScanQueue()
    by_scan.add(one)
    serial = "".join(["SN-", "1"])  # an equal string, not the same object
    fields = (GTIN, serial, micros_of(at), place, client, "mobile", network, region)
    by_fields.record(*fields)
    by_fields.record(*fields)
    assert by_fields.take() == [pack(one)] * 2 == [by_scan.take()[0]] * 2
    _, _, recent = by_fields.pending(GTIN, "SN-1")
    assert recent == [one, one]
    assert by_fields.nbytes == by_scan.nbytes + scan_bytes(pack(one))
    assert micros_of(at) == (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


@given(
    st.lists(
        st.tuples(
            st.integers(-(10**15), 253_402_300_799 * 10**6),  # 1938 .. the end of 9999
            st.sampled_from([None, "CN"]),
            st.sampled_from(["a" * 32, "o" + "b" * 31, "not-a-hash"]),
            st.sampled_from([None, "c" * 32, "not-a-hash"]),
            st.sampled_from([None, "CN-SH"]),
        ),
        max_size=30,
    ),
    st.integers(0, 3),
)
def test_rows_of_packed_scans_are_their_scans_rows(
    raw: list[tuple[int, str | None, str, str | None, str | None]], spread: int
) -> None:
    """The flusher's rows, made from the packed scans with the time's text kept per
    second, are the rows of the unpacked scans (times before the epoch, millisecond and
    second edges, many scans in one second)."""
    batch = []
    for micros, place, client, network, region in raw:
        for step in range(spread + 1):  # neighbours: the same second, or the next
            at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros + step * 999)
            one = Scan(GTIN, "SN-1", at, place, client, "mobile", network, region)
            batch.append(pack(one))
    assert rows_of(batch) == [unpack(p).to_row() for p in batch]


@given(
    st.lists(
        st.tuples(
            st.integers(0, 10**12),
            st.sampled_from([None, stored_place("CN", HEADER), stored_place("US-CA", HINT)]),
            st.sampled_from(["a" * 32, "o" + "b" * 31, "0f" * 16, "not-a-hash"]),
            st.sampled_from([None, "c" * 32, "not-a-hash"]),
        ),
        max_size=20,
    )
)
def test_a_units_queued_scans_give_the_facts_of_their_scans(
    raw: list[tuple[int, str | None, str, str | None]],
) -> None:
    """`_Lazy.facts_of` (straight from the packed form) gives what the signals make
    of the unpacked scans, for the unit they are of, and nothing for another."""
    queue = ScanQueue()
    for micros, place, client, network in raw:
        at = T0 + timedelta(microseconds=micros)
        queue.add(Scan(GTIN, "SN-1", at, place, client, "mobile", network))
    pending = queue.pending_scans(GTIN, "SN-1")
    if not raw:
        assert pending == ()
        return
    facts_of = pending.facts_of  # type: ignore[attr-defined]
    assert facts_of(GTIN, "SN-1") == scan_facts(list(pending))
    assert facts_of(GTIN, "SN-2") is None


@given(st.text("0123456789abcdefABCDEF \t-", min_size=30, max_size=34))
def test_only_lower_case_hashes_are_packed_as_bytes(value: str) -> None:
    """A client or network text is packed as 16 bytes exactly when it is 32 lower-case
    hex digits, and either way unpacks to itself."""
    packed = squeeze(value)
    assert isinstance(packed, bytes) == bool(re.fullmatch("[0-9a-f]{32}", value))
    assert _widen(packed) == value


class Database:
    """A fake scan store: slow writes, failing while ``down``."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.down = False
        self.stored: list[Scan] = []

    def write(self, batch: list[Packed]) -> None:
        time.sleep(self.seconds)
        if self.down:
            raise StorageError("database is locked")
        self.stored.extend(unpack(p) for p in batch)


def test_a_cancelled_flush_stores_its_batch_once() -> None:
    database = Database(seconds=0.3)
    queue = ScanQueue()
    flusher = ScanFlusher(queue, database.write, Metrics())

    async def main() -> None:
        for i in range(10):
            queue.add(scan(i))
        task = asyncio.create_task(flusher.flush())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        queue.add(scan(10))
        await flusher.flush()  # waits for the write under way, then writes the rest

    asyncio.run(main())
    assert database.stored == [scan(i) for i in range(11)] and len(queue) == 0


def test_the_flusher_outlives_a_database_outage() -> None:
    database = Database()
    queue = ScanQueue()
    metrics = Metrics()
    flusher = ScanFlusher(queue, database.write, metrics)

    async def main() -> None:
        database.down = True
        task = asyncio.create_task(flusher.flush_forever(0.01))
        for i in range(50):
            queue.add(scan(i))
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.6)  # a few failed rounds
        assert not task.done() and len(queue) == 50
        database.down = False
        for _ in range(300):
            if not len(queue):
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert database.stored == [scan(i) for i in range(50)]
    assert metrics.scan_flush_failures._value.get() >= 1


def test_a_shared_pending_view_is_the_queues_own_and_a_plain_one_a_snapshot() -> None:
    queue = ScanQueue()
    queue.add(scan(0, "SN-1"))
    snapshot = queue.pending_scans(GTIN, "SN-1")
    shared = queue.pending_scans(GTIN, "SN-1", shared=True)
    assert list(snapshot) == list(shared) == [scan(0, "SN-1")]
    queue.add(scan(1, "SN-1"))
    # a view from memory reads the shared one at once; one read later sees the queue
    assert len(snapshot) == 1 and len(shared) == 2
    assert queue.pending_scans(GTIN, "SN-2", shared=True) == ()
