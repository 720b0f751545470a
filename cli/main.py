"""The ``provenance`` command (docs/CLI.md), composed of the modules of cli/commands/:
each defines a module-level typer app, of top-level commands or of one command group.

Exit codes: 0 ok; 1 refused or verification failed; 2 usage error. Every error is one
readable line on stderr (a traceback only with ``--debug``).

Start-up stays light: the command modules import typer, rich's console and the light
core; the store (SQLAlchemy, Alembic), the HTTP client, the API and label rendering load inside
the commands that use them (``provenance --help`` loads none of them).
"""

from __future__ import annotations

import sys

import typer

from cli.commands import (
    audit,
    backup,
    cartons,
    console,
    custody,
    export,
    hammer,
    imports,
    keys,
    mint,
    monitor,
    partners,
    registry,
    retention,
    server,
    signals,
    verify,
    witness,
)
from cli.common import OPTIONS, UsageError, error_json, fail, safe
from cli.global_options import GlobalOptionsGroup
from cli.plainparams import install as plain_parameters
from ledger.errors import LedgerError

try:  # newer typer vendors click: its parser raises these, not the click package's
    from typer._click import core as click_core
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - a typer that uses the click package
    from click import core as click_core  # type: ignore[no-redef]
    from click import exceptions as click_exceptions  # type: ignore[no-redef]

plain_parameters()  # simple options coerced without pydantic (cli/plainparams.py)

app = typer.Typer(
    name="provenance",
    cls=GlobalOptionsGroup,
    help="A verifiable provenance ledger for product units: sign, append, verify, audit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: rich's help rendering costs ~80 ms of every ``--help``
    # (docs/CLI.md "Start-up"); command output still uses rich.
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    """``--version``: print ``provenance <version>`` and stop."""
    if value:
        from ledger import __version__

        typer.echo(f"provenance {__version__}")
        raise typer.Exit(0)


@app.callback()
def options(
    ctx: typer.Context,
    db: str = typer.Option(
        None, "--db", help="database URL (default: SQLite under $PROVENANCE_HOME)"
    ),
    server: str = typer.Option(
        None,
        "--server",
        envvar="PROVENANCE_SERVER",
        show_envvar=True,
        help="send to / read from a provenance server",
    ),
    json_output: bool = typer.Option(False, "--json", help="machine-readable output"),
    debug: bool = typer.Option(False, "--debug", help="show tracebacks"),
    log: str = typer.Option(
        None, "--log", help="which log of a deployment of several (default: the default log)"
    ),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        expose_value=False,
        help="print the version and exit",
    ),
) -> None:
    """Global options (before or after the command name)."""
    from_env = ctx.get_parameter_source("server") is click_core.ParameterSource.ENVIRONMENT
    # An explicit --db wins over the environment's default server.
    target = None if db and from_env else server
    if db and target:
        fail("use either --db or --server, not both", 2)
    OPTIONS.db, OPTIONS.server, OPTIONS.json, OPTIONS.debug = db, target, json_output, debug
    OPTIONS.log = log
    OPTIONS.server_from_env = bool(target) and from_env


# Top-level commands, in the order the help lists them; then the command groups.
for commands in (
    custody.app,
    cartons.app,
    partners.app,
    mint.app,
    verify.app,
    audit.app,
    witness.app,
    monitor.app,
    server.app,
    backup.app,
    hammer.app,
    signals.app,
):
    app.registered_commands.extend(commands.registered_commands)
app.add_typer(keys.app, name="keys")
# ``actor list`` is a partner's question (cli.commands.partners), asked in the actor group
registry.actor_app.command("list")(partners.actor_list)
app.add_typer(registry.actor_app, name="actor")
app.add_typer(registry.authorize_app, name="authorize")
app.add_typer(registry.product_app, name="product")
app.add_typer(export.app, name="export")
app.add_typer(imports.app, name="import")
app.add_typer(retention.app, name="retention")
app.add_typer(console.app, name="console")


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
        _error(e.code, e.message, e.field, f"error: {e.code}: {e.message}{field}")
        sys.exit(2 if isinstance(e, UsageError) else 1)
    except click_exceptions.NoArgsIsHelpError as e:
        sys.stdout.write(e.format_message() + "\n")  # a group called bare: its help
        sys.exit(2)
    except click_exceptions.UsageError as e:
        message = e.format_message()
        _error("usage", message, None, f"usage error: {message}")
        sys.exit(2)
    except click_exceptions.ClickException as e:
        _error("error", e.format_message(), None, f"error: {e.format_message()}")
        sys.exit(e.exit_code)
    except Exception as e:
        if OPTIONS.debug:
            raise
        name = type(e).__name__
        _error("internal", f"{name}: {e}", None, f"error: {name}: {e}")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _error(code: str, message: str, field: str | None, line: str) -> None:
    """Write one error line to stderr: ``line``, or with ``--json`` (also when the parse
    failed before the option was read) ``{"error": {code, message, field}}``."""
    if OPTIONS.json or "--json" in sys.argv[1:]:
        sys.stderr.write(error_json(code, message, field) + "\n")
    else:
        sys.stderr.write(safe(line, markup=False) + "\n")
