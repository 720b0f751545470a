"""``provenance console``: after the demo (which prints its two console logins), a
brand admin adds a triager whose one-time password signs in; bad roles, unknown
organisations and taken names are one readable line and exit 1; the key delegation
is the brand's own act; nothing of it works through --server."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.service.console import ConsoleService
from tests.e2e.test_cli import Cli, clean_env


def test_console_user_add_and_the_demo_logins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = clean_env(PROVENANCE_HOME=str(tmp_path / "unused-home"))
    data = Cli(env, tmp_path, [])("demo", "--no-serve", "--port", "8124", schema="demo")
    assert [c["user"] for c in data["console"]] == ["acme-admin", "operator-admin"]
    assert all(c["url"] == "http://127.0.0.1:8124/console/" for c in data["console"])

    home = tmp_path / "provenance-demo"
    env = clean_env(
        PROVENANCE_HOME=str(home),
        DATABASE_URL=f"sqlite:///{home / 'ledger.db'}",
        PROVENANCE_ORIGIN="127.0.0.1:8124/log",
    )
    cli = Cli(env, tmp_path, [])
    added = cli("console", "user", "add", "acme", "acme-triager", "--role", "triager")
    line = added.stdout.strip()
    assert line.startswith("user acme-triager (acme, triager) created; one-time password: ")
    password = line.rsplit(" ", 1)[1]
    cli("console", "user", "add", "acme", "acme-x", "--role", "onboarding", code=1,
        error="a brand's roles are admin, analyst, triager")  # fmt: skip
    cli("console", "user", "add", "nobody", "x-1", "--role", "admin", code=1,
        error="is not a registered brand or operator")  # fmt: skip
    cli("console", "user", "add", "acme", "acme-triager", "--role", "admin", code=1)
    cli("console", "key", "delegate", "acme", "--as", "operator", code=2,
        error="only the brand itself")  # fmt: skip
    delegated = cli("console", "key", "delegate", "acme", "--as", "acme", "--revoke").stdout
    assert "(scope: flag, recall, revoke)" in delegated  # the console may revoke partners
    cli("--server", "http://127.0.0.1:9", "console", "user", "list", code=2,
        error="not through --server")  # fmt: skip
    listed = cli("console", "user", "list", "acme").stdout
    assert "acme-admin" in listed and "acme-triager" in listed and password not in listed

    from cli.backends.local import Local

    monkeypatch.setenv("PROVENANCE_HOME", str(home))
    monkeypatch.setenv("PROVENANCE_ORIGIN", "127.0.0.1:8124/log")
    local = Local(f"sqlite:///{home / 'ledger.db'}")
    try:
        staff, _ = ConsoleService(local.ledger).staff.login("acme-triager", password)
        assert (staff.org, staff.role) == ("acme", "triager")
        assert ConsoleService(local.ledger).keys.key_id("acme") is not None  # the demo's key
    finally:
        local.close()
