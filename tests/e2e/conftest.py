"""The served API, on SQLite and on PostgreSQL: in process (`asgi_server`, most tests) or
the real server under uvicorn (`live_server`, the tests that depend on a real server).

Both are built from the same environment (tests/e2e/server.py) and answer the same calls
(``.get``, ``.post``, ``.client(address)``), one per module and database: a module's tests
write units of their own (or only read the seeded ones), and each test runs alone on it,
so a test that counts the log's size sees only its own writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import InProcessServer, LiveServer, start, start_in_process
from tests.integration.conftest import pg_url  # noqa: F401 - fixture re-export

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _database(request: pytest.FixtureRequest, tmp: Path) -> str:
    """A fresh SQLite file in ``tmp``, or the session's PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp}/ledger.db"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="module", params=DATABASES)
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A seeded server under uvicorn on a random port (see tests/e2e/server.py for the
    stories), one per module and database."""
    tmp = tmp_path_factory.mktemp("live")
    server = start(_database(request, tmp), tmp)
    yield server
    server.stop()


@pytest.fixture(scope="module", params=DATABASES)
def asgi_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessServer]:
    """The same seeded app in this process, through ``httpx.ASGITransport``, one per
    module and database."""
    tmp = tmp_path_factory.mktemp("asgi")
    server = start_in_process(_database(request, tmp), tmp)
    yield server
    server.stop()
