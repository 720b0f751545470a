"""``provenance export``: the log in portable forms (a sub-app; formats add commands).

``export bundle`` writes the audit bundle (docs/FORMAT.md, "Export bundle") from the
operator's database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import typer

from cli.common import OPTIONS, emit, fail
from cli.statefile import write_stream

export_app = typer.Typer(
    help="Export the log: an audit bundle for offline audits, and other formats.",
    no_args_is_help=True,
)


@export_app.command("bundle")
def bundle(
    out: Path = typer.Option(..., "--out", "-o", help="the bundle file to write"),
) -> None:
    """Write the whole log (entries, checkpoints with cosignatures, keys) to one file."""
    from cli.backend import Local

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
        written = write_stream(out, encoded(local.ledger.exports.bundle_lines()), 0o644)
    finally:
        local.close()
    size, checkpoints = counts["index"], counts["checkpoint"]
    emit(
        {"file": str(out), "size": size, "checkpoints": checkpoints, "bytes": written},
        f"wrote {out}: {size} entries, {checkpoints} checkpoints, {written} bytes",
    )


def install(app: typer.Typer) -> None:
    """Add ``export bundle`` to the ``export`` sub-app (created here if no module has)."""
    for info in app.registered_groups:
        if info.name == "export" and info.typer_instance is not None:
            info.typer_instance.registered_commands.extend(export_app.registered_commands)
            return
    app.add_typer(export_app, name="export")
