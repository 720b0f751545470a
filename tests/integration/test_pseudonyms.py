"""The day's client hashes kept in memory (api.scanrecord.Pseudonyms): the same values
`ScanSalt.client_hash` gives, at most `PSEUDONYMS` kept, and none kept past its salt:
a new day's scans never get a hash computed with yesterday's salt (docs/PRIVACY.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.forwarded import network_of
from api.scanpack import squeeze
from api.scanrecord import Pseudonyms
from ledger.service.ipregions import scan_region
from ledger.service.ledger import Ledger
from tests.integration.signals_world import Clock
from tests.integration.world import config

ADDRESSES = [f"203.0.113.{i}" for i in range(40)]


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[tuple[Ledger, Clock]]:
    clock = Clock()
    ledger = Ledger.open(f"sqlite:///{tmp_path}/ledger.db", config("pseudonyms"), clock=clock)
    yield ledger, clock
    ledger.close()


def test_the_kept_hashes_are_the_days_client_hashes(worker: tuple[Ledger, Clock]) -> None:
    ledger, clock = worker
    pseudonyms = Pseudonyms(ledger.salt, capacity=16)
    for _ in range(2):  # computed, then (the last 16) from memory
        for address in ADDRESSES:
            assert pseudonyms.of(address, clock.now) == ledger.salt.client_hash(address, clock.now)
    assert len(pseudonyms) == 16  # bounded: the oldest went first


def test_a_new_days_salt_drops_every_kept_hash(worker: tuple[Ledger, Clock]) -> None:
    ledger, clock = worker
    pseudonyms = Pseudonyms(ledger.salt)
    monday = {a: pseudonyms.of(a, clock.now) for a in ADDRESSES}
    assert len(pseudonyms) == len(ADDRESSES)
    clock.advance(days=1)
    tuesday = pseudonyms.of(ADDRESSES[0], clock.now)
    assert len(pseudonyms) == 1  # Monday's went with Monday's salt
    assert tuesday != monday[ADDRESSES[0]]
    assert tuesday == ledger.salt.client_hash(ADDRESSES[0], clock.now)
    assert ledger.salt.days() == [ledger.salt.days()[-1]]  # and the salt is gone


def test_a_purged_salt_drops_every_kept_hash(worker: tuple[Ledger, Clock]) -> None:
    """A salt read again (another worker's purge, a restart of the day's memory) is a
    new key object: nothing computed before is trusted, it is computed again."""
    ledger, clock = worker
    pseudonyms = Pseudonyms(ledger.salt)
    first = pseudonyms.of(ADDRESSES[0], clock.now)
    forged = "0" * 32
    pseudonyms._hashes[ADDRESSES[0]] = forged  # a value no salt gave
    assert pseudonyms.of(ADDRESSES[0], clock.now) == forged  # memory is trusted ...
    ledger.salt._current = None  # ... until the salt is read again
    assert pseudonyms.of(ADDRESSES[0], clock.now) == first


def test_the_purge_drops_a_past_days_hashes_without_a_scan(worker: tuple[Ledger, Clock]) -> None:
    """A quiet worker (no scan after midnight) keeps no past day's salt or addresses
    past the salt purge: the purge calls `forget_before`."""
    ledger, clock = worker
    pseudonyms = Pseudonyms(ledger.salt)
    for address in ADDRESSES:
        pseudonyms.of(address, clock.now)
    pseudonyms.forget_before(clock.now)  # the same day: nothing goes
    assert len(pseudonyms) == len(ADDRESSES)
    clock.advance(days=1)
    ledger.salt.purge(clock.now)
    pseudonyms.forget_before(clock.now)
    assert len(pseudonyms) == 0 and pseudonyms._salt is None


def test_the_kept_regions_are_the_tables_and_go_with_the_hashes(
    worker: tuple[Ledger, Clock],
) -> None:
    ledger, clock = worker
    pseudonyms = Pseudonyms(ledger.salt, capacity=4)
    addresses = [*ADDRESSES[:3], "8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"]
    addresses += ["::ffff:8.8.8.8", "unknown", "10.0.0.1"]
    for _ in range(2):  # computed, then (the last 4) from memory
        for address in addresses:
            pseudonyms.of(address, clock.now)
            assert pseudonyms.region(None, address) == scan_region(None, address)
            # a recorded place wins, as in scan_region, and is not kept
            assert pseudonyms.region("geo:CN-SH", address) == "CN-SH"
            assert pseudonyms.region("DE", address) == scan_region("DE", address)
    assert len(pseudonyms._regions) == 4  # bounded as the hashes
    clock.advance(days=1)
    pseudonyms.of(addresses[0], clock.now)  # a new day's salt: yesterday's addresses go
    assert pseudonyms._regions == {}
    pseudonyms.region(None, addresses[0])
    clock.advance(days=1)
    ledger.salt.purge(clock.now)
    pseudonyms.forget_before(clock.now)  # and the purge drops them without a scan
    assert pseudonyms._regions == {}


def test_the_kept_scan_ids_are_the_days_and_go_with_the_hashes(
    worker: tuple[Ledger, Clock],
) -> None:
    """`Pseudonyms.scan_ids` gives what the scan record would compute without it (the
    client hash, the unit's network pseudonym, the address's region, the hashes as the
    queue packs them), bounded, and none of it past its salt."""
    ledger, clock = worker
    pseudonyms = Pseudonyms(ledger.salt, capacity=4)
    units = [("09506000134352", "SN-1"), ("09506000134352", "SN-2")]
    addresses = ["203.0.113.7", "203.0.113.8", "2001:db8::1", "unknown"]

    def computed(address: str, gtin: str, serial: str) -> tuple[str | bytes, str | bytes, str]:
        network = f"network|{gtin}/{serial}|{network_of(address)}"
        return (
            squeeze(ledger.salt.client_hash(address, clock.now)),
            squeeze(ledger.salt.client_hash(network, clock.now)),
            scan_region(None, address),
        )

    for _ in range(2):  # computed, then (the last 4) from memory
        for address in addresses:
            for gtin, serial in units:
                found = pseudonyms.scan_ids(address, gtin, serial, clock.now)
                assert found == computed(address, gtin, serial)
    # one network, two units: unlinkable pseudonyms; two addresses of a /24: one network
    assert (
        pseudonyms.scan_ids(addresses[0], *units[0], clock.now)[1]
        != (pseudonyms.scan_ids(addresses[0], *units[1], clock.now)[1])
    )
    assert (
        pseudonyms.scan_ids(addresses[0], *units[0], clock.now)[1]
        == (pseudonyms.scan_ids(addresses[1], *units[0], clock.now)[1])
    )
    assert len(pseudonyms._scans) == 4  # bounded as the hashes
    monday = pseudonyms.scan_ids(addresses[0], *units[0], clock.now)
    clock.advance(days=1)
    tuesday = pseudonyms.scan_ids(addresses[0], *units[0], clock.now)
    assert tuesday != monday and tuesday == computed(addresses[0], *units[0])
    assert len(pseudonyms._scans) == 1  # Monday's went with Monday's salt
    clock.advance(days=1)
    ledger.salt.purge(clock.now)
    pseudonyms.forget_before(clock.now)  # and the purge drops them without a scan
    assert pseudonyms._scans == {}
