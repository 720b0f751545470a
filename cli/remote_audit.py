"""Audit a server's log over HTTP: fetch every entry and the latest checkpoint, replay.

The server's leaf bytes are re-hashed and replayed through the rules and signature
checks like a local audit; the recomputed tree must match the server's signed
checkpoint. The server keeps no chain or nodes the client can read, so those checks
are the server's own (its local audit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ledger import codec, merkle
from ledger.entry import Leaf
from ledger.errors import LedgerError
from ledger.merkle import Subtree
from ledger.state import State
from ledger.store import StoredCheckpoint, StoredEntry

if TYPE_CHECKING:
    from cli.backend import Remote


@dataclass
class RemoteSource:
    """An `ledger.audit.AuditSource` over a server's HTTP API."""

    remote: Remote
    _checkpoint: str = ""
    _size: int = 0

    def head(self) -> tuple[int, bytes | None]:
        """The size of the latest checkpoint (the audit covers exactly that tree)."""
        response = self.remote._get("/v1/checkpoint")
        if response.status_code != 200:
            self.remote._json(response)
        self._checkpoint = response.text
        self._size = int(self._checkpoint.split("\n")[1])
        return self._size, None

    def entries(self, start: int, end: int) -> list[StoredEntry]:
        """Entries of the checkpointed tree, fetched 1,000 at a time."""
        out: list[StoredEntry] = []
        stop = min(end, self._size)
        while start < stop:
            page = self.remote._json(
                self.remote._get(
                    "/v1/entries", start=start, end=min(stop, start + 1000), size=self._size
                )
            )
            for item in page["entries"]:
                out.append(_stored(item))
            if not page["entries"]:
                break
            start = out[-1].index + 1
        return out

    def checkpoints(self) -> list[StoredCheckpoint]:
        """The latest checkpoint."""
        root = (
            codec.b64_decode(self._checkpoint.split("\n")[2])
            if self._checkpoint
            else merkle.EMPTY_ROOT
        )
        return [StoredCheckpoint(self._size, root, self._checkpoint, "")] if self._size else []

    def nodes(self, wanted: list[Subtree]) -> dict[Subtree, bytes] | None:
        """The server's nodes are not exposed; the recomputed root is checked instead."""
        return None

    def state(self) -> State | None:
        """The server's projections are not exposed."""
        return None


def _stored(item: dict[str, object]) -> StoredEntry:
    leaf_bytes = codec.b64url_decode(str(item["leaf"]), field="leaf")
    leaf_hash = merkle.leaf_hash(leaf_bytes)
    try:
        leaf = Leaf.from_bytes(leaf_bytes)
        event, signed, received = leaf.signed.event, leaf.signed, leaf.received
        unit = getattr(event, "unit", None)
        kind, gtin, serial, signer, key = (
            event.kind,
            unit.gtin if unit else None,
            unit.serial if unit else None,
            event.actor,
            signed.key,
        )
        event_hash = signed.hash
    except LedgerError:
        kind, gtin, serial, signer, key, received, event_hash = "?", None, None, "?", "?", "?", b""
    return StoredEntry(
        index=int(str(item["index"])),
        leaf=leaf_bytes,
        leaf_hash=leaf_hash,
        chain=None,
        event_hash=event_hash,
        kind=kind,
        gtin=gtin,
        serial=serial,
        signer=signer,
        key_id=key,
        received=received,
    )
