"""Hostile text against the terminal (issue 16): a partner signs rich markup, an OSC 8
hyperlink, raw escape sequences and bidi overrides into the fields of its events and
actor record; ``provenance verify`` and ``actor show`` print them literally, and the
``--json`` output keeps the same values without a single raw control character.

The attacker here is a registered courier with a script: every field it controls is a
weapon. The shopper or the auditor reading the table must see the brackets, never a
link or a colour the attacker chose.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import cli.common
from tests.e2e.test_cli import GTIN, PREFIX, WINDOW, Cli, clean_env

U1 = f"{GTIN}/SN-000001"
LINK = "[link=https://evil.example]click[/link]"
#: the log refuses C0 controls in text (ledger.events), so ESC and BEL come from a
#: hostile server (test_a_hostile_server_s_escape_sequences_are_stripped); 8-bit C1
#: controls and bidi overrides pass the log's validation and are signed into it
PLACE = LINK + "\x1b]8;;https://evil.example\x07x"
SIGNED_PLACE = LINK + "\x9d8;;https://evil.example\x9cx"
MARKUP = "[bold red]GENUINE[/] \u202egnp.exe\u202c \x9b31m"
#: rule set 2 refuses names holding characters that show nothing (bidi overrides, C1
#: controls: `name-hidden-characters`), so the courier's name carries markup alone
NAME = "[bold red]GENUINE[/] gnp.exe " + LINK
#: what a terminal obeys: C0 (ESC, BEL...), DEL, C1 (8-bit CSI and OSC), bidi controls
UNSHOWABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's console as built in cli.common, wide enough that no cell wraps (its width
    is fixed when first imported, whatever COLUMNS a test sets later)."""
    wide = Console(stderr=False, highlight=False, emoji=False, width=300)
    monkeypatch.setattr(cli.common, "console", wide)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """A local log where courier ``swift`` signed hostile text into a unit's chain."""
    tmp = tmp_path_factory.mktemp("hostile")
    env = clean_env(PROVENANCE_HOME=str(tmp / "home"))
    cli = Cli(env, tmp, ["--db", f"sqlite:///{tmp / 'ledger.db'}"])
    cli("init", schema="init")
    public = {}
    for actor in ("acme", "swift"):
        cli("keys", "new", actor)
        public[actor] = cli("keys", "export", actor).stdout.strip()
    cli.sh(f"actor register acme --role brand --name Acme --prefix {PREFIX} "
           f"--public-key {public['acme']}")  # fmt: skip
    register = shlex.split(
        f"actor register swift --role courier --public-key {public['swift']} --as operator"
    )
    cli(*register, "--name", MARKUP, code=1, error="show nothing: U+202E, U+202C, U+009B")
    cli(*register, "--name", NAME)
    cli.sh(f"product register {GTIN} --name 'Runner 42' --as acme")
    cli.sh(f"authorize grant swift --role courier --prefix {PREFIX} {WINDOW} --as acme")
    cli.sh(f"mint {GTIN} --count 1 --out labels --as acme")
    cli("handoff", U1, "--to", "swift", "--place", "Dongguan", "--as", "acme")
    cli("receive", U1, "--place", SIGNED_PLACE, "--as", "swift")
    cli("handoff", U1, "--to", "acme", "--place", MARKUP, "--as", "swift")
    return cli


def test_a_hostile_place_is_printed_literally(hostile: Cli) -> None:
    out = hostile("verify", U1).stdout
    assert "\x1b" not in out and "\x07" not in out  # no escape sequence at all
    assert not UNSHOWABLE.search(out), repr(out)
    assert LINK + "8;;https://evil.examplex" in out  # brackets visible, controls gone
    assert "[bold red]GENUINE[/] gnp.exe 31m" in out


def _tamper(monkeypatch: pytest.MonkeyPatch, change: Any) -> None:
    """Make ``verify``'s backend answer like a hostile server: ``change`` edits the
    served entry of the unit's receive (index 7)."""
    import cli.commands.verify as verify_command

    real = verify_command.connect

    def tampering() -> Any:
        store = real()
        honest = store.unit

        def unit(*args: Any) -> Any:
            view = honest(*args)
            change(view["entries"][-2])
            return view

        store.unit = unit  # type: ignore[method-assign]
        return store

    monkeypatch.setattr(verify_command, "connect", tampering)


def test_a_server_s_copy_of_an_event_is_not_what_is_shown(
    hostile: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server serves honest leaves beside a forged ``event`` copy (raw ESC and BEL, an
    OSC 8 link): the verdict stands and the table shows the signed leaf's place."""
    _tamper(monkeypatch, lambda e: e["event"].update(place=PLACE))
    out = hostile("verify", U1).stdout
    assert "GENUINE" in out
    assert "\x1b" not in out and "\x07" not in out, repr(out)
    assert LINK + "8;;https://evil.examplex" in out  # the signed place, not the served one


def test_a_hostile_server_s_escape_sequences_are_stripped(
    hostile: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server answers a garbled leaf and an ``event`` whose place carries raw ESC and
    BEL: the verdict is ``invalid`` and the table shows the text inert."""

    def garble(e: dict[str, Any]) -> None:
        e["leaf"] = "AAAA"
        e["event"]["place"] = PLACE

    _tamper(monkeypatch, garble)
    out = hostile("verify", U1, code=1).stdout
    assert "INVALID" in out
    assert "\x1b" not in out and "\x07" not in out, repr(out)
    assert LINK + "]8;;https://evil.examplex" in out


def test_on_a_real_terminal_no_link_and_no_foreign_style(
    hostile: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With colours and hyperlinks on (a terminal), rich's own styles only: no OSC 8."""
    terminal = Console(force_terminal=True, color_system="truecolor", width=300,
                       highlight=False, emoji=False)  # fmt: skip
    monkeypatch.setattr(cli.common, "console", terminal)
    env = {k: v for k, v in hostile.env.items() if k != "NO_COLOR"}
    out = Cli(env, hostile.cwd, hostile.target)("verify", U1).stdout
    assert "\x1b[" in out  # the terminal did get rich's colours (the verdict)
    assert "\x1b]" not in out and "\x07" not in out and "\x9b" not in out  # no OSC, no link
    plain = re.sub("\x1b\\[[0-9;]*m", "", out)  # rich's own SGR colours, and nothing else
    assert "\x1b" not in plain
    assert LINK in plain and "[bold red]GENUINE[/]" in plain
    red = "\x1b[1;31m"  # the attacker's "[bold red]" did not colour its own text
    assert red + "GENUINE" not in out


def test_a_hostile_actor_name_is_printed_literally(hostile: Cli) -> None:
    out = hostile("actor", "show", "swift").stdout
    assert not UNSHOWABLE.search(out), repr(out)
    assert "[bold red]GENUINE[/]" in out and LINK in out


def test_json_keeps_the_values_without_raw_controls(hostile: Cli) -> None:
    done = hostile("--json", "actor", "show", "swift")
    assert not UNSHOWABLE.search(done.stdout), repr(done.stdout)
    assert json.loads(done.stdout)["name"] == NAME
    verified = hostile("--json", "verify", U1).stdout
    assert not UNSHOWABLE.search(verified), repr(verified)
    report = json.loads(verified)
    assert report["entries"][-1]["kind"] == "handoff"


def test_a_hostile_error_message_is_one_plain_line(tmp_path: Path) -> None:
    """An error line quoting hostile input (here a unit reference) obeys nothing."""
    bare = Cli(clean_env(PROVENANCE_HOME=str(tmp_path / "home")), tmp_path, [])
    done = bare("verify", f"{GTIN}/SN-1\x1b]8;;https://evil.example\x07[link=x]y", code=1)
    assert not UNSHOWABLE.search(done.stderr) and len(done.stderr.splitlines()) == 1
