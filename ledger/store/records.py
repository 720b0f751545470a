"""Conversion between ledger.state records and the store's projection rows.

One table per record type; columns carry the record's field names. Tuples of digits
(GTINs, prefixes) are stored comma-joined, since neither can contain a comma.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import Table

from ledger.state import (
    ActorRecord,
    AuthorizationRecord,
    KeyRecord,
    ProductRecord,
    Record,
    UnitRecord,
)
from ledger.store.schema import (
    ActorTable,
    AuthorizationTable,
    KeyTable,
    ProductTable,
    UnitTable,
)

RECORD_TABLES: dict[type[Any], Table] = {
    ActorRecord: ActorTable.__table__,  # type: ignore[dict-item]
    KeyRecord: KeyTable.__table__,  # type: ignore[dict-item]
    AuthorizationRecord: AuthorizationTable.__table__,  # type: ignore[dict-item]
    ProductRecord: ProductTable.__table__,  # type: ignore[dict-item]
    UnitRecord: UnitTable.__table__,  # type: ignore[dict-item]
}
_TUPLE_FIELDS = {"prefixes", "gtins"}


def to_row(log: int, record: Record) -> dict[str, Any]:
    """Return the projection row (column -> value) of ``record`` in log ``log``."""
    row: dict[str, Any] = {"log": log}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        row[f.name] = ",".join(value) if f.name in _TUPLE_FIELDS else value
    return row


def from_row(record_type: type[Record], row: Any) -> Record:
    """Return the record of type ``record_type`` stored in a projection row."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(record_type):
        value = getattr(row, f.name)
        if f.name in _TUPLE_FIELDS:
            value = tuple(value.split(",")) if value else ()
        elif f.type in ("bool", bool):
            value = bool(value)
        values[f.name] = value
    return record_type(**values)
