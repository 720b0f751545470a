"""A store at the shipped migrations' heads opens without Alembic
(ledger.store.database: `HEADS`, `current_revisions`); the constant is the scripts'
heads, and what the store reads of a database's revisions is what Alembic reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.runtime.migration import MigrationContext

from ledger.store import Store
from ledger.store.database import (
    HEADS,
    _alembic_config,
    current_revisions,
    head_revisions,
    migrate,
)

ROOT = Path(__file__).resolve().parents[2]
#: a PostgreSQL schema of its own (conftest): these tests read a database before any
#: migration and move it down a revision
OWN_DATABASE = True


def test_the_heads_constant_names_the_migration_scripts_heads() -> None:
    # a new migration must name itself in ledger.store.database.HEADS: until it does, a
    # database at the old head would be left without it
    assert head_revisions() == HEADS


def _both(store: Store) -> tuple[frozenset[str], frozenset[str]]:
    """(what the store reads of the database's revisions, what Alembic reads)."""
    with store.engines.reader.connect() as conn:
        return current_revisions(conn), frozenset(
            MigrationContext.configure(conn).get_current_heads()
        )


def test_the_revisions_read_are_alembics(db_url: str) -> None:
    store = Store.open(db_url, create=False)
    try:
        assert _both(store) == (frozenset(), frozenset())  # before any migration
        migrate(store.engines)
        assert _both(store) == (HEADS, HEADS)
        with store.engines.writer.begin() as conn:  # one revision back
            command.downgrade(_alembic_config(conn), "-1")
        read, alembic = _both(store)
        assert read == alembic and read and read != HEADS
        migrate(store.engines)  # behind the heads: upgraded
        assert _both(store) == (HEADS, HEADS)
    finally:
        store.close()


def test_a_fresh_database_has_no_revision(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'fresh.db'}", create=False)
    try:
        with store.engines.reader.connect() as conn:
            assert current_revisions(conn) == frozenset()
    finally:
        store.close()


def test_a_store_at_the_heads_opens_without_importing_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Store.open(url).close()  # created and migrated here
    code = (
        "import sys\n"
        "from ledger.store import Store\n"
        f"Store.open({url!r}).close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    opened = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert opened.stdout.strip() == "[]"
