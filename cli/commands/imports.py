"""``provenance import epcis`` (docs/EPCIS.md): a partner's EPCIS 2.0 document, converted
into ledger events, signed on this machine (``--as`` / ``--key``; the private key is
never sent), and captured by the local database or ``--server``'s
``POST /v1/epcis/capture``, all or none. ``export epcis`` is in cli.commands.export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from cli.backends import connect
from cli.backends.base import ImportRefusedError, refusal_summary
from cli.common import UsageError, emit, key_path, load_private_key, safe

app = typer.Typer(help="Import partners' data (EPCIS 2.0).", no_args_is_help=True)


@app.command("epcis")
def epcis(
    file: Path = typer.Argument(..., help="an EPCIS 2.0 EPCISDocument (JSON or JSON-LD)"),
    as_: str = typer.Option(..., "--as", help="the signing actor id"),
    key: Path = typer.Option(None, "--key", help="key file (default: keys/<actor>.pem)"),
) -> None:
    """Sign a partner's EPCIS events here and append them, all or none."""
    from ledger import codec
    from ledger.epcis.sign import sign_document

    try:
        document = codec.parse(file.read_bytes())
    except OSError as e:
        raise UsageError(f"cannot read {file}: {e.strerror}") from e
    private = load_private_key(key_path(key, as_))
    store = connect()
    try:
        log = store.origin()  # the events are signed for this log (format 2)
        envelope = _refusal_line(lambda: sign_document(document, as_, private, store.head, log))
        receipt = store.capture_epcis(envelope)
    finally:
        store.close()
    count = sum(not r["duplicate"] for r in receipt["receipts"])
    emit(receipt, safe(f"{count} entries appended from {file.name} (log size {receipt['size']})"))


def _refusal_line(action: Any) -> Any:
    """Run ``action``; a refused capture becomes one line naming every refused event."""
    from ledger.epcis.errors import CaptureRefusedError

    try:
        return action()
    except CaptureRefusedError as e:
        raise ImportRefusedError(
            refusal_summary({"detail": e.message, **e.problem_fields})
        ) from None
