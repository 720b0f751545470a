"""The bytes of a high-water slot file (ledger.service.highwater): a JSON object holding
the mark and the batch it keeps, with a checksum of the rest to tell a torn write.

Pure functions, no I/O: the keeper reads and writes the files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any


def pack_leaves(leaves: Sequence[bytes]) -> bytes:
    """A kept batch's leaves as stored: each a u32 big-endian length, then its bytes."""
    return b"".join(len(leaf).to_bytes(4, "big") + leaf for leaf in leaves)


def split_leaves(packed: bytes) -> list[bytes]:
    """The leaves of a kept batch (each a u32 big-endian length, then its bytes).

    Raises:
        ValueError: a length runs past the end.
    """
    leaves, at = [], 0
    while at < len(packed):
        size = int.from_bytes(packed[at : at + 4], "big")
        if at + 4 + size > len(packed):
            raise ValueError("a leaf runs past the end of the batch")
        leaves.append(packed[at + 4 : at + 4 + size])
        at += 4 + size
    return leaves


def body(data: Mapping[str, Any]) -> bytes:
    """A slot's bytes: ``data`` and its check (`check`), as one JSON object.

    ``data`` is encoded once: the check hashes that text, and the body is the same text
    with the check added as a last member (a reader sorts keys again: `parse`).
    """
    text = text_of(data).encode()
    digest = hashlib.sha256(text).hexdigest()
    return text[:-1] + (b', "check": "' if data else b'"check": "') + digest.encode() + b'"}'


def text_of(data: Mapping[str, Any]) -> str:
    """The text a slot's check hashes: ``data`` as JSON, keys sorted."""
    return json.dumps(data, sort_keys=True)


def check(data: Mapping[str, Any]) -> str:
    """The SHA-256 of a slot's content (without its check), to tell a torn write."""
    return hashlib.sha256(text_of(data).encode()).hexdigest()


def parse(text: bytes) -> dict[str, Any] | None:
    """A slot's content, or None when it is damaged."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("size"), int):
        return None
    kept = data.pop("check", None)
    return data if kept == check(data) else None


def size_of(data: Mapping[str, Any]) -> int:
    """A slot's mark (its ``size``; 0 when there is none)."""
    size = data.get("size")
    return size if isinstance(size, int) else 0
