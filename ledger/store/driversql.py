"""Driver SQL on a transaction's own DBAPI connection, past SQLAlchemy's result set-up.

A statement run through SQLAlchemy's ``exec_driver_sql`` builds a result with each
column's metadata, per statement: for the short fixed statements a group of single events
runs once each (the append's head, prefetch and duplicate reads; the write quota's take),
that cost more than the statement itself (~20 of ~28 us a read on SQLite, ~40-90 of
~55-100 on PostgreSQL; docs/PERFORMANCE.md, sessions 28 and 30). The transaction stays
SQLAlchemy's (its BEGIN, COMMIT and ROLLBACK, its pool); only the statements go straight
to the driver's cursor.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

#: what a driver raises for a failing statement
DRIVER_ERRORS = (sqlite3.Error, psycopg.Error)


def fetch(conn: Connection, statement: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Every row of ``statement`` (driver SQL: only the driver's parameter marks
    formatted in, every value a bound parameter) with ``params``, run on ``conn``'s
    DBAPI connection inside its transaction; [] for a statement that returns no rows.
    A driver error is raised as SQLAlchemy's `DBAPIError` (an `SQLAlchemyError`), as
    the statement run through SQLAlchemy would raise it, so the caller's rollback and
    error reporting are unchanged.
    """
    driver = conn.connection.driver_connection
    cursor = driver.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(statement, params)
        return list(cursor.fetchall()) if cursor.description is not None else []
    except DRIVER_ERRORS as e:
        raise DBAPIError(statement, params, e) from e
    finally:
        cursor.close()


def fetch_many(
    conn: Connection, reads: Sequence[tuple[str, tuple[Any, ...]]]
) -> list[list[tuple[Any, ...]]]:
    """Every row of each of ``reads`` (statements as for `fetch`, each returning rows),
    in order. On PostgreSQL they are sent in one pipeline (psycopg's pipeline mode: one
    round trip for all, where `fetch` waits for each); the statements run on the server
    one after another, in this order, in ``conn``'s transaction, exactly as one by one.
    On SQLite (reads are calls in this process) one by one. A driver error is raised as
    SQLAlchemy's `DBAPIError`, as `fetch` raises it, naming every statement of the
    pipeline (the server's error says which failed; the pipeline's end reports it)."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        return [fetch(conn, statement, params) for statement, params in reads]
    cursors: list[psycopg.Cursor[Any]] = []
    try:
        with driver.pipeline():  # its end sends them all and reads every result
            for statement, params in reads:
                cursor = driver.cursor()
                cursors.append(cursor)
                cursor.execute(statement, params)
        return [list(cursor.fetchall()) for cursor in cursors]
    except DRIVER_ERRORS as e:
        raise DBAPIError(";\n".join(s for s, _ in reads), None, e) from e
    finally:
        for cursor in cursors:
            cursor.close()
