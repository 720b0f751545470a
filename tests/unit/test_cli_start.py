"""The ``provenance`` command line's start-up and global options (docs/CLI.md).

- importing ``cli.main`` and running ``--help`` / ``--version`` load neither the store
  (SQLAlchemy, Alembic) nor the API (FastAPI, Starlette, uvicorn) nor httpx or label
  rendering, nor pydantic (cli/plainparams.py) nor rich's help rendering;
- ``--version`` prints ``provenance <ledger.__version__>``;
- the global options work after the command name too, also in nested groups, while a
  command's own option of the same name (``audit --server``, ``hammer --json``) and
  option values that look like options stay where they are;
- ``PROVENANCE_SERVER`` is the default of ``--server`` (an explicit ``--db`` wins).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

import ledger
from cli import main as cli_main
from cli.common import OPTIONS
from cli.global_options import hoist_global_options

ROOT = Path(__file__).resolve().parents[2]
HEAVY = (
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "jinja2",
    "reportlab",
    "qrcode",
    "PIL",
    "httpx",
    "ledger.store",
    "api",
    "pydantic",
    "typer.rich_utils",
    # the rules and the event classes (~0.1 s of imports) load with the commands that
    # read events, never with `provenance --help`
    "ledger.rules",
    "ledger.events",
)


def env(**extra: str) -> dict[str, str]:
    """This environment without provenance settings, plus ``extra``."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PROVENANCE_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    return {**clean, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "NO_COLOR": "1", **extra}


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    """``provenance ARGS`` in this process through ``cli.main.main``: (code, out, err)."""
    monkeypatch.setattr(sys, "argv", ["provenance", *args])
    with pytest.raises(SystemExit) as done:
        cli_main.main()
    captured = capsys.readouterr()
    return done.value.code, captured.out, captured.err


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``PROVENANCE_HOME`` and no provenance setting from the environment."""
    for name in list(os.environ):
        if name.startswith("PROVENANCE_") or name in ("DATABASE_URL", "REDIS_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PROVENANCE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path / "home"


@pytest.mark.parametrize(
    "code",
    [
        "import cli.main",
        "import sys; sys.argv = ['provenance', '--help']; import cli.main; cli.main.main()",
        "import sys; sys.argv = ['provenance', '--version']; import cli.main; cli.main.main()",
        "import sys; sys.argv = ['provenance', 'keys', '--help']; import cli.main; cli.main.main()",
    ],
)
def test_start_up_loads_no_store_api_or_http(code: str) -> None:
    probe = (
        "import atexit, sys\n"
        f"heavy = {HEAVY!r}\n"
        "def report():\n"
        "    loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy)\n"
        "    sys.__stderr__.write('LOADED ' + ','.join(loaded) + '\\n')\n"
        "atexit.register(report)\n" + code.replace("; ", "\n")
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env(), capture_output=True, text=True, timeout=60
    )
    loaded = [line for line in done.stderr.splitlines() if line.startswith("LOADED ")]
    assert loaded == ["LOADED "], done.stderr


#: what a command that reads no events must not load: the event classes, the rules, the
#: verifiers, the service's settings of a log (ledger.service.config and its routing)
EVENTS = ("ledger.events", "ledger.rules", "ledger.routing", "ledger.service.config")
VERIFIER = ("ledger.verify.unitview", "ledger.verify.unitproof", "ledger.note", "cryptography")


def _loaded(args: list[str], home: Path, expected: int) -> set[str]:
    """The modules ``provenance ARGS`` loaded, in a fresh process (exit code checked)."""
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.__stderr__.write('LOADED ' + ','.join(sys.modules) + '\\n'))\n"
        f"sys.argv = ['provenance', *{args!r}]\n"
        "import cli.main\n"
        "cli.main.main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=env(PROVENANCE_HOME=str(home)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == expected, done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("LOADED ")]
    return set(line.removeprefix("LOADED ").split(","))


def _under(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


def test_keys_show_and_a_refused_verify_load_no_events_rules_or_verifier(tmp_path: Path) -> None:
    home = tmp_path / "home"
    created = _loaded(["keys", "new", "acme"], home, 0)
    assert "ledger.crypto" in created  # the probe sees what a command loads
    assert not _under(created, EVENTS + HEAVY)
    assert not _under(_loaded(["keys", "show", "acme"], home, 0), EVENTS + HEAVY)
    # an unreachable server is said before the verifier loads (it loads with the view)
    refused = ["--server", "http://127.0.0.1:9", "verify", "09506000134352/SN-1"]
    loaded = _loaded(refused, home, 1)
    assert "cli.backends.remote" in loaded
    assert not _under(loaded, EVENTS + VERIFIER + HEAVY)
    # a bad --max-age is refused before any connection, still with nothing heavy loaded
    bad_age = [*refused, "--max-age", "ten minutes"]
    assert not _under(_loaded(bad_age, home, 1), EVENTS + VERIFIER + HEAVY)


def test_help_under_importtime_shows_no_store() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cli", "--help"],
        env=env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    modules = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "cli.main" in modules
    assert not {m.split(".")[0] for m in modules} & {"sqlalchemy", "alembic", "fastapi"}


def test_version(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(monkeypatch, capsys, "--version")
    assert (code, out) == (0, f"provenance {ledger.__version__}\n")


def test_global_options_after_the_command(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(monkeypatch, capsys, "keys", "new", "acme", "--json")
    assert code == 0, err
    created = json.loads(out)
    code, out, _ = run(monkeypatch, capsys, "keys", "show", "--json", "acme")
    assert (code, json.loads(out)) == (0, created)
    code, out, _ = run(monkeypatch, capsys, "--json", "keys", "export", "acme")
    assert json.loads(out)["key_id"] == created["key_id"]
    code, _, err = run(monkeypatch, capsys, "keys", "show", "acme", "--json", "--debug")
    assert code == 0, err
    assert OPTIONS.debug


def test_db_and_json_after_the_command_on_a_database(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{home.parent / 'other.db'}"
    code, out, err = run(monkeypatch, capsys, "init", "--json", "--db", url)
    assert code == 0, err
    assert json.loads(out)["database"] == url
    code, out, err = run(monkeypatch, capsys, "actor", "show", "operator", f"--db={url}", "--json")
    assert code == 0, err
    assert json.loads(out)["role"] == "operator"
    code, _, err = run(
        monkeypatch, capsys, "actor", "show", "operator", "--db", url, "--server", "http://x"
    )
    assert code == 2
    assert "either --db or --server" in err


def test_provenance_server_is_the_default_server(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROVENANCE_SERVER", "http://127.0.0.1:1")
    code, _, err = run(monkeypatch, capsys, "verify", "09506000134352/SN-000001")
    assert code == 1
    assert err.startswith("error: unreachable: cannot reach http://127.0.0.1:1")
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(monkeypatch, capsys, "init", "--json")
    assert code == 2  # init works on a database only, and the environment names a server
    url = f"sqlite:///{home.parent / 'explicit.db'}"
    code, out, err = run(monkeypatch, capsys, "--db", url, "init", "--json")
    assert code == 0, err  # an explicit --db wins over the environment's server
    assert json.loads(out)["database"] == url


def test_usage_errors_keep_exit_2(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(monkeypatch, capsys, "keys", "show", "acme", "--bogus")
    assert code == 2
    assert err.startswith("usage error: ")
    code, _, err = run(monkeypatch, capsys, "keys", "show", "acme", "--db")
    assert code == 2
    assert err.startswith("usage error: ")


def _root() -> typer.core.TyperGroup:
    return typer.main.get_command(cli_main.app)  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["actor", "show", "x", "--json"], ["--json", "actor", "show", "x"]),
        (
            ["--db", "D", "actor", "show", "--json", "x"],
            ["--db", "D", "--json", "actor", "show", "x"],
        ),
        (
            ["import", "epcis", "f.json", "--server", "S", "--as", "a"],
            ["--server", "S", "import", "epcis", "f.json", "--as", "a"],
        ),
        (["export", "--log=L", "epcis"], ["--log=L", "export", "epcis"]),
        (["verify", "x", "--log", "L", "--debug"], ["--log", "L", "--debug", "verify", "x"]),
        # a command's own option of the same name stays the command's
        (["audit", "--server", "S", "--log", "L"], ["audit", "--server", "S", "--log", "L"]),
        (
            ["hammer", "--seconds", "1", "--db", "D", "--json"],
            ["hammer", "--seconds", "1", "--db", "D", "--json"],
        ),
        # option values that look like options, and everything after --, stay
        (["alerts", "acme", "--note", "--json"], ["alerts", "acme", "--note", "--json"]),
        (["export", "bundle", "-o", "--json"], ["export", "bundle", "-o", "--json"]),
        (["keys", "show", "--", "--json"], ["keys", "show", "--", "--json"]),
        (["--json"], ["--json"]),
        ([], []),
    ],
)
def test_where_global_options_go(args: list[str], expected: list[str]) -> None:
    root = _root()
    ctx = root.context_class(root)
    assert hoist_global_options(root, ctx, list(args)) == expected


def test_both_backends_implement_the_whole_protocol() -> None:
    import inspect

    from cli.backends.base import Backend
    from cli.backends.local import Local
    from cli.backends.remote import Remote

    wanted = {
        name: inspect.signature(member)
        for name, member in vars(Backend).items()
        if callable(member) and not name.startswith("_")
    }
    assert {"append", "unit", "head", "audit", "capture_epcis", "resolve_report"} <= set(wanted)
    for backend in (Local, Remote):
        for name, signature in wanted.items():
            assert inspect.signature(getattr(backend, name)) == signature, (backend, name)
