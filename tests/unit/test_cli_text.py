"""The CLI's one rule for untrusted text (``cli.common.safe``) and the claim code's way
in (``cli.commands.signals.read_code``): hidden prompt on a terminal, stdin otherwise."""

from __future__ import annotations

import io
import json
import sys

import pytest
from rich.console import Console

from cli.common import UsageError, safe


@pytest.mark.parametrize(
    ("hostile", "shown"),
    [
        ("[link=https://evil.example]click[/link]", "[link=https://evil.example]click[/link]"),
        ("[bold red]GENUINE[/]", "[bold red]GENUINE[/]"),
        ("a\x1b]8;;https://evil.example\x07b", "a]8;;https://evil.exampleb"),
        ("a\x1b[31mb\x1b[0m", "a[31mb[0m"),
        ("\x9b31m\x9d8;;x\x9c", "31m8;;x"),  # 8-bit CSI, OSC, ST
        ("\u202egnp.exe\u202c \u2066x\u2069 \u200f\u061c", "gnp.exe x "),
        ("line\nfake line\r\tx\x7f", "linefake linex"),
        (":warning: C:\\path\\x", ":warning: C:\\path\\x"),
        ("上海 Nanjing Road", "上海 Nanjing Road"),
    ],
)
def test_safe_text_prints_literally(hostile: str, shown: str) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200, highlight=False, emoji=False)
    console.print(safe(hostile), soft_wrap=True)
    assert out.getvalue() == shown + "\n"  # no escape sequence, not even a style
    assert safe(hostile, markup=False) == shown.replace("\\[", "[")


def test_json_output_escapes_c1_and_bidi_but_keeps_the_value(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli import common

    monkeypatch.setattr(common.OPTIONS, "json", True)
    value = {"place": "\x1b]8;;x\x07 \x9b31m \u202egnp\u202c 上海"}
    common.emit(value)
    out = capsys.readouterr().out
    assert not any(c in out for c in "\x1b\x07\x9b\u202e\u202c")
    assert json.loads(out) == value and "上海" in out


def test_the_claim_code_is_asked_for_without_echo_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import getpass

    from cli.commands.signals import read_code

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    asked: list[str] = []
    monkeypatch.setattr(sys, "stdin", Terminal("never read\n"))
    monkeypatch.setattr(getpass, "getpass", lambda prompt: asked.append(prompt) or " K3QF \n")
    assert read_code() == "K3QF" and asked == ["claim code: "]


def test_the_claim_code_is_read_from_a_pipe_or_refused_when_empty(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cli.commands.signals import read_code

    monkeypatch.setattr(sys, "stdin", io.StringIO("K3QF-7XZP\nsecond line\n"))
    assert read_code() == "K3QF-7XZP"
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(UsageError, match="no claim code"):
        read_code()
