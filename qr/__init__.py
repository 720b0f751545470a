"""QR labels: what a brand prints on every unit, and the offline check of a scan.

From a unit identity and the brand's key: the signed GS1 Digital Link URI
(``ledger.label``), the outer label (QR code, GTIN, serial, "Scan to verify · 扫码验真")
and the inner claim-code label, drawn as PNG (``qr.png``), SVG (``qr.svg``), A4 or
Letter sheets as one PDF (``qr.pdf``) or SVG pages (``qr.sheet``), thermal roll labels
as PDF (``qr.roll``) or Zebra ZPL (``qr.zpl``), on every core
(``qr.batch``), with the print shop's owner-only CSV manifest (``qr.manifest``).
docs/LABELS.md shows the use; docs/FORMAT.md section 8 the exact label format.

This package knows no database: labels go in as text, bytes come out. It imports the
pure core (``ledger.*``), `qrcode`, Pillow and reportlab, nothing of SQLAlchemy or
FastAPI.

    >>> from qr import prepare_units, render_sheet_pdf, verify_label
"""

from ledger.label import verify_label
from qr.batch import (
    render_pngs,
    render_roll_pdf,
    render_roll_zpl,
    render_sheet_pdf,
    render_sheet_svgs,
    render_svgs,
)
from qr.label import Label, UnitLabels, claim_uri, prepare_unit, prepare_units, unit_label
from qr.manifest import write_manifest, write_private_file
from qr.matrix import QRMatrix, encode
from qr.png import render_png
from qr.svg import render_svg

__all__ = [
    "Label",
    "QRMatrix",
    "UnitLabels",
    "claim_uri",
    "encode",
    "prepare_unit",
    "prepare_units",
    "render_png",
    "render_pngs",
    "render_roll_pdf",
    "render_roll_zpl",
    "render_sheet_pdf",
    "render_sheet_svgs",
    "render_svg",
    "render_svgs",
    "unit_label",
    "verify_label",
    "write_manifest",
    "write_private_file",
]
