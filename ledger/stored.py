"""The values a stored log is read as: its head, its entries, its checkpoints.

Pure dataclasses shared by the store (which fills them), the service, the audit and the
remote sources of the CLI (which read them), so that none of those needs the store to
name them.
"""

from __future__ import annotations

from dataclasses import dataclass

#: bytes of an event hash a store keeps (its key, ``entries.event_key``,
#: 0031_from_leaves): the whole hash is read from the leaf wherever it is compared
EVENT_KEY_SIZE = 8


@dataclass(frozen=True)
class LogHead:
    """A log's identity and current head."""

    id: int
    name: str
    origin: str
    size: int
    chain: bytes
    root: bytes
    #: the size of the log whose map the stored map of heads is, while it is behind the
    #: log (the map's child process has a committed batch's rows to write,
    #: ledger.service.mapworker); None: the stored map is the whole log's
    map_size: int | None = None


@dataclass(frozen=True)
class StoredEntry:
    """One stored entry: leaf bytes and the values derived from them at append time.

    ``event_hash`` is the hash of the leaf's event, read from the leaf
    (`ledger.entry.leaf_event_hash`; empty for bytes without a leaf's envelope);
    ``event_key`` is what the store keeps of it (its first 8 bytes, 0031_from_leaves),
    which the audit compares with the leaf's."""

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
    #: the stored key of the event hash; a source without a store gives the leaf's
    event_key: bytes = b""


@dataclass(frozen=True)
class StoredCheckpoint:
    """A signed checkpoint as stored."""

    size: int
    root: bytes
    note: str
    signed_at: str
