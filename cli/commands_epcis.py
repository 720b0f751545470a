"""``provenance export epcis`` and ``provenance import epcis`` (docs/EPCIS.md).

Export writes an EPCIS 2.0 EPCISDocument of one unit's chain or of a range of the log.
Import converts a partner's EPCIS document into ledger events, signs them on this
machine (``--as`` / ``--key``; the private key is never sent), and sends the signed
capture envelope to the local database or to ``--server``'s ``POST /v1/epcis/capture``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import typer

from cli.backend import Backend, Local, Remote, RemoteError
from cli.common import UsageError, emit, key_path, load_private_key, parse_unit
from cli.signing import backend, head_of
from ledger import codec, gs1
from ledger.entry import Leaf
from ledger.epcis.errors import CaptureRefusedError, EpcisRefusedError
from ledger.epcis.export import export_document
from ledger.epcis.sign import sign_document
from ledger.epcis.vocab import DEFAULT_EPC_BASE
from ledger.errors import NotFoundError, ValidationError
from ledger.events import format_time

_PAGE = 1000


class ImportRefusedError(EpcisRefusedError):
    """The capture was refused; the message lists each refused event's code."""


def group(app: typer.Typer, name: str, help_text: str) -> typer.Typer:
    """The sub-app ``name`` of ``app``, created if no other module added it yet."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    sub = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub


def install(app: typer.Typer) -> None:
    """Add ``export epcis`` and ``import epcis``."""
    exporter = group(app, "export", "Export the log (EPCIS 2.0, ...).")
    importer = group(app, "import", "Import partners' data (EPCIS 2.0).")

    @exporter.command("epcis")
    def export_epcis(
        unit: str = typer.Option(None, "--unit", help="GTIN/SERIAL or a scanned label URL"),
        start: int = typer.Option(0, "--start", min=0, help="first log index (range export)"),
        end: int = typer.Option(None, "--end", min=0, help="index after the last (default: all)"),
        out: Path = typer.Option(None, "--out", help="write here instead of standard output"),
        epc_base: str = typer.Option(DEFAULT_EPC_BASE, "--epc-base", help="Digital Link host"),
    ) -> None:
        """Write an EPCIS 2.0 EPCISDocument of a unit's chain or of a range of the log."""
        if unit and (start or end is not None):
            raise UsageError("use --unit or --start/--end, not both")
        store = backend()
        try:
            document = _export(store, unit, start, end, epc_base)
        finally:
            store.close()
        text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        if out is None:
            typer.echo(text, nl=False)
            return
        out.write_text(text, encoding="utf-8")
        count = len(document["epcisBody"]["eventList"])
        emit({"file": str(out), "events": count}, f"{count} EPCIS events written to {out}")

    @importer.command("epcis")
    def import_epcis(
        file: Path = typer.Argument(..., help="an EPCIS 2.0 EPCISDocument (JSON or JSON-LD)"),
        as_: str = typer.Option(..., "--as", help="the signing actor id"),
        key: Path = typer.Option(None, "--key", help="key file (default: keys/<actor>.pem)"),
    ) -> None:
        """Sign a partner's EPCIS events here and append them, all or none."""
        try:
            document = codec.parse(file.read_bytes())
        except OSError as e:
            raise UsageError(f"cannot read {file}: {e.strerror}") from e
        private = load_private_key(key_path(key, as_))
        store = backend()
        try:
            envelope = _refusal_line(lambda: sign_document(document, as_, private, _heads(store)))
            receipt = _refusal_line(lambda: _capture(store, envelope))
        finally:
            store.close()
        count = sum(not r["duplicate"] for r in receipt["receipts"])
        emit(receipt, f"{count} entries appended from {file.name} (log size {receipt['size']})")


def _heads(store: Backend) -> Callable[[gs1.UnitId], str]:
    """A unit's head: from the local entries directly, else from the server's unit view."""
    if not isinstance(store, Local):
        return lambda unit: head_of(store, unit)
    ledger = store.ledger

    def local(unit: gs1.UnitId) -> str:
        stored = ledger.unit_entries(unit.gtin, unit.serial)
        if not stored:
            raise NotFoundError(f"unit {unit.gtin}/{unit.serial} is not in the log", field="unit")
        return codec.b64url_encode(Leaf.from_bytes(stored[-1].leaf).signed.hash)

    return local


def _export(
    store: Backend, unit: str | None, start: int, end: int | None, epc_base: str
) -> dict[str, Any]:
    from ledger.service import epcis as epcis_service

    if isinstance(store, Local):
        if unit:
            uid, _ = parse_unit(unit)
            return epcis_service.export_unit(store.ledger, uid.gtin, uid.serial, epc_base=epc_base)
        return epcis_service.export_range(store.ledger, start, end, epc_base=epc_base)
    if not isinstance(store, Remote):  # pragma: no cover - the two backends
        raise TypeError(type(store).__name__)
    if unit:
        return _remote_unit(store, unit, epc_base)
    return _remote_range(store, start, end, epc_base)


def _remote_unit(store: Remote, unit: str, epc_base: str) -> dict[str, Any]:
    """The resolver's ``application/ld+json`` answer (docs/EPCIS.md)."""
    if epc_base != DEFAULT_EPC_BASE:
        raise UsageError("--epc-base with --server works for ranges only")
    uid, _ = parse_unit(unit)
    try:
        response = store.http.get(uid.path(), headers={"Accept": "application/ld+json"})
    except httpx.HTTPError as e:
        raise RemoteError(503, "unreachable", f"cannot reach {store.url}: {e}", None) from e
    return dict(store._json(response))


def _remote_range(store: Remote, start: int, end: int | None, epc_base: str) -> dict[str, Any]:
    """Entries from ``/v1/entries``, all proven to one checkpoint, exported here."""
    first = store._json(store._get("/v1/entries", start=0, end=1))
    size, checkpoint = int(first["size"]), str(first["checkpoint"])
    stop = size if end is None else min(end, size)
    entries = []
    for page in range(start, stop, _PAGE):
        params = {"start": page, "end": min(stop, page + _PAGE), "size": size}
        for item in store._json(store._get("/v1/entries", **params))["entries"]:
            leaf = Leaf.from_bytes(codec.b64url_decode(item["leaf"], field="leaf"))
            entries.append((int(item["index"]), codec.b64url_decode(item["leaf_hash"]), leaf))
    created = format_time(datetime.now(UTC))
    return export_document(entries, created, epc_base=epc_base, checkpoint=checkpoint)


def _capture(store: Backend, envelope: dict[str, Any]) -> dict[str, Any]:
    if isinstance(store, Local):
        from ledger.service import epcis as epcis_service

        return epcis_service.capture(store.ledger, envelope).to_dict()
    if not isinstance(store, Remote):  # pragma: no cover - the two backends
        raise TypeError(type(store).__name__)
    try:
        response = store.http.post("/v1/epcis/capture", json=envelope)
    except httpx.HTTPError as e:
        raise RemoteError(503, "unreachable", f"cannot reach {store.url}: {e}", None) from e
    if response.status_code >= 400 and "events" in _problem(response):
        raise ImportRefusedError(_summary(_problem(response)))
    return dict(store._json(response))


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _refusal_line(action: Any) -> Any:
    """Run ``action``; a refused capture becomes one line naming every refused event."""
    try:
        return action()
    except CaptureRefusedError as e:
        raise ImportRefusedError(_summary({"detail": e.message, **e.problem_fields})) from None


def _summary(problem: dict[str, Any]) -> str:
    """``N of M EPCIS events refused ...: event 0: code (field): detail; event 1: ...``."""
    parts = []
    for item in problem.get("events", []):
        where = f"event {item.get('event')}" + (f" epc {item['epc']}" if "epc" in item else "")
        field = f" ({item['field']})" if item.get("field") else ""
        parts.append(f"{where}: {item.get('code')}{field}: {item.get('detail')}")
    if not parts:
        raise ValidationError(str(problem.get("detail", "refused")))
    return f"{problem.get('detail', 'refused')}: " + "; ".join(parts)
