"""One benchmark figure, the run's shared settings, and the two result files (issue 9).

A `Figure` is one line of ``bench/results/latest.json``: ``{name, value, unit, baseline,
ratio, target, pass}``, plus ``rule``, the target in words (``"ratio >= 0.35"``, ``"value
<= 700"``), because a target may apply to the ratio (rates against a machine limit) or to
the value itself (bytes, milliseconds). Build figures with `Figure.ratio_at_least`,
`Figure.value_at_most` or `Figure.info` (a baseline, or a detail without a target), so
that ``pass`` is always computed the same way.

`Run` is what every benchmark group receives: quick or full, the PostgreSQL URL, and
a cache for baselines shared by several groups (measured once per run, in the run).

`write` turns the figures into ``latest.json`` and a Markdown ``latest.md`` table.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(os.environ.get("BENCH_RESULTS", Path(__file__).resolve().parent / "results"))
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass
class Figure:
    """One measured figure; ``passed`` is written as ``pass``."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    target: float | None = None
    passed: bool | None = None
    rule: str | None = None

    @classmethod
    def ratio_at_least(
        cls, name: str, value: float, unit: str, baseline: float, target: float
    ) -> Figure:
        """A rate whose target is ``value / baseline >= target``."""
        ratio = value / baseline if baseline else 0.0
        return cls(
            name, value, unit, baseline, ratio, target, ratio >= target, f"ratio >= {target}"
        )

    @classmethod
    def ratio_at_most(
        cls, name: str, value: float, unit: str, baseline: float, target: float
    ) -> Figure:
        """A cost whose target is ``value / baseline <= target`` (e.g. 10x faster: 0.1)."""
        ratio = value / baseline if baseline else float("inf")
        return cls(
            name, value, unit, baseline, ratio, target, ratio <= target, f"ratio <= {target}"
        )

    @classmethod
    def value_at_least(
        cls, name: str, value: float, unit: str, target: float, baseline: float | None = None
    ) -> Figure:
        """A figure whose target is ``value >= target`` (the baseline is context)."""
        ratio = value / baseline if baseline else None
        return cls(
            name, value, unit, baseline, ratio, target, value >= target, f"value >= {target:g}"
        )

    @classmethod
    def value_at_most(
        cls, name: str, value: float, unit: str, target: float, baseline: float | None = None
    ) -> Figure:
        """A figure whose target is ``value <= target`` (the baseline is context)."""
        ratio = value / baseline if baseline else None
        return cls(
            name, value, unit, baseline, ratio, target, value <= target, f"value <= {target:g}"
        )

    @classmethod
    def info(cls, name: str, value: float, unit: str, baseline: float | None = None) -> Figure:
        """A baseline or a detail: no target."""
        ratio = value / baseline if baseline else None
        return cls(name, value, unit, baseline, ratio)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (issue 9's keys, plus ``rule``)."""
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "target": self.target,
            "pass": self.passed,
            "rule": self.rule,
        }


@dataclass
class Run:
    """Settings shared by every group of one run, and its cache of shared baselines."""

    quick: bool
    pg_url: str | None = DEFAULT_PG_URL
    _cache: dict[str, Any] = field(default_factory=dict)

    def pick(self, quick: Any, full: Any) -> Any:
        """``quick`` in a quick run, else ``full``."""
        return quick if self.quick else full

    def shared(self, key: str, measure: Callable[[], Any]) -> Any:
        """The value of ``measure()``, measured once per run and reused by later groups."""
        if key not in self._cache:
            self._cache[key] = measure()
        return self._cache[key]


def machine() -> str:
    """One line describing this machine and its load."""
    return (
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def table(figures: Sequence[Figure]) -> str:
    """A Markdown table of the figures."""
    lines = [
        "| figure | value | unit | baseline | ratio | target | pass |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for f in figures:
        verdict = "" if f.passed is None else ("yes" if f.passed else "**no**")
        lines.append(
            f"| {f.name} | {_number(f.value)} | {f.unit} | {_number(f.baseline)} "
            f"| {_number(f.ratio)} | {f.rule or ''} | {verdict} |"
        )
    return "\n".join(lines)


def write(figures: Sequence[Figure], header: Sequence[str], started: float) -> Path:
    """Write ``latest.json`` (the list of figures) and ``latest.md``; return the JSON path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "latest.json"
    path.write_text(json.dumps([f.to_dict() for f in figures], indent=2) + "\n")
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    took = time.perf_counter() - started
    lines = [
        "# Benchmark results",
        "",
        f"{stamp}, {took:.0f} s. {machine()} at the end.",
        "",
        *[f"- {line}" for line in header],
        "",
        table(figures),
        "",
    ]
    (RESULTS / "latest.md").write_text("\n".join(lines))
    return path
