"""``provenance claim`` (a buyer claims a unit, or a resale) and ``provenance alerts`` (a
brand's or the operator's triage queue: clone signals, reports, answering a report).

Against a server, ``alerts`` signs its requests with the actor's key (ledger.reqsig);
against the local database the operator's own access is the authority (the backend
decides: cli.backends).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from cli.backends import Backend, KeyLoader, connect
from cli.common import UsageError, emit, errors, key_path, load_private_key, parse_unit, safe
from cli.signing import sign, unit_ref
from ledger.errors import ValidationError
from ledger.vocab import ReportAction, values

app = typer.Typer()

_ACTIONS = values(ReportAction)


@app.command()
def claim(
    unit: str = typer.Argument(..., help="GTIN/SERIAL or a scanned label URL"),
    code: str = typer.Argument(
        None,
        help="deprecated (visible in ps and shell history): the code is asked for, hidden, "
        "or read from standard input",
        show_default=False,
    ),
) -> None:
    """Claim a unit as its buyer; prints the one-time transfer code (keep it).

    The claim code inside the package (or a transfer code) is asked for without echo on a
    terminal, or read from the first line of standard input when it is not a terminal.
    """
    unit_id, _ = parse_unit(unit)
    if code is None:
        code = read_code()
    else:
        errors.print(
            "[yellow]warning:[/] a code on the command line is visible in ps and shell "
            "history; leave it out to be asked for it, or pipe it on standard input",
            soft_wrap=True,
        )
    store = connect()
    try:
        result = store.claim(unit_id.gtin, unit_id.serial, code)
    finally:
        store.close()
    out = {"unit": f"{unit_id.gtin}/{unit_id.serial}", **result}
    emit(
        out,
        safe(f"claimed {out['unit']} at index {out['index']}")
        + (" (resale)" if out["resale"] else ""),
        "transfer code (shown once; give it to a buyer if you sell): " + safe(out["transfer_code"]),
    )


def read_code() -> str:
    """The claim code: asked for without echo on a terminal, else stdin's first line.

    Raises:
        UsageError: no code given (an empty line or standard input at its end).
    """
    if sys.stdin.isatty():
        import getpass

        code = getpass.getpass("claim code: ")
    else:
        code = sys.stdin.readline()
    code = code.strip()
    if not code:
        raise UsageError("no claim code: type it at the prompt or pipe it on standard input")
    return code


@app.command()
def alerts(
    brand: str = typer.Argument(..., help="the brand whose queue to read"),
    as_: str = typer.Option(None, "--as", help="sign the request as this actor (--server)"),
    key: Path = typer.Option(None, "--key", help="private key file (default: by --as)"),
    resolve: int = typer.Option(None, "--resolve", help="answer this report id"),
    action: str = typer.Option("close", "--action", help="ack, close or flag"),
    note: str = typer.Option(None, "--note", help="a note kept with the answer"),
    flag_code: str = typer.Option(
        "counterfeit-reported", "--flag-code", help="the flag's code (--action flag)"
    ),
) -> None:
    """List the brand's clone signals and reports, or answer one report."""
    store = connect()
    try:
        if resolve is None:
            out = store.alerts(brand, _signer(as_ or brand, key))
            emit(out, *_tables(out))
            return
        if action not in _ACTIONS:
            raise ValidationError(f"--action must be one of {', '.join(_ACTIONS)}", field="action")
        answered = _resolve(store, brand, resolve, action, note, flag_code, as_ or brand, key)
    finally:
        store.close()
    emit(answered, safe(f"report {answered['id']}: {answered['status']}"))


def _resolve(
    store: Backend,
    brand: str,
    report_id: int,
    action: str,
    note: str | None,
    flag_code: str,
    actor: str,
    key: Path | None,
) -> dict[str, Any]:
    """Answer a report; ``flag`` signs a flag on the report's unit, extending its head."""
    signer = _signer(actor, key)
    flag = None
    if action == "flag":
        path = store.report_unit(brand, report_id, signer)
        if path is None:
            raise ValidationError(f"no report {report_id} in {brand}'s queue", field="resolve")
        unit = parse_unit(path)[0]
        prev = store.head(unit)
        flag = sign(
            actor, key, "flag", unit=unit_ref(unit), prev=prev, code=flag_code, log=store.origin()
        )
    return store.resolve_report(
        report_id, actor=actor, action=action, note=note, flag=flag, signer=signer
    )


def _signer(actor: str, key: Path | None) -> KeyLoader:
    """The actor's key, read only if the backend signs a request with it."""
    return lambda: load_private_key(key_path(key, actor))


def _tables(out: dict[str, Any]) -> list[Any]:
    from rich.table import Table

    from ledger import codec

    signals = Table(title=safe(f"clone signals of {out['brand']}"))
    for column in ("unit", "signal", "evidence"):
        signals.add_column(column)
    for s in out["signals"]:
        unit = (s["unit"] or {}).get("path") or s["evidence"].get("gtin", "-")
        signals.add_row(
            safe(unit), safe(s["code"]), safe(codec.canonical(s["evidence"]).decode()[:80])
        )
    reports = Table(title="reports")
    for column in ("id", "unit", "reason", "status", "created", "first response"):
        reports.add_column(column)
    for r in out["reports"]:
        reports.add_row(
            *(safe(v) for v in (r["id"], r["unit"]["path"], r["reason"], r["status"],
                                r["created_at"], r["first_response_at"] or "-")),
        )  # fmt: skip
    summary = out["response"]
    median = summary["median_seconds"]
    line = f"{summary['open']} open; {summary['answered']} answered" + (
        f"; median first response {median} s" if median is not None else ""
    )
    return [signals, reports, safe(line)]
