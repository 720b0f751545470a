"""What the appender keeps between transactions (ledger.service.appendmemo) never
decides anything: another writer's appends to the same log, a failed transaction, a
key rotated out and a key seen before are all met as if nothing were kept. On SQLite
and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger.crypto import key_id
from ledger.entry import SignedEvent
from ledger.errors import LedgerError
from ledger.service.audit import audit_log
from ledger.service.ledger import Ledger
from ledger.store.writer import WriteTx
from tests.factories import GTIN, public_b64
from tests.factories import key as seed_key
from tests.integration.world import LedgerWorld, clock, dump


def _commission(world: LedgerWorld, serial: str) -> SignedEvent:
    unit = {"gtin": GTIN, "serial": serial}
    return world.world.sign("commission", "acme", unit=unit, prev=None)


def _audited(ledger: Ledger) -> None:
    report = audit_log(ledger.store, ledger.log, ledger.verifier_key)
    assert report.ok, report.findings


def test_another_writer_between_two_groups(world: LedgerWorld, db_url: str) -> None:
    """A second ledger on the same log (another worker) appends between this one's
    groups: this one's kept right edge is another tree's, so it reads the edge again and
    every checkpoint's root is the tree's."""
    ledger = world.ledger
    other = Ledger.open(db_url, ledger.config, clock=clock)
    try:
        for round_ in range(5):
            world.append(_commission(world, f"M-{round_}"))
            for i in range(round_ + 1):  # sizes that change the edge's shape
                other.append(_commission(world, f"O-{round_}-{i}"))
        world.append(_commission(world, "M-last"))
        assert ledger.head() == other.head()
    finally:
        other.close()
    _audited(ledger)


def _refused_whole(
    monkeypatch: pytest.MonkeyPatch, ledger: Ledger, appender: Ledger, event: Any
) -> None:
    """``appender.append(event)`` fails at its checkpoint's insert (injected) and leaves
    ``ledger``'s store as it was."""

    def failing(*args: Any) -> None:
        raise LedgerError("injected: the checkpoint could not be stored")

    before = dump(ledger)
    with monkeypatch.context() as patched:
        patched.setattr(WriteTx, "insert_checkpoint", failing)
        with pytest.raises(LedgerError):
            appender.append(event)
    assert dump(ledger) == before


def test_a_failed_transaction_keeps_nothing(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction that grew the tree and then failed leaves nothing kept of that
    tree: the next append starts from the committed one."""
    ledger = world.ledger
    world.append(_commission(world, "F-0"))
    _refused_whole(monkeypatch, ledger, ledger, _commission(world, "F-1"))
    for serial in ("F-1", "F-2", "F-3"):
        world.append(_commission(world, serial))
    _audited(ledger)


def test_a_key_seen_before_is_not_read_again(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = world.ledger
    world.append(_commission(world, "K-0"))  # acme's key read once, kept
    reads: list[list[str]] = []
    real = type(ledger.store).public_keys

    def counted(store: Any, log: int, key_ids: Any) -> dict[str, str]:
        reads.append(sorted(key_ids))
        return real(store, log, key_ids)

    monkeypatch.setattr(type(ledger.store), "public_keys", counted)
    world.append(_commission(world, "K-1"))
    ledger.appender.append_each([_commission(world, "K-2")])
    assert reads == []


def test_a_rotated_out_key_is_refused_though_kept(world: LedgerWorld) -> None:
    """acme's key is kept (its public key, by id) when acme rotates it out: an event
    signed with it is refused by the rules, the log unchanged, through a group too."""
    ledger = world.ledger
    world.append(_commission(world, "R-0"))
    old = key_id(seed_key(2).public_key())
    world.append(
        world.world.sign("key.rotate", "acme", subject="acme", add=[public_b64(41)], remove=[old])
    )
    before = dump(ledger)
    stale = _commission(world, "R-1")  # signed by seed 2, the removed key
    outcome = ledger.appender.append_each([stale])
    assert isinstance(outcome.outcomes[0], LedgerError)
    assert outcome.outcomes[0].code == "key-removed"
    assert dump(ledger) == before
    world.world.seeds["acme"] = 41
    world.append(_commission(world, "R-2"))
    _audited(ledger)


def test_copies_share_the_map_cache(
    world: LedgerWorld, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The per-request copies (`Ledger.reading`, as a batch over HTTP appends) use the
    ledger's map cache: a copy's append after another copy's finds the map's top in
    memory; another writer's append, and a failed transaction on a copy, make it start
    afresh, and every checkpoint's map root is the map's."""
    ledger = world.ledger
    first, second = ledger.reading(primary=True), ledger.reading(primary=True)
    assert first.appender._map_cache is ledger.appender._map_cache
    assert second.appender._map_cache is ledger.appender._map_cache
    first.append(_commission(world, "C-0"))
    kept = ledger.appender._map_cache._map
    assert kept is not None
    second.append(_commission(world, "C-1"))
    assert ledger.appender._map_cache._map is kept  # not read again
    other = Ledger.open(db_url, ledger.config, clock=clock)
    try:
        other.append(_commission(world, "C-2"))  # another worker moves the map
    finally:
        other.close()
    first.append(_commission(world, "C-3"))
    assert ledger.appender._map_cache._map is not kept  # its root was not the stored one
    _refused_whole(monkeypatch, ledger, second, _commission(world, "C-4"))
    for serial in ("C-4", "C-5"):
        first.append(_commission(world, serial))
    world.append(_commission(world, "C-6"))
    assert ledger.head() == first.head()
    _audited(ledger)
