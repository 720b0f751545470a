"""Conversion between ledger.rules.state records and the store's projection rows.

One table per record type; columns carry the record's field names. Tuples of digits
(GTINs, prefixes, a unit's container SSCCs), of words (a key's scope) and of actor ids
(a unit's holders) are stored comma-joined, since none can contain a comma.

A unit's ``head`` has no column (0031_from_leaves): it is the event hash of the unit's
entry at ``head_index``, read with the unit from that entry's leaf
(`queries.HEAD_LEAF`, `queries.unit_head`), so every reader of units here needs the
log's origin (given, or read once).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, Table

from ledger.rules.state import (
    ActorRecord,
    AuthorizationRecord,
    KeyRecord,
    ProductRecord,
    Record,
    UnitRecord,
)
from ledger.store import driversql
from ledger.store.queries import (
    HEAD_LEAF,
    Fetch,
    chunks,
    indexed_by,
    one_of,
    origin_of,
    placeholder,
    unit_head,
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
_TUPLE_FIELDS = {"prefixes", "gtins", "scope", "holders", "containers"}
_TUPLE, _BOOL, _PLAIN = 0, 1, 2


def _fields(record_type: type[Any]) -> tuple[tuple[str, int], ...]:
    """(field name, conversion) of a record type, in field order."""
    return tuple(
        (
            f.name,
            _TUPLE if f.name in _TUPLE_FIELDS else _BOOL if f.type in ("bool", bool) else _PLAIN,
        )
        for f in dataclasses.fields(record_type)
    )


# computed once: dataclasses.fields() per row was a hot spot of the batch prefetch
_FIELDS: dict[type[Any], tuple[tuple[str, int], ...]] = {t: _fields(t) for t in RECORD_TABLES}
#: fields stored in no column, read from the entries (0031_from_leaves): a unit's head
_DERIVED: dict[type[Any], set[str]] = {UnitRecord: {"head"}}
#: per record type, what a SELECT reads for each field, in field order
_SELECTED: dict[type[Any], str] = {
    t: ", ".join(HEAD_LEAF if name in _DERIVED.get(t, ()) else name for name, _ in fields)
    for t, fields in _FIELDS.items()
}
_HEAD_AT = [name for name, _ in _FIELDS[UnitRecord]].index("head")
_HEAD_INDEX_AT = [name for name, _ in _FIELDS[UnitRecord]].index("head_index")
#: per record type, its (value, conversion) pairs in table column order (`to_values`)
_COLUMN_VALUES: dict[type[Any], Any] = {}


def to_values(log: int, record: Record) -> tuple[Any, ...]:
    """The projection row of ``record`` in log ``log``: ``log`` and the record's fields as
    column values (tuples of words comma-joined), in its table's column order."""
    return _COLUMN_VALUES[type(record)](log, record)  # type: ignore[no-any-return]


def _column_reader(record_type: type[Any]) -> Any:
    """A function of (log, record) giving `to_values`'s row: the values read in table
    column order by one getter, only the tuple fields converted (a batch writes a row
    per event; a conversion test per column was a third of the projections' Python)."""
    kinds = dict(_FIELDS[record_type])
    names = [c.name for c in RECORD_TABLES[record_type].columns if c.name != "log"]
    stored = set(kinds) - _DERIVED.get(record_type, set())
    if set(names) != stored:  # pragma: no cover - a schema and record out of step
        raise AssertionError(f"{record_type.__name__}: columns {names} differ from its fields")
    getter = attrgetter(*names)
    joined = [at for at, name in enumerate(names) if kinds[name] == _TUPLE]

    def read(log: int, record: Record) -> tuple[Any, ...]:
        values = list(getter(record))
        for at in joined:
            values[at] = ",".join(values[at])
        return (log, *values)

    return read


_COLUMN_VALUES.update((t, _column_reader(t)) for t in RECORD_TABLES)
#: per record type, its field names in order (`_from_values`)
_NAMES: dict[type[Any], tuple[str, ...]] = {
    t: tuple(name for name, _ in fields) for t, fields in _FIELDS.items()
}


#: per record type, the positions of its tuple fields and of its bool fields
#: (`_from_values` converts only those: a test a field was most of reading a record)
_CONVERTED: dict[type[Any], tuple[tuple[int, ...], tuple[int, ...]]] = {
    t: (
        tuple(at for at, (_, kind) in enumerate(fields) if kind == _TUPLE),
        tuple(at for at, (_, kind) in enumerate(fields) if kind == _BOOL),
    )
    for t, fields in _FIELDS.items()
}


def _from_values(record_type: type[Any], values: Sequence[Any]) -> Record:
    """The record of ``record_type`` from its column values in field order.

    Raises:
        ValueError: not one value a field.
    """
    names = _NAMES[record_type]
    if len(values) != len(names):
        raise ValueError(f"{record_type.__name__} has {len(names)} fields, not {len(values)}")
    out = list(values)
    tuples, bools = _CONVERTED[record_type]
    for at in tuples:
        value = out[at]
        out[at] = tuple(value.split(",")) if value else ()
    for at in bools:
        out[at] = bool(out[at])
    # every field in field order: its instance dictionary filled is the record __init__
    # makes, without a frozen dataclass's object.__setattr__ a field
    record = object.__new__(record_type)
    record.__dict__.update(zip(names, out, strict=True))
    return record  # type: ignore[no-any-return]


def _select(
    conn: Connection,
    record_type: type[Any],
    where: str,
    params: Sequence[Any],
    hint: str = "",
    origin: str | None = None,
    fetch: Fetch | None = None,
    heads: Mapping[int, str] | None = None,
) -> list[Record]:
    """Records of ``record_type`` matching ``where`` (column names and placeholders only)
    in log ``params[0]``, in raw driver SQL: the batch prefetch runs this under the log
    lock. ``hint``: an ``INDEXED BY`` clause (`queries.indexed_by`) or nothing;
    ``origin``: the log's (read here when units are found and it is not given);
    ``fetch``: what runs the statement (default: ``conn.exec_driver_sql``); ``heads``:
    as for `load_all`."""
    table = RECORD_TABLES[record_type]
    statement = (
        f"SELECT {_SELECTED[record_type]} FROM {table.name}{hint} "  # noqa: S608
        f"WHERE log = {placeholder(conn)} AND {where}"
    )
    if fetch is None:
        rows: Sequence[Sequence[Any]] = conn.exec_driver_sql(statement, tuple(params)).all()
    else:
        rows = fetch(statement, tuple(params))
    if record_type is not UnitRecord:
        return [_from_values(record_type, row) for row in rows]
    if rows and origin is None:
        origin = origin_of(conn, params[0])
    known = heads or {}
    out = []
    for row in rows:
        values = list(row)
        head = known.get(values[_HEAD_INDEX_AT])
        values[_HEAD_AT] = unit_head(values[_HEAD_AT], origin or "") if head is None else head
        out.append(_from_values(UnitRecord, values))
    return out


def load_all(
    conn: Connection,
    log: int,
    record_type: type[Any],
    origin: str | None = None,
    heads: Mapping[int, str] | None = None,
) -> list[Record]:
    """Every record of ``record_type`` in log ``log`` (the driver's rows as they come,
    `driversql.fetch`: an audit reads every projection).

    ``heads``: event hashes (base64url) by log index that the caller knows to be those
    of the log's entries at those indices, as this read would find them (an audit's
    replay of the same snapshot): a unit whose head index is among them takes its head
    from there instead of from its entry's leaf (`unit_head`: unpacked and hashed, ~3 %
    of an audit, docs/PERFORMANCE.md "audit43"); a unit's head is by definition the
    event hash of that entry, so the result is the same."""
    return _select(
        conn,
        record_type,
        "1 = 1",
        (log,),
        origin=origin,
        fetch=lambda statement, params: driversql.fetch(conn, statement, params),
        heads=heads,
    )


def load_equal(
    conn: Connection,
    log: int,
    record_type: type[Any],
    equals: Mapping[str, Any],
    origin: str | None = None,
    fetch: Fetch | None = None,
) -> list[Record]:
    """The records of ``record_type`` in log ``log`` whose columns equal ``equals``
    (``fetch``: as for `_select`)."""
    columns = RECORD_TABLES[record_type].c
    if any(name not in columns for name in equals):
        raise KeyError(sorted(set(equals) - set(columns.keys())))  # only names are formatted
    m = placeholder(conn)
    where = " AND ".join([f"{name} = {m}" for name in equals] or ["1 = 1"])
    return _select(conn, record_type, where, (log, *equals.values()), origin=origin, fetch=fetch)


#: (record type, column) -> the index a lookup by that column names on SQLite: the
#: partial container index (0027_storage_v2), which SQLite's planner passed over for the
#: primary key (``log = ?``: every unit) once ANALYZE had counted it nearly empty
_INDEXED_BY = {(UnitRecord, "container"): "ix_units_container"}

_KEY_COLUMNS = {
    ActorRecord: "id",
    KeyRecord: "key_id",
    AuthorizationRecord: "id",
    ProductRecord: "gtin",
}


def load_records(
    conn: Connection,
    log: int,
    refs: Mapping[type[Any], Iterable[Any]],
    origin: str | None = None,
    fetch: Fetch | None = None,
) -> list[Record]:
    """Load projection records by primary key: {record type: keys}; units by (gtin,
    serial). ``origin``: the log's (read here when units are found and it is not given);
    ``fetch``: as for `_select`."""
    out: list[Record] = []
    for record_type, keys in refs.items():
        wanted = list(dict.fromkeys(keys))
        if record_type is UnitRecord:
            out.extend(_load_units(conn, log, wanted, origin, fetch))
        else:
            column = _KEY_COLUMNS[record_type]
            out.extend(load_in(conn, log, record_type, column, wanted, fetch=fetch))
    return out


def load_recovered_keys(conn: Connection, log: int) -> list[Record]:
    """The keys an operator recovered (``key.recover``) whose recovery was not cancelled
    (``removed_index`` unset), whether or not in effect yet: few, so a scan of the
    log's keys is cheap enough for the operator's console."""
    return _select(conn, KeyRecord, "recovered_index IS NOT NULL AND removed_index IS NULL", (log,))


def load_in(
    conn: Connection,
    log: int,
    record_type: type[Any],
    column: str,
    values: Iterable[Any],
    origin: str | None = None,
    fetch: Fetch | None = None,
) -> list[Record]:
    """Load the records of one type whose ``column`` is one of ``values`` (``origin``,
    ``fetch``: as for `load_records`)."""
    if column not in RECORD_TABLES[record_type].c:
        raise KeyError(column)  # only a column name is ever formatted into the SQL
    index = _INDEXED_BY.get((record_type, column))
    hint = indexed_by(conn, index) if index else ""
    sql_type = _sql_type(conn, RECORD_TABLES[record_type].c[column])
    out: list[Record] = []
    for chunk in chunks(list(dict.fromkeys(values))):
        where, params = one_of(conn, column, chunk, sql_type)
        out.extend(_select(conn, record_type, where, (log, *params), hint, origin, fetch))
    return out


def _sql_type(conn: Connection, column: Any) -> str:
    """The column's type as the dialect spells it (an array parameter is cast to it),
    compiled once per column and dialect (a prefetch asks it for each of its reads)."""
    key = (column, conn.dialect.name)
    spelled = _SQL_TYPES.get(key)
    if spelled is None:
        spelled = _SQL_TYPES[key] = str(column.type.compile(dialect=conn.dialect))
    return spelled


#: (column, dialect name) -> its type's spelling (`_sql_type`): the tables' own columns
_SQL_TYPES: dict[tuple[Any, str], str] = {}


def _load_units(
    conn: Connection,
    log: int,
    keys: Sequence[tuple[str, str]],
    origin: str | None,
    fetch: Fetch | None = None,
) -> list[Record]:
    # gtin IN (...) AND serial IN (...) uses the primary key on both databases (a
    # row-value IN list does not on PostgreSQL); exact pairs are kept afterwards.
    wanted = set(keys)
    columns = RECORD_TABLES[UnitRecord].c
    gtin_type, serial_type = _sql_type(conn, columns.gtin), _sql_type(conn, columns.serial)
    out: list[Record] = []
    for chunk in chunks(list(keys)):
        gtins, serials = sorted({g for g, _ in chunk}), sorted({s for _, s in chunk})
        by_gtin, gtin_params = one_of(conn, "gtin", gtins, gtin_type)
        by_serial, serial_params = one_of(conn, "serial", serials, serial_type)
        where = f"{by_gtin} AND {by_serial}"
        params = (log, *gtin_params, *serial_params)
        units = _select(conn, UnitRecord, where, params, origin=origin, fetch=fetch)
        out.extend(u for u in units if isinstance(u, UnitRecord) and (u.gtin, u.serial) in wanted)
    return out
