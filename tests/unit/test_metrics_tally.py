"""api.metrics.Tally: a count kept as a plain int is scraped as a Prometheus counter."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from api.metrics import Metrics, Tally


def test_the_scans_tally_is_scraped_as_a_counter() -> None:
    metrics = Metrics()
    before = metrics.render().body.decode()
    assert "provenance_scans_total 0.0" in before.splitlines()
    metrics.scans.value += 3
    lines = metrics.render().body.decode().splitlines()
    assert "# TYPE provenance_scans_total counter" in lines
    assert "provenance_scans_total 3.0" in lines


def test_a_tally_name_is_taken_once_per_registry() -> None:
    registry = CollectorRegistry()
    Tally("provenance_x", "x", registry)
    with pytest.raises(ValueError, match="Duplicated"):
        Tally("provenance_x", "x again", registry)
