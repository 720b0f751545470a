"""cli/plainparams.py: the CLI's simple options converted without pydantic, as typer would.

Differential: for text drawn from what people type (digits, signs, spaces, dots,
underscores, letters, other scripts' digits), the plain conversion accepts exactly what
typer's own pydantic adapter accepts and gives the same value; the one deliberate
difference is that ``nan`` and ``inf`` are refused as numbers. Then through a real typer
command: a refused value is a usage error naming the option, ranges hold, and lists and
paths arrive as typer would give them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer._adapters import try_build_adapter
from typer.models import OptionInfo
from typer.testing import CliRunner

from cli import plainparams
from tests.profiles import examples

plainparams.install()

TYPED = st.text(alphabet="0123456789+-_. eE٣xabTtrueYyNnofFl", max_size=8)


def _typer_says(annotation: Any, text: str) -> tuple[bool, Any]:
    adapter = try_build_adapter(annotation, OptionInfo())
    assert adapter is not None
    try:
        return True, adapter.validate_python(text)
    except Exception:
        return False, None


def _plain_says(annotation: Any, text: str) -> tuple[bool, Any]:
    try:
        return True, plainparams._LEAVES[annotation](text)
    except ValueError:
        return False, None


@settings(max_examples=examples(300), deadline=None)
@given(text=TYPED, annotation=st.sampled_from([int, float, bool, str]))
def test_plain_accepts_what_typer_accepts(text: str, annotation: Any) -> None:
    typer_ok, typer_value = _typer_says(annotation, text)
    plain_ok, plain_value = _plain_says(annotation, text)
    if annotation is float and typer_ok and not math.isfinite(typer_value):
        assert not plain_ok  # the deliberate difference
        return
    assert (plain_ok, plain_value) == (typer_ok, typer_value)
    if plain_ok:
        assert type(plain_value) is type(typer_value)


app = typer.Typer()


@app.command()
def probe(
    count: int = typer.Option(1, "--count", min=1, max=10),
    ratio: float = typer.Option(0.5, "--ratio"),
    name: str = typer.Option("x", "--name"),
    flag: bool = typer.Option(False, "--flag"),
    tags: list[str] = typer.Option([], "--tag"),
    sizes: list[int] = typer.Option([], "--size"),
    out: Path = typer.Option(Path("o"), "--out"),
) -> None:
    """Print what arrived."""
    typer.echo(repr((count, ratio, name, flag, tags, sizes, out)))


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_values_arrive_as_typer_gives_them() -> None:
    done = _run(
        "--count",
        "3",
        "--ratio",
        "1e-1",
        "--name",
        "a b",
        "--flag",
        "--tag",
        "t1",
        "--tag",
        "t2",
        "--size",
        "4",
        "--size",
        "5",
        "--out",
        "d/f.txt",
    )
    assert done.exit_code == 0, done.output
    assert done.output.strip() == repr((3, 0.1, "a b", True, ["t1", "t2"], [4, 5], Path("d/f.txt")))
    assert _run().output.strip() == repr((1, 0.5, "x", False, [], [], Path("o")))


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--count", "ten"), ("--count", "not a valid integer")),
        (("--count", "0"), ("--count", "not in the range")),
        (("--count", "11"), ("--count", "not in the range")),
        (("--ratio", "nan"), ("--ratio", "finite")),
        (("--size", "1", "--size", "x"), ("--size", "not a valid integer")),
    ],
)
def test_refused_values_are_usage_errors(args: tuple[str, ...], words: tuple[str, ...]) -> None:
    done = _run(*args)
    assert done.exit_code == 2
    for word in words:
        assert word in done.output


def test_parameters_get_the_plain_coercion() -> None:
    command = typer.main.get_command(app)
    for param in command.params:
        runtime = param.get_runtime_param()  # type: ignore[attr-defined]
        assert isinstance(runtime, plainparams.PlainRuntimeParam), param.name
