"""api.scans.ScanQueue: a stored batch's bookkeeping, worked out per unit
(`ScanQueue._forget_stored`), leaves the queue as forgetting each of its scans in turn
(`ScanQueue._forget`) did, under random records and batches stored or failed; and with
a batch stored in part (one log's scans of it, `ScanQueue.settle_part`) as well,
the bounds dropping scans too, counts and bytes stay exact and no stored scan is left
among a unit's recent or oldest ones (views would count it twice)."""

from __future__ import annotations

import sys

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import api.scans
from api.scanpack import Packed, scan_bytes
from api.scans import UNIT_BYTES, ScanQueue

GTINS = ("09506000134352", "04012345678901")
SERIALS = ("SN-1", "SN-2", "SN-3")
_record = st.fixed_dictionaries(
    {
        "gtin": st.sampled_from(GTINS),
        "serial": st.sampled_from(SERIALS),
        "client": st.sampled_from(["a" * 32, "0123456789abcdef" * 2, "o-owner"]),
        "network": st.sampled_from([None, "f" * 32, "net"]),
        "place": st.sampled_from([None, "CN", "DE"]),
    }
)


class _OneByOne(ScanQueue):
    """The queue as it forgot a stored batch before: scan by scan."""

    def _forget_stored(self, batch: list[Packed]) -> None:
        for scan in batch:
            self._forget(scan)


def _state(queue: ScanQueue) -> object:
    units = {
        (gtin, serial): (unit.count, unit.first, list(unit.recent))
        for gtin, serials in queue._units.items()
        for serial, unit in serials.items()
    }
    return queue.nbytes, len(queue), queue.waiting, units


class _Machine(RuleBasedStateMachine):
    """A queue with `RECENT` small, so that units outgrow their recent scans."""

    MAX_SCANS = 10_000

    def __init__(self) -> None:
        super().__init__()
        self._recent = api.scans.RECENT
        api.scans.RECENT = 4
        self.queue = ScanQueue(max_scans=self.MAX_SCANS)
        self.at = 0

    def teardown(self) -> None:
        api.scans.RECENT = self._recent

    def fields(self, record: dict[str, str | None]) -> tuple[object, ...]:
        self.at += 1
        return (
            record["gtin"],
            record["serial"],
            1_700_000_000_000_000 + self.at,
            record["place"],
            record["client"],
            "mobile",
            record["network"],
            "CN",
        )


class OneByOneAlike(_Machine):
    """Without drops: the per-unit bookkeeping is the per-scan one, exactly."""

    def __init__(self) -> None:
        super().__init__()
        self.old = _OneByOne(max_scans=self.MAX_SCANS)

    @rule(record=_record)
    def record(self, record: dict[str, str | None]) -> None:
        fields = self.fields(record)
        assert self.queue.record(*fields) == self.old.record(*fields) == 0  # type: ignore[arg-type]

    @precondition(lambda self: not self.queue.writing)
    @rule(limit=st.integers(min_value=1, max_value=8))
    def take(self, limit: int) -> None:
        assert self.queue.take(limit) == self.old.take(limit)

    @precondition(lambda self: self.queue.writing)
    @rule(stored=st.booleans())
    def settle(self, stored: bool) -> None:
        assert self.queue.settle(stored) == self.old.settle(stored) == 0

    @invariant()
    def alike(self) -> None:
        assert _state(self.queue) == _state(self.old)


class Bounded(_Machine):
    """With drops past the bounds: counts and bytes exact, stored scans forgotten."""

    MAX_SCANS = 12

    def __init__(self) -> None:
        super().__init__()
        self.queued: list[Packed] = []  # the model: every scan the queue holds, in order
        self.stored: list[Packed] = []

    @rule(record=_record)
    def record(self, record: dict[str, str | None]) -> None:
        dropped = self.queue.record(*self.fields(record))  # type: ignore[arg-type]
        self.queued = list(self.queue._writing) + list(self.queue._queued)
        assert dropped <= 1

    @precondition(lambda self: not self.queue.writing)
    @rule(limit=st.integers(min_value=1, max_value=8))
    def take(self, limit: int) -> None:
        self.batch = self.queue.take(limit)

    @precondition(lambda self: self.queue.writing)
    @rule(stored=st.booleans())
    def settle(self, stored: bool) -> None:
        self.queue.settle(stored)
        if stored:
            self.stored.extend(self.batch)
        self.queued = list(self.queue._writing) + list(self.queue._queued)

    @precondition(lambda self: self.queue.writing)
    @rule(gtin=st.sampled_from(GTINS))
    def settle_part(self, gtin: str) -> None:
        # one log's part stored (a log holds whole GTINs), the others' written back
        part = [scan for scan in self.batch if scan[0] == gtin]
        rest = [scan for scan in self.batch if scan[0] != gtin]
        generation = self.queue.generation
        dropped = self.queue.settle_part(part)
        assert self.queue.generation == generation + 1 and not self.queue.writing
        # the rest back in front, in order (the bounds drop the oldest first)
        assert list(self.queue._queued)[: len(rest) - dropped] == rest[dropped:]
        self.stored.extend(part)
        self.queued = list(self.queue._writing) + list(self.queue._queued)

    @invariant()
    def exact(self) -> None:
        units: dict[tuple[str, str], int] = {}
        for scan in self.queued:
            units[(scan[0], scan[1])] = units.get((scan[0], scan[1]), 0) + 1
        held = {(g, s): u for g, serials in self.queue._units.items() for s, u in serials.items()}
        assert {k: u.count for k, u in held.items()} == units
        assert self.queue.nbytes == sum(map(scan_bytes, self.queued)) + sum(
            UNIT_BYTES + sys.getsizeof(u.serial) for u in held.values()
        )
        stored = {id(scan) for scan in self.stored}
        for unit in held.values():
            assert not any(id(scan) in stored for scan in unit.recent)
            assert id(unit.first) not in stored


TestOneByOneAlike = OneByOneAlike.TestCase
TestOneByOneAlike.settings = settings(max_examples=200, stateful_step_count=60, deadline=None)
TestBounded = Bounded.TestCase
TestBounded.settings = settings(max_examples=200, stateful_step_count=60, deadline=None)
