"""The daily scan salt: random, one per UTC day, shared by every worker through the
database, deleted when the day ends (ledger.service.salt, docs/PRIVACY.md).

The attack: whoever holds the operator's key (the old salt was derived from it) tries all
2^32 IPv4 addresses against a past day's client hashes. Now no past day's salt exists
anywhere, and the key plays no part in it.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.app import create_app
from ledger.service.ledger import Ledger
from ledger.service.salt import utc_day
from ledger.service.settings import Settings
from tests.factories import GTIN
from tests.integration.signals_world import Clock
from tests.integration.world import config
from tests.profiles import examples

ADDRESSES = [f"203.0.113.{i}" for i in range(256)]


def open_worker(url: str, clock: Clock) -> Ledger:
    """A ledger of its own (its own engines and memory), as a second worker has."""
    return Ledger.open(url, config(f"salt-{uuid.uuid4().hex[:10]}"), clock=clock)


@pytest.fixture
def workers(db_url: str) -> Iterator[tuple[Ledger, Ledger, Clock]]:
    clock = Clock()
    first, second = open_worker(db_url, clock), open_worker(db_url, clock)
    yield first, second, clock
    first.close()
    second.close()


def test_yesterdays_salt_is_gone_after_the_day_changes(
    workers: tuple[Ledger, Ledger, Clock],
) -> None:
    first, second, clock = workers
    yesterday = utc_day(clock.now)
    before = first.salt.client_hash("198.51.100.7")
    salt_before = first.salt.salt()
    assert yesterday in first.salt.days()
    clock.advance(days=1)
    today = utc_day(clock.now)
    # the first use on the new day deletes every older salt
    after = second.salt.client_hash("198.51.100.7")
    assert after != before and second.salt.salt() != salt_before
    assert today in first.salt.days()
    assert all(day >= today for day in first.salt.days())
    # and a worker that only held yesterday's salt in memory takes today's from the table
    assert first.salt.client_hash("198.51.100.7") == after


def test_a_quiet_server_still_deletes_the_salt_when_the_day_ends(
    workers: tuple[Ledger, Ledger, Clock],
) -> None:
    first, _, clock = workers
    first.salt.client_hash("198.51.100.7")
    day = utc_day(clock.now)
    clock.advance(days=1)
    assert first.salt.purge() >= 1  # the server's minute loop, no request at all
    assert day not in first.salt.days()
    # the retention job does it too (nothing left the second time)
    assert first.retention.run().salts == 0


def test_two_workers_on_one_database_compute_the_same_hash_the_same_day(
    workers: tuple[Ledger, Ledger, Clock],
) -> None:
    first, second, clock = workers
    clock.advance(days=3)  # a day no other test touched: both race to create its salt
    barrier = threading.Barrier(8)

    def hashes(ledger: Ledger) -> list[str]:
        barrier.wait()
        return [ledger.salt.client_hash(a) for a in ADDRESSES[:16]]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(hashes, [first, second] * 4))
    assert all(r == results[0] for r in results)
    assert len(set(results[0])) == 16  # and it still tells clients apart
    assert [d for d in first.salt.days() if d == utc_day(clock.now)] == [utc_day(clock.now)]


def test_different_days_give_unlinkable_hashes(workers: tuple[Ledger, Ledger, Clock]) -> None:
    first, _, clock = workers
    monday = {first.salt.client_hash(a): a for a in ADDRESSES}
    clock.advance(days=1)
    tuesday = {first.salt.client_hash(a): a for a in ADDRESSES}
    assert len(monday) == len(tuesday) == len(ADDRESSES)
    assert not set(monday) & set(tuesday)  # no hash of one day recurs on the next
    # and within a day a hash stays put (the signals count clients per day by it)
    assert {first.salt.client_hash(a): a for a in ADDRESSES} == tuesday


def test_the_operator_key_does_not_determine_the_hash(tmp_path: object) -> None:
    """Two logs with the same operator key on two databases: different salts, so the key
    (which derived the old salt) recomputes nothing."""
    clock = Clock()
    one = Ledger.open(f"sqlite:///{tmp_path}/one.db", config("same"), clock=clock)
    two = Ledger.open(f"sqlite:///{tmp_path}/two.db", config("same"), clock=clock)
    try:
        assert one.config.operator_key is not None and two.config.operator_key is not None
        assert one.salt.client_hash("192.0.2.1") != two.salt.client_hash("192.0.2.1")
    finally:
        one.close()
        two.close()


def test_two_apps_on_one_database_give_one_client_one_hash(
    workers: tuple[Ledger, Ledger, Clock],
) -> None:
    """The API's client hash (scans, claims, reports) is the shared day's: two app
    instances (two workers) attribute one client's reports to one hash, never to its
    raw address."""
    first, second, _ = workers
    settings = Settings.from_env({"PROVENANCE_HOME": "/nonexistent"})
    filed: list[tuple[Ledger, int]] = []

    async def main() -> None:
        for ledger in (first, second):
            app = create_app(settings, ledger=ledger)
            transport = httpx.ASGITransport(app=app, client=("192.0.2.44", 5000))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                body = {"gtin": GTIN, "serial": "SN-1", "reason": "counterfeit"}
                answer = await client.post("/v1/reports", json=body)
                assert answer.status_code == 201, answer.text
                filed.append((ledger, answer.json()["id"]))

    asyncio.run(main())
    clients = [str((ledger.reports.find(i) or {})["client"]) for ledger, i in filed]
    assert clients[0] == clients[1] and len(clients[0]) == 32
    assert "192.0.2.44" not in clients[0]
    assert clients[0] == first.salt.client_hash("192.0.2.44", datetime.now(UTC))


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Clock, list[Ledger]]]:
    """Two workers on one SQLite database, kept across a property's examples (each
    example starts 100 days after the last one, so none sees another's days)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('salt')}/p.db"
    clock = Clock()
    workers = [open_worker(url, clock) for _ in range(2)]
    yield clock, workers
    for worker in workers:
        worker.close()


@settings(max_examples=examples(40), deadline=None)
@given(
    visits=st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(ADDRESSES[:4]), st.booleans()),
        min_size=1,
        max_size=12,
    )
)
def test_hashes_are_equal_exactly_for_one_address_on_one_day(
    shared: tuple[Clock, list[Ledger]], visits: list[tuple[int, str, bool]]
) -> None:
    """Any run of visits (day offsets in order, an address, which of two workers): two
    hashes are equal exactly when address and day are; only the current day's salt is
    stored once it began."""
    clock, workers = shared
    start = clock.now = clock.now + timedelta(days=100)
    seen: dict[str, tuple[int, str]] = {}
    for day, address, second in sorted(visits, key=lambda v: v[0]):
        clock.now = start + timedelta(days=day)
        hashed = workers[second].salt.client_hash(address)
        assert seen.setdefault(hashed, (day, address)) == (day, address)
        assert workers[second].salt.days() == [utc_day(clock.now)]
    assert len(set(seen.values())) == len(seen)


def test_the_salt_turns_exactly_at_midnight_utc_in_any_zone(
    workers: tuple[Ledger, Ledger, Clock],
) -> None:
    # the salt of a moment is kept with the start of the next UTC day, so a scan
    # compares two times instead of writing out its day: the turn must stay midnight UTC
    first, _, clock = workers
    midnight = datetime.combine(clock.now.date() + timedelta(days=1), datetime.min.time(), UTC)
    last = midnight - timedelta(microseconds=1)
    today = first.salt.salt(last)
    beijing = last.astimezone(timezone(timedelta(hours=8)))  # already "tomorrow" there
    assert first.salt.salt(beijing) == today
    assert first.salt.salt(last.replace(tzinfo=None)) == today  # naive: read as UTC
    tomorrow = first.salt.salt(midnight)
    assert tomorrow != today
    assert utc_day(midnight) in first.salt.days() and utc_day(last) not in first.salt.days()
    # a clock behind (another worker's, a moment before midnight) keeps the new day's salt
    assert first.salt.salt(last) == tomorrow
    assert first.salt.salt(midnight.astimezone(timezone(timedelta(hours=-5)))) == tomorrow
