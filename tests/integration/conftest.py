"""Fixtures for store + service tests on SQLite and on the real PostgreSQL.

Each test gets its own log (a unique name) so tests can share one database, as
several logs do in production; PostgreSQL tests run in a schema of their own, random
per test run and per xdist worker, created once per session and dropped at its end
(a fixed name let two runs on one server drop each other's tables).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from ledger.service.ledger import Ledger
from tests.integration.world import LedgerWorld, clock, config


def _schema_name() -> str:
    """``PREFIX_RANDOM_WORKER``: the prefix from PROVENANCE_TEST_SCHEMA (a name to find
    one's leftovers by), random per process so that no two runs or workers share it."""
    prefix = os.environ.get("PROVENANCE_TEST_SCHEMA", "provenance_test")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"{prefix}_{uuid.uuid4().hex[:8]}_{worker}".lower()


# One per process: each xdist worker imports this module afresh.
PG_SCHEMA = _schema_name()


def create_schema(postgres_url: str, schema: str) -> str:
    """Create ``schema`` (dropping a leftover of that name); return a URL whose
    search_path is it."""
    import psycopg

    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in postgres_url else "?"
    return f"{postgres_url}{sep}options=-csearch_path%3D{schema}"


def drop_schema(postgres_url: str, schema: str) -> None:
    """Drop ``schema`` and everything in it; a lock still held after 10 s (a server that
    did not stop) leaves it behind rather than hang the run."""
    import psycopg

    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '10s'")
        try:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        except psycopg.errors.LockNotAvailable:
            print(f"\nleft PostgreSQL schema {schema} behind: still locked")


@pytest.fixture(scope="session")
def pg_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema for this session (this
    worker), dropped at its end."""
    yield create_schema(postgres_url, PG_SCHEMA)
    drop_schema(postgres_url, PG_SCHEMA)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database URL: a fresh SQLite file, or the session's PostgreSQL schema.

    A module that says ``OWN_DATABASE = True`` gets a fresh PostgreSQL schema per test,
    dropped at the end: its tests migrate the whole database (every log in it) down and
    up, and the session's schema holds other tests' logs, some deliberately corrupted,
    which an old revision's migration cannot read."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db')}/ledger.db"
        return
    if not getattr(request.module, "OWN_DATABASE", False):
        yield str(request.getfixturevalue("pg_url"))
        return
    postgres_url = str(request.getfixturevalue("postgres_url"))
    schema = f"{PG_SCHEMA}_{uuid.uuid4().hex[:8]}"
    yield create_schema(postgres_url, schema)
    drop_schema(postgres_url, schema)


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    """An initialised ledger (genesis written) in a log of its own."""
    opened = Ledger.open(db_url, config(f"t-{uuid.uuid4().hex[:10]}"), clock=clock)
    opened.init(name="Registry")
    yield opened
    opened.close()


@pytest.fixture
def world(ledger: Ledger) -> LedgerWorld:
    """The base scenario of tests.rules_factories, appended through the ledger."""
    return LedgerWorld.base(ledger)
