"""``provenance export``: the log in portable forms.

- ``export bundle`` writes the audit bundle (docs/FORMAT.md, "Export bundle") from the
  operator's database;
- ``export epcis`` writes an EPCIS 2.0 EPCISDocument of one unit's chain or of a range
  of the log (docs/EPCIS.md), from the database or from ``--server``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import typer

from cli.backends import connect
from cli.common import OPTIONS, UsageError, emit, fail, parse_unit, safe
from cli.statefile import write_stream
from ledger.epcis.vocab import DEFAULT_EPC_BASE

app = typer.Typer(
    help="Export the log: an audit bundle for offline audits, and other formats.",
    no_args_is_help=True,
)


@app.command("bundle")
def bundle(
    out: Path = typer.Option(..., "--out", "-o", help="the bundle file to write"),
) -> None:
    """Write the whole log (entries, checkpoints with cosignatures, keys) to one file."""
    from cli.backends.local import Local

    if OPTIONS.server:
        fail("export bundle reads the log's database (--db); over --server use audit", 2)
    counts = {"checkpoint": 0, "index": 0}

    def encoded(lines: Iterator[str]) -> Iterator[bytes]:
        for line in lines:
            kind = line[2 : line.index('"', 2)]  # each line is {"<first key>":...
            counts[kind] = counts.get(kind, 0) + 1
            yield line.encode()

    local = Local(OPTIONS.database_url)
    try:
        written = write_stream(out, encoded(local.bundle_lines()), 0o644)
    finally:
        local.close()
    size, checkpoints = counts["index"], counts["checkpoint"]
    emit(
        {"file": str(out), "size": size, "checkpoints": checkpoints, "bytes": written},
        safe(f"wrote {out}: {size} entries, {checkpoints} checkpoints, {written} bytes"),
    )


@app.command("epcis")
def epcis(
    unit: str = typer.Option(None, "--unit", help="GTIN/SERIAL or a scanned label URL"),
    start: int = typer.Option(0, "--start", min=0, help="first log index (range export)"),
    end: int = typer.Option(None, "--end", min=0, help="index after the last (default: all)"),
    out: Path = typer.Option(None, "--out", help="write here instead of standard output"),
    epc_base: str = typer.Option(DEFAULT_EPC_BASE, "--epc-base", help="Digital Link host"),
) -> None:
    """Write an EPCIS 2.0 EPCISDocument of a unit's chain or of a range of the log."""
    if unit and (start or end is not None):
        raise UsageError("use --unit or --start/--end, not both")
    store = connect()
    try:
        if unit:
            document = store.export_epcis_unit(parse_unit(unit)[0], epc_base)
        else:
            document = store.export_epcis_range(start, end, epc_base)
    finally:
        store.close()
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    count = len(document["epcisBody"]["eventList"])
    emit({"file": str(out), "events": count}, safe(f"{count} EPCIS events written to {out}"))
