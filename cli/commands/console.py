"""``provenance console``: the brand and operator console's staff and key
(docs/CONSOLE.md).

- ``console user add ORG USER --role ROLE`` creates a staff account and prints its
  one-time password (shown once; only its argon2 hash is stored);
- ``console user list [ORG]`` lists accounts;
- ``console key delegate BRAND --as BRAND [--revoke]`` makes the brand's console key on
  the server, sealed there, and registers it in the log with the brand's own key, scoped
  to ``flag`` and ``recall`` (and ``revoke``, ending partners' authorizations, never
  granting one, with ``--revoke``).

Work on the local database only (``--db``, ``--log``): the server holds the accounts
and the console key, so these run where it runs, never through ``--server``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli.common import OPTIONS, emit, fail, key_path, load_private_key, safe

if TYPE_CHECKING:
    from cli.backends.local import Local
    from ledger.service.console import ConsoleService

app = typer.Typer(help="The brand and operator console: staff accounts, the console key.")
user_app = typer.Typer(help="Staff accounts of the console.")
key_app = typer.Typer(help="The key a brand delegates to its console.")
app.add_typer(user_app, name="user")
app.add_typer(key_app, name="key")


def _console() -> tuple[Local, ConsoleService]:
    from cli.backends.local import Local
    from ledger.service.console import ConsoleService

    if OPTIONS.server:
        fail("console commands work on a local database (--db), not through --server", 2)
    local = Local(OPTIONS.database_url, OPTIONS.log)
    return local, ConsoleService(local.ledger)


@user_app.command("add")
def user_add(
    org: str = typer.Argument(..., help="the organisation: a brand's or the operator's id"),
    username: str = typer.Argument(..., help="the new user's name (a-z, 0-9, . _ -)"),
    role: str = typer.Option(
        ..., "--role", help="brand: admin, analyst, triager; operator: admin, onboarding"
    ),
) -> None:
    """Create a staff account; print its one-time password."""
    local, console = _console()
    try:
        password = console.staff.add_user(org, username, role)
        console.staff.audit(org, "cli", "user-add", username, role)
    finally:
        local.close()
    emit(
        {"org": org, "username": username, "role": role, "password": password},
        safe(f"user {username} ({org}, {role}) created; one-time password: {password}"),
    )


@user_app.command("list")
def user_list(org: str = typer.Argument(None, help="only this organisation's")) -> None:
    """List the staff accounts (never their passwords)."""
    local, console = _console()
    try:
        users = console.staff.users(org)
    finally:
        local.close()
    emit(
        {"users": users},
        *(
            safe(f"{u['username']:<24} {u['org']:<20} {u['role']:<10} "
                 f"{'locked until ' + u['locked_until'] if u['locked_until'] else ''}")
            for u in users
        ),
    )  # fmt: skip


@key_app.command("delegate")
def key_delegate(
    brand: str = typer.Argument(..., help="the brand whose console gets the key"),
    as_: str = typer.Option(..., "--as", help="the brand itself (its own key signs)"),
    key: Path | None = typer.Option(
        None, "--key", help="key file (default: $PROVENANCE_HOME/keys/<actor>.pem)"
    ),
    revoke: bool = typer.Option(
        False, "--revoke", help="also let the console revoke partners' authorizations"
    ),
) -> None:
    """Make the console key, seal it on the server, register it scoped to flag and
    recall (and revoke, with --revoke) with the brand's own key."""
    if as_ != brand:
        fail("only the brand itself delegates its console key (--as BRAND)", 2)
    private = load_private_key(key_path(key, as_))
    local, console = _console()
    try:
        key_id = console.keys.delegate_key(brand, private, revoke=revoke)
    finally:
        local.close()
    scope = ["flag", "recall", *(["revoke"] if revoke else [])]
    emit(
        {"brand": brand, "key_id": key_id, "scope": scope},
        safe(f"console key {key_id} of {brand} registered (scope: {', '.join(scope)})"),
    )
