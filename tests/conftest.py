"""Shared fixtures: small factories for keys and events, the PostgreSQL gate, the
``e2e`` marker and the Hypothesis profiles.

Tests that need PostgreSQL take the ``postgres_url`` fixture. In CI (``CI=true``) an
unreachable server is a failure; elsewhere those tests are skipped with one line that
says how to run them.

Every test under tests/e2e is marked ``e2e`` here, so ``-m "not e2e"`` is the edit
loop's selection (``make test-fast``).

Hypothesis runs the ``ci`` profile under ``CI=true`` and the small ``dev`` profile
elsewhere; ``HYPOTHESIS_PROFILE`` picks one by name (tests/profiles.py).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import profiles

profiles.load()

E2E = Path(__file__).resolve().parent / "e2e"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e ``e2e``, before ``-m`` selects (tryfirst)."""
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _nothing_stays_frozen() -> Iterator[None]:
    """An app whose lifespan ran in this process froze its heap and raised the
    collector's thresholds (api.heap, a server's start): thawed and put back after each
    test, so the test process's objects stay collectable as before."""
    thresholds = gc.get_threshold()
    yield
    if gc.get_freeze_count():
        gc.unfreeze()
    gc.set_threshold(*thresholds)


DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_error(url: str) -> str | None:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a test extra
        return "psycopg is not installed"
    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as e:
        return str(e).strip().splitlines()[0]
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The URL of a reachable PostgreSQL server (``DATABASE_URL`` or the CI default)."""
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    problem = _postgres_error(url)
    if problem is None:
        return url
    message = f"PostgreSQL at {url} is unreachable ({problem})"
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI must run the PostgreSQL tests")
    pytest.skip(message + "; start one or set DATABASE_URL to run these tests")
