"""The ``provenance`` command: one sub-app per role's work (docs/CLI.md).

Exit codes: 0 ok; 1 refused or verification failed; 2 usage error. Every error is one
readable line on stderr (a traceback only with ``--debug``).
"""

from __future__ import annotations

import sys

import typer

from cli import (
    commands_audit,
    commands_custody,
    commands_epcis,
    commands_export,
    commands_inspect,
    commands_keys,
    commands_registry,
    commands_server,
    commands_signals,
    commands_witness,
    hammer,
)
from cli.common import OPTIONS, UsageError, fail
from ledger.errors import LedgerError

try:  # newer typer vendors click: its parser raises these, not the click package's
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - a typer that uses the click package
    from click import exceptions as click_exceptions  # type: ignore[no-redef]

app = typer.Typer(
    name="provenance",
    help="A verifiable provenance ledger for product units: sign, append, verify, audit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def options(
    db: str = typer.Option(
        None, "--db", help="database URL (default: SQLite under $PROVENANCE_HOME)"
    ),
    server: str = typer.Option(None, "--server", help="send to / read from a provenance server"),
    json_output: bool = typer.Option(False, "--json", help="machine-readable output"),
    debug: bool = typer.Option(False, "--debug", help="show tracebacks"),
    log: str = typer.Option(
        None, "--log", help="which log of a deployment of several (default: the default log)"
    ),
) -> None:
    """Global options."""
    if db and server:
        fail("use either --db or --server, not both", 2)
    OPTIONS.db, OPTIONS.server, OPTIONS.json, OPTIONS.debug = db, server, json_output, debug
    OPTIONS.log = log


commands_keys.install(app)
commands_registry.install(app)
commands_custody.install(app)
commands_inspect.install(app)
commands_audit.install(app)
commands_export.install(app)
commands_witness.install(app)
commands_server.install(app)
commands_epcis.install(app)
hammer.install(app)
commands_signals.install(app)


def main() -> None:
    """Console-script entry point: run the app, turn errors into one line and an exit code."""
    try:
        # Not standalone: click returns the code of ``typer.Exit`` instead of exiting, and
        # raises its usage errors for us to print as one line.
        code = app(standalone_mode=False, prog_name="provenance")
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("aborted\n")
        sys.exit(1)
    except LedgerError as e:
        if OPTIONS.debug:
            raise
        field = f" ({e.field})" if e.field else ""
        sys.stderr.write(f"error: {e.code}: {e.message}{field}\n")
        sys.exit(2 if isinstance(e, UsageError) else 1)
    except click_exceptions.NoArgsIsHelpError:
        sys.exit(2)  # the help is already printed
    except click_exceptions.UsageError as e:
        sys.stderr.write(f"usage error: {e.format_message()}\n")
        sys.exit(2)
    except click_exceptions.ClickException as e:
        sys.stderr.write(f"error: {e.format_message()}\n")
        sys.exit(e.exit_code)
    except Exception as e:
        if OPTIONS.debug:
            raise
        sys.stderr.write(f"error: {type(e).__name__}: {e}\n")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
