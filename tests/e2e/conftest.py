"""The live server fixture: the real API under uvicorn, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.server import LiveServer, start
from tests.integration.conftest import pg_url  # noqa: F401 - fixture re-export


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A seeded server on a random port (see tests/e2e/server.py for the stories), one per
    module and database: its tests write units of their own (or only read the seeded
    ones), and each test runs alone on it, so a test that counts the log's size sees only
    its own writes."""
    tmp = tmp_path_factory.mktemp("live")
    url = (
        f"sqlite:///{tmp}/ledger.db"
        if request.param == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    server = start(url, tmp)
    yield server
    server.stop()
