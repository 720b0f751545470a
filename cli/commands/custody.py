"""The custody commands: ``handoff``, ``receive``, ``inspect``, ``sell``, ``deliver``,
``return``, ``recall`` and ``decommission``, each one signed event extending a unit's
chain (top-level commands of ``app``, composed by cli.main).
"""

from __future__ import annotations

from pathlib import Path

import typer

from cli.backends import connect
from cli.common import emit, parse_unit, safe
from cli.signing import sign, unit_ref

app = typer.Typer()

_AS = typer.Option(..., "--as", help="the signing actor id")
_KEY = typer.Option(None, "--key", help="key file (default: $PROVENANCE_HOME/keys/<actor>.pem)")
_UNIT = typer.Argument(..., help="GTIN/SERIAL or a scanned label URL")
_PLACE = typer.Option(None, "--place", help="where it happens, e.g. 'Shanghai DC 3'")


def _unit_event(kind: str, unit_text: str, actor: str, key: Path | None, **fields: object) -> None:
    unit, _ = parse_unit(unit_text)
    store = connect()
    try:
        prev = store.head(unit)
        signed = sign(
            actor, key, kind, unit=unit_ref(unit), prev=prev, log=store.origin(), **fields
        )
        receipt = store.append([signed])
    finally:
        store.close()
    item = receipt["receipts"][0]
    emit(receipt, safe(f"{kind} of {unit.gtin}/{unit.serial} appended at index {item['index']}"))


@app.command()
def handoff(
    unit: str = _UNIT,
    to: str = typer.Option(..., "--to"),
    place: str = _PLACE,
    as_: str = _AS,
    key: Path = _KEY,
) -> None:
    """Hand a unit you hold to another actor (who must receive it)."""
    _unit_event("handoff", unit, as_, key, to=to, place=place)


@app.command()
def receive(unit: str = _UNIT, place: str = _PLACE, as_: str = _AS, key: Path = _KEY) -> None:
    """Take custody of a unit handed (or returned) to you."""
    _unit_event("receive", unit, as_, key, place=place)


@app.command()
def inspect(
    unit: str = _UNIT,
    result: str = typer.Option("pass", "--result", help="pass or fail"),
    note: str = typer.Option(None, "--note"),
    place: str = _PLACE,
    as_: str = _AS,
    key: Path = _KEY,
) -> None:
    """Record an inspection."""
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
