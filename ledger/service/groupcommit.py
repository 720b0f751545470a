"""Group commit: concurrent single-event appends share one transaction and one checkpoint.

A single append costs one transaction, one durable commit (an fsync on SQLite, a WAL
flush on PostgreSQL), one checkpoint signature and one map-head update, whatever it
holds: done one by one, concurrent writers queue behind the log's write lock and each
pays all of it. `GroupCommitter.append` gathers the single appends of one process into
groups instead (leader and followers, no thread of its own):

1. a caller queues its event; if no group is being gathered or written, it leads: it
   waits up to ``window`` seconds for others (only if an append ran in the last
   `IDLE_AFTER` seconds: an idle log answers a lone append at once), then takes every
   queued event (at most ``max_group``) and appends them with `Appender.append_each`:
   each still read against the log, verified and judged by the rules on its own, in
   queue order; a refused one fails alone, with its own error, and the others land;
2. the others wait; events that arrive while a group is written queue up for the next
   one, whose first caller the leader wakes to lead it (so a busy log gathers groups
   without waiting on any timer);
3. every caller of the group gets its answer only after the group's commit and the
   appender's ``on_commit`` (the high-water state file, ledger.service.highwater):
   nothing is acknowledged before it is durable, and the receipt carries the group's
   signed checkpoint, which includes the event.

An unexpected error (a bug) while applying one event fails that event alone
(`EventFailedError`, see `Appender.append_each`). A failure of the whole group (the
database, the state file) reaches every caller of that group; nothing of it was
acknowledged, and a retry is answered as a duplicate if the commit had happened. Groups
of several processes (server workers) are serialized by the log's write lock as before.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from ledger.entry import SignedEvent
from ledger.errors import LedgerError
from ledger.service.append import MAX_BATCH, Appender, BatchReceipt, Receipt

#: the default gathering window, seconds (a few ms: far below the latency target)
WINDOW = 0.002
#: a leader waits for others only if an append ran this recently (seconds)
IDLE_AFTER = 0.05


@dataclass
class _Slot:
    """One caller's event and, once its group is done, its answer."""

    signed: SignedEvent
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to lead the next group, not answered
    receipt: BatchReceipt | None = None
    error: BaseException | None = None

    def answer(self) -> BatchReceipt:
        if self.error is not None:
            raise self.error
        if self.receipt is None:  # set with done whenever error is not: a bug if missing
            raise RuntimeError("group commit answered neither a receipt nor an error")
        return self.receipt


class GroupCommitter:
    """Gathers concurrent single appends to ``appender`` into group transactions.

    One per ledger and process, shared by its per-request copies. ``window`` (seconds,
    0: none) is how long a leader of a busy log waits for others; ``max_group`` caps a
    group (a longer queue goes in several).
    """

    def __init__(
        self, appender: Appender, window: float = WINDOW, max_group: int = MAX_BATCH
    ) -> None:
        self._appender = appender
        self._window = window
        self._max = max(1, min(max_group, MAX_BATCH))
        self._lock = threading.Lock()
        self._pending: list[_Slot] = []
        self._busy = False  # a leader is gathering or writing a group
        self._last = 0.0  # monotonic time the last group ended
        #: groups written and events in them, since start (tests, metrics)
        self.groups = 0
        self.events = 0

    def queued(self) -> int:
        """How many events wait for a group (not counting one being written)."""
        with self._lock:
            return len(self._pending)

    def append(self, signed: SignedEvent) -> BatchReceipt:
        """Append one signed event as part of a group; return its own receipt with the
        group's checkpoint (size and note), after the group's commit.

        Raises what a batch of one would raise for this event (the error's field
        unprefixed): SignatureError, RuleError, ConflictError, KeyFormatError; and
        StorageError (or what ``on_commit`` raised) when the whole group failed.
        """
        slot = _Slot(signed)
        with self._lock:
            self._pending.append(slot)
            lead = not self._busy
            self._busy = True
        if not lead:
            slot.done.wait()
            if not slot.lead:
                return slot.answer()
            # woken to lead the group that gathered while the last one was written
        elif self._window > 0 and time.monotonic() - self._last < IDLE_AFTER:
            time.sleep(self._window)
        self._lead()
        return slot.answer()

    def _lead(self) -> None:
        """Write the queued events as one group, answer each, hand over the lead."""
        with self._lock:
            group, self._pending = self._pending[: self._max], self._pending[self._max :]
        try:
            self._write(group)
        finally:
            with self._lock:
                self._last = time.monotonic()
                following = self._pending[0] if self._pending else None
                self._busy = following is not None
            if following is not None:
                following.lead = True
                following.done.set()

    def _write(self, group: list[_Slot]) -> None:
        try:
            outcome = self._appender.append_each([s.signed for s in group])
        except BaseException as e:  # the whole group failed: every caller hears it
            for slot in group:
                slot.error = e
                slot.done.set()
            return
        self.groups += 1
        self.events += len(group)
        for slot, result in zip(group, outcome.outcomes, strict=True):
            if isinstance(result, LedgerError):
                slot.error = result
            else:
                slot.receipt = _own(result, outcome.size, outcome.checkpoint)
            slot.done.set()


def _own(receipt: Receipt, size: int, checkpoint: str) -> BatchReceipt:
    return BatchReceipt((receipt,), size, checkpoint)
