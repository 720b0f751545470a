"""The cyclic collector paused for a write transaction and the map step
(ledger.service.collector): it is back on after the block, also when the block raises,
and a collector the caller had turned off stays off."""

from __future__ import annotations

import gc

import pytest

from ledger.service.collector import for_long_runs, paused


def test_the_collector_is_off_inside_and_back_on_after() -> None:
    assert gc.isenabled()
    with paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_is_back_on_after_an_error() -> None:
    with pytest.raises(RuntimeError), paused():
        raise RuntimeError("the update failed")
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_caller_stays_off() -> None:
    gc.disable()
    try:
        with paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_long_run_raises_the_thresholds_and_never_lowers_one() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 100)  # the defaults, and a third already higher
        for_long_runs()
        assert gc.get_threshold() == (10_000, 20, 100)
        assert gc.isenabled()
    finally:
        gc.set_threshold(*before)


def test_a_collector_set_to_never_run_stays_so() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(0, 10, 10)
        for_long_runs()
        assert gc.get_threshold() == (0, 10, 10)
    finally:
        gc.set_threshold(*before)
