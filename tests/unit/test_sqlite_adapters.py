"""The identity adapters ledger.store.database registers with sqlite3 (``bytes``,
``bool`` and ``None``, so that binding them skips the module's failed ``__adapt__`` lookup) bind
every value exactly as sqlite3 does without them."""

from __future__ import annotations

import sqlite3

import ledger.store.database  # noqa: F401 - registers the adapters

VALUES = [
    True,
    False,
    None,
    b"",
    b"\x00\xff" * 40,
    bytes(range(256)),
    0,
    -(2**63),
    1.5,
    "t\u00e9xt",
    bytearray(b"ba"),
]


def _stored(connection: sqlite3.Connection) -> list[tuple[object, ...]]:
    connection.execute("CREATE TABLE t (i INTEGER, v)")
    connection.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(VALUES)))
    connection.execute("INSERT INTO t VALUES (?, ?)", (99, None))
    return connection.execute("SELECT i, v, typeof(v), hex(v) FROM t ORDER BY i").fetchall()


def test_adapters_are_registered_and_bind_as_before() -> None:
    protocol = sqlite3.PrepareProtocol
    assert (bytes, protocol) in sqlite3.adapters
    assert (type(None), protocol) in sqlite3.adapters
    assert (bool, protocol) in sqlite3.adapters
    adapted = _stored(sqlite3.connect(":memory:"))
    saved = dict(sqlite3.adapters)
    try:
        for kind in (bytes, bool, type(None)):
            del sqlite3.adapters[(kind, protocol)]
        plain = _stored(sqlite3.connect(":memory:"))
    finally:
        sqlite3.adapters.clear()
        sqlite3.adapters.update(saved)
    assert adapted == plain
    assert [row[2] for row in adapted[:6]] == ["integer", "integer", "null", "blob", "blob", "blob"]
