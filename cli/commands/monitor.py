"""``provenance monitor --as BRAND``: watch a log for entries touching a brand that are
not the brand's own (ledger.audit.monitor), the way Certificate Transparency monitors
watch for certificates.

Each run: (1) the latest checkpoint verifies under the pinned log key (``--log-key``,
``PROVENANCE_LOG_KEY``, else the one the state remembers, else the server's, said so);
(2) it continues the checkpoint of the last run (consistent, not smaller: otherwise the
run is refused with an evidence file, and the state stays); (3) every entry from the
state's next index up to that checkpoint is proven in it (leaf hash and inclusion
proof); (4) `scan` verifies each entry's signature under the keys the log gave its
signer (kept in the state) and reports forged entries and what touches the brand;
(5) the state moves to the new checkpoint, then the report is printed: exit 1 and a
JSON report when an alarm was found, 0 when clean. What the brand's scoped keys signed
within their scope is listed under ``notices`` and alone leaves the exit status 0: such
an entry is the brand's, the list is there for the brand to read (docs/CLI.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import typer

from cli.backends import remote_url
from cli.commands.audit import kept_path, now_text, pinned_key
from cli.common import OPTIONS, UsageError, emit, fail, safe
from cli.statefile import read_json, write_json

app = typer.Typer()

_PAGE = 1000


@app.command()
def monitor(
    brand: str = typer.Option(..., "--as", help="the brand (actor id) to watch for"),
    server: str = typer.Option(None, "--server", help="the log's server"),
    state: Path = typer.Option(
        None,
        "--state",
        help="the monitor's state file (default: one per server URL, pinned key and brand "
        "in PROVENANCE_HOME/state, else $XDG_STATE_HOME/provenance)",
    ),
    log_key: str = typer.Option(
        None, "--log-key", help="the log's verifier key to pin (default: PROVENANCE_LOG_KEY)"
    ),
    evidence: Path = typer.Option(None, "--evidence", help="where to write split-view evidence"),
    log: str = typer.Option(
        None, "--log", help="which log of a deployment of several (/logs/LOG on the server)"
    ),
) -> None:
    """Report every entry that touches BRAND's identity and was not signed by its keys."""
    from cli.backends.remote import Remote
    from cli.backends.remote_source import RemoteSource
    from ledger.audit.auditor import check_kept
    from ledger.audit.monitor import Brand, Keyring, MonitorState, scan
    from ledger.audit.replay import AuditReport
    from ledger.audit.witness import Seen

    url = server or OPTIONS.server
    if not url:
        raise UsageError("the monitor needs --server URL (or PROVENANCE_SERVER)")
    remote = Remote(remote_url(url, log or OPTIONS.log))
    try:
        source = RemoteSource(remote.http)
        served = source.latest_checkpoint()
        pinned = pinned_key(log_key)
        # keyed by the URL and the pin, never by the origin the server claims
        path = state or kept_path(remote.url, "monitor", pinned).with_suffix("") / (
            f"{quote(brand, safe='')}.json"
        )
        data = read_json(path)
        previous = MonitorState.from_dict(data, brand, pinned) if data is not None else None
        key = pinned or (previous.log_key if previous else None) or _server_key(remote)
        latest = Seen.verified(served, key)  # (1)
        start = 0
        known, keyring = Brand(brand), Keyring()
        if previous is not None and previous.checkpoint is not None:  # (2)
            kept = Seen.from_dict(previous.checkpoint, key)
            refused = AuditReport()
            old, size = kept.checkpoint.size, latest.checkpoint.size
            proof = source.consistency_proof(old, size) if old < size else None
            if not check_kept(refused, kept, served, key, proof, now_text()):
                finding = refused.findings[0]
                target = evidence or path.with_name(path.name + ".evidence.json")
                write_json(target, finding.evidence["evidence"], 0o644)
                fail(f"{finding.code}: {finding.message}; evidence in {target}")
            start, known, keyring = previous.next_index, previous.brand, previous.keyring
        size = latest.checkpoint.size
        entries = _proven(remote, start, size, latest.checkpoint)  # (3)
    finally:
        remote.close()
    found, known, keyring = scan(known, keyring, entries)  # (4)
    alerts = [a for a in found if a.severity == "alarm"]
    notices = [a for a in found if a.severity != "alarm"]
    state_now = MonitorState(key, latest.to_dict(), size, known, keyring)
    write_json(path, state_now.to_dict())  # (5)
    report = {
        "brand": brand,
        "ok": not alerts,
        "from": start,
        "to": size,
        "alerts": [a.to_dict() for a in alerts],
        "notices": [a.to_dict() for a in notices],
    }
    lines = [
        safe(f"  {a.code} at {a.index}: {a.message} ({a.kind} by {a.actor})")
        for a in [*alerts, *notices][:50]
    ]
    read = f"entries {start} to {size - 1}" if size > start else f"no new entry (size {size})"
    touched = len({a.index for a in alerts})
    listed = f"; {len(notices)} entries signed by its scoped keys" if notices else ""
    head = (
        f"[bold red]{len(alerts)} findings in {touched} entries touching {safe(brand)}[/]"
        f" ({read}{listed})"
        if alerts
        else f"[bold green]clean[/]: {read}, nothing touches {safe(brand)}{listed}"
    )
    emit(report, head, *lines)
    if alerts:
        raise typer.Exit(1)


def _server_key(remote: Any) -> str:
    """The key the server serves (no key pinned, no state yet), said so."""
    from cli.common import console

    served = str(remote.verifier_key())
    if not OPTIONS.json:
        console.print(
            f"[yellow]log key taken from the server ({safe(served)}): pin it with --log-key[/]",
            soft_wrap=True,
        )
    return served


def _proven(remote: Any, start: int, size: int, checkpoint: Any) -> list[dict[str, Any]]:
    """Entries ``start <= index < size``, each proven in the checkpoint of ``size``.

    Raises:
        ProofError: an entry's leaf hash or inclusion proof does not check.
        ValidationError: the server skipped an entry or served a malformed one.
    """
    from ledger import codec, merkle
    from ledger.audit.monitor import entry_dict
    from ledger.errors import ValidationError

    root, origin = checkpoint.root, checkpoint.origin
    out: list[dict[str, Any]] = []
    at = start
    while at < size:
        stop = min(size, at + _PAGE)
        page = remote.http.json(remote.http.get("/v1/entries", start=at, end=stop, size=size))
        for item in page["entries"]:
            index = int(item["index"])
            if index != at:
                raise ValidationError(f"the server skipped entry {at}", field="entries")
            leaf = codec.b64url_decode(str(item["leaf"]), field="leaf")
            proof = [codec.b64url_decode(str(h), field="proof") for h in item["proof"]]
            merkle.verify_inclusion(merkle.leaf_hash(leaf), index, size, proof, root)
            out.append(entry_dict(index, leaf, origin))
            at += 1
        if at < stop:
            raise ValidationError(f"the server skipped entry {at}", field="entries")
    return out
