"""Run the ``provenance`` CLI inside the test process, as the console script would run it.

A new Python process per command costs about a second of start-up (more on a busy
machine); most CLI tests only need what the command prints and its exit code. This runs
``cli.main.main`` — the console script's own entry point, so usage errors, refusals and
unexpected exceptions become the same one line and exit code as in a subprocess — with
its own argv, environment, working folder and standard streams, and returns what
``subprocess.run(..., capture_output=True, text=True)`` would.

What it cannot show is start-up itself (the import cost, ``python -m cli``, a shell's exit
status): the tests marked for that keep a real subprocess (tests/e2e/test_cli.py).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` is exactly ``env`` inside, restored after (same object: modules that
    hold a reference to it, e.g. rich's consoles, see the change)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _process_state(argv: list[str], cwd: Path | None, stdin: str) -> Iterator[None]:
    """argv, working folder, stdin and the CLI's global options as a fresh process has
    them; restored after."""
    import cli.main

    options = getattr(cli.main, "OPTIONS", None)  # the global options the callback sets
    saved_options = dict(vars(options)) if options is not None else None
    saved_argv, saved_stdin, saved_cwd = sys.argv, sys.stdin, os.getcwd()
    sys.argv, sys.stdin = argv, io.StringIO(stdin)
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        sys.argv, sys.stdin = saved_argv, saved_stdin
        if options is not None and saved_options is not None:
            vars(options).clear()
            vars(options).update(saved_options)


def run_cli(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str = "",
) -> subprocess.CompletedProcess[str]:
    """Run ``provenance ARGS`` in this process; return its exit code, stdout and stderr.

    ``env`` (default: this process's) replaces the environment for the run. An exception
    that escapes ``main`` (only with ``--debug``) is printed as a traceback on stderr
    with exit code 1, as Python would.
    """
    import cli.main

    out, err = io.StringIO(), io.StringIO()
    argv = ["provenance", *args]
    code: Any = 0
    with (
        _environment(dict(os.environ) if env is None else env),
        _process_state(argv, cwd, stdin),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            returned = cli.main.main()
            code = returned if isinstance(returned, int) else 0  # a main that returns
        except SystemExit as e:
            code = e.code
        except Exception:
            traceback.print_exc()  # as a subprocess would, exit 1
            code = 1
    if code is None:
        code = 0
    elif not isinstance(code, int):
        err.write(f"{code}\n")
        code = 1
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())
