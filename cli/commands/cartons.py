"""The container commands: ``pack`` and ``unpack`` (top-level commands of ``app``,
composed by cli.main). ``handoff``, ``receive`` and ``inspect`` take an SSCC where they
take a unit (cli.commands.custody); cli.containers does the work for all of them.
"""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import emit, safe

app = typer.Typer()

_SSCC = typer.Argument(
    ..., help="the container's SSCC: 18 digits, (00)..., its URN or its /00/ label URL"
)
_AS = typer.Option(..., "--as", help="the signing actor id (the custodian of what is packed)")
_KEY = typer.Option(None, "--key", help="key file (default: $PROVENANCE_HOME/keys/<actor>.pem)")
_PLACE = typer.Option(None, "--place", help="where it happens, e.g. 'Shanghai DC 3'")


@app.command()
def pack(
    sscc: str = _SSCC,
    items: list[str] = typer.Argument(
        ..., help="units (GTIN/SERIAL or a scanned label URL) or inner containers' SSCCs"
    ),
    as_: str = _AS,
    key: Path = _KEY,
    place: str = _PLACE,
) -> None:
    """Put units you hold, or cartons, into a container (a carton or a pallet). All or
    nothing: one item refused refuses the whole pack."""
    from cli import containers

    outcome = containers.pack(sscc, items, as_, key, place)
    emit(outcome.to_dict(), safe(outcome.line()))


@app.command()
def unpack(
    sscc: str = _SSCC,
    items: list[str] = typer.Argument(
        None, help="what to take out (default: everything directly in it)", show_default=False
    ),
    as_: str = _AS,
    key: Path = _KEY,
    place: str = _PLACE,
) -> None:
    """Take units or inner cartons out of a container you hold (all of it by default)."""
    from cli import containers

    outcome = containers.unpack(sscc, items or [], as_, key, place)
    emit(outcome.to_dict(), safe(outcome.line()))


@app.command("sscc-label")
def sscc_label(
    ssccs: list[str] = typer.Argument(..., help="the SSCCs to print labels for"),
    out: Path = typer.Option(Path("labels"), "--out", help="folder to write sscc-labels.pdf"),
    base_url: str = typer.Option(
        None, "--base-url", help="resolver base (default: PROVENANCE_PUBLIC_URL, else --server)"
    ),
) -> None:
    """Print carton and pallet labels: a QR code of the GS1 Digital Link /00/{sscc}."""
    from cli.commands.mint import _base
    from ledger.sscc import parse_sscc
    from qr import render_sheet_pdf
    from qr.label import sscc_label as label_of

    labels = [label_of(_base(base_url), parse_sscc(text, "sscc")) for text in ssccs]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "sscc-labels.pdf"
    path.write_bytes(render_sheet_pdf(labels))
    emit(
        {"files": [str(path)], "uris": [lab.qr_text for lab in labels]},
        safe(f"wrote {len(labels)} container labels to {path}"),
    )
