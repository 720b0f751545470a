"""Containers in scan lists (cli.scangroups): a container's units are never split
across two append batches, and one refused unit refuses the rest of its container."""

from __future__ import annotations

from cli import scangroups
from cli.scanning import Line, parse_lines

GTIN = "09506000134352"
BOX, PALLET = "095060000000000015", "095060000000000022"


def _lines(groups: list[str | None]) -> list[Line]:
    out = []
    for n, group in enumerate(groups):
        line = Line(n, f"{GTIN}/U-{n}")
        line.group = group
        out.append(line)
    return out


def test_batches_never_split_a_container() -> None:
    lines = _lines([None, BOX, BOX, BOX, None, PALLET, PALLET])
    batches = scangroups.batches(lines, 3)
    assert [[ln.number for ln in b] for b in batches] == [[0], [1, 2, 3], [4, 5, 6]]
    assert sum(len(b) for b in batches) == len(lines)
    loose = _lines([None] * 7)
    assert [len(b) for b in scangroups.batches(loose, 3)] == [3, 3, 1]


def test_one_refused_unit_refuses_its_container_and_nothing_else() -> None:
    lines = _lines([BOX, BOX, None, PALLET])
    lines[1].refuse("not-custodian", "the unit is held by ship-co")
    todo = scangroups.refuse_groups(lines, [lines[0], lines[2], lines[3]])
    assert todo == [lines[2], lines[3]]
    assert (lines[0].outcome, lines[0].code) == ("refused", "not-custodian")
    assert "refused whole" in (lines[0].message or "")
    batch, events = [lines[2], lines[3], *_lines([PALLET])], ["a", "b", "c"]
    scangroups.refuse_siblings(lines[3], batch, events)
    assert (batch, events) == ([lines[2]], ["a"])


def test_sscc_lines_are_containers_and_a_bad_check_digit_is_refused() -> None:
    good, bad, unit = parse_lines([f"(00){BOX}", BOX[:-1] + "9", f"{GTIN}/A-1"])
    assert (good.group, good.unit, good.outcome) == (BOX, None, None)
    assert (bad.outcome, bad.code) == ("refused", "bad-sscc")
    assert unit.group is None and unit.unit is not None
