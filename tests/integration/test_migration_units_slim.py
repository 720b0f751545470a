"""Migration 0028_units_slim: on PostgreSQL ``units`` gains a fill factor of 50, and
``logs`` and ``products`` (every column bounded) lose their TOAST table; the downgrade
gives back both. SQLite is left as it was. With the fill factor, a batch that moves
every unit of a page writes their new versions on that page (heap-only updates: no new
index entry). Units, products and the log head read the same on both revisions, appends
work on both, and the audit passes."""

from __future__ import annotations

from sqlalchemy import text

from ledger.rules.state import ProductRecord, UnitRecord
from ledger.service.ledger import Ledger
from tests.factories import GTIN
from tests.integration import old_revision
from tests.integration.reloptions import reloptions
from tests.integration.world import LedgerWorld
from tests.rules_factories import NOW

#: these tests migrate every log in the database: a database of their own (conftest)
OWN_DATABASE = True


def _options(ledger: Ledger) -> list[str] | None:
    return reloptions(ledger, "units")


def _toasted(ledger: Ledger) -> dict[str, bool] | None:
    """Whether ``logs`` and ``products`` have a TOAST table (PostgreSQL), else None."""
    with ledger.store.engines.writer.connect() as conn:
        if conn.dialect.name != "postgresql":
            return None
        rows = conn.execute(
            text(
                "SELECT relname, reltoastrelid <> 0 AS toasted FROM pg_class "
                "WHERE oid IN (to_regclass('logs'), to_regclass('products'))"
            )
        ).all()
    return {r.relname: bool(r.toasted) for r in rows}


def _blocks(ledger: Ledger, prefix: str) -> dict[str, int]:
    """Serial -> the heap page holding the unit's live row (PostgreSQL)."""
    with ledger.store.engines.writer.connect() as conn:
        rows = conn.execute(
            text("SELECT serial, (ctid::text::point)[0] AS page FROM units WHERE serial LIKE :p"),
            {"p": f"{prefix}%"},
        ).all()
    return {r.serial: int(r.page) for r in rows}


def _commission_and_move(
    world: LedgerWorld, prefix: str, count: int
) -> tuple[list[str], list[dict[str, int]]]:
    """Commission ``count`` units in one batch, then hand every one off in a second;
    return their serials and, on PostgreSQL, their rows' pages after each batch."""
    serials = [f"{prefix}{i:03d}" for i in range(count)]
    postgres = world.ledger.store.engines.writer.dialect.name == "postgresql"
    pages = []
    for make in (
        lambda s: world.world.sign(
            "commission", "acme", unit={"gtin": GTIN, "serial": s}, prev=None
        ),
        lambda s: world.world.on_unit("handoff", "acme", serial=s, to="ship-co"),
    ):
        events = [make(s) for s in serials]
        receipt = world.ledger.append_batch(events, NOW)
        assert not any(r.duplicate for r in receipt.receipts)
        for event in events:
            world.world.accept(event, NOW)
        if postgres:
            pages.append(_blocks(world.ledger, prefix))
    return serials, pages


def _units(ledger: Ledger, serials: list[str]) -> list[UnitRecord]:
    found = ledger.store.records(ledger.log, {UnitRecord: [(GTIN, s) for s in serials]})
    return sorted((u for u in found if isinstance(u, UnitRecord)), key=lambda u: u.serial)


def test_0028_units_slim_round_trip(world: LedgerWorld) -> None:
    ledger = world.ledger
    postgres = ledger.store.engines.writer.dialect.name == "postgresql"
    assert _options(ledger) == (["fillfactor=50"] if postgres else None)
    untoasted = {"logs": False, "products": False} if postgres else None
    assert _toasted(ledger) == untoasted
    product = ledger.store.records(ledger.log, {ProductRecord: [GTIN]})
    assert len(product) == 1
    # 60 units commissioned together fill pages; their handoffs stay on them (on
    # PostgreSQL; before this revision every full page's updates moved to new pages)
    moved, pages = _commission_and_move(world, "HOT-", 60)
    if postgres:
        stayed = sum(pages[0][s] == pages[1][s] for s in moved)
        assert stayed >= 0.75 * len(moved), pages
    first, _ = _commission_and_move(world, "A-", 3)
    kept = _units(ledger, first)
    assert [u.pending for u in kept] == ["ship-co"] * 3

    old_revision.downgrade(ledger.store.engines, "0027_storage_v2")
    assert _options(ledger) == ([] if postgres else None)
    assert _toasted(ledger) == ({"logs": True, "products": True} if postgres else None)
    assert _units(ledger, first) == kept
    assert ledger.store.records(ledger.log, {ProductRecord: [GTIN]}) == product
    second, _ = _commission_and_move(world, "B-", 3)

    old_revision.upgrade(ledger.store.engines)
    assert _options(ledger) == (["fillfactor=50"] if postgres else None)
    assert _toasted(ledger) == untoasted
    assert _units(ledger, first) == kept
    assert ledger.store.records(ledger.log, {ProductRecord: [GTIN]}) == product
    third, _ = _commission_and_move(world, "C-", 3)
    assert [u.pending for u in _units(ledger, second + third)] == ["ship-co"] * 6
    assert ledger.head().size == 13 + 2 * (60 + 3 + 3 + 3)
    assert ledger.audit().ok
