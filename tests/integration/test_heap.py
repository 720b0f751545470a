"""A started server moves its heap out of the cyclic collector's walks and raises the
collector's thresholds (api.heap): ``PROVENANCE_GC_FREEZE``, on by default, off with 0
(then neither); what was alive at the start is no longer walked by a full collection,
and what comes after still is."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import pytest

from api import heap
from api.app import create_app
from ledger.errors import ValidationError
from ledger.service.collector import LONG_RUN_THRESHOLDS
from ledger.service.ledger import Ledger
from ledger.service.settings import Settings
from tests.integration.world import clock, config


def test_the_setting_is_on_by_default_and_reads_on_and_off() -> None:
    assert Settings.from_env({}).gc_freeze is True
    assert Settings.from_env({"PROVENANCE_GC_FREEZE": ""}).gc_freeze is True
    for off in ("0", "false", "No", " OFF "):
        assert Settings.from_env({"PROVENANCE_GC_FREEZE": off}).gc_freeze is False
    for on in ("1", "TRUE", "yes", "on"):
        assert Settings.from_env({"PROVENANCE_GC_FREEZE": on}).gc_freeze is True
    with pytest.raises(ValidationError, match="PROVENANCE_GC_FREEZE"):
        Settings.from_env({"PROVENANCE_GC_FREEZE": "sometimes"})


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_settle_takes_the_live_heap_out_of_the_full_collections() -> None:
    kept = [_Node() for _ in range(1_000)]
    walked_before = len(gc.get_objects())
    thresholds = gc.get_threshold()
    frozen = heap.settle()
    try:
        assert frozen >= len(kept)
        # and collections come less often for the server's life (collector.for_long_runs)
        raised = zip(gc.get_threshold(), LONG_RUN_THRESHOLDS, strict=True)
        assert all(now >= wanted for now, wanted in raised)
        walked = gc.get_objects()
        # what a full collection walks now: a small part of what it walked before
        assert len(walked) < walked_before / 10
        assert not any(obj is kept[0] for obj in walked)
        later = _Node()  # made after the start: still the collector's
        assert any(obj is later for obj in gc.get_objects())
        del later
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def _frozen_after_start(ledger: Ledger, env: dict[str, str]) -> tuple[int, tuple[int, ...]]:
    """(the objects frozen, the collector's thresholds) once the app has started."""
    app = create_app(Settings.from_env(env), ledger=ledger)

    async def main() -> tuple[int, tuple[int, ...]]:
        async with app.router.lifespan_context(app):
            return gc.get_freeze_count(), gc.get_threshold()

    thresholds = gc.get_threshold()
    try:
        return asyncio.run(main())
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_a_started_app_settles_its_heap_unless_told_not_to(tmp_path: Path) -> None:
    ledger = Ledger.open(f"sqlite:///{tmp_path}/ledger.db", config("heap"), clock=clock)
    try:
        ledger.init(name="Registry")
        gc.unfreeze()
        gc.set_threshold(700, 10, 10)
        assert _frozen_after_start(ledger, {"PROVENANCE_GC_FREEZE": "0"}) == (0, (700, 10, 10))
        frozen, thresholds = _frozen_after_start(ledger, {})
        assert frozen > 10_000
        assert thresholds == LONG_RUN_THRESHOLDS
    finally:
        ledger.close()
