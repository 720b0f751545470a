"""What a batch publishes, handed to the keeper of the log's high-water mark before commit.

A checkpoint is readable by every connection the moment its transaction commits: a
reader may fetch it and a witness may cosign it before the writer's next line runs. So
the mark that says "this log published size N" (ledger.service.highwater) must be
durable before that commit, not after it. The `Appender` calls its `Keeper` inside the
write transaction, after the checkpoint is signed and before COMMIT; if the commit then
fails, it calls the undo the keeper returned.

The batch's leaves go with it: if the process stops between the keeper's write and the
commit (or the database is later put back at exactly the size before the batch), the
next start rolls the log forward from them (ledger.service.startguard) to the very
checkpoint the mark holds, instead of refusing to start or forking the log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Publishing:
    """A batch about to commit: the log grows from ``base`` to ``size`` entries with
    ``leaves`` (exact leaf bytes, in order), under the signed ``checkpoint`` note."""

    base: int
    size: int
    checkpoint: str
    leaves: tuple[bytes, ...]


class Keeper(Protocol):
    """Keeps the largest checkpoint a log is about to publish, outside its database."""

    def before_commit(self, batch: Publishing) -> Callable[[], None]:
        """Make ``batch``'s checkpoint (and its leaves) durable before its commit; return
        the undo to call when the commit fails (it restores the previous mark).

        Raises:
            StorageError: the mark cannot be kept (the batch must not commit).
        """
        ...
