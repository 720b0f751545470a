"""``provenance audit``: replay a log and check every hash, proof, signature and rule.

Three sources (docs/AUDIT.md):

- the local database (``--db``): the full replay of ledger.audit.replay;
- a server (``--server``): the full replay over HTTP, or with ``--state FILE`` the
  incremental audit of ledger.audit.auditor.follow (consistency from the last verified
  checkpoint, then only the new entries);
- an export bundle (``--bundle FILE``): offline, no network.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cli.backends import connect, connect_remote, remote_url
from cli.common import OPTIONS, UsageError, console, emit, safe
from cli.statefile import read_json, write_json

if TYPE_CHECKING:
    from ledger.audit.replay import AuditReport

app = typer.Typer()


@app.command()
def audit(
    trusted: list[Path] = typer.Option(
        None, "--trusted", help="a checkpoint file you kept (repeatable)"
    ),
    server: str = typer.Option(None, "--server", help="audit this server's log"),
    state: Path = typer.Option(
        None, "--state", help="with --server: the auditor's state file (incremental audit)"
    ),
    bundle: Path = typer.Option(None, "--bundle", help="audit an export bundle offline"),
    log_key: str = typer.Option(
        None, "--log-key", help="the log's verifier key to pin (default: PROVENANCE_LOG_KEY)"
    ),
    evidence: Path = typer.Option(
        None, "--evidence", help="where to write split-view evidence (default: STATE.evidence)"
    ),
    log: str = typer.Option(
        None, "--log", help="the log to audit, in a deployment of several (docs/SCALING.md)"
    ),
) -> None:
    """Replay the whole log (or what is new) and check every hash, proof, signature, rule."""
    from rich.progress import Progress

    OPTIONS.log = log or OPTIONS.log
    url = server or OPTIONS.server
    url = remote_url(url, OPTIONS.log) if url else None
    if sum(x is not None for x in (url, bundle)) > 1 or (state and not url):
        raise UsageError("use --bundle alone, or --state with --server")
    kept = [p.read_text() for p in trusted or []]
    pinned = log_key or os.environ.get("PROVENANCE_LOG_KEY")
    with Progress(console=console, disable=OPTIONS.json, transient=True) as bar:
        task = bar.add_task("auditing", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if bundle is not None:
            report = _audit_bundle(bundle, pinned, kept, progress)
        elif url and state is not None:
            report = _follow(url, state, pinned, evidence, progress)
        else:
            report = _audit_backend(url, kept, progress)
    _show(report)


def _audit_backend(url: str | None, kept: list[str], progress: Any) -> AuditReport:
    """The full audit of ``url`` (the server's log, ``/logs/LOG`` included) or of ``--db``."""
    store = connect_remote(url) if url else connect()
    try:
        return store.audit(kept, progress)
    finally:
        store.close()


def _audit_bundle(path: Path, pinned: str | None, kept: list[str], progress: Any) -> AuditReport:
    from ledger.audit.auditor import audit_bundle
    from ledger.audit.bundle import parse_bundle

    parsed = parse_bundle(path.read_bytes())
    if pinned is None and not OPTIONS.json:
        console.print(
            f"[yellow]log key taken from the bundle ({safe(parsed.log_key)}); pin it with "
            "--log-key to prove the bundle is that log's[/]",
            soft_wrap=True,
        )
    return audit_bundle(parsed, pinned or parsed.log_key, trusted=kept, progress=progress)


def _follow(
    url: str, state: Path, pinned: str | None, evidence: Path | None, progress: Any
) -> AuditReport:
    from cli.backends.remote import Remote
    from cli.backends.remote_source import RemoteSource
    from ledger.audit.auditor import AuditorState, follow
    from ledger.events import format_time

    data = read_json(state)
    remote = Remote(url)
    try:
        key = pinned or (data or {}).get("log_key") or remote.verifier_key()
        previous = AuditorState.from_dict(data, key) if data is not None else None
        now = format_time(datetime.now(UTC))
        report, new_state = follow(RemoteSource(remote.http), key, previous, now, progress=progress)
    finally:
        remote.close()
    if new_state is not None:
        write_json(state, new_state.to_dict())
    for finding in report.findings:
        if finding.code == "split-view":
            target = evidence or state.with_name(state.name + ".evidence.json")
            write_json(target, finding.evidence["evidence"], 0o644)
            finding.evidence["file"] = str(target)
    return report


def _show(report: AuditReport) -> None:
    data = report.to_dict()
    if report.ok:
        emit(
            data,
            f"[bold green]audit passed[/]: {report.entries} entries, "
            f"{report.checkpoints} checkpoints",
        )
        return
    lines = [
        safe(
            f"  {f.code} at {f.index if f.index is not None else '-'}: {f.message}"
            + (f" (evidence: {f.evidence['file']})" if "file" in f.evidence else "")
        )
        for f in report.findings[:20]
    ]
    bad = report.first_bad_index
    where = f"first bad index {bad}; " if bad is not None else ""
    emit(data, f"[bold red]audit FAILED[/]: {where}{len(report.findings)} findings", *lines)
    raise typer.Exit(1)
