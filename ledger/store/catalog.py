"""Tables and queries of a brand's catalogue (docs/CONSOLE.md), kept outside the signed
log: product pictures and print batches.

- ``product_images``: a picture as served (re-encoded, no metadata), keyed by the
  SHA-256 of exactly those bytes (base64url), which is what a brand signs as a
  product's ``image`` in ``product.register``; content-addressed, so a row never
  changes: a new picture is a new row;
- ``print_batches``: one mint run of a brand (the units of one GTIN, lot and expiry
  commissioned together), derived from the log's ``commission`` entries by
  ledger.service.batches, with its void when the console voided it;
- ``print_batch_marks``: per log, the log size up to which commissions were read.

Created by the migration ``0023_products``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from ledger.errors import StorageError
from ledger.store.database import Engines
from ledger.store.leafpack import unpack
from ledger.store.queries import HEAD_COLUMN, with_heads
from ledger.store.schema import Base, EntryRow, ProductTable, UnitTable


class ProductImageRow(Base):
    """A product picture, by the SHA-256 (base64url) of its stored bytes."""

    __tablename__ = "product_images"
    hash: Mapped[str] = mapped_column(String(43), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64))
    media: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[str] = mapped_column(String(32))
    __table_args__ = (Index("ix_product_images_brand", "brand"),)


class PrintBatchRow(Base):
    """A print batch: a brand's units of one GTIN, lot and expiry commissioned together
    (log indexes ``first_index`` to ``last_index``), and its void."""

    __tablename__ = "print_batches"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    log: Mapped[int] = mapped_column(Integer)
    brand: Mapped[str] = mapped_column(String(64))
    gtin: Mapped[str] = mapped_column(String(14))
    lot: Mapped[str | None] = mapped_column(String(20))
    expiry: Mapped[str | None] = mapped_column(String(6))
    first_index: Mapped[int] = mapped_column(BigInteger)
    last_index: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
    first_serial: Mapped[str] = mapped_column(String(20))
    last_serial: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[str] = mapped_column(String(32))
    ended_at: Mapped[str] = mapped_column(String(32))
    voided_at: Mapped[str | None] = mapped_column(String(32))
    voided_by: Mapped[str | None] = mapped_column(String(64))
    void_reason: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_print_batches_brand", "log", "brand", "id"),)


class PrintBatchMarkRow(Base):
    """How far (a log size) the log's commissions were read into print batches."""

    __tablename__ = "print_batch_marks"
    log: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    upto: Mapped[int] = mapped_column(BigInteger)


IMAGES = cast(Table, ProductImageRow.__table__)
BATCHES = cast(Table, PrintBatchRow.__table__)
MARKS = cast(Table, PrintBatchMarkRow.__table__)
_ENTRIES = cast(Table, EntryRow.__table__)
_UNITS = cast(Table, UnitTable.__table__)
_PRODUCTS = cast(Table, ProductTable.__table__)


class CatalogStore:
    """Product pictures and print batches in one database."""

    def __init__(self, engines: Engines) -> None:
        self.engines = engines

    def _rows(self, statement: Any, units_of: int | None = None) -> list[dict[str, Any]]:
        """The rows ``statement`` reads; ``units_of``: they are units of that log, read
        with `HEAD_COLUMN`, whose ``head`` is made the unit's head (`queries.with_heads`)."""
        try:
            with self.engines.writer.connect() as conn:  # staff read their own writes
                rows = [dict(r._mapping) for r in conn.execute(statement)]
                return rows if units_of is None else with_heads(conn, units_of, rows)
        except SQLAlchemyError as exc:  # pragma: no cover - a database fault
            raise StorageError(f"the catalogue could not be read: {exc}") from exc

    # --- pictures ----------------------------------------------------------------------

    def put_image(self, row: dict[str, Any]) -> None:
        """Store a picture; one already stored under its hash is kept as it is."""
        try:
            with self.engines.writer.begin() as conn:
                found = conn.execute(select(IMAGES.c.hash).where(IMAGES.c.hash == row["hash"]))
                if found.first() is None:
                    conn.execute(insert(IMAGES).values(**row))
        except IntegrityError:  # stored at the same moment by another request: the same bytes
            return
        except SQLAlchemyError as exc:  # pragma: no cover - a database fault
            raise StorageError(f"the picture could not be stored: {exc}") from exc

    def image(self, image_hash: str) -> dict[str, Any] | None:
        """The picture row stored under ``image_hash``, or None."""
        found = self._rows(select(IMAGES).where(IMAGES.c.hash == image_hash))
        return found[0] if found else None

    def products(self, log: int, brands: Sequence[str]) -> list[dict[str, Any]]:
        """The products of ``brands`` with how many units each minted, by GTIN."""
        minted = (
            select(_UNITS.c.gtin, func.count().label("minted"))
            .where(_UNITS.c.log == log, _UNITS.c.brand.in_(list(brands)))
            .group_by(_UNITS.c.gtin)
            .subquery()
        )
        return self._rows(
            select(_PRODUCTS, func.coalesce(minted.c.minted, 0).label("minted"))
            .select_from(_PRODUCTS.outerjoin(minted, minted.c.gtin == _PRODUCTS.c.gtin))
            .where(_PRODUCTS.c.log == log, _PRODUCTS.c.brand.in_(list(brands)))
            .order_by(_PRODUCTS.c.gtin)
        )

    # --- print batches -----------------------------------------------------------------

    def batch_mark(self, log: int) -> int:
        """The log size up to which commissions were read (0: none yet)."""
        found = self._rows(select(MARKS.c.upto).where(MARKS.c.log == log))
        return int(found[0]["upto"]) if found else 0

    def commissions(self, log: int, after: int, upto: int, limit: int) -> list[tuple[int, bytes]]:
        """The (index, leaf) of each ``commission`` entry with ``after <= index < upto``,
        at most ``limit``, in log order (the leaves unpacked)."""
        rows = self._rows(
            select(_ENTRIES.c.idx, _ENTRIES.c.leaf)
            .where(
                _ENTRIES.c.log == log,
                _ENTRIES.c.idx >= after,
                _ENTRIES.c.idx < upto,
                _ENTRIES.c.kind == "commission",
            )
            .order_by(_ENTRIES.c.idx)
            .limit(limit)
        )
        return [(int(r["idx"]), unpack(bytes(r["leaf"]))) for r in rows]

    def open_batches(self, log: int, since: str) -> list[dict[str, Any]]:
        """The batches of ``log`` whose last unit was received at or after ``since``."""
        return self._rows(select(BATCHES).where(BATCHES.c.log == log, BATCHES.c.ended_at >= since))

    def save_batches(
        self, log: int, old_mark: int, new_mark: int, rows: Sequence[dict[str, Any]]
    ) -> bool:
        """Insert or update ``rows`` (those with an ``id`` are updated) and move the mark
        from ``old_mark`` to ``new_mark``, in one transaction; False (nothing written)
        when another process moved the mark first."""
        try:
            with self.engines.writer.begin() as conn:
                if (
                    old_mark == 0
                    and conn.execute(select(MARKS.c.upto).where(MARKS.c.log == log)).first() is None
                ):
                    conn.execute(insert(MARKS).values(log=log, upto=new_mark))
                else:
                    moved = conn.execute(
                        update(MARKS)
                        .where(MARKS.c.log == log, MARKS.c.upto == old_mark)
                        .values(upto=new_mark)
                    ).rowcount
                    if moved != 1:
                        conn.rollback()
                        return False
                for row in rows:
                    values = {k: v for k, v in row.items() if k != "id"}
                    if row.get("id") is None:
                        conn.execute(insert(BATCHES).values(**values))
                    else:
                        where = BATCHES.c.id == row["id"]
                        conn.execute(update(BATCHES).where(where).values(**values))
                return True
        except IntegrityError:  # the first mark, inserted by another process at once
            return False
        except SQLAlchemyError as exc:  # pragma: no cover - a database fault
            raise StorageError(f"the print batches could not be written: {exc}") from exc

    def batches(self, log: int, brands: Sequence[str], limit: int = 500) -> list[dict[str, Any]]:
        """The print batches of ``brands``, newest first, with how many of their units are
        recalled now."""
        recalled = (
            select(func.count())
            .where(
                _UNITS.c.log == BATCHES.c.log,
                _UNITS.c.brand == BATCHES.c.brand,
                _UNITS.c.gtin == BATCHES.c.gtin,
                _UNITS.c.commissioned_index >= BATCHES.c.first_index,
                _UNITS.c.commissioned_index <= BATCHES.c.last_index,
                _UNITS.c.recalled.is_(True),
                _same(_UNITS.c.lot, BATCHES.c.lot),
                _same(_UNITS.c.expiry, BATCHES.c.expiry),
            )
            .scalar_subquery()
        )
        return self._rows(
            select(BATCHES, recalled.label("recalled"))
            .where(BATCHES.c.log == log, BATCHES.c.brand.in_(list(brands)))
            .order_by(BATCHES.c.id.desc())
            .limit(limit)
        )

    def batch(self, batch_id: int) -> dict[str, Any] | None:
        """One print batch row, or None."""
        found = self._rows(select(BATCHES).where(BATCHES.c.id == batch_id))
        return found[0] if found else None

    def batch_units(self, batch: dict[str, Any]) -> list[dict[str, Any]]:
        """The units of a print batch (serial, head, recalled, decommissioned, lot, expiry),
        by serial."""
        return self._rows(
            select(
                _UNITS.c.serial,
                HEAD_COLUMN,
                _UNITS.c.recalled,
                _UNITS.c.decommissioned,
                _UNITS.c.lot,
                _UNITS.c.expiry,
            )
            .where(
                _UNITS.c.log == batch["log"],
                _UNITS.c.brand == batch["brand"],
                _UNITS.c.gtin == batch["gtin"],
                _UNITS.c.commissioned_index >= batch["first_index"],
                _UNITS.c.commissioned_index <= batch["last_index"],
                _same(_UNITS.c.lot, batch["lot"]),
                _same(_UNITS.c.expiry, batch["expiry"]),
            )
            .order_by(_UNITS.c.serial),
            units_of=batch["log"],
        )

    def void_batch(self, batch_id: int, at: str, by: str, reason: str) -> None:
        """Record that a batch was voided (its recalls are in the log)."""
        try:
            with self.engines.writer.begin() as conn:
                conn.execute(
                    update(BATCHES)
                    .where(BATCHES.c.id == batch_id)
                    .values(voided_at=at, voided_by=by, void_reason=reason)
                )
        except SQLAlchemyError as exc:  # pragma: no cover - a database fault
            raise StorageError(f"the print batch could not be written: {exc}") from exc


def _same(column: Any, value: Any) -> Any:
    """``column`` equals ``value``, NULL matching NULL (a batch without a lot)."""
    if value is None:
        return column.is_(None)
    if isinstance(value, str):
        return column == value
    return column.is_not_distinct_from(value)  # another column: a correlated subquery
