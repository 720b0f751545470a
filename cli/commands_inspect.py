"""``provenance verify`` (one unit, checked locally) and ``provenance audit`` (everything)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress
from rich.table import Table

from cli.common import OPTIONS, console, emit, parse_unit
from cli.signing import backend
from ledger import codec
from ledger.verdict import ServedEntry, check_unit_chain

_COLOURS = {"genuine": "green", "caution": "yellow", "unknown": "red", "invalid": "red"}


def _keys_of(store: Any, view: dict[str, Any]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for actor_id in {e["event"]["actor"] for e in view["entries"]}:
        for k in store.actor(actor_id)["keys"]:
            keys[k["key_id"]] = k["public_key"]
    return keys


def install(app: typer.Typer) -> None:
    """Add ``verify`` and ``audit``."""

    @app.command()
    def verify(
        unit: str = typer.Argument(..., help="GTIN/SERIAL or a scanned label URL"),
        log_key: str = typer.Option(
            None,
            "--log-key",
            help="the log's verifier key to pin (default: PROVENANCE_LOG_KEY, else ask the log)",
        ),
    ) -> None:
        """Show a unit's verdict and chain, checking every proof and signature locally."""
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

    @app.command()
    def audit(
        trusted: list[Path] = typer.Option(
            None, "--trusted", help="a checkpoint file you kept (repeatable)"
        ),
    ) -> None:
        """Replay the whole log and check every hash, proof, signature and rule."""
        kept = [p.read_text() for p in trusted or []]
        store = backend()
        try:
            with Progress(console=console, disable=OPTIONS.json, transient=True) as bar:
                task = bar.add_task("auditing", total=None)
                report = store.audit(
                    kept, lambda done, total: bar.update(task, completed=done, total=total)
                )
        finally:
            store.close()
        data = report.to_dict()
        if report.ok:
            emit(
                data,
                f"[bold green]audit passed[/]: {report.entries} entries, "
                f"{report.checkpoints} checkpoints",
            )
        else:
            lines = [
                f"  {f.code} at {f.index if f.index is not None else '-'}: {f.message}"
                for f in report.findings[:20]
            ]
            emit(
                data,
                f"[bold red]audit FAILED[/]: first bad index {report.first_bad_index}; "
                f"{len(report.findings)} findings",
                *lines,
            )
            raise typer.Exit(1)
