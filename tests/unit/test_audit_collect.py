"""The audit raises the cyclic collector's thresholds only while it runs, and puts back
exactly the ones it found, however audits nest or overlap."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from ledger import note
from ledger.audit.collect import AUDIT_THRESHOLDS, fewer_collections
from tests.factories import key
from tests.rules_factories import ORIGIN

LOG = note.Signer(ORIGIN, key(1))


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    """Known starting thresholds, restored after the test."""
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*before)


def test_the_thresholds_are_raised_inside_and_restored_after(
    thresholds: tuple[int, int, int],
) -> None:
    with fewer_collections():
        assert gc.get_threshold() == AUDIT_THRESHOLDS
        assert gc.isenabled()
    assert gc.get_threshold() == thresholds


def test_higher_thresholds_found_are_never_lowered(thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(100_000, 5, 5_000)
    with fewer_collections():
        assert gc.get_threshold() == (100_000, 50, 5_000)
    assert gc.get_threshold() == (100_000, 5, 5_000)


def test_restored_after_an_error(thresholds: tuple[int, int, int]) -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("audit failed")
    assert gc.get_threshold() == thresholds


def test_overlapping_audits_restore_the_first_setting_only_when_the_last_ends(
    thresholds: tuple[int, int, int],
) -> None:
    inside, release, done = threading.Event(), threading.Event(), threading.Event()

    def other() -> None:
        with fewer_collections():
            inside.set()
            release.wait(10)
        done.set()

    worker = threading.Thread(target=other)
    outer = fewer_collections()
    outer.__enter__()
    worker.start()
    assert inside.wait(10)
    outer.__exit__(None, None, None)  # the first audit ends while the other runs
    assert gc.get_threshold() == AUDIT_THRESHOLDS
    release.set()
    assert done.wait(10)
    worker.join()
    assert gc.get_threshold() == thresholds


def test_an_audit_restores_the_thresholds(thresholds: tuple[int, int, int]) -> None:
    from ledger.audit.replay import audit_source  # imported late: the replay is heavy

    seen: list[tuple[int, int, int]] = []

    class Empty:
        def head(self) -> tuple[int, bytes | None]:
            seen.append(gc.get_threshold())
            return 0, None

        def entries(self, start: int, end: int) -> list[object]:
            return []

        def checkpoints(self) -> list[object]:
            return []

        def nodes(self, wanted: list[object]) -> None:
            return None

        def state(self) -> None:
            return None

    report = audit_source(Empty(), LOG.verifier.to_text())  # type: ignore[arg-type]
    assert report.ok
    assert report.entries == 0
    assert seen == [AUDIT_THRESHOLDS]
    assert gc.get_threshold() == thresholds
