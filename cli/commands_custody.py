"""Custody commands (handoff ... decommission), and ``mint`` / ``label`` for brands."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.progress import Progress

from cli.common import OPTIONS, console, emit, key_path, load_private_key, parse_unit
from cli.signing import backend, head_of, sign, sign_with, unit_ref
from ledger import gs1, label
from ledger.errors import ValidationError

_AS = typer.Option(..., "--as", help="the signing actor id")
_KEY = typer.Option(None, "--key", help="key file (default: $PROVENANCE_HOME/keys/<actor>.pem)")
_UNIT = typer.Argument(..., help="GTIN/SERIAL or a scanned label URL")
_PLACE = typer.Option(None, "--place", help="where it happens, e.g. 'Shanghai DC 3'")


def _unit_event(kind: str, unit_text: str, actor: str, key: Path | None, **fields: object) -> None:
    unit, _ = parse_unit(unit_text)
    store = backend()
    try:
        prev = head_of(store, unit)
        signed = sign(actor, key, kind, unit=unit_ref(unit), prev=prev, **fields)
        receipt = store.append([signed])
    finally:
        store.close()
    item = receipt["receipts"][0]
    emit(receipt, f"{kind} of {unit.gtin}/{unit.serial} appended at index {item['index']}")


def install(app: typer.Typer) -> None:
    """Add the custody commands and ``mint`` / ``label``."""

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

    @app.command()
    def mint(
        gtin: str = typer.Argument(...),
        count: int = typer.Option(..., "--count", min=1, max=100_000),
        lot: str = typer.Option(None, "--lot"),
        expiry: str = typer.Option(None, "--expiry", help="YYMMDD"),
        prefix: str = typer.Option("SN", "--serial-prefix", help="serials are PREFIX-000001, ..."),
        start: int = typer.Option(1, "--start", min=0),
        out: Path = typer.Option(
            Path("labels"), "--out", help="folder for labels and the manifest"
        ),
        base_url: str = typer.Option(
            None, "--base-url", help="resolver base on the labels (default: PROVENANCE_PUBLIC_URL)"
        ),
        formats: str = typer.Option("pdf", "--formats", help="comma list of pdf, png, svg"),
        as_: str = _AS,
        key: Path = _KEY,
    ) -> None:
        """Commission COUNT units of GTIN, print their labels and the claim-code manifest."""
        gtin14 = gs1.normalize_gtin(gtin)
        units = [
            gs1.UnitId(gtin=gtin14, serial=f"{prefix}-{n:06d}") for n in range(start, start + count)
        ]
        base = base_url or os.environ.get("PROVENANCE_PUBLIC_URL", "http://127.0.0.1:8000")
        minted = mint_units(units, as_, key, base, lot=lot, expiry=expiry)
        paths = write_labels(minted, out, formats)
        emit(
            {"units": [f"{u.gtin}/{u.serial}" for u in units], "files": [str(p) for p in paths]},
            f"minted {count} units of {gtin14}; labels and manifest in {out}/",
        )

    @app.command("label")
    def label_(
        units: list[str] = typer.Argument(
            ..., help="GTIN/SERIAL of units to (re)print outer labels for"
        ),
        out: Path = typer.Option(Path("labels"), "--out"),
        base_url: str = typer.Option(None, "--base-url"),
        as_: str = _AS,
        key: Path = _KEY,
    ) -> None:
        """Re-print outer labels (the claim codes are secret and not kept: not re-printed)."""
        from qr import render_sheet_pdf, unit_label

        private = load_private_key(key_path(key, as_))
        base = base_url or os.environ.get("PROVENANCE_PUBLIC_URL", "http://127.0.0.1:8000")
        ids = [parse_unit(u)[0] for u in units]
        labels = [unit_label(base, u, label.sign_label(u, private)) for u in ids]
        out.mkdir(parents=True, exist_ok=True)
        path = out / "outer-labels.pdf"
        path.write_bytes(render_sheet_pdf(labels))
        emit(
            {"files": [str(path)], "uris": [lab.qr_text for lab in labels]},
            f"wrote {len(labels)} labels to {path}",
        )


def mint_units(
    units: list[gs1.UnitId],
    actor: str,
    key: Path | None,
    base: str,
    *,
    lot: str | None,
    expiry: str | None,
) -> list[object]:
    """Prepare labels and claim codes, commission the units (in batches); return the labels."""
    from qr import prepare_units

    private = load_private_key(key_path(key, actor))
    prepared = prepare_units(base, units, private)
    events = [
        sign_with(
            private,
            actor,
            "commission",
            unit={"gtin": p.unit.gtin, "serial": p.unit.serial},
            prev=None,
            lot=lot,
            expiry=expiry,
            claim={"salt": p.claim_salt, "hash": p.claim_hash},
        )
        for p in prepared
    ]
    store = backend()
    try:
        with Progress(console=console, disable=OPTIONS.json) as bar:
            task = bar.add_task("commissioning", total=len(events))
            for begin in range(0, len(events), 1000):
                store.append(events[begin : begin + 1000])
                bar.advance(task, min(1000, len(events) - begin))
    finally:
        store.close()
    return list(prepared)


def write_labels(prepared: list[object], out: Path, formats: str) -> list[Path]:
    """Write label sheets and the 0600 manifest; return the files written."""
    from qr import render_pngs, render_sheet_pdf, render_svgs, write_manifest

    wanted = {f.strip() for f in formats.split(",") if f.strip()}
    if not wanted <= {"pdf", "png", "svg"}:
        raise ValidationError("formats are pdf, png, svg", field="formats")
    out.mkdir(parents=True, exist_ok=True)
    outer = [p.outer() for p in prepared]  # type: ignore[attr-defined]
    inner = [p.inner() for p in prepared]  # type: ignore[attr-defined]
    written = [write_manifest(out / "manifest.csv", prepared)]  # type: ignore[arg-type]
    with Progress(console=console, disable=OPTIONS.json) as bar:
        task = bar.add_task("labels", total=len(wanted))
        if "pdf" in wanted:
            for name, labels in (("outer-labels.pdf", outer), ("claim-labels.pdf", inner)):
                (out / name).write_bytes(render_sheet_pdf(labels))
                written.append(out / name)
            bar.advance(task)
        for fmt, render in (("png", render_pngs), ("svg", render_svgs)):
            if fmt in wanted:
                for p, data in zip(prepared, render(outer), strict=True):
                    path = out / f"{p.unit.gtin}-{_safe(p.unit.serial)}.{fmt}"  # type: ignore[attr-defined]
                    path.write_bytes(data)
                    written.append(path)
                bar.advance(task)
    return written


def _safe(serial: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else f"%{ord(c):02X}" for c in serial)
