"""Checkpoints others kept, as evidence of how far the log had grown.

The high-water file (ledger.service.highwater) is the log's own memory of its largest
published checkpoint. When that file is lost with the database, or is older than what
readers saw, the witnesses still remember: each keeps the checkpoint it cosigned last
(``provenance witness --state``). An operator who restores collects those and drops
them into the evidence folder (``witnesses/`` beside the state files) or names them
with ``provenance restore --evidence FILE``; the start-up and the restore then refuse
to serve less than the largest of them, as they do for the mark.

A file there is either a signed checkpoint note (with or without cosignature lines) or
a witness's state file (JSON with ``seen.checkpoint``). Only the log key's signature is
checked: a checkpoint that key signed proves the log once reached its size, whoever
kept it, and nobody without the key can raise the bar. A file that is neither, or whose
checkpoint the log key did not sign, is an error, not skipped: evidence quietly
ignored is how a rollback gets served.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from ledger.audit.witness import Seen
from ledger.errors import LedgerError, StorageError, ValidationError

#: the folder, beside the high-water state files, holding the witnesses' checkpoints
FOLDER = "witnesses"
#: the largest evidence file read (a checkpoint with its cosignatures is under 4 KiB)
MAX_BYTES = 64 * 1024


def evidence_folder(state_file: Path) -> Path:
    """The evidence folder of the log whose high-water state file is ``state_file``."""
    return state_file.parent / FOLDER / state_file.name.removesuffix(".json")


def read_evidence(path: Path, log_key: str, origin: str) -> Seen:
    """The log's checkpoint in the evidence file ``path``, verified under ``log_key``.

    Raises:
        ValidationError: the file cannot be read, holds no checkpoint, or one that the log
            key did not sign, or one of another log.
    """
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise ValidationError(f"cannot read evidence file {path}: {e}", field="evidence") from e
    if len(raw) > MAX_BYTES:
        raise ValidationError(f"evidence file {path} is over {MAX_BYTES} bytes", field="evidence")
    try:
        seen = Seen.verified(_note_of(raw), log_key)
    except (LedgerError, UnicodeDecodeError) as e:
        why = e.message if isinstance(e, LedgerError) else "not UTF-8"
        raise ValidationError(
            f"evidence file {path} holds no checkpoint of this log ({why})", field="evidence"
        ) from e
    if seen.checkpoint.origin != origin:
        raise ValidationError(
            f"evidence file {path} is a checkpoint of {seen.checkpoint.origin!r}, not {origin!r}",
            field="evidence",
        )
    return seen


def _note_of(raw: bytes) -> str:
    """The checkpoint note text of an evidence file: the note itself, or a witness state's."""
    text = raw.decode("utf-8")
    if not text.lstrip().startswith("{"):
        return text
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValidationError(f"not JSON: {e}", field="evidence") from e
    seen = data.get("seen") if isinstance(data, dict) else None
    note = seen.get("checkpoint") if isinstance(seen, dict) else None
    if not isinstance(note, str):
        raise ValidationError("a witness state file has seen.checkpoint", field="evidence")
    return note


def largest(
    paths: Iterable[Path], log_key: str, origin: str
) -> tuple[Seen, Path] | tuple[None, None]:
    """The largest checkpoint among the evidence files ``paths`` and its file.

    Raises:
        ValidationError: a file is not evidence of this log (`read_evidence`), or two
            files hold checkpoints of one size with two roots (a split view: both are
            the log key's, so the log itself forked; nothing is served until an
            operator looks).
    """
    best: tuple[Seen, Path] | tuple[None, None] = (None, None)
    roots: dict[int, tuple[bytes, Path]] = {}
    for path in sorted(paths):
        seen = read_evidence(path, log_key, origin)
        size, root = seen.checkpoint.size, seen.checkpoint.root
        other = roots.setdefault(size, (root, path))
        if other[0] != root:
            raise ValidationError(
                f"evidence files {other[1]} and {path} hold two checkpoints of size {size} "
                "with different roots: a split view signed by the log key",
                field="evidence",
            )
        if best[0] is None or size > best[0].checkpoint.size:
            best = (seen, path)
    return best


def folder_files(folder: Path) -> list[Path]:
    """The evidence files in ``folder`` (none when it does not exist); subfolders (the
    evidence an incident gave up) are not read."""
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]


def keep_evidence(path: Path, state_file: Path, log_key: str, origin: str) -> Path:
    """Verify the witness's checkpoint in ``path`` (`read_evidence`) and keep a copy in the
    evidence folder of the log whose high-water state file is ``state_file``, where every
    later start-up reads it; return the copy's path.

    Raises:
        ValidationError: it is not a checkpoint of this log signed by its key.
        StorageError: the copy cannot be written.
    """
    seen = read_evidence(path, log_key, origin)
    digest = hashlib.sha256(seen.note.encode()).hexdigest()[:16]
    folder = evidence_folder(state_file)
    kept = folder / f"{seen.checkpoint.size}-{digest}.note"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        kept.write_text(seen.note, encoding="utf-8")
    except OSError as e:
        raise StorageError(f"cannot keep evidence in {folder}: {e}") from e
    return kept
