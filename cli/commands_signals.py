"""``provenance claim`` (a buyer claims a unit, or a resale) and ``provenance alerts`` (a
brand's or the operator's triage queue: clone signals, reports, answering a report).

Against a server, ``alerts`` signs its requests with the actor's key (ledger.reqsig);
against the local database the operator's own access is the authority.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.table import Table

from cli.backend import Backend, Local, Remote, RemoteError
from cli.common import emit, key_path, load_private_key, parse_unit
from cli.signing import backend, head_of, sign, unit_ref
from ledger import codec, reqsig
from ledger.errors import ValidationError
from ledger.vocab import ReportAction, values

_ACTIONS = values(ReportAction)


def install(app: typer.Typer) -> None:
    """Add ``claim`` and ``alerts``."""

    @app.command()
    def claim(
        unit: str = typer.Argument(..., help="GTIN/SERIAL or a scanned label URL"),
        code: str = typer.Argument(
            ..., help="the claim code inside the package, or a transfer code"
        ),
    ) -> None:
        """Claim a unit as its buyer; prints the one-time transfer code (keep it)."""
        unit_id, _ = parse_unit(unit)
        store = backend()
        try:
            result = _claim(store, unit_id.gtin, unit_id.serial, code)
        finally:
            store.close()
        out = {"unit": f"{unit_id.gtin}/{unit_id.serial}", **result}
        emit(
            out,
            f"claimed {out['unit']} at index {out['index']}"
            + (" (resale)" if out["resale"] else ""),
            f"transfer code (shown once; give it to a buyer if you sell): {out['transfer_code']}",
        )

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
        store = backend()
        try:
            if resolve is None:
                out = _alerts(store, brand, as_, key)
                emit(out, *_tables(out))
                return
            if action not in _ACTIONS:
                raise ValidationError(
                    f"--action must be one of {', '.join(_ACTIONS)}", field="action"
                )
            answered = _resolve(store, brand, resolve, action, note, flag_code, as_ or brand, key)
        finally:
            store.close()
        emit(answered, f"report {answered['id']}: {answered['status']}")


def _claim(store: Backend, gtin: str, serial: str, code: str) -> dict[str, Any]:
    if isinstance(store, Local):
        return store.ledger.claim(gtin, serial, code, client="cli").to_dict()
    remote = _remote(store)
    response = _send(remote, "POST", f"/v1/units/{gtin}/{serial}/claim", {"code": code})
    return dict(remote._json(response))


def _alerts(store: Backend, brand: str, as_: str | None, key: Path | None) -> dict[str, Any]:
    if isinstance(store, Local):
        return store.ledger.alerts(brand)
    remote = _remote(store)
    path = f"/v1/brands/{brand}/alerts"
    response = _send(remote, "GET", path, None, _signer(as_ or brand, key))
    return dict(remote._json(response))


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
    body: dict[str, Any] = {"action": action, **({"note": note} if note else {})}
    if action == "flag":
        unit = _report_unit(store, report_id, brand, actor, key)
        prev = head_of(store, unit)
        body["flag"] = sign(
            actor, key, "flag", unit=unit_ref(unit), prev=prev, code=flag_code
        ).to_dict()
    if isinstance(store, Local):
        from ledger.entry import SignedEvent

        by = store.ledger.state().actors.get(actor)
        if by is None:
            raise ValidationError(f"no actor {actor!r}", field="as")
        flag = SignedEvent.from_dict(body["flag"]) if "flag" in body else None
        return store.ledger.resolve_report(report_id, by=by, action=action, note=note, flag=flag)
    remote = _remote(store)
    path = f"/v1/reports/{report_id}/resolve"
    return dict(remote._json(_send(remote, "POST", path, body, _signer(actor, key))))


def _report_unit(store: Backend, report_id: int, brand: str, actor: str, key: Path | None) -> Any:
    """The unit a report names: from the local store, or from the brand's queue."""
    if isinstance(store, Local):
        found = store.ledger.signal_store.report(store.ledger.log, report_id)
        path = None if found is None else f"{found['gtin']}/{found['serial']}"
    else:
        queue = _alerts(store, brand, actor, key)
        match = next((r for r in queue["reports"] if r["id"] == report_id), None)
        path = None if match is None else f"{match['unit']['gtin']}/{match['unit']['serial']}"
    if path is None:
        raise ValidationError(f"no report {report_id} in {brand}'s queue", field="resolve")
    return parse_unit(path)[0]


def _remote(store: Backend) -> Remote:
    if not isinstance(store, Remote):  # pragma: no cover - backend() makes one of the two
        raise ValidationError("unknown backend")
    return store


def _signer(actor: str, key: Path | None) -> Any:
    return load_private_key(key_path(key, actor))


def _send(
    remote: Remote, method: str, path: str, body: dict[str, Any] | None, signer: Any = None
) -> httpx.Response:
    data = b"" if body is None else codec.canonical(body)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if signer is not None:
        headers["Authorization"] = reqsig.sign_request(
            signer, method, path, data, datetime.now(UTC)
        )
    try:
        return remote.http.request(method, path, content=data or None, headers=headers)
    except httpx.HTTPError as e:
        raise RemoteError(503, "unreachable", f"cannot reach {remote.url}: {e}", None) from e


def _tables(out: dict[str, Any]) -> list[Any]:
    signals = Table(title=f"clone signals of {out['brand']}")
    for column in ("unit", "signal", "evidence"):
        signals.add_column(column)
    for s in out["signals"]:
        unit = (s["unit"] or {}).get("path") or s["evidence"].get("gtin", "-")
        signals.add_row(unit, s["code"], codec.canonical(s["evidence"]).decode()[:80])
    reports = Table(title="reports")
    for column in ("id", "unit", "reason", "status", "created", "first response"):
        reports.add_column(column)
    for r in out["reports"]:
        reports.add_row(
            str(r["id"]), r["unit"]["path"], r["reason"], r["status"], r["created_at"],
            r["first_response_at"] or "-",
        )  # fmt: skip
    summary = out["response"]
    median = summary["median_seconds"]
    line = f"{summary['open']} open; {summary['answered']} answered" + (
        f"; median first response {median} s" if median is not None else ""
    )
    return [signals, reports, line]
