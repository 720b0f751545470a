"""Command-line start-up (issue 15): cold start of commands that open no database.

Each figure is the median wall time of N fresh ``provenance`` processes (the installed
console script, the way a user runs it, on this checkout's code), after one untimed run,
measured right after the baseline: a bare ``python -c pass`` of the same interpreter, so
the ratio says how much the CLI adds to the interpreter's own start. Bytecode is cached as
an installed CLI has it (bench.suite.bytecode_cache under ``PYTHONDONTWRITEBYTECODE``). Target: <= 0.3 s per command on this machine (docs/CLI.md,
"Start-up"). The commands run in a fresh ``PROVENANCE_HOME`` with no provenance setting
from the environment; ``keys new`` writes a key file there (the one command of the set
that does real work: an Ed25519 key, a PEM, a 0600 file).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.figures import Figure, Run

TARGET_SECONDS = 0.3
_ROOT = Path(__file__).resolve().parents[1]

#: (figure name, arguments, expected exit code); {n} is the run's sequence number. The
#: last one talks to a server that is not there (port 9, discard): the remote path (the
#: command, its HTTP client) loads, then the connection is refused at once. The verifier
#: loads only once a view has arrived, so this is the start-up up to the first request.
COMMANDS: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("provenance --help", ("--help",), 0),
    ("provenance --version", ("--version",), 0),
    ("provenance keys --help", ("keys", "--help"), 0),
    ("provenance verify --help", ("verify", "--help"), 0),
    ("provenance keys new", ("keys", "new", "bench-{n}"), 0),
    ("provenance keys show", ("keys", "show", "bench-0"), 0),
    (
        "provenance --server URL verify (refused connection)",
        ("--server", "http://127.0.0.1:9", "verify", "09506000134352/SN-1"),
        1,
    ),
)


def _script() -> str:
    """The installed ``provenance`` console script next to this interpreter."""
    return str(Path(sys.executable).with_name("provenance"))


def _median_seconds(
    argv: Sequence[str], runs: int, env: dict[str, str], expected: int = 0, tag: str = ""
) -> float:
    times = []
    for n in range(runs):
        args = [a.replace("{n}", f"{tag}{n + 1}") for a in argv]
        began = time.perf_counter()
        done = subprocess.run(args, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - began)
        if done.returncode != expected:
            raise RuntimeError(f"{' '.join(args)} exited {done.returncode}: {done.stderr!r}")
    return statistics.median(times)


def figures(run: Run) -> list[Figure]:
    """Median cold start per command against a bare interpreter start."""
    runs = run.pick(5, 21)
    out: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as home:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PROVENANCE_") and k not in ("DATABASE_URL", "REDIS_URL")
        }
        # PYTHONPATH: the code of this checkout, not whichever the console script's
        # editable install points at
        env.update(PROVENANCE_HOME=home, COLUMNS="100", NO_COLOR="1", PYTHONPATH=str(_ROOT))
        script = _script()
        subprocess.run([script, "keys", "new", "bench-0"], env=env, check=True, capture_output=True)
        for name, args, expected in COMMANDS:
            # one untimed run: the files in the page cache and, when bench.suite keeps
            # bytecode in RESULTS/pycache, this command's modules compiled there
            _median_seconds([script, *args], 1, env, expected, "warm-")
            baseline = _median_seconds([sys.executable, "-c", "pass"], runs, env)
            seconds = _median_seconds([script, *args], runs, env, expected)
            out.append(
                Figure.value_at_most(
                    f"cli cold start: {name}", seconds, "s", TARGET_SECONDS, baseline
                )
            )
    return out
