"""Containers in a scan list: a line that is an SSCC stands for every unit in it.

`expand` replaces each such line by one line per unit whose outermost container it is
(same line number, ``group`` the SSCC), read in one request per container. A container
goes whole or not at all: `refuse_groups` refuses every unit of a container one of whose
units is refused in planning, `batches` never splits a container across two appends
(so its events are appended atomically, in one batch), and `refuse_siblings` refuses
the rest of a container whose event the log refused. Used by cli.scanning; its lines
are duck-typed here (number, text, unit, group, outcome, code, message, refuse).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from cli.backends import Backend
    from ledger import gs1


class ScanLine(Protocol):
    """What this module reads and sets of a cli.scanning ``Line``."""

    number: int
    text: str
    unit: gs1.UnitId | None
    group: str | None
    outcome: Any
    code: str | None
    message: str | None

    def refuse(self, code: str, message: str) -> None:
        """Mark the line refused."""


Line = TypeVar("Line", bound=ScanLine)

#: the most units one container of a scan list may hold: one append batch
MAX_GROUP = 1000


def expand(store: Backend, lines: list[Line], make: Callable[[int, str], Line]) -> list[Line]:
    """The lines with each SSCC line replaced by its units, each made by ``make(number,
    text)`` (or refused ``not-found`` when nothing is packed in it, ``too-many`` over
    `MAX_GROUP` units)."""
    from ledger import gs1

    out: list[Line] = []
    for line in lines:
        if line.group is None or line.outcome is not None:
            out.append(line)
            continue
        inside = store.contents(line.group)
        if not inside:
            line.refuse("not-found", empty_message(line.group))
        elif len(inside) > MAX_GROUP:
            line.refuse("too-many", f"container {line.group} holds over {MAX_GROUP} units")
        if line.outcome is not None:
            out.append(line)
            continue
        for unit in inside:
            ref = f"{unit['gtin']}/{unit['serial']}"
            child = make(line.number, f"{line.text} > {ref}")
            child.group = line.group
            child.unit = gs1.UnitId(gtin=unit["gtin"], serial=unit["serial"])
            out.append(child)
    return out


def refuse_groups(lines: Sequence[Line], todo: list[Line]) -> list[Line]:
    """``todo`` without the units of a container one of whose units is refused; those
    are refused too, naming the unit that refused their container."""
    bad = {ln.group: ln for ln in lines if ln.group is not None and ln.outcome == "refused"}
    keep = []
    for line in todo:
        first = bad.get(line.group)
        if first is None:
            keep.append(line)
        else:
            line.refuse(first.code or "refused", _whole(first))
    return keep


def batches(todo: list[Line], size: int) -> list[list[Line]]:
    """``todo`` cut into batches of at most ``size`` lines (a container's at most
    `MAX_GROUP`), never splitting the consecutive lines of one container."""
    out: list[list[Line]] = []
    current: list[Line] = []
    run: list[Line] = []
    for line in [*todo, None]:
        if run and (line is None or line.group is None or line.group != run[0].group):
            if current and len(current) + len(run) > size:
                out.append(current)
                current = []
            current += run
            run = []
        if line is not None:
            run.append(line)
    if current:
        out.append(current)
    return out


def refuse_siblings(bad: ScanLine, lines: list[Line], events: list[Any]) -> None:
    """``bad`` was refused by the log: take the rest of its container out of ``lines``
    and ``events`` (the batch still to send), refused with it."""
    if bad.group is None:
        return
    for i in reversed(range(len(lines))):
        if lines[i].group == bad.group:
            lines.pop(i).refuse(bad.code or "refused", _whole(bad))
            events.pop(i)


def empty_message(sscc: str) -> str:
    """Why a container shows no units: empty, unknown, or itself inside another (its
    units' outermost container is that one)."""
    return (
        f"nothing is packed in container {sscc}, or it is inside another container "
        "(unpack that one first)"
    )


def _whole(first: ScanLine) -> str:
    return (
        f"container {first.group} is refused whole (nothing of it appended): "
        f"{first.text}: {first.message}"
    )
