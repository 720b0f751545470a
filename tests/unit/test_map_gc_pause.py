"""The map step pauses Python's cyclic collector (ledger.service.headmap): it is back on
after the block, also when the block raises, and a collector the caller had turned off
stays off."""

from __future__ import annotations

import gc

import pytest

from ledger.service.headmap import _collector_paused


def test_the_collector_is_off_inside_and_back_on_after() -> None:
    assert gc.isenabled()
    with _collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_is_back_on_after_an_error() -> None:
    with pytest.raises(RuntimeError), _collector_paused():
        raise RuntimeError("the update failed")
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_caller_stays_off() -> None:
    gc.disable()
    try:
        with _collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
