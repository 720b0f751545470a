"""The audit's worker processes (ledger.audit.workers) find exactly what the replay finds
on its own: the same report on a clean log, a flipped leaf byte, a forged signature and a
non-canonical leaf, and the work really went to the processes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ledger.audit import workers
from ledger.audit.replay import AuditReport, audit_source
from ledger.service.audit import StoreSource
from tests.factories import GTIN
from tests.integration.test_tamper import TAMPERED, _flip, _rewrite, _sql
from tests.integration.world import LedgerWorld


@pytest.fixture
def busy(world: LedgerWorld) -> LedgerWorld:
    """test_tamper's log: the base world plus custody on two units, 21 entries."""
    w = world.world
    world.append(w.on_unit("handoff", "acme", to="ship-co"))
    world.append(w.sign("commission", "acme", unit={"gtin": GTIN, "serial": "SN-2"}, prev=None))
    world.append(w.on_unit("receive", "ship-co"))  # 15: TAMPERED
    world.append(w.on_unit("handoff", "ship-co", to="shop"))
    world.append(w.on_unit("receive", "shop"))
    world.append(w.on_unit("inspect", "insp", result="pass"))
    world.append(w.on_unit("sell", "shop"))
    world.append(w.on_unit("inspect", "insp", serial="SN-2", result="pass"))
    assert world.ledger.head().size == 21
    return world


def _start_one() -> None:
    workers.warm(1)
    deadline = time.monotonic() + 120
    while not workers.ready(1):
        assert time.monotonic() < deadline, "the worker process did not start"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def pool() -> Iterator[None]:
    """One worker process, up before the audits (they never wait for it to start)."""
    _start_one()
    yield


@pytest.fixture
def submitted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the functions handed to the pool."""
    names: list[str] = []
    real = workers._submit

    def spy(function: Callable[..., Any], calls: list[tuple[object, ...]]) -> Any:
        names.append(function.__name__)
        return real(function, calls)

    monkeypatch.setattr(workers, "_submit", spy)
    return names


def _both(world: LedgerWorld, submitted: list[str]) -> AuditReport:
    """Audit on this process and on the worker; assert equal reports; return one."""
    ledger = world.ledger
    source = StoreSource(ledger.store, ledger.log)
    here = audit_source(source, ledger.verifier_key, processes=0)
    assert submitted == []
    there = audit_source(source, ledger.verifier_key, processes=1)
    assert submitted == ["parse_leaves", "bad_raw"]
    assert there.to_dict() == here.to_dict()
    return there


def test_a_clean_log_audits_clean_on_the_workers(
    pool: None, busy: LedgerWorld, submitted: list[str]
) -> None:
    report = _both(busy, submitted)
    assert report.ok
    assert report.entries == 21


def test_a_flipped_leaf_byte_is_found_on_the_workers(
    pool: None, busy: LedgerWorld, submitted: list[str]
) -> None:
    leaf = busy.ledger.entry(TAMPERED).leaf
    _sql(
        busy,
        "UPDATE entries SET leaf = :v WHERE log = :log AND idx = :i",
        v=_flip(leaf),
        i=TAMPERED,
    )
    report = _both(busy, submitted)
    assert report.first_bad_index == TAMPERED


def test_a_forged_signature_is_found_on_the_workers(
    pool: None, busy: LedgerWorld, submitted: list[str]
) -> None:
    original = busy.ledger.entry(TAMPERED).leaf
    at = original.index(b'"sig":"') + 7
    forged = original[:at] + (b"B" if original[at : at + 1] == b"A" else b"A") + original[at + 1 :]
    _rewrite(busy, TAMPERED, forged, resign=True)  # every hash and checkpoint agrees
    report = _both(busy, submitted)
    assert [(f.code, f.index) for f in report.findings if f.code == "signature"] == [
        ("signature", TAMPERED)
    ]


def test_a_non_canonical_leaf_is_refused_on_the_workers(
    pool: None, busy: LedgerWorld, submitted: list[str]
) -> None:
    original = busy.ledger.entry(TAMPERED).leaf
    spaced = original.replace(b'"actor":', b'"actor": ', 1)  # same JSON value, not JCS
    assert spaced != original
    _sql(busy, "UPDATE entries SET leaf = :v WHERE log = :log AND idx = :i", v=spaced, i=TAMPERED)
    report = _both(busy, submitted)
    assert report.first_bad_index == TAMPERED
    leaf = [f for f in report.findings if f.code == "leaf"]
    assert [f.index for f in leaf] == [TAMPERED]
    assert "canonical" in leaf[0].message


def test_a_bad_signature_is_flagged_by_the_workers(pool: None) -> None:
    from ledger import crypto
    from tests.factories import key

    signer = key(7)
    public = crypto.public_key_to_raw(signer.public_key())
    message = b"an event"
    good = crypto.sign(signer, crypto.DOMAIN_EVENT, message)
    bad = bytes([good[0] ^ 1]) + good[1:]
    items = [
        (i, public, crypto.DOMAIN_EVENT, message, bad if i in (3, 70) else good) for i in range(80)
    ]
    assert workers.start_verify(items, 1)() == [3, 70]
    assert workers.start_verify(items, 0)() == [3, 70]


def test_processes_are_used_only_where_they_pay(monkeypatch: pytest.MonkeyPatch) -> None:
    assert workers.process_count(10**6, 3) == 3  # asked for: always
    assert workers.process_count(10**6, 0) == 0
    assert workers.process_count(workers.PROCESSES_FROM - 1) == 0  # start-up not repaid
    monkeypatch.setattr(workers.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(workers.os, "getloadavg", lambda: (0.5, 0.5, 0.5))
    assert workers.process_count(workers.PROCESSES_FROM) == 4
    monkeypatch.setattr(workers.os, "getloadavg", lambda: (6.0, 6.0, 6.0))
    assert workers.process_count(workers.PROCESSES_FROM) == 0  # no idle core
    monkeypatch.setattr(workers.os, "cpu_count", lambda: 1)
    monkeypatch.setattr(workers.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert workers.process_count(10**6) == 0


def test_a_tampered_stored_node_is_found_on_the_workers(
    pool: None, busy: LedgerWorld, submitted: list[str]
) -> None:
    _sql(
        busy,
        "UPDATE nodes SET hash = :h WHERE log = :log AND level = 3 AND idx = 1",
        h=b"\x00" * 32,
    )  # levels 1-2 are computed from the leaves (0017_storage): 3 is the lowest stored
    report = _both(busy, submitted)
    assert [(f.code, f.index) for f in report.findings] == [("node", 15)]  # leaves 8..15


def test_a_deleted_stored_node_is_found_on_both_paths(
    pool: None, busy: LedgerWorld, submitted: list[str]
) -> None:
    # the audit asks the store only for levels >= 3 (lower ones are computed from the
    # leaves it reads): a missing row of a level it asks for is still a finding
    _sql(busy, "DELETE FROM nodes WHERE log = :log AND level = 4 AND idx = 0")
    report = _both(busy, submitted)
    assert [(f.code, f.index) for f in report.findings] == [("node", 15)]  # leaves 0..15


def test_a_killed_worker_costs_time_not_findings(pool: None, busy: LedgerWorld) -> None:
    ledger = busy.ledger
    source = StoreSource(ledger.store, ledger.log)
    leaf = ledger.entry(TAMPERED).leaf
    _sql(
        busy,
        "UPDATE entries SET leaf = :v WHERE log = :log AND idx = :i",
        v=_flip(leaf),
        i=TAMPERED,
    )
    here = audit_source(source, ledger.verifier_key, processes=0)
    assert workers._pool is not None
    for process in list((workers._pool._processes or {}).values()):
        process.kill()
        process.join(30)
    try:
        there = audit_source(source, ledger.verifier_key, processes=1)
        assert there.to_dict() == here.to_dict()
        assert there.first_bad_index == TAMPERED
    finally:
        _start_one()  # a fresh pool for whatever runs next


def test_the_signature_pipeline_finds_one_tampered_signature_on_the_workers(
    pool: None, submitted: list[str]
) -> None:
    from ledger import crypto
    from ledger.audit.sigpipe import SignaturePipeline
    from tests.factories import key

    signer = key(7)
    public = crypto.public_key_to_raw(signer.public_key())
    items = []
    for i in range(500):
        message = b"event %d" % i
        signature = crypto.sign(signer, crypto.DOMAIN_EVENT, message)
        if i == 321:
            signature = signature[:-1] + bytes([signature[-1] ^ 0x40])
        items.append((i, public, crypto.DOMAIN_EVENT, message, signature))
    pipe = SignaturePipeline(1, batch=64)
    for item in items:
        pipe.add(item)
    assert pipe.bad() == [321]
    assert submitted == ["bad_raw"] * 8  # 7 full batches and the tail, all on the worker


def test_a_forged_signature_is_found_on_the_verifier_process(
    busy: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the small log takes the verifier process (ledger.audit.sigproc) as a log of
    # PROCESS_FROM entries does: the same report as the verify threads give
    from ledger.audit import sigproc

    ledger = busy.ledger
    original = ledger.entry(TAMPERED).leaf
    at = original.index(b'"sig":"') + 7
    forged = original[:at] + (b"B" if original[at : at + 1] == b"A" else b"A") + original[at + 1 :]
    _rewrite(busy, TAMPERED, forged, resign=True)  # every hash and checkpoint agrees
    source = StoreSource(ledger.store, ledger.log)
    here = audit_source(source, ledger.verifier_key, processes=0)
    started: list[int] = []
    real = sigproc.VerifierProcess.__init__

    def spy(self: sigproc.VerifierProcess, command: list[str] | None = None) -> None:
        real(self, command)
        started.append(1 if self._proc is not None else 0)

    monkeypatch.setattr(sigproc, "PROCESS_FROM", 10)
    monkeypatch.setattr(sigproc.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(sigproc.VerifierProcess, "__init__", spy)
    there = audit_source(source, ledger.verifier_key, processes=0)
    assert started == [1]
    assert there.to_dict() == here.to_dict()
    assert [(f.code, f.index) for f in there.findings if f.code == "signature"] == [
        ("signature", TAMPERED)
    ]


def test_the_replay_reads_the_entries_without_their_derived_values(busy: LedgerWorld) -> None:
    # Store.replay_entries: the same rows as Store.entries, leaf hash included (the audit
    # takes it as computed from the leaf: StoreSource.leaf_hashes_from_leaves), the event
    # hash, key id and receive time left empty (the replay takes them from the leaf)
    import dataclasses

    from ledger import merkle

    ledger = busy.ledger
    full = ledger.store.entries(ledger.log, 0, 21)
    light = ledger.store.replay_entries(ledger.log, 0, 21)
    assert len(light) == 21
    for a, b in zip(full, light, strict=True):
        assert b.leaf_hash == merkle.leaf_hash(b.leaf)
        assert dataclasses.replace(a, event_hash=b"", key_id="", received="") == b
        assert list(vars(b)) == [f.name for f in dataclasses.fields(b)]  # built field by field
    assert StoreSource.leaf_hashes_from_leaves is True
