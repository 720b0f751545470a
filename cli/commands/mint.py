"""``provenance mint`` and ``provenance label``: a brand commissions units and prints
their labels and claim codes (docs/LABELS.md); top-level commands of ``app``.

Label rendering (qr: reportlab, qrcode, Pillow) loads only in the commands that print.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli.backends import connect
from cli.common import (
    OPTIONS,
    UsageError,
    console,
    emit,
    key_path,
    load_private_key,
    parse_unit,
    safe,
)
from cli.signing import sign_with

if TYPE_CHECKING:
    from ledger import gs1
    from qr import UnitLabels

app = typer.Typer()

_AS = typer.Option(..., "--as", help="the signing actor id")
_KEY = typer.Option(None, "--key", help="key file (default: $PROVENANCE_HOME/keys/<actor>.pem)")


@app.command()
def mint(
    gtin: str = typer.Argument(...),
    count: int = typer.Option(..., "--count", min=1, max=100_000),
    lot: str = typer.Option(None, "--lot"),
    expiry: str = typer.Option(None, "--expiry", help="YYMMDD"),
    prefix: str = typer.Option("SN", "--serial-prefix", help="serials are PREFIX-000001, ..."),
    start: int = typer.Option(1, "--start", min=0),
    out: Path = typer.Option(Path("labels"), "--out", help="folder for labels and the manifest"),
    base_url: str = typer.Option(
        None,
        "--base-url",
        help="resolver base on the labels (default: PROVENANCE_PUBLIC_URL, else --server)",
    ),
    formats: str = typer.Option("pdf", "--formats", help="comma list of pdf, png, svg, zpl"),
    roll: str = typer.Option(
        None, "--roll", help="also one label per page for a thermal printer: 50x30 or 40x25"
    ),
    product_name: str = typer.Option(
        None, "--product-name", help="printed on each outer label and sheet header"
    ),
    as_: str = _AS,
    key: Path = _KEY,
) -> None:
    """Commission COUNT units of GTIN, print their labels and the claim-code manifest."""
    from ledger import gs1

    gtin14 = gs1.normalize_gtin(gtin)
    units = [
        gs1.UnitId(gtin=gtin14, serial=f"{prefix}-{n:06d}") for n in range(start, start + count)
    ]
    wanted = label_formats(formats)
    chosen_roll = roll_format(roll)
    minted, manifest = mint_units(units, as_, key, _base(base_url), out, lot=lot, expiry=expiry)
    print_as = PrintRun(
        lots={u: lot for u in units} if lot else {},
        products={gtin14: product_name} if product_name else {},
        roll=chosen_roll,
        author=as_,
    )
    paths = [manifest, *write_sheets(minted, out, wanted, print_as)]
    emit(
        {"units": [f"{u.gtin}/{u.serial}" for u in units], "files": [str(p) for p in paths]},
        safe(f"minted {count} units of {gtin14}; labels and manifest in {out}/"),
    )


@app.command("label")
def label_(
    units: list[str] = typer.Argument(
        None, help="GTIN/SERIAL of units to (re)print outer labels for"
    ),
    units_file: Path = typer.Option(
        None,
        "--units-file",
        help="a file of GTIN/SERIAL lines (a print batch's unit list from the console)",
    ),
    lot: str = typer.Option(None, "--lot", help="the lot printed on each label and header"),
    product_name: str = typer.Option(
        None, "--product-name", help="printed on each label and the sheet header"
    ),
    out: Path = typer.Option(Path("labels"), "--out"),
    base_url: str = typer.Option(None, "--base-url"),
    as_: str = _AS,
    key: Path = _KEY,
) -> None:
    """Re-print outer labels (the claim codes are secret and not kept: not re-printed)."""
    from ledger import label
    from qr import Label, render_sheet_pdf
    from qr.label import unit_lines

    private = load_private_key(key_path(key, as_))
    base = _base(base_url)
    ids = [parse_unit(u)[0] for u in [*(units or []), *_unit_lines(units_file)]]
    if not ids:
        raise UsageError("name units, or a --units-file of GTIN/SERIAL lines", field="units")
    signatures = [label.sign_label(u, private) for u in ids]
    labels = [
        Label(label.compact_label_uri(base, u, sig), unit_lines(u, product=product_name, lot=lot))
        for u, sig in zip(ids, signatures, strict=True)
    ]
    headings = [
        " · ".join(
            [product_name or f"GTIN {u.gtin}", *([f"lot {lot}"] if lot else []), "outer labels"]
        )
        for u in ids
    ]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "outer-labels.pdf"
    title = headings[0] if len(set(headings)) == 1 else f"{len(labels)} outer labels"
    path.write_bytes(render_sheet_pdf(labels, title=title, headings=headings, author=as_))
    emit(
        # the usual lower-case form with ?s=; the QR codes hold its compact form
        {
            "files": [str(path)],
            "uris": [label.label_uri(base, u, sig) for u, sig in zip(ids, signatures, strict=True)],
        },
        safe(f"wrote {len(labels)} labels to {path}"),
    )


def _unit_lines(path: Path | None) -> list[str]:
    """The ``GTIN/SERIAL`` lines of ``path`` (blank lines skipped); none without a path.

    Raises:
        UsageError: the file cannot be read, or holds more than 100,000 lines.
    """
    if path is None:
        return []
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read {path}: {e}", field="units-file") from None
    found = [line for line in lines if line]
    if len(found) > 100_000:
        raise UsageError("a units file holds at most 100,000 lines", field="units-file")
    return found


def _base(base_url: str | None) -> str:
    """The resolver base printed on labels: --base-url, PROVENANCE_PUBLIC_URL, --server."""
    return (
        base_url
        or os.environ.get("PROVENANCE_PUBLIC_URL")
        or OPTIONS.server
        or "http://127.0.0.1:8000"
    ).rstrip("/")


def label_formats(text: str) -> set[str]:
    """The label formats of a comma list, checked before anything is minted.

    Raises:
        UsageError: an unknown format, or none.
    """
    wanted = {f.strip() for f in text.split(",") if f.strip()}
    if not wanted or not wanted <= {"pdf", "png", "svg", "zpl"}:
        raise UsageError("formats are a comma list of pdf, png, svg, zpl", field="formats")
    return wanted


ROLLS = ("50x30", "40x25")


def roll_format(text: str | None) -> str | None:
    """The roll label size of ``--roll``, checked before anything is minted.

    Raises:
        UsageError: not one of `ROLLS`.
    """
    if text is None:
        return None
    if text.strip().lower() not in ROLLS:
        raise UsageError(f"a roll is one of {', '.join(ROLLS)} (mm)", field="roll")
    return text.strip().lower()


@dataclass(frozen=True)
class PrintRun:
    """What a print run needs besides the labels: each unit's lot, each GTIN's product
    name (printed on the outer labels and in the sheet headers), the roll size for
    thermal printers (None: no roll PDF; ZPL then uses 50x30), and the PDF's author."""

    lots: Mapping[gs1.UnitId, str | None] = field(default_factory=dict)
    products: Mapping[str, str] = field(default_factory=dict)
    roll: str | None = None
    author: str = "provenance-ledger"

    def heading(self, item: UnitLabels, kind: str) -> str:
        """The sheet header of ``item``'s labels: product (or GTIN), lot, ``kind``."""
        lot = self.lots.get(item.unit)
        name = self.products.get(item.unit.gtin) or f"GTIN {item.unit.gtin}"
        return " · ".join([name, *([f"lot {lot}"] if lot else []), kind])


def mint_units(
    units: list[gs1.UnitId],
    actor: str,
    key: Path | None,
    base: str,
    out: Path,
    *,
    lot: str | None,
    expiry: str | None,
) -> tuple[list[UnitLabels], Path]:
    """Prepare labels and claim codes, write the manifest, then commission the units.

    The claim codes exist only in the manifest, so it is written (never over another
    one) before anything is appended, and removed again only if nothing was appended.

    Raises:
        OutputExistsError: ``out`` already holds a manifest (nothing is minted).
        LedgerError: the ledger refused a batch.
    """
    from qr import prepare_units, write_manifest

    private = load_private_key(key_path(key, actor))
    prepared = prepare_units(base, units, private)
    store = connect()
    try:
        log = store.origin()  # each event is signed for this log (format 2)
    finally:
        store.close()
    events = [
        sign_with(
            private,
            actor,
            "commission",
            log=log,
            unit={"gtin": p.unit.gtin, "serial": p.unit.serial},
            prev=None,
            lot=lot,
            expiry=expiry,
            claim={"salt": p.claim_salt, "hash": p.claim_hash},
        )
        for p in prepared
    ]
    out.mkdir(parents=True, exist_ok=True)
    manifest = write_manifest(out / "manifest.csv", prepared)
    from rich.progress import Progress

    done = 0
    store = connect()
    try:
        with Progress(console=console, disable=OPTIONS.json) as bar:
            task = bar.add_task("commissioning", total=len(events))
            for begin in range(0, len(events), 1000):
                store.append(events[begin : begin + 1000])
                done += min(1000, len(events) - begin)
                bar.advance(task, min(1000, len(events) - begin))
    except BaseException:
        if not done:
            manifest.unlink(missing_ok=True)
        raise
    finally:
        store.close()
    return list(prepared), manifest


def write_labels(
    prepared: list[UnitLabels], out: Path, formats: str, run: PrintRun | None = None
) -> list[Path]:
    """Write the 0600 manifest and the label sheets; return the files written."""
    from qr import write_manifest

    wanted = label_formats(formats)
    out.mkdir(parents=True, exist_ok=True)
    manifest = write_manifest(out / "manifest.csv", prepared)
    return [manifest, *write_sheets(prepared, out, wanted, run)]


def write_sheets(
    prepared: list[UnitLabels], out: Path, wanted: set[str], run: PrintRun | None = None
) -> list[Path]:
    """Write the outer and claim labels: A4 sheets (PDF), roll labels (PDF, ``run.roll``),
    ZPL, per-unit PNG/SVG; return the files. Every file that holds claim codes is
    written owner-only (mode 0600, never over an existing file)."""
    from datetime import UTC, datetime

    from rich.progress import Progress

    from qr import (
        render_pngs,
        render_roll_pdf,
        render_roll_zpl,
        render_sheet_pdf,
        render_svgs,
        write_private_file,
    )

    run = run or PrintRun()
    # one product and lot per sheet: the labels sorted by them (stable within)
    ordered = sorted(prepared, key=lambda p: (p.unit.gtin, run.lots.get(p.unit) or ""))
    outer = [
        p.outer(product=run.products.get(p.unit.gtin), lot=run.lots.get(p.unit)) for p in ordered
    ]
    inner = [p.inner() for p in ordered]
    author, created = run.author, datetime.now(UTC)
    written: list[Path] = []

    def public(name: str, data: bytes) -> None:
        (out / name).write_bytes(data)
        written.append(out / name)

    def private(name: str, data: bytes) -> None:  # every claim code in plain text
        written.append(write_private_file(out / name, data))

    with Progress(console=console, disable=OPTIONS.json) as bar:
        task = bar.add_task("labels", total=len(wanted) + (run.roll is not None))
        if "pdf" in wanted:
            for name, labels, kind, write in (
                ("outer-labels.pdf", outer, "outer labels", public),
                ("claim-labels.pdf", inner, "claim labels", private),
            ):
                headings = [run.heading(p, kind) for p in ordered]
                title = headings[0] if len(set(headings)) == 1 else f"{len(labels)} {kind}"
                write(
                    name,
                    render_sheet_pdf(
                        labels, title=title, headings=headings, author=author, created=created
                    ),
                )
            bar.advance(task)
        if run.roll is not None:
            public(
                f"outer-labels-{run.roll}.pdf",
                render_roll_pdf(outer, run.roll, author=author, created=created),
            )
            private(
                f"claim-labels-{run.roll}.pdf",
                render_roll_pdf(inner, run.roll, author=author, created=created),
            )
            bar.advance(task)
        if "zpl" in wanted:
            public("outer-labels.zpl", render_roll_zpl(outer, run.roll or "50x30"))
            private("claim-labels.zpl", render_roll_zpl(inner, run.roll or "50x30"))
            bar.advance(task)
        for fmt, render in (("png", render_pngs), ("svg", render_svgs)):
            if fmt in wanted:
                for p, data in zip(ordered, render(outer), strict=True):
                    path = out / f"{p.unit.gtin}-{_safe(p.unit.serial)}.{fmt}"
                    path.write_bytes(data)
                    written.append(path)
                bar.advance(task)
    return written


def _safe(serial: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else f"%{ord(c):02X}" for c in serial)
