"""The audit's signature pipeline (ledger.audit.sigpipe) and the rules' helpers the replay
uses (rules.check_signed, state.with_changes): one tampered signature among N is found
with its index on every path, every item is checked, and the helpers give exactly what
the functions they stand in for give. The pipeline on real worker processes:
tests/integration/test_audit_processes.py."""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future
from typing import Any

import pytest

from ledger import crypto, rules
from ledger.audit import sigpipe, workers
from ledger.rules.state import (
    ActorRecord,
    AuthorizationRecord,
    KeyRecord,
    ProductRecord,
    UnitRecord,
    with_changes,
)
from ledger.verify.rawsig import Raw
from tests.factories import GTIN, key
from tests.rules_factories import NOW, base


def _items(count: int, bad: set[int]) -> list[Raw]:
    signer = key(7)
    public = crypto.public_key_to_raw(signer.public_key())
    out: list[Raw] = []
    for i in range(count):
        message = b"event %d" % i
        signature = crypto.sign(signer, crypto.DOMAIN_EVENT, message)
        if i in bad:  # one bit of the signature flipped
            signature = bytes([signature[0] ^ 1]) + signature[1:]
        out.append((i, public, crypto.DOMAIN_EVENT, message, signature))
    return out


@pytest.fixture
def inline_pool(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A stand-in for the worker pool that runs each task at once on this thread and
    records each task's size (the real pool: the integration test)."""
    sizes: list[int] = []

    def submit(function: Any, calls: list[tuple[object, ...]]) -> list[Future[Any]]:
        out = []
        for args in calls:
            sizes.append(len(args[0]))  # type: ignore[arg-type]
            future: Future[Any] = Future()
            future.set_result(function(*args))
            out.append(future)
        return out

    monkeypatch.setattr(workers, "ready", lambda processes: processes > 0)
    monkeypatch.setattr(workers, "submit", submit)
    return sizes


@pytest.mark.parametrize("tampered", [0, 137, 599])
def test_one_tampered_signature_among_n_is_found_with_its_index(
    inline_pool: list[int], tampered: int
) -> None:
    items = _items(600, {tampered})
    for processes in (0, 2):
        pipe = sigpipe.SignaturePipeline(processes, batch=100)
        for item in items[:450]:
            pipe.add(item)
        pipe.flush()  # a chunk's end
        for item in items[450:]:
            pipe.add(item)
        assert pipe.bad() == [tampered]
    # with processes every item went to a task exactly once: 4 full batches, the
    # chunk's tail of 50 split over 2 processes, then the last 150 (one batch + 50 split)
    assert sorted(inline_pool) == sorted([100] * 5 + [25, 25, 25, 25])
    assert sum(inline_pool) == 600


def test_a_clean_batch_and_an_empty_one_report_nothing(inline_pool: list[int]) -> None:
    assert sigpipe.SignaturePipeline(2).bad() == []
    pipe = sigpipe.SignaturePipeline(2, batch=10)
    for item in _items(35, set()):
        pipe.add(item)
    assert pipe.bad() == []
    assert sum(inline_pool) == 35


def test_every_bad_signature_is_reported_in_order(inline_pool: list[int]) -> None:
    pipe = sigpipe.SignaturePipeline(2, batch=16)
    for item in _items(100, {3, 50, 99}):
        pipe.add(item)
    assert pipe.bad() == [3, 50, 99]
    assert pipe.bad() == []  # what was reported is not reported again


def test_a_pool_that_takes_no_work_leaves_it_to_the_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workers, "ready", lambda processes: True)
    monkeypatch.setattr(workers, "submit", lambda function, calls: None)
    pipe = sigpipe.SignaturePipeline(2, batch=8)
    for item in _items(30, {9}):
        pipe.add(item)
    assert pipe.bad() == [9]


def test_a_pool_not_yet_up_leaves_the_work_to_the_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workers, "ready", lambda processes: False)
    monkeypatch.setattr(workers, "submit", lambda *a: pytest.fail("sent to a pool not up"))
    pipe = sigpipe.SignaturePipeline(2, batch=8)
    for item in _items(30, {29}):
        pipe.add(item)
    assert pipe.bad() == [29]


def test_processes_for_signatures_for_large_logs_or_once_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sigpipe.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(workers, "ready", lambda processes: False)
    assert sigpipe.signature_processes(sigpipe.PROCESSES_FROM - 1) == 0  # not started for it
    assert sigpipe.signature_processes(sigpipe.PROCESSES_FROM) == 4
    monkeypatch.setattr(workers, "ready", lambda processes: processes == 4)
    assert sigpipe.signature_processes(100) == 4  # up already: no start-up to repay
    assert sigpipe.signature_processes(10, 3) == 3  # asked for: always
    assert sigpipe.signature_processes(10**6, 0) == 0
    monkeypatch.setattr(sigpipe.os, "cpu_count", lambda: 1)
    assert sigpipe.signature_processes(10**6) == 0


RECORDS = [
    ActorRecord("acme", "brand", "Acme", ("950600",), 1),
    KeyRecord("kid", "acme", "pub", 2, scope=("custody",)),
    AuthorizationRecord("a1", "acme", "shop", "retailer", (GTIN,), (), "t0", "t1", 3),
    ProductRecord(GTIN, "acme", "Tea", 4),
    UnitRecord(GTIN, "SN-1", "acme", "head", 5, 1, 5, "acme", holders=("acme",)),
]
CHANGES: list[dict[str, Any]] = [
    {"revoked_index": 9, "revoked_since": "t"},
    {"removed_index": 9},
    {"revoked_index": 9, "revoked_at": "t"},
    {"image": "hash"},
    {"pending": "shop", "head": "h2", "head_index": 6, "length": 2, "holders": ("acme", "x")},
]


@pytest.mark.parametrize(("record", "changes"), list(zip(RECORDS, CHANGES, strict=True)))
def test_with_changes_is_dataclasses_replace(record: Any, changes: dict[str, Any]) -> None:
    before = dataclasses.astuple(record)
    changed = with_changes(record, **changes)
    assert changed == dataclasses.replace(record, **changes)
    assert type(changed) is type(record)
    assert hash(changed) == hash(dataclasses.replace(record, **changes))
    assert dataclasses.astuple(record) == before  # copy on write: the original is kept
    with pytest.raises(dataclasses.FrozenInstanceError):
        changed.id = "other"  # still frozen
    assert with_changes(record) == record and with_changes(record) is not record


def test_with_changes_refuses_a_name_that_is_no_field() -> None:
    with pytest.raises(TypeError, match="no field 'custodain'"):
        with_changes(RECORDS[4], custodain="shop")


def test_check_signed_names_the_key_and_returns_what_check_returns() -> None:
    world = base()
    signed = world.sign("commission", "acme", unit={"gtin": GTIN, "serial": "SN-9"}, prev=None)
    public, records = rules.check_signed(world.state, signed, world.index, NOW)
    assert public == rules.signing_key(world.state, signed, world.index)
    assert records == rules.check(world.state, signed, world.index, NOW)
    forged = world.sign(
        "commission", "acme", seed=99, unit={"gtin": GTIN, "serial": "SN-8"}, prev=None
    )
    with pytest.raises(rules.UnknownKeyError):  # a key the signer does not have
        rules.check_signed(world.state, forged, world.index, NOW)
