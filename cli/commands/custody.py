"""The custody commands: ``handoff``, ``receive``, ``inspect``, ``sell``, ``deliver``,
``return``, ``recall`` and ``decommission``, each one signed event extending a unit's
chain (top-level commands of ``app``, composed by cli.main).

``handoff`` and ``receive`` are a clerk's at the dock: they also take a scan list
(``--from-file``), and a re-scan of what is already in the log is a duplicate, not a
failure (cli.scanning).
"""

from __future__ import annotations

from pathlib import Path

import typer

from cli import scanning
from cli.backends import connect
from cli.common import UsageError, emit, parse_unit, safe
from cli.scanning import Kind
from cli.signing import sign, unit_ref

app = typer.Typer()

_AS = typer.Option(..., "--as", help="the signing actor id")
_KEY = typer.Option(None, "--key", help="key file (default: $PROVENANCE_HOME/keys/<actor>.pem)")
_UNIT = typer.Argument(..., help="GTIN/SERIAL or a scanned label URL")
_UNIT_OR_SSCC = typer.Argument(
    ..., help="GTIN/SERIAL, a scanned label URL, or a container's SSCC (every unit in it)"
)
_PLACE = typer.Option(None, "--place", help="where it happens, e.g. 'Shanghai DC 3'")
_FROM_FILE = typer.Option(
    None,
    "--from-file",
    "--list",
    help="a scan list: one scanned label URL or GTIN/SERIAL per line ('-': standard input)",
    show_default=False,
)


def _unit_event(kind: str, unit_text: str, actor: str, key: Path | None, **fields: object) -> None:
    unit, _ = parse_unit(unit_text)
    store = connect(partner=True)
    try:
        prev = store.head(unit)
        signed = sign(
            actor, key, kind, unit=unit_ref(unit), prev=prev, log=store.origin(), **fields
        )
        receipt = store.append([signed])
    finally:
        store.close()
    item = receipt["receipts"][0]
    to = f" to {fields['to']}" if fields.get("to") else ""
    line = f"{kind} of {unit.gtin}/{unit.serial}{to} by {actor}: appended at index {item['index']}"
    emit(receipt, safe(line))


@app.command()
def handoff(
    unit: str = typer.Argument(
        None,
        help="GTIN/SERIAL, a scanned label URL or a container's SSCC (or use --from-file)",
        show_default=False,
    ),
    to: str = typer.Option(
        ...,
        "--to",
        help="the recipient's actor id (who must then `receive`); `provenance actor list` "
        "shows them",
    ),
    from_file: str = _FROM_FILE,
    place: str = _PLACE,
    as_: str = _AS,
    key: Path = _KEY,
) -> None:
    """Hand units you hold to another actor, who must receive them. A unit already on
    its way to the same recipient is a duplicate (exit 0)."""
    _scan("handoff", unit, from_file, as_, key, to=to, place=place)


@app.command()
def receive(
    unit: str = typer.Argument(
        None,
        help="GTIN/SERIAL, a scanned label URL or a container's SSCC (or use --from-file)",
        show_default=False,
    ),
    from_file: str = _FROM_FILE,
    place: str = _PLACE,
    as_: str = _AS,
    key: Path = _KEY,
) -> None:
    """Take custody of units handed (or returned) to you. Receiving what you already
    hold is a duplicate (exit 0)."""
    _scan("receive", unit, from_file, as_, key, to=None, place=place)


def _scan(
    kind: Kind,
    unit: str | None,
    from_file: str | None,
    actor: str,
    key: Path | None,
    *,
    to: str | None,
    place: str | None,
) -> None:
    """One unit (its receipt), a container (cli.containers) or a scan list (its
    summary); see cli.scanning."""
    if (unit is None) == (from_file is None):
        raise UsageError("give a unit or --from-file FILE, not both", field="unit")
    if unit is not None and _container(kind, unit, actor, key, to=to, place=place):
        return
    if unit is not None:
        _one(kind, unit, actor, key, to=to, place=place)
        return
    lines = scanning.read_lines(from_file or "-")
    summary = scanning.run(kind, lines, actor, key, to=to, place=place, progress=True)
    show_summary(summary)
    if summary.count("refused"):
        raise typer.Exit(1)


def _container(kind: str, text: str, actor: str, key: Path | None, **fields: object) -> bool:
    """A handoff, receive or inspect of a container (an SSCC): every unit in it, in one
    atomic batch; False when ``text`` is not an SSCC."""
    from ledger.sscc import looks_like_sscc

    if not looks_like_sscc(text):
        return False
    from cli import containers

    outcome = containers.handle(kind, text, actor, key, **fields)
    emit(outcome.to_dict(), safe(outcome.line()))
    return True


def _one(
    kind: Kind, text: str, actor: str, key: Path | None, *, to: str | None, place: str | None
) -> None:
    """A single scan: its receipt, or for a re-scan the earlier entry's as a duplicate.

    Raises:
        LedgerError: not a label, not in the log, or refused (the rule's code).
    """
    unit, _ = parse_unit(text)
    summary = scanning.run(
        kind, [scanning.Line(1, text, unit)], actor, key, to=to, place=place, receipts=True
    )
    (line,) = summary.lines
    if line.outcome == "refused":
        raise scanning.ScanRefusedError(line.code or "refused", line.message or "", field="unit")
    name = f"{unit.gtin}/{unit.serial}"
    counterpart = f" to {to}" if to else ""
    if line.outcome == "duplicate":
        done = "already received, you hold it" if kind == "receive" else "already on its way"
        message = f"{kind} of {name}{counterpart}: {done} (latest entry: index {line.index}); "
        message += "nothing appended"
    else:
        message = f"{kind} of {name}{counterpart} by {actor}: appended at index {line.index}"
    emit(scanning.receipt_of(summary), safe(message))


def show_summary(summary: scanning.Summary) -> None:
    """A scan list's outcome: each line not appended, then the counts."""
    from rich.text import Text

    notes = [
        Text(safe(f"line {ln.number}: {ln.text}: {ln.code}: {ln.message}", markup=False))
        for ln in summary.lines
        if ln.outcome == "refused"
    ]
    to = f" to {summary.to}" if summary.to else ""
    total = (
        f"{summary.kind}{to} by {summary.actor}: {summary.count('appended')} appended, "
        f"{summary.count('duplicate')} duplicates, {summary.count('refused')} refused "
        f"of {len(summary.lines)} lines"
    )
    emit(summary.to_dict(), *notes, Text(safe(total, markup=False)))


@app.command()
def inspect(
    unit: str = _UNIT_OR_SSCC,
    result: str = typer.Option("pass", "--result", help="pass or fail"),
    note: str = typer.Option(None, "--note"),
    place: str = _PLACE,
    as_: str = _AS,
    key: Path = _KEY,
) -> None:
    """Record an inspection (of every unit in it, for a container's SSCC)."""
    if _container("inspect", unit, as_, key, result=result, note=note, place=place):
        return
    _unit_event("inspect", unit, as_, key, result=result, note=note, place=place)


@app.command()
def sell(unit: str = _UNIT, place: str = _PLACE, as_: str = _AS, key: Path = _KEY) -> None:
    """Record a sale (retailers)."""
    _unit_event("sell", unit, as_, key, place=place)


@app.command()
def deliver(unit: str = _UNIT, place: str = _PLACE, as_: str = _AS, key: Path = _KEY) -> None:
    """Record delivery of a sold unit to its buyer."""
    _unit_event("deliver", unit, as_, key, place=place)


@app.command("return")
def return_(
    unit: str = _UNIT,
    to: str = typer.Option(..., "--to"),
    reason: str = typer.Option(None, "--reason"),
    place: str = _PLACE,
    as_: str = _AS,
    key: Path = _KEY,
) -> None:
    """Send a unit back up the chain (the recipient must receive it)."""
    _unit_event("return", unit, as_, key, to=to, reason=reason, place=place)


@app.command()
def recall(
    unit: str = _UNIT,
    reason: str = typer.Option(..., "--reason"),
    as_: str = _AS,
    key: Path = _KEY,
) -> None:
    """Recall a unit (brand or operator)."""
    _unit_event("recall", unit, as_, key, reason=reason)


@app.command()
def decommission(
    unit: str = _UNIT,
    reason: str = typer.Option(..., "--reason"),
    as_: str = _AS,
    key: Path = _KEY,
) -> None:
    """Take a unit out of circulation; nothing may follow."""
    _unit_event("decommission", unit, as_, key, reason=reason)
