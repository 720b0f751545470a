"""The values a stored log is read as: its head, its entries, its checkpoints.

Pure dataclasses shared by the store (which fills them), the service, the audit and the
remote sources of the CLI (which read them), so that none of those needs the store to
name them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LogHead:
    """A log's identity and current head."""

    id: int
    name: str
    origin: str
    size: int
    chain: bytes
    root: bytes


@dataclass(frozen=True)
class StoredEntry:
    """One stored entry: leaf bytes and the values derived from them at append time."""

    index: int
    leaf: bytes
    leaf_hash: bytes
    #: the running chain hash; None where the source does not keep it (a remote audit)
    chain: bytes | None
    event_hash: bytes
    kind: str
    gtin: str | None
    serial: str | None
    signer: str
    key_id: str
    received: str


@dataclass(frozen=True)
class StoredCheckpoint:
    """A signed checkpoint as stored."""

    size: int
    root: bytes
    note: str
    signed_at: str
