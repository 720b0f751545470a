"""Audit a server's log over HTTP: fetch entries, checkpoints and proofs, replay.

`RemoteSource` serves both audits: the full one (ledger.audit.replay.audit_source: every
entry re-hashed and replayed, the recomputed tree checked against the server's signed
checkpoint) and the incremental one (ledger.audit.auditor.follow: consistency from the last
verified checkpoint, then only the new entries). The server keeps no chain or nodes
the client can read, so those checks are the server's own (its local audit).
"""

from __future__ import annotations

from dataclasses import dataclass

from cli.backends.http import Http
from ledger import codec, merkle
from ledger.audit.auditor import entry_from_leaf
from ledger.merkle import Subtree
from ledger.rules.state import State
from ledger.stored import StoredCheckpoint, StoredEntry


@dataclass
class RemoteSource:
    """An `ledger.audit.replay.AuditSource` over a server's HTTP API."""

    http: Http
    _checkpoint: str = ""
    _size: int = 0

    def head(self) -> tuple[int, bytes | None]:
        """The size of the latest checkpoint (the audit covers exactly that tree): the one
        `latest_checkpoint` fetched, if it was called, so that a caller that checked that
        checkpoint (against a kept one) audits the same tree."""
        if not self._checkpoint:
            self.latest_checkpoint()
        return self._size, None

    def entries(self, start: int, end: int) -> list[StoredEntry]:
        """Entries of the checkpointed tree, fetched 1,000 at a time."""
        return self.entries_at(start, end, self._size)

    def latest_checkpoint(self) -> str:
        """The latest signed checkpoint note, as served (fetched again at each call)."""
        self._checkpoint = self.http.text("/v1/checkpoint")
        self._size = int(self._checkpoint.split("\n")[1])
        return self._checkpoint

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """The server's RFC 9162 consistency proof between two sizes."""
        body = self.http.json(self.http.get("/v1/proofs/consistency", old=old, new=new))
        return [codec.b64url_decode(h, field="proof", size=32) for h in body["proof"]]

    def entries_at(self, start: int, end: int, size: int) -> list[StoredEntry]:
        """Entries ``start <= index < end`` of the tree of ``size``, 1,000 per request."""
        out: list[StoredEntry] = []
        stop = min(end, size)
        while start < stop:
            page = self.http.json(
                self.http.get("/v1/entries", start=start, end=min(stop, start + 1000), size=size)
            )
            for item in page["entries"]:
                leaf = codec.b64url_decode(str(item["leaf"]), field="leaf")
                origin = self._checkpoint.split("\n", 1)[0] if self._checkpoint else None
                out.append(entry_from_leaf(int(str(item["index"])), leaf, origin))
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
