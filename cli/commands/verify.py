"""``provenance verify``: one unit, every proof and signature checked locally
(ledger.verify.unitview.verify_unit_view), or an offline proof file (cli.verify_proof).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from cli.backends import Backend, connect
from cli.common import UsageError, emit, parse_unit, safe

app = typer.Typer()

_COLOURS = {"genuine": "green", "caution": "yellow", "unknown": "red", "invalid": "red"}


def _keys_of(store: Backend, view: dict[str, Any]) -> dict[str, str]:
    """Key id -> public key of every actor that signed one of the view's entries."""
    from ledger.verify.unitview import signers_of

    keys: dict[str, str] = {}
    for actor_id in signers_of(view):
        for k in store.actor(actor_id)["keys"]:
            keys[k["key_id"]] = k["public_key"]
    return keys


def _shown(entry: dict[str, Any]) -> dict[str, Any]:
    """What to show of a served entry: read from its leaf, the bytes that were checked.

    The served ``event`` object is a convenience copy that no proof covers: a server
    could put any place or actor there beside an honest leaf. When the leaf does not
    decode, the verdict is already ``invalid`` and the served copy is shown (escaped).
    """
    from ledger import codec
    from ledger import entry as ledger_entry
    from ledger.errors import LedgerError

    try:
        event = ledger_entry.Leaf.from_bytes(codec.b64url_decode(entry["leaf"])).signed.event
    except (LedgerError, KeyError, TypeError, ValueError):
        served = entry.get("event") or {}
        return {k: served.get(k) for k in ("kind", "actor", "time", "place")}
    return {
        "kind": event.kind,
        "actor": event.actor,
        "time": event.time,
        "place": getattr(event, "place", None),
    }


@app.command()
def verify(
    unit: str = typer.Argument(None, help="GTIN/SERIAL or a scanned label URL"),
    log_key: str = typer.Option(
        None,
        "--log-key",
        help="the log's verifier key to pin (default: PROVENANCE_LOG_KEY, else ask the log)",
    ),
    proof: Path = typer.Option(
        None, "--proof", help="check a downloaded offline proof file, with no network"
    ),
    witness: list[str] = typer.Option(
        None, "--witness", help="with --proof: a witness verifier key to trust (repeatable)"
    ),
    min_witnesses: int = typer.Option(
        0, "--min-witnesses", min=0, help="with --proof: cosignatures required"
    ),
) -> None:
    """Show a unit's verdict and chain, checking every proof and signature locally."""
    from rich.table import Table

    from ledger.verify.unitview import verify_unit_view

    if proof is not None:
        from cli.verify_proof import verify_proof_file

        verify_proof_file(proof, log_key, witness or [], min_witnesses)
        return
    if unit is None:
        raise UsageError("name a unit (GTIN/SERIAL or a URL), or give --proof FILE")
    unit_id, signature = parse_unit(unit)
    store = connect()
    try:
        view = store.unit(unit_id.gtin, unit_id.serial, signature)
        pinned = log_key or os.environ.get("PROVENANCE_LOG_KEY") or store.verifier_key()
        checked = verify_unit_view(view, pinned, _keys_of(store, view))
    finally:
        store.close()
    verdict, reasons = checked.verdict, checked.reasons
    shown = [(e["index"], _shown(e)) for e in view["entries"]]
    report = {
        "unit": f"{unit_id.gtin}/{unit_id.serial}",
        "verdict": verdict,
        "reasons": reasons,
        "checked_locally": checked.checked,
        "entries": [
            {"index": index, "kind": e["kind"], "actor": e["actor"], "time": e["time"]}
            for index, e in shown
        ],
    }
    table = Table(title=safe(f"{unit_id.gtin}/{unit_id.serial}"))
    for column in ("index", "event", "by", "time", "place"):
        table.add_column(column)
    for index, e in shown:
        table.add_row(
            str(index),
            safe(e["kind"]),
            safe(e["actor"]),
            safe(e["time"]),
            safe(e["place"] or ""),
        )
    headline = f"[bold {_COLOURS[verdict]}]{verdict.upper()}[/] " + "; ".join(
        safe(r["message"]) for r in reasons
    )
    emit(
        report,
        headline,
        table,
        f"{checked.checked} entries: every proof and signature checked on this machine",
    )
    if verdict in ("unknown", "invalid"):
        raise typer.Exit(1)
