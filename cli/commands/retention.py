"""``provenance retention run``: delete shoppers' data whose retention period is over.

Scans and their client hashes, owners' daily client hashes, report photos, report texts
and client hashes, spent claim-attempt counters, past days' report counters and scan
salts (ledger.service.retention; the periods in docs/PRIVACY.md). The log itself is
never touched: an audit after a run passes as before. The server runs the same job at
start and hourly; this command is for a cron job or a server that is not running.
Works on the local database only (``--db``, ``--log``), never through a server.
"""

from __future__ import annotations

import typer

from cli.common import OPTIONS, emit, fail, safe

app = typer.Typer(help="Delete personal data past its retention period (docs/PRIVACY.md).")


@app.command()
def run() -> None:
    """Delete what is past its period now; print how many rows of each kind went."""
    from cli.backends.local import Local

    if OPTIONS.server:
        fail("retention works on a local database (--db), not through --server", 2)
    local = Local(OPTIONS.database_url, OPTIONS.log)
    try:
        done = local.ledger.retention.run().to_dict()
    finally:
        local.close()
    emit(
        {"deleted": done},
        *(safe(f"{kind.replace('_', ' ')}: {count} deleted") for kind, count in done.items()),
    )
