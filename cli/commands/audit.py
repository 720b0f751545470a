"""``provenance audit``: replay a log and check every hash, proof, signature and rule.

Three sources (docs/AUDIT.md):

- the local database (``--db``): the full replay of ledger.audit.replay, of a database
  that must exist (nothing is created) against the pinned key;
- a server (``--server``): the full replay over HTTP, or with ``--state FILE`` the
  incremental audit of ledger.audit.auditor.follow (consistency from the last verified
  checkpoint, then only the new entries);
- an export bundle (``--bundle FILE``): offline, no network.

The key: ``--log-key``, else ``PROVENANCE_LOG_KEY``, wins over everything (a key the
server serves, a key derived from an operator key file). The full audits keep, by
default, the last checkpoint they verified per log origin (`state_dir`), so a log that
went back or was rewritten is caught without ``--trusted``; ``--no-state`` opts out.
Every refusal (``split-view``, ``rollback``) writes an evidence file.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import typer

from cli.common import OPTIONS, UsageError, console, emit, fail, safe
from cli.statefile import read_json, write_json

if TYPE_CHECKING:
    from ledger.audit.auditor import KeptCheckpoint
    from ledger.audit.replay import AuditReport

app = typer.Typer()


def state_dir() -> Path:
    """Where auditors and monitors keep their state by default: ``state/`` in the
    provenance home when ``PROVENANCE_HOME`` is set (next to the configuration), else
    ``$XDG_STATE_HOME/provenance`` when that is set, else ``~/.provenance/state``."""
    xdg = os.environ.get("XDG_STATE_HOME")
    if xdg and not os.environ.get("PROVENANCE_HOME"):
        return Path(xdg) / "provenance"
    return OPTIONS.home / "state"


def pinned_key(log_key: str | None) -> str | None:
    """The log key the user pinned: ``--log-key``, else ``PROVENANCE_LOG_KEY`` (None: none)."""
    text = (log_key or os.environ.get("PROVENANCE_LOG_KEY") or "").strip()
    return text or None


def kept_path(origin: str, kind: str = "audit") -> Path:
    """The default state file of log ``origin`` (one file per origin and ``kind``)."""
    return state_dir() / kind / f"{quote(origin, safe='')}.json"


def now_text() -> str:
    """The current time as the log writes times (evidence's ``observed_at``)."""
    from ledger.events import format_time

    return format_time(datetime.now(UTC))


@app.command()
def audit(
    trusted: list[Path] = typer.Option(
        None, "--trusted", help="a checkpoint file you kept (repeatable)"
    ),
    server: str = typer.Option(None, "--server", help="audit this server's log"),
    state: Path = typer.Option(
        None,
        "--state",
        help="the state file (with --server: the incremental audit; default: one per log "
        "origin in PROVENANCE_HOME/state, else $XDG_STATE_HOME/provenance)",
    ),
    no_state: bool = typer.Option(
        False, "--no-state", help="keep no state: a rollback is then caught only by --trusted"
    ),
    bundle: Path = typer.Option(None, "--bundle", help="audit an export bundle offline"),
    log_key: str = typer.Option(
        None, "--log-key", help="the log's verifier key to pin (default: PROVENANCE_LOG_KEY)"
    ),
    evidence: Path = typer.Option(
        None, "--evidence", help="where to write evidence (default: STATE.evidence.json)"
    ),
    log: str = typer.Option(
        None, "--log", help="the log to audit, in a deployment of several (docs/SCALING.md)"
    ),
) -> None:
    """Replay the whole log (or what is new) and check every hash, proof, signature, rule."""
    from rich.progress import Progress

    from cli.backends import remote_url

    OPTIONS.log = log or OPTIONS.log
    url = server or OPTIONS.server
    url = remote_url(url, OPTIONS.log) if url else None
    if sum(x is not None for x in (url, bundle)) > 1:
        raise UsageError("use --bundle alone, or --server")
    if (state is not None and (no_state or bundle is not None)) or (no_state and bundle):
        raise UsageError("--state and --no-state exclude each other; a bundle keeps no state")
    kept = [p.read_text() for p in trusted or []]
    pinned = pinned_key(log_key)
    with Progress(console=console, disable=OPTIONS.json, transient=True) as bar:
        task = bar.add_task("auditing", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if bundle is not None:
            report = _audit_bundle(bundle, pinned, kept, progress)
        elif url and state is not None:
            report = _follow(url, state, pinned, evidence, progress)
        elif url:
            report = _audit_remote(url, pinned, kept, not no_state, evidence, progress)
        else:
            report = _audit_local(pinned, kept, no_state, state, evidence, progress)
    _show(report)


def _audit_remote(
    url: str,
    pinned: str | None,
    kept: list[str],
    keep: bool,
    evidence: Path | None,
    progress: Any,
) -> AuditReport:
    """The full audit of ``url`` (``/logs/LOG`` included) against the pinned key, checked
    against the checkpoint kept last time (unless ``--no-state``: not ``keep``)."""
    from cli.backends.remote import Remote
    from cli.backends.remote_source import RemoteSource
    from ledger.audit.auditor import audit_kept
    from ledger.audit.replay import audit_source

    remote = Remote(url)
    try:
        source = RemoteSource(remote.http)
        if not keep:
            key = pinned or _server_key(remote.verifier_key())
            return audit_source(source, key, trusted=kept, progress=progress)
        target = kept_path(_origin(source.latest_checkpoint()))
        data = read_json(target)
        remembered = data.get("log_key") if isinstance(data, dict) else None
        # The pin, else the key kept from the first run (trusted once), else the server's.
        key = pinned or remembered or _server_key(remote.verifier_key())
        previous = _load_kept(target, key)
        report, new = audit_kept(source, key, previous, now_text(), trusted=kept, progress=progress)
    finally:
        remote.close()
    return _keep(report, new, target, evidence)


def _audit_local(
    pinned: str | None,
    kept: list[str],
    no_state: bool,
    state: Path | None,
    evidence: Path | None,
    progress: Any,
) -> AuditReport:
    """The full audit of the local database (``--db``, ``DATABASE_URL`` or the deployment
    file's log), which must exist: nothing is created. The key: the pinned one, else the
    one of this machine's log key (said so), else a one-line error."""
    from cli.backends.local import local_log
    from ledger.service.audit import audit_stored

    spec = local_log(OPTIONS.database_url, OPTIONS.log)
    _require_database(spec.database_url)
    key = pinned or _own_log_key(spec)

    url = spec.database_url

    def kept_for(origin: str) -> KeptCheckpoint | None:
        return None if no_state else _load_kept(_local_state(state, origin, url), key)

    done = audit_stored(
        spec.database_url, spec.name, key, kept_for, now_text(), trusted=kept, progress=progress
    )
    if no_state:
        return done.report
    return _keep(done.report, done.kept, _local_state(state, done.origin, url), evidence)


def _local_state(state: Path | None, origin: str, url: str) -> Path:
    """``--state``, else the default state file of the local audit of ``origin`` in the
    database ``url``: one per log and database, so that auditing a copy (a backup, a
    restored archive) never moves the live database's state."""
    if state is not None:
        return state
    import hashlib

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        where = str(Path(parsed.database).expanduser().resolve())
    else:
        where = parsed.render_as_string(hide_password=True)
    digest = hashlib.sha256(where.encode()).hexdigest()[:12]
    return kept_path(f"{origin}@{digest}", "audit-local")


def _require_database(url: str) -> None:
    """Refuse a SQLite database file that does not exist (opening it would create it)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(str(parsed.database))
        if not path.is_file():
            fail(f"no database at {path}: check --db (an audit never creates one)")


def _own_log_key(spec: Any) -> str:
    """The verifier key of the log key this machine runs the log with (its file or
    token, ``PROVENANCE_CHECKPOINT_KEY``), said so; else a usage error."""
    missing_file = isinstance(spec.log_key, Path) and not spec.log_key.exists()
    if spec.log_key is None or missing_file:
        raise UsageError("pin the log's key: --log-key or PROVENANCE_LOG_KEY")
    from ledger import note
    from ledger.service.config import load_signer

    signer = load_signer(spec.log_key, "the log key", "PROVENANCE_CHECKPOINT_KEY")
    if not OPTIONS.json:
        console.print(
            f"[yellow]log key of this machine ({safe(str(spec.log_key))}): pin it with "
            "--log-key to audit a log you do not run[/]",
            soft_wrap=True,
        )
    return note.Signer(spec.origin, signer).verifier.to_text()


def _server_key(served: str) -> str:
    """The key the server serves, used only when none is pinned (said so)."""
    if not OPTIONS.json:
        console.print(
            f"[yellow]log key taken from the server ({safe(served)}): pin it with --log-key "
            "or PROVENANCE_LOG_KEY, a server cannot vouch for itself[/]",
            soft_wrap=True,
        )
    return served


def _origin(note_text: str) -> str:
    """The origin line of a checkpoint note (its first line)."""
    return note_text.split("\n", 1)[0]


def _load_kept(path: Path, key: str) -> KeptCheckpoint | None:
    """The kept checkpoint in ``path`` (None: no file yet), re-verified under ``key``."""
    from ledger.audit.auditor import KeptCheckpoint

    data = read_json(path)
    return None if data is None else KeptCheckpoint.from_dict(data, key)


def _keep(
    report: AuditReport, new: KeptCheckpoint | None, path: Path, evidence: Path | None
) -> AuditReport:
    """Save the checkpoint to keep (only after a clean audit); write any evidence."""
    if new is not None:
        write_json(path, new.to_dict())
    _write_evidence(report, path, evidence)
    return report


def _write_evidence(report: AuditReport, state: Path, evidence: Path | None) -> None:
    """Write the evidence of each refusal (``split-view``, ``rollback``) beside ``state``."""
    for finding in report.findings:
        if "evidence" in finding.evidence:
            target = evidence or state.with_name(state.name + ".evidence.json")
            write_json(target, finding.evidence["evidence"], 0o644)
            finding.evidence["file"] = str(target)


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
        key = pinned or (data or {}).get("log_key") or _server_key(remote.verifier_key())
        previous = AuditorState.from_dict(data, key) if data is not None else None
        now = format_time(datetime.now(UTC))
        report, new_state = follow(RemoteSource(remote.http), key, previous, now, progress=progress)
    finally:
        remote.close()
    if new_state is not None:
        write_json(state, new_state.to_dict())
    _write_evidence(report, state, evidence)
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
