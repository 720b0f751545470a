"""JSON files a command keeps between runs (auditor and witness state, evidence).

Writes are atomic (a temporary file in the same folder, fsynced, then renamed), so a
crash leaves either the old file or the new one, never half of each.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ledger.errors import EncodingError


def read_json(path: Path) -> Any | None:
    """The JSON in ``path``, or None when the file does not exist.

    Raises:
        EncodingError: the file is not JSON.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return json.loads(text)
    except ValueError as e:
        raise EncodingError(f"{path} is not JSON: {e}", field="state") from e


def write_json(path: Path, data: Any, mode: int = 0o600) -> None:
    """Write ``data`` as JSON to ``path`` atomically and durably."""
    write_bytes(path, (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode(), mode)


def write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically and durably (fsync file and folder)."""
    write_stream(path, [data], mode)


def write_stream(path: Path, chunks: Iterable[bytes], mode: int = 0o600) -> int:
    """Write ``chunks`` to ``path`` atomically and durably; return the byte count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            for chunk in chunks:
                out.write(chunk)
                written += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return written
