"""Plain coercion for the command line's simple parameters: a start-up without pydantic.

typer (0.29 and later) coerces every parameter through a pydantic ``TypeAdapter`` built
when the parameter is first processed; the root group's global options are processed on
every call, so every call, ``provenance keys --help`` included, imported pydantic and
built five adapters (~90 ms of a 300 ms start-up budget, docs/CLI.md "Start-up").

`install` gives each parameter whose annotation is ``str``, ``bool``, ``int``, ``float``
or ``Path`` (or a list of one of these) a coercion that does the same conversions
without pydantic: the same values are accepted and refused, with a one-line
``BadParameter`` for a refusal. Parameters with a custom parser, a click type, clamping,
choices or dates keep typer's own coercion. A typer without this machinery (older
releases coerce with click's types) is left alone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

try:  # typer's runtime coercion layer (0.29 and later); absent from older releases
    from typer._coercion import RuntimeParam
    from typer._param_types import coerce_cli_path
    from typer.core import _TyperParameter
except ImportError:  # pragma: no cover - an older typer coerces with click's types
    RuntimeParam = None  # type: ignore[assignment,misc]

try:
    from typer._click.exceptions import BadParameter
except ImportError:  # pragma: no cover - a typer that uses the click package
    from click.exceptions import BadParameter  # type: ignore[assignment,no-redef]

# What pydantic's lax int accepts from text: ASCII digits, "_" between them, and a zero
# fraction ("10.0"); other Unicode digits are refused, as pydantic refuses them.
_INT = re.compile(r"[+-]?[0-9](?:_?[0-9])*(?:\.0*)?", re.ASCII)
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"", "0", "false", "f", "no", "n", "off"})


def _as_str(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    word = str(value).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"{value!r} is not a valid boolean (true/false, yes/no, 1/0)")


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    if not _INT.fullmatch(text):
        raise ValueError(f"{value!r} is not a valid integer")
    return int(text.split(".")[0])


def _as_float(value: Any) -> float:
    # Stricter than pydantic on one point: "nan" and "inf" are refused (no option wants them).
    text = str(value).strip()
    if not isinstance(value, int | float) and not text.isascii():
        # float() reads other scripts' digits ("٣"); the parser it stands in for does not
        raise ValueError(f"{value!r} is not a valid number")
    try:
        number = float(text) if not isinstance(value, int | float) else value
    except ValueError:
        raise ValueError(f"{value!r} is not a valid number") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return float(number)


_LEAVES: dict[Any, Callable[[Any], Any]] = {
    str: _as_str,
    bool: _as_bool,
    int: _as_int,
    float: _as_float,
}


def _leaf(annotation: Any, info: Any) -> Callable[[Any], Any] | None:
    """The plain conversion of one value of ``annotation``, or None to keep typer's."""
    if annotation in _LEAVES:
        convert = _LEAVES[annotation]
        if annotation in (int, float) and (info.min is not None or info.max is not None):
            return _ranged(convert, info.min, info.max)
        return convert
    if isinstance(annotation, type) and issubclass(annotation, Path):

        def as_path(value: Any) -> Any:
            return coerce_cli_path(annotation(value), info, path_type=annotation)

        return as_path
    return None


def _ranged(
    convert: Callable[[Any], Any], low: float | None, high: float | None
) -> Callable[[Any], Any]:
    def within(value: Any) -> Any:
        number = convert(value)
        if (low is not None and number < low) or (high is not None and number > high):
            low_text = "-inf" if low is None else low
            high_text = "inf" if high is None else high
            raise ValueError(f"{number} is not in the range {low_text} to {high_text}")
        return number

    return within


def _conversion(descriptor: Any) -> Callable[[Any], Any] | None:
    """The whole value's conversion for a parameter, or None to keep typer's."""
    info = descriptor.parameter_info
    if descriptor.file_annotation is not None or info.parser is not None or info.clamp:
        return None
    if getattr(info, "click_type", None) is not None:
        return None
    annotation = descriptor.annotation
    if get_origin(annotation) is list:
        (item,) = get_args(annotation) or (str,)
        one = _leaf(item, info)
        if one is None:
            return None

        def each(value: Any) -> list[Any]:
            values = value if isinstance(value, list | tuple) else [value]
            return [one(v) for v in values]

        return each
    return _leaf(annotation, info)


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class PlainRuntimeParam(RuntimeParam):
        """typer's runtime coercion contract, fulfilled without pydantic."""

        convert: Callable[[Any], Any]

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return self.convert(value)
            except ValueError as e:
                raise BadParameter(str(e), ctx=ctx, param=param) from None


def install() -> None:
    """Make every typer parameter try plain coercion before building a pydantic adapter.

    Idempotent. typer builds a parameter's coercion lazily, when the parameter is first
    processed (help options are even created lazily, per command), so the hook sits in
    that one lazy step rather than in a walk over the command tree: a parameter this
    module knows gets `PlainRuntimeParam`, any other keeps typer's.
    """
    if RuntimeParam is None or getattr(_TyperParameter, "_plain_installed", False):
        return  # pragma: no cover - older typer, or already installed
    typer_coercion = _TyperParameter.get_runtime_param

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            descriptor = self.type_descriptor
            convert = _conversion(descriptor)
            if convert is not None:
                self._runtime_param = PlainRuntimeParam(
                    parameter_info=descriptor.parameter_info,
                    annotation=descriptor.annotation,
                    convert=convert,
                )
        return typer_coercion(self)

    _TyperParameter.get_runtime_param = get_runtime_param  # type: ignore[method-assign]
    _TyperParameter._plain_installed = True  # type: ignore[attr-defined]
