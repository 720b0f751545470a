"""An audit of a live log (issue 24's drill found it): the head, entries, checkpoints and
projections it reads come from one snapshot of the database (`Store.snapshot`), so a
batch appended while the audit runs is neither half-seen nor reported as a projection
that "differs from the replay". On SQLite and the real PostgreSQL; the append happens
deterministically between the audit's first reads and its last (from its progress
callback)."""

from __future__ import annotations

import pytest

from ledger.errors import StorageError
from ledger.service.audit import audit_log
from tests.factories import GTIN
from tests.integration.world import LedgerWorld


def _commission(world: LedgerWorld, serial: str) -> None:
    unit = {"gtin": GTIN, "serial": serial}
    world.append(world.world.sign("commission", "acme", unit=unit, prev=None))


def test_an_append_during_the_audit_is_not_half_seen(world: LedgerWorld) -> None:
    ledger = world.ledger
    before = ledger.head().size
    appended: list[int] = []

    def progress(done: int, total: int) -> None:
        if not appended:  # after the entries were read, before the projections are
            _commission(world, "SN-DURING")
            appended.append(ledger.head().size)

    report = audit_log(ledger.store, ledger.log, ledger.verifier_key, progress=progress)
    assert appended == [before + 1]  # it did land, in another transaction
    assert report.ok, report.findings
    assert report.entries == before  # the audit saw the log as it stood at its start
    after = audit_log(ledger.store, ledger.log, ledger.verifier_key)
    assert after.ok and after.entries == before + 1


def test_reads_in_a_snapshot_do_not_see_later_commits(world: LedgerWorld) -> None:
    ledger = world.ledger
    with ledger.store.snapshot() as held:
        size = held.head(ledger.log).size
        _commission(world, "SN-LATER")
        assert held.head(ledger.log).size == size
        assert len(held.entries(ledger.log, 0, size + 5)) == size
        units = {r.key for r in held.load_state(ledger.log).records() if r.key[0] == "unit"}
        assert not any("SN-LATER" in key for key in units)
    assert ledger.store.head(ledger.log).size == size + 1


def test_a_failed_read_in_a_snapshot_is_a_storage_error(world: LedgerWorld) -> None:
    ledger = world.ledger
    with pytest.raises(StorageError), ledger.store.snapshot() as held:
        with held.read() as conn:
            conn.exec_driver_sql("SELECT * FROM no_such_table")


def test_an_event_written_twice_is_a_duplicate_finding(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the database keeps no unique index on the event hash (0025_slim_log): a writer that
    # skipped the append's check (here: the check patched away) could write one event
    # twice, and a repeated product.register passes the rules; the audit finds it
    from ledger.store.writer import WriteTx

    ledger = world.ledger
    signed = world.world.sign("product.register", "acme", gtin=GTIN, name="Acme Boot")
    first = ledger.append(signed).receipts[0].index
    monkeypatch.setattr(WriteTx, "find_event_hashes", lambda self, hashes: {})
    again = ledger.append(signed).receipts[0].index
    assert again > first
    report = audit_log(ledger.store, ledger.log, ledger.verifier_key)
    assert [(f.code, f.index) for f in report.findings] == [("duplicate", again)]
    assert f"already in the log at index {first}" in report.findings[0].message
