"""Private key files: created 0600 from the start, refused when group or others may read.

The one writer and the one reader of every private key file the project keeps (the
operator's and the log's keys, the CLI's actor keys, a witness key, a token's PIN file):
every harness (tests, bench, the hammer) writes its keys through `write_key_file`.
ledger.service.config re-exports both.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ledger.errors import KeyFormatError


def read_key_file(path: Path, what: str = "key file") -> bytes:
    """A private key file's bytes, refusing one that group or others may read or write.

    The one rule for every private key file (the server's operator key, the CLI's actor
    keys, a witness key): mode 0600 or stricter, checked on the open file itself.

    Raises:
        KeyFormatError: missing, unreadable, or its mode grants group or others anything.
    """
    try:
        with path.open("rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            data = f.read()
    except OSError as e:
        raise KeyFormatError(f"cannot read {what} {path}: {e.strerror}") from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFormatError(
            f"{what} {path} is readable by others (mode {stat.S_IMODE(mode):04o}); "
            f"run chmod 600 {path}"
        )
    return data


def write_key_file(path: Path, data: bytes) -> None:
    """Create a private key file with mode 0600 from the start, never overwriting one.

    Raises:
        KeyFormatError: the file exists.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise KeyFormatError(f"{path} exists; refusing to overwrite a key") from e
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o600)  # whatever the umask
        out.write(data)
