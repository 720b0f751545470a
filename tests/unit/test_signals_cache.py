"""The signals cache tells two queues of one length apart.

CI caught a view that missed a stranger's scan after a claim: a background read had
taken the queue's snapshot (the owner's scan), the flusher then stored that scan, and
the read's signals were cached as computed over "one queued scan". The stranger's scan
then made the queue one scan long again, and the cache served the owner-only answer.
"""

from __future__ import annotations

from datetime import UTC, datetime

from api.scans import ScanQueue
from ledger.service.signalcaches import EXACT_SCANS, SignalsCache, StoredFacts
from ledger.service.signals import Scan, newest_scan
from ledger.signals.compute import ScanFact

GTIN, SERIAL = "09506000134352", "SN-1"
KEY = (GTIN, SERIAL)


def scan(client: str, second: int = 0) -> Scan:
    return Scan(
        GTIN, SERIAL, datetime(2026, 12, 4, 12, 0, second, tzinfo=UTC), None, client, "phone"
    )


def stored(n: int = 0) -> StoredFacts:
    at = datetime(2026, 12, 4, 11, 0, tzinfo=UTC)
    facts = [ScanFact(at, None, f"client-{i}", None, None) for i in range(n)]
    return StoredFacts(0.0, facts, frozenset(), [], 512)


def test_a_stored_scan_replaced_by_a_new_one_is_not_the_same_queue() -> None:
    queue = ScanQueue()
    queue.add(scan("owner"))
    before = queue.pending_scans(GTIN, SERIAL)  # a read's snapshot
    queue.take()
    queue.settle(stored=True)  # the flusher stored the owner's scan
    queue.add(scan("stranger", 1))
    after = queue.pending_scans(GTIN, SERIAL)
    assert len(before) == len(after) == 1
    assert newest_scan(before) is not newest_scan(after)
    # the same queue asked again is the same queue (no scan arrived or left)
    assert newest_scan(queue.pending_scans(GTIN, SERIAL)) is newest_scan(after)

    cache, facts = SignalsCache(), stored()
    owner_only: tuple[list, None] = ([], None)
    cache.put(KEY, facts, len(before), newest_scan(before), owner_only)
    assert cache.get(KEY, facts, len(after), newest_scan(after), 1) is None
    assert cache.get(KEY, facts, len(before), newest_scan(before), 1) is owner_only


def test_a_busy_unit_reuses_its_answer_within_the_ttl_whatever_is_queued() -> None:
    cache, facts = SignalsCache(), stored(EXACT_SCANS + 1)
    answer: tuple[list, None] = ([], None)
    cache.put(KEY, facts, 1, scan("a"), answer)
    busy = EXACT_SCANS + 3
    assert cache.get(KEY, facts, 2, scan("b"), busy) is answer  # within SIGNALS_TTL
    assert cache.get(KEY, stored(EXACT_SCANS + 1), 1, scan("a"), busy) is None  # other facts


def test_plain_sequences_are_told_apart_by_their_last_scan() -> None:
    first, second = scan("a"), scan("b")
    assert newest_scan(()) is None
    assert newest_scan([first]) is first
    assert newest_scan([first, second]) is second


def test_a_busy_unit_is_told_by_its_whole_count_not_by_the_facts_in_hand() -> None:
    # stored facts read while the unit had few scans, reused while it has many (the
    # facts cache keeps a busy unit's for a while): the unit's whole count decides
    cache, facts = SignalsCache(), stored(3)
    answer: tuple[list, None] = ([], None)
    cache.put(KEY, facts, 1, scan("a"), answer)
    assert cache.get(KEY, facts, 2, scan("b"), EXACT_SCANS + 100) is answer
    assert cache.get(KEY, facts, 2, scan("b"), 5) is None
