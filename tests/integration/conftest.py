"""Fixtures for store + service tests on SQLite and on the real PostgreSQL.

Each test gets its own log (a unique name) so tests can share one database, as
several logs do in production; PostgreSQL tests run in a schema of their own that is
recreated once per session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from ledger.service.ledger import Ledger
from tests.integration.world import LedgerWorld, clock, config

# Overridable so that two test runs on one machine (e.g. two worktrees) do not share it.
PG_SCHEMA = os.environ.get("PROVENANCE_TEST_SCHEMA", "provenance_test")


@pytest.fixture(scope="session")
def pg_url(postgres_url: str) -> str:
    """A PostgreSQL URL whose search_path is a fresh schema for this test session."""
    import psycopg

    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {PG_SCHEMA}")
    sep = "&" if "?" in postgres_url else "?"
    return f"{postgres_url}{sep}options=-csearch_path%3D{PG_SCHEMA}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database URL: a fresh SQLite file, or the session's PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db')}/ledger.db"
    return str(request.getfixturevalue("pg_url"))


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
