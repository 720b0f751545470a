"""``provenance witness``: check a log's latest checkpoint, cosign it, post the cosignature.

The witness keeps one state file per log (the checkpoint it cosigned last, the log's
pinned key) and writes it BEFORE it posts the cosignature, so it can never cosign two
trees that contradict each other, even across a crash (C2SP tlog-witness). When the log
shows a fork, a checkpoint inconsistent with the last one, or a map root that does not
follow from the last one plus the new entries (checked with the log's map update proof,
docs/FORMAT.md section 14), it refuses and writes the evidence file (docs/FORMAT.md,
"Split-view evidence").
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli.backends import remote_url
from cli.common import OPTIONS, UsageError, emit, fail, safe
from cli.statefile import read_json, write_json
from ledger.errors import KeyFormatError

if TYPE_CHECKING:
    from cli.backends.remote import Remote
    from cli.backends.remote_source import RemoteSource
    from ledger import note
    from ledger.map.updateproof import UpdateProof

app = typer.Typer()


@app.command()
def witness(
    key: Path = typer.Option(..., "--key", help="the witness's signer key file (0x04)"),
    server: str = typer.Option(None, "--server", help="the log's server"),
    state: Path = typer.Option(
        None, "--state", help="the witness's state file (default: next to the key)"
    ),
    log_key: str = typer.Option(
        None, "--log-key", help="the log's verifier key (default: PROVENANCE_LOG_KEY)"
    ),
    checkpoint: Path = typer.Option(
        None, "--checkpoint", help="check this checkpoint instead of the server's latest"
    ),
    evidence: Path = typer.Option(None, "--evidence", help="where to write split-view evidence"),
    new: str = typer.Option(
        None, "--new", help="create a witness key with this name in --key, then stop"
    ),
    log: str = typer.Option(
        None, "--log", help="which log of a deployment of several (/logs/LOG on the server)"
    ),
) -> None:
    """Cosign the log's latest checkpoint if it is consistent with the last one."""
    if new is not None:
        _create_key(key, new)
        return
    url = server or OPTIONS.server
    if not url:
        raise UsageError("the witness needs --server URL")
    log = log or OPTIONS.log
    signer = _load_key(key)
    # One state file per log: each log has its own tree and its own last checkpoint.
    suffix = f".{log}.state.json" if log else ".state.json"
    state_file = state or key.with_name(key.name + suffix)
    _run(remote_url(url, log), signer, state_file, log_key, checkpoint, evidence)


def _create_key(path: Path, name: str) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ledger import note
    from ledger.service.keyfiles import write_key_file

    signer = note.Signer(name, Ed25519PrivateKey.generate(), note.ALG_COSIGNATURE_V1)
    write_key_file(path, (signer.to_text() + "\n").encode())
    verifier = signer.verifier.to_text()
    emit(
        {"file": str(path), "verifier_key": verifier},
        safe(f"witness key in {path}; give the log operator its verifier key:"),
        safe(verifier),
    )


def _load_key(path: Path) -> note.Signer:
    from ledger import note
    from ledger.service.keyfiles import read_key_file

    text = read_key_file(path).decode("utf-8", "replace").strip()
    signer = note.Signer.from_text(text)
    if signer.algorithm != note.ALG_COSIGNATURE_V1:
        raise KeyFormatError("a witness key must be a cosignature (0x04) key", field="key")
    return signer


def _run(
    url: str,
    signer: note.Signer,
    state_file: Path,
    log_key: str | None,
    checkpoint: Path | None,
    evidence: Path | None,
) -> None:
    from cli.backends.remote import Remote
    from cli.backends.remote_source import RemoteSource
    from ledger import note
    from ledger.audit.witness import WitnessState, cosign_next, submission
    from ledger.errors import SplitViewError
    from ledger.events import format_time

    data = read_json(state_file)
    # A pinned key wins over the one the state remembers (which must then match it).
    pinned = (log_key or os.environ.get("PROVENANCE_LOG_KEY") or "").strip() or (
        (data or {}).get("log_key")
    )
    if not pinned:
        raise UsageError("pin the log's key: --log-key or PROVENANCE_LOG_KEY (first run)")
    previous = WitnessState.from_dict(data, pinned) if data is not None else None
    remote = Remote(url)
    try:
        source = RemoteSource(remote.http)
        served = checkpoint.read_text() if checkpoint else source.latest_checkpoint()
        size = note.Checkpoint.from_body(note.Note.from_bytes(served).text).size
        old = previous.seen.checkpoint.size if previous else 0
        proof = _proof(source, old, size)
        update = _map_update(remote, old, size) if previous else None
        now = datetime.now(UTC)
        try:
            new_state, line = cosign_next(
                previous,
                served,
                pinned,
                proof,
                signer,
                int(time.time()),
                format_time(now),
                update,
            )
        except SplitViewError as e:
            target = evidence or state_file.with_name(state_file.name + ".evidence.json")
            write_json(target, e.evidence, 0o644)
            kind = e.evidence.get("kind", "split-view")
            fail(f"{kind}: {e.message}; refused to cosign; evidence in {target}")
        write_json(state_file, new_state.to_dict())  # persisted before the cosignature leaves
        body = submission(old, proof, new_state.seen.note, line)
        response = remote.http.request(
            "POST",
            "/v1/checkpoint/cosignatures",
            content=body,
            headers={"Content-Type": "text/plain"},
        )
        if response.status_code == 409 and response.json().get("code") == "stale-checkpoint":
            recorded = response.json().get("size")
            fail(f"the log recorded size {recorded} as this witness's last, not {old}")
        receipt = remote.http.json(response)
    finally:
        remote.close()
    emit(
        {"size": size, "old": old, "witness": signer.name, **receipt},
        safe(
            f"cosigned size {size} (consistent with {old}); "
            f"{receipt['witnesses']['vouched']} of {receipt['witnesses']['configured']} "
            "configured witnesses vouch for it"
        ),
    )


def _map_update(remote: Remote, old: int, size: int) -> UpdateProof | None:
    """The log's map update proof from the cosigned size to the served one (None when
    there is nothing to update or the log gives none: the witness then refuses a
    checkpoint whose map it must check, `ledger.audit.witness.check_map`)."""
    from ledger.errors import LedgerError
    from ledger.map.updateproof import UpdateProof

    if old == 0 or size <= old:
        return None
    try:
        body = remote.http.json(remote.http.get("/v1/proofs/map-update", old=old, new=size))
    except LedgerError:
        return None
    return UpdateProof.from_dict(body)


def _proof(source: RemoteSource, old: int, size: int) -> list[bytes]:
    """The log's consistency proof from the cosigned size to the served one; none for a
    smaller tree (refused as a rollback whatever the proof), and an empty one (which
    then fails) when the log refuses to give it."""
    from ledger.errors import LedgerError

    if old == 0 or size <= old:
        return []
    try:
        return source.consistency_proof(old, size)
    except LedgerError:
        return []
