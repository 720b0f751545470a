"""Over HTTP: an unexpected error while applying a single event (group commit) answers
that request 500 with problem type ``event-failed``; nothing of it is written and the
log takes the next event as before (ledger.service.append, docs/API.md)."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.entry import SignedEvent
from ledger.service.headmap import MapKeeper
from tests.e2e.server import Served
from tests.factories import GTIN

PROBLEM = "application/problem+json"


def _size(server: Served) -> int:
    return int(server.get("/healthz").json()["size"])


def _tree(server: Served) -> list[str]:
    """The latest checkpoint's origin, size and root: a quiet log's checkpoint is
    re-dated (its time line cosignature, ledger.service.dating) without a new tree."""
    return server.get("/v1/checkpoint").text.split("\n")[:3]


def test_a_bug_in_one_events_apply_is_a_500_problem_and_writes_nothing(
    asgi_server: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, w = asgi_server, asgi_server.world.world
    bad = w.sign("commission", "acme", unit={"gtin": GTIN, "serial": "EF-1"}, prev=None)
    real = MapKeeper.add

    def add(self: MapKeeper, index: int, leaf_hash: bytes, event: Any) -> None:
        if event == bad.event:
            raise KeyError("a bug after the state changed")
        real(self, index, leaf_hash, event)

    monkeypatch.setattr(MapKeeper, "add", add)
    before, checkpoint = _size(server), _tree(server)
    response = server.post("/v1/entries", json=bad.to_dict(), timeout=30)
    assert response.status_code == 500, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["type"] == "urn:provenance-ledger:problem:event-failed"
    assert problem["status"] == 500
    assert _size(server) == before and _tree(server) == checkpoint
    monkeypatch.undo()
    good: SignedEvent = bad  # the same event, the bug gone: judged afresh, it lands
    again = server.post("/v1/entries", json=good.to_dict(), timeout=30)
    assert again.status_code == 201, again.text
    assert (
        again.json()["receipts"][0]["index"] == before
        and not again.json()["receipts"][0]["duplicate"]
    )
    w.accept(good)
