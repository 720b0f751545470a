"""The print shop's manifest: one CSV row per unit, with its secret claim code.

What it does: writes ``unit,uri,claim_code,claim_uri`` (RFC 4180 CSV, UTF-8, a header
row) to a new file that only its owner can read or write (mode 0600). The file is
created by ``os.open`` with ``O_CREAT | O_EXCL`` and mode 0600, so it never exists with
wider permissions, not even for an instant, and an existing file (or a symbolic link
planted in its place) is never overwritten or followed. If writing fails half-way the
partial file is removed.

``unit`` is the unit's Digital Link path ``/01/{gtin14}/21/{serial}`` (the serial
percent-encoded), so no cell starts with ``=``, ``+``, ``-`` or ``@`` and a spreadsheet
cannot read a serial as a formula.

`write_private_file` writes any other secret file the same way: the claim-label sheets,
which print every claim code in plain text.

What it does not do: encrypt (hand the file over by a channel you trust, and delete it
once printed); render labels (``qr.batch``).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path

from qr.errors import LabelError, OutputExistsError
from qr.label import UnitLabels

COLUMNS = ("unit", "uri", "claim_code", "claim_uri")
FILE_MODE = 0o600
_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def write_private_file(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to a new owner-only file (mode 0600, ``O_EXCL``, no symbolic link
    followed) and return its path; a partial file is removed.

    Raises:
        OutputExistsError: the file already exists (field ``path``).
        LabelError: the file cannot be created or written (field ``path``).
    """
    target = Path(path)
    fd = _create(target)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), FILE_MODE)  # the umask may have removed bits
            out.write(data)
    except BaseException as e:
        target.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise LabelError(f"cannot write {target}: {e.strerror}", field="path") from e
        raise
    return target


def _create(target: Path) -> int:
    """Create ``target`` owner-only and exclusively; its file descriptor."""
    try:
        return os.open(target, _FLAGS, FILE_MODE)
    except FileExistsError as e:
        raise OutputExistsError(f"{target} already exists", field="path") from e
    except OSError as e:
        raise LabelError(f"cannot create {target}: {e.strerror}", field="path") from e


def write_manifest(path: str | os.PathLike[str], items: Iterable[UnitLabels]) -> Path:
    """Write the manifest of ``items`` to a new owner-only file and return its path.

    Raises:
        OutputExistsError: the file already exists (field ``path``).
        LabelError: the file cannot be created or written (field ``path``).
    """
    target = Path(path)
    fd = _create(target)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            os.fchmod(out.fileno(), FILE_MODE)  # the umask may have removed bits
            writer = csv.writer(out)
            writer.writerow(COLUMNS)
            for item in items:
                writer.writerow((item.unit.path(), item.uri, item.claim_code, item.claim_uri))
    except BaseException as e:
        target.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise LabelError(f"cannot write {target}: {e.strerror}", field="path") from e
        raise
    return target
