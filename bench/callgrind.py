"""Running a bench module under valgrind's callgrind, counting only what it marks.

The instruction-count tools (bench.resolver_instructions, bench.audit_instructions)
start their measured child with `command` (collection off at start), the child switches
collection on and off around the work it counts (`collect`), and the parent reads the
count back (`total`). A count does not move with the machine's load (~0.2 %).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

#: the child's environment additions: the same hashes every run
ENV = {"PYTHONHASHSEED": "0"}


def require() -> None:
    """Exit with one line when valgrind is not installed."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")


def command(out: Path, module: str, *args: str, cache: bool = False) -> list[str]:
    """The argv that runs ``python -m module args`` under callgrind, collection off at
    the start, its counts written to ``out``; with ``cache``, the first-level cache's
    misses simulated and counted too (`totals` gives them; about 1.5x slower)."""
    return [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        *(["--cache-sim=yes"] if cache else []),
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        module,
        *args,
    ]


def environment() -> dict[str, str]:
    """The child's environment: this one with `ENV`."""
    return {**os.environ, **ENV}


def collect(on: bool) -> None:
    """In the child: switch callgrind's collection on or off for this process."""
    subprocess.run(
        ["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
        capture_output=True,
        check=False,
    )


def total(out: Path) -> int:
    """The instruction count in a callgrind output file (its ``totals:`` line; the
    ``summary:`` line counts from the start, when collection was still off)."""
    return totals(out)["Ir"]


def totals(out: Path) -> dict[str, int]:
    """Every event counted in a callgrind output file, by callgrind's name: ``Ir``
    (instructions), and with the cache simulation ``I1mr`` (first-level instruction
    cache misses), ``D1mr`` and ``D1mw`` (data read and write misses), among others."""
    events: list[str] = []
    for line in out.read_text().splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("totals:") and events:
            return dict(zip(events, (int(v) for v in line.split()[1:]), strict=True))
    raise SystemExit(f"no totals in {out}")
