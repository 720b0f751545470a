"""Global options anywhere on the command line: ``provenance actor show X --json`` is
``provenance --json actor show X``.

Click parses a group's options only before the command name. `GlobalOptionsGroup`, the
class of the root group, moves every global option (the root group's own options,
``--db``, ``--server``, ``--json``, ``--log``, ``--debug``) that follows the command
path back in front of it before parsing, unless the command itself has an option of
that name (``audit --server``, ``hammer --json``: the command's own wins, as before).
Values of the command's own options are skipped, so ``--note --json`` stays a note.
Everything after ``--`` is left alone.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup

#: The root group's options that may also follow the command (``--help`` and
#: ``--version`` are not: after a command, ``--help`` is the command's own).
GLOBAL = ("db", "server", "json_output", "debug", "log")


class GlobalOptionsGroup(TyperGroup):
    """The root group: accepts its global options before or after the command path."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Parse ``args`` with the global options that follow the command moved before it."""
        return super().parse_args(ctx, hoist_global_options(self, ctx, list(args)))


def hoist_global_options(root: Any, ctx: Any, args: list[str]) -> list[str]:
    """``args`` with each global option (and its value) after the command path moved to
    just before the command name; anything this cannot place is left for click to judge.
    """
    wanted = {
        name: param
        for param in root.params
        if param.name in GLOBAL
        for name in (*param.opts, *param.secondary_opts)
    }
    start = _command_start(args, wanted)
    if start is None:
        return args
    hoisted: list[str] = []
    kept: list[str] = args[:start]
    command: Any = root
    i = start
    while i < len(args):
        word = args[i]
        if word == "--":
            kept.extend(args[i:])
            break
        if word.startswith("-") and len(word) > 1:
            name, attached = _option_name(word)
            own = _own_option(command, name)
            if own is not None:
                width = 1 if attached or not _takes_value(own) else 2
                kept.extend(args[i : i + width])
                i += width
                continue
            if name in wanted:
                width = 1 if attached or not _takes_value(wanted[name]) else 2
                hoisted.extend(args[i : i + width])
                i += width
                continue
            kept.append(word)
            i += 1
            continue
        if hasattr(command, "get_command"):
            sub = command.get_command(ctx, word)
            if sub is not None:
                command = sub
        kept.append(word)
        i += 1
    if not hoisted:
        return args
    return kept[:start] + hoisted + kept[start:]


def _command_start(args: list[str], wanted: dict[str, Any]) -> int | None:
    """Where the command name is: after the root options given before it (None: none)."""
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--" or not word.startswith("-") or len(word) == 1:
            return None if word == "--" else i
        name, attached = _option_name(word)
        param = wanted.get(name)
        i += 2 if param is not None and not attached and _takes_value(param) else 1
    return None


def _option_name(word: str) -> tuple[str, bool]:
    """The option a word names, and whether its value is attached (``--db=URL``, ``-oF``)."""
    if word.startswith("--"):
        name, eq, _ = word.partition("=")
        return name, bool(eq)
    return word[:2], len(word) > 2


def _own_option(command: Any, name: str) -> Any:
    """``command``'s option called ``name`` (``--help`` included), else None."""
    if name == "--help":
        return name
    for param in getattr(command, "params", ()):
        if param.param_type_name == "option" and name in (*param.opts, *param.secondary_opts):
            return param
    return None


def _takes_value(param: Any) -> bool:
    """True for an option followed by a value (not a flag, not a counter)."""
    if isinstance(param, str):
        return False
    return not (getattr(param, "is_flag", False) or getattr(param, "count", False))
