"""bench.server's view of the map children below the benchmark (the ingest warm-up)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.server import MAP_CHILD, map_children, map_children_settled

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _sleeper(*marks: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", *marks])


def test_a_map_child_below_this_process_is_found_and_settles() -> None:
    child = _sleeper(MAP_CHILD.decode())
    other = _sleeper("not-a-map-child")
    try:
        assert map_children_settled(1, timeout=10)
        found = map_children()
        assert child.pid in found
        assert other.pid not in found
        assert not map_children_settled(2, timeout=1)  # only one runs
    finally:
        for proc in (child, other):
            proc.kill()
            proc.wait()
    assert child.pid not in map_children()


def test_a_busy_child_has_not_settled() -> None:
    spin = "import time\nend = time.time() + 30\nwhile time.time() < end: pass"
    child = subprocess.Popen([sys.executable, "-c", spin, MAP_CHILD.decode()])
    try:
        assert not map_children_settled(1, timeout=1.5)
    finally:
        child.kill()
        child.wait()
