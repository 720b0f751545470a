"""Conversion between ledger.rules.state records and the store's projection rows.

One table per record type; columns carry the record's field names. Tuples of digits
(GTINs, prefixes, a unit's container SSCCs), of words (a key's scope) and of actor ids
(a unit's holders) are stored comma-joined, since none can contain a comma.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, select

from ledger.rules.state import (
    ActorRecord,
    AuthorizationRecord,
    KeyRecord,
    ProductRecord,
    Record,
    UnitRecord,
)
from ledger.store.queries import chunks
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
_TUPLE_FIELDS = {"prefixes", "gtins", "scope", "holders", "containers"}


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


_KEY_COLUMNS = {
    ActorRecord: "id",
    KeyRecord: "key_id",
    AuthorizationRecord: "id",
    ProductRecord: "gtin",
}


def load_records(
    conn: Connection, log: int, refs: Mapping[type[Any], Iterable[Any]]
) -> list[Record]:
    """Load projection records by primary key: {record type: keys}; units by (gtin, serial)."""
    out: list[Record] = []
    for record_type, keys in refs.items():
        wanted = list(dict.fromkeys(keys))
        if record_type is UnitRecord:
            out.extend(_load_units(conn, log, wanted))
        else:
            out.extend(load_in(conn, log, record_type, _KEY_COLUMNS[record_type], wanted))
    return out


def load_in(
    conn: Connection, log: int, record_type: type[Any], column: str, values: Iterable[Any]
) -> list[Record]:
    """Load the records of one type whose ``column`` is one of ``values``."""
    table = RECORD_TABLES[record_type]
    out: list[Record] = []
    for chunk in chunks(list(dict.fromkeys(values))):
        rows = conn.execute(select(table).where(table.c.log == log, table.c[column].in_(chunk)))
        out.extend(from_row(record_type, r) for r in rows)
    return out


def _load_units(conn: Connection, log: int, keys: Sequence[tuple[str, str]]) -> list[Record]:
    # gtin IN (...) AND serial IN (...) uses the primary key on both databases (a
    # row-value IN list does not on PostgreSQL); exact pairs are kept afterwards.
    table = RECORD_TABLES[UnitRecord]
    wanted = set(keys)
    out: list[Record] = []
    for chunk in chunks(list(keys)):
        rows = conn.execute(
            select(table).where(
                table.c.log == log,
                table.c.gtin.in_(sorted({g for g, _ in chunk})),
                table.c.serial.in_(sorted({s for _, s in chunk})),
            )
        )
        out.extend(from_row(UnitRecord, r) for r in rows if (r.gtin, r.serial) in wanted)
    return out
