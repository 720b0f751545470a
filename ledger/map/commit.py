"""How a checkpoint commits to the map: one extension line (docs/FORMAT.md section 14).

The line is ``map/v1 <root in standard base64>``, after the C2SP checkpoint's root
line, so the log's signature and every witness cosignature cover it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from ledger.map.proof import MapProofError
from ledger.map.trie import HASH_BYTES

PREFIX = "map/v1 "


def extension(root: bytes) -> str:
    """The checkpoint extension line committing to ``root``."""
    if len(root) != HASH_BYTES:
        raise MapProofError(f"a map root is {HASH_BYTES} bytes", field="root")
    return PREFIX + base64.b64encode(root).decode("ascii")


def root_of(extensions: Sequence[str]) -> bytes | None:
    """The map root a checkpoint's extension lines commit to, or None if they name none.

    Raises:
        MapProofError: a malformed map line, or more than one.
    """
    lines = [line for line in extensions if line.startswith(PREFIX)]
    if not lines:
        return None
    if len(lines) > 1:
        raise MapProofError("a checkpoint names more than one map root", field="checkpoint")
    try:
        root = base64.b64decode(lines[0][len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as e:
        raise MapProofError("a map root line is not base64", field="checkpoint") from e
    if len(root) != HASH_BYTES or extension(root) != lines[0]:
        raise MapProofError("a map root line is not one canonical 32-byte root", field="checkpoint")
    return root
