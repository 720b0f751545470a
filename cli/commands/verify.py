"""``provenance verify``: one unit, every proof and signature checked locally."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from cli.common import UsageError, emit, parse_unit
from cli.signing import backend
from cli.verify_proof import verify_proof_file
from ledger import codec
from ledger.verify.verdict import ServedEntry, check_unit_chain

_COLOURS = {"genuine": "green", "caution": "yellow", "unknown": "red", "invalid": "red"}


def _keys_of(store: Any, view: dict[str, Any]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for actor_id in {e["event"]["actor"] for e in view["entries"]}:
        for k in store.actor(actor_id)["keys"]:
            keys[k["key_id"]] = k["public_key"]
    return keys


def install(app: typer.Typer) -> None:
    """Add ``verify``."""

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
        if proof is not None:
            verify_proof_file(proof, log_key, witness or [], min_witnesses)
            return
        if unit is None:
            raise UsageError("name a unit (GTIN/SERIAL or a URL), or give --proof FILE")
        unit_id, signature = parse_unit(unit)
        store = backend()
        try:
            view = store.unit(unit_id.gtin, unit_id.serial, signature)
            pinned = log_key or os.environ.get("PROVENANCE_LOG_KEY") or store.verifier_key()
            served = [
                ServedEntry(
                    e["index"],
                    codec.b64url_decode(e["leaf"]),
                    codec.b64url_decode(e["leaf_hash"]),
                    [codec.b64url_decode(p) for p in e["proof"]],
                )
                for e in view["entries"]
            ]
            failures = (
                check_unit_chain(served, view["checkpoint"], pinned, _keys_of(store, view))
                if served
                else []
            )
        finally:
            store.close()
        verdict = "invalid" if failures else view["verdict"]
        reasons = [f.to_dict() for f in failures] or [
            {k: r[k] for k in ("code", "message", "evidence")} for r in view["reasons"]
        ]  # a server's view also words each reason per language (``text``)
        report = {
            "unit": f"{unit_id.gtin}/{unit_id.serial}",
            "verdict": verdict,
            "reasons": reasons,
            "checked_locally": len(served),
            "entries": [
                {
                    "index": e["index"],
                    "kind": e["event"]["kind"],
                    "actor": e["event"]["actor"],
                    "time": e["event"]["time"],
                }
                for e in view["entries"]
            ],
        }
        table = Table(title=f"{unit_id.gtin}/{unit_id.serial}")
        for column in ("index", "event", "by", "time", "place"):
            table.add_column(column)
        for e in view["entries"]:
            table.add_row(
                str(e["index"]),
                e["event"]["kind"],
                e["event"]["actor"],
                e["event"]["time"],
                e["event"].get("place") or "",
            )
        headline = f"[bold {_COLOURS[verdict]}]{verdict.upper()}[/] " + "; ".join(
            r["message"] for r in reasons
        )
        emit(
            report,
            headline,
            table,
            f"{len(served)} entries: every proof and signature checked on this machine",
        )
        if verdict in ("unknown", "invalid"):
            raise typer.Exit(1)
