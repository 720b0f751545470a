"""Group commit: concurrent single-event appends share one transaction and one checkpoint.

A single append costs one transaction, one durable commit (an fsync on SQLite, a WAL
flush on PostgreSQL), one checkpoint signature and one map-head update, whatever it
holds: done one by one, concurrent writers queue behind the log's write lock and each
pays all of it. `GroupCommitter.append` gathers the single appends of one process into
groups instead (leader and followers):

1. a caller queues its event; if no group is being gathered or written, it leads: it
   waits up to ``window`` seconds for others (only if an append ran in the last
   `IDLE_AFTER` seconds: an idle log answers a lone append at once; and only until as
   many events are queued as the last group took), then takes every
   queued event (at most ``max_group``) and appends them with `Appender.append_each`:
   each still read against the log, verified and judged by the rules on its own, in
   queue order; a refused one fails alone, with its own error, and the others land;
2. the others wait; events that arrive while a group is written queue up for the next
   one, whose first caller the leader wakes to lead it. That leader too waits up to
   ``window`` for the callers of the group just written to be back with their next
   events (until as many are queued as that group took plus those others had queued):
   else a busy log settles into two half groups, each written while the other's callers
   are answered, and every event pays twice the share of a group's fixed cost (its
   transaction, commit, checkpoint signature and map head; docs/PERFORMANCE.md,
   "gather48"). Where callers do not come back (an open loop), a wait that ran out makes
   the next hand-overs lead at once, more of them after each such wait in a row;
2a. a caller on an event loop (`GroupCommitter.submit`, the API's ``POST /v1/entries``)
   does not wait in a thread: it is woken by a callback once answered, and its groups
   are led by the committer's one writer thread (started at the first such caller),
   which writes one group after another while they queue. A request then costs no
   thread of its own and no hand-off to one and back; a busy log, one thread that
   writes instead of a leader woken per group (docs/PERFORMANCE.md, "latency, session
   26");
3. every caller of the group gets its answer only after the group's commit and the
   appender's ``on_commit`` (the high-water state file, ledger.service.highwater):
   nothing is acknowledged before it is durable, and the receipt carries the group's
   signed checkpoint, which includes the event.

A caller may hand its event's write-quota charge (`Charge`) to the group instead of
taking it itself before the append: the leader takes the group's charges, some in the
group's own write transaction (ledger.service.groupcharges).

An unexpected error (a bug) while applying one event fails that event alone
(`EventFailedError`, see `Appender.append_each`). A failure of the whole group (the
database, the state file) reaches every caller of that group; nothing of it was
acknowledged, and a retry is answered as a duplicate if the commit had happened. Groups
of several processes (server workers) are serialized by the log's write lock as before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ledger.entry import SignedEvent
from ledger.errors import LedgerError
from ledger.service.append import MAX_BATCH, Appender, BatchReceipt, Receipt
from ledger.service.groupcharges import Charge, give_back, inside, take_charges, taking_inside

#: the default gathering window, seconds (a few ms: far below the latency target)
WINDOW = 0.002
#: a leader waits for others only if an append ran this recently (seconds)
IDLE_AFTER = 0.05
#: the most hand-overs led at once, without gathering, after gathers that fell short
MAX_SKIPS = 31

_log = logging.getLogger(__name__)


@dataclass
class Pending:
    """One caller's event and, once its group is done, its answer (`answer`)."""

    signed: SignedEvent
    charge: Charge | None = None
    #: called (from the writing thread) once answered: a caller not waiting in a thread
    wake: Callable[[], None] | None = None
    #: set once answered: a caller waiting in a thread (`append`) waits on it; one woken
    #: by ``wake`` has none (an Event is a lock and a condition: ~2 us an event made
    #: for nobody, in the GIL the event loop shares; docs/PERFORMANCE.md "loop49")
    done: threading.Event | None = None
    finished: bool = False  # answered (or, with ``lead``, woken to lead): `finish` ran
    lead: bool = False  # woken to lead the next group, not answered
    charged: bool = False  # its charge was taken (given back unless it lands)
    refused: BaseException | None = None  # its take in the group's transaction was refused
    receipt: BatchReceipt | None = None
    error: BaseException | None = None

    def finish(self) -> None:
        """Mark it answered (or, with ``lead`` set, to lead) and wake its caller."""
        self.finished = True
        if self.done is not None:
            self.done.set()
        if self.wake is not None:
            try:
                self.wake()
            except Exception:  # the caller's own affair: the writer must go on
                _log.exception("group commit: waking a caller failed")

    def answer(self) -> BatchReceipt:
        """Its receipt, once answered; or raise its error, once (kept after, the error's
        traceback, which holds the caller's frames and so this slot, would make a
        reference cycle of the slot, its event and the group's objects)."""
        error = self.error
        if error is not None:
            self.error = None
            try:
                raise error
            finally:
                del error  # (this frame's own reference: in its traceback, a cycle too)
        if self.receipt is None:  # set with done whenever error is not: a bug if missing
            raise RuntimeError(
                "group commit answered neither a receipt nor an error (or raised it already)"
            )
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
        #: a gathering leader waits on it for `_enough` queued events (`_gather`)
        self._gathered = threading.Condition(self._lock)
        self._enough = 0  # while a leader gathers: the queue it waits for; else 0
        self._last_size = 0  # how many events the last group took
        #: events queued by others than the last group's callers when those were answered
        self._others = 0
        #: hand-overs to lead without gathering (after gathers that fell short: `_gather`)
        self._skips = 0
        self._misses = 0  # gathers after a hand-over that fell short, one after another
        self._pending: list[Pending] = []
        self._busy = False  # a leader is gathering or writing a group
        self._writer: ThreadPoolExecutor | None = None  # leads for callers of `submit`
        self._last = 0.0  # monotonic time the last group ended
        #: groups written and events in them, since start (tests, metrics)
        self.groups = 0
        self.events = 0

    def queued(self) -> int:
        """How many events wait for a group (not counting one being written)."""
        with self._lock:
            return len(self._pending)

    def append(self, signed: SignedEvent, charge: Charge | None = None) -> BatchReceipt:
        """Append one signed event as part of a group; return its own receipt with the
        group's checkpoint (size and note), after the group's commit. ``charge`` is taken
        before the group's transaction and given back unless the event lands new.

        Raises what a batch of one would raise for this event (the error's field
        unprefixed): SignatureError, RuleError, ConflictError, KeyFormatError; the
        charge's refusal (or what its take raised), nothing written; and StorageError (or
        what ``on_commit`` raised) when the whole group failed.
        """
        done = threading.Event()
        slot = Pending(signed, charge, done=done)
        if not self._queue(slot):
            done.wait()
            if not slot.lead:
                return slot.answer()
            # woken to lead the group that gathered while the last one was written
            self._gather(handed_over=True)
        else:
            self._gather()
        self._lead()
        return slot.answer()

    def submit(
        self, signed: SignedEvent, wake: Callable[[], None], charge: Charge | None = None
    ) -> Pending:
        """Queue one signed event for a group without waiting (for a caller on an event
        loop); ``wake`` is called, from the thread that wrote its group, once it is
        answered: then `Pending.answer` returns its receipt or raises its error, as
        `append` would. Groups of such callers are led by the committer's own writer
        thread, so no caller's thread waits for a group, nor leads one."""
        slot = Pending(signed, charge, wake)
        if self._queue(slot):
            self._writing().submit(self._gather_and_lead)
        return slot

    def _queue(self, slot: Pending) -> bool:
        """Queue ``slot``; whether its caller leads (no group is gathered or written)."""
        with self._lock:
            self._pending.append(slot)
            lead = not self._busy
            self._busy = True
            if self._enough and len(self._pending) >= self._enough:
                self._enough = 0
                self._gathered.notify()
        return lead

    def _gather(self, handed_over: bool = False) -> None:
        """A leader waits for others, but only if the log was busy just now: for at most
        the window, and no longer than until the callers it expects are queued (then the
        rest of the window would only delay them all). A first leader expects as many
        events as the last group took (its callers, back with their next events); a
        leader ``handed_over`` the lead by the group just written expects that group's
        callers back besides the events others had queued when they were answered (at
        most a group's maximum).

        Callers that do not come back (each sends one event: an open loop) would make
        every hand-over wait out the window. So a gather after a hand-over that ends
        short of its target makes the next hand-overs lead at once: 1, then 3, 7, ...
        up to `MAX_SKIPS` after each further one in a row; one that reaches its target
        starts the count again."""
        if self._window <= 0 or time.monotonic() - self._last >= IDLE_AFTER:
            return
        with self._lock:
            if handed_over and self._skips:
                self._skips -= 1
                return
            queued = len(self._pending)
            expected = self._last_size + self._others if handed_over else self._last_size
            enough = min(self._max, max(2, expected))
            if queued < enough:
                self._enough = enough
                self._gathered.wait(self._window)
                self._enough = 0
            if handed_over:
                if len(self._pending) >= enough:
                    self._misses = 0
                else:  # the window ran out first
                    self._misses = min(self._misses + 1, MAX_SKIPS.bit_length())
                    self._skips = min(MAX_SKIPS, 2**self._misses - 1)

    def _gather_and_lead(self, handed_over: bool = False) -> None:
        self._gather(handed_over)
        self._lead()

    def close(self) -> None:
        """Let the writer thread end once the groups queued to it are written (a later
        `submit` starts another)."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.shutdown(wait=False)  # a queued group still runs; its hand-over, anew

    def _writing(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._writer is None:  # one thread: it leads one group after another
                self._writer = ThreadPoolExecutor(1, thread_name_prefix="group-commit")
            return self._writer

    def _lead(self) -> None:
        """Write the queued events as one group, answer each, hand over the lead."""
        with self._lock:
            group, self._pending = self._pending[: self._max], self._pending[self._max :]
            self._last_size = len(group)
        try:
            self._write(group)
        finally:
            with self._lock:
                self._last = time.monotonic()
                following = self._pending[0] if self._pending else None
                self._busy = following is not None
            if following is not None:
                self._hand_over(following)

    def _hand_over(self, following: Pending) -> None:
        if following.done is not None:  # its caller waits in `append`: it leads
            following.lead = True
            following.finish()
        else:  # a caller of `submit`: the writer thread leads the next group
            self._writing().submit(self._gather_and_lead, True)

    def _write(self, group: list[Pending]) -> None:
        take_charges([slot for slot in group if not inside(slot)])
        for slot in group:
            if slot.error is not None:  # its take was refused or failed: not written
                slot.finish()
        group = [slot for slot in group if slot.error is None]
        if not group:
            self._answer(group)  # (every caller answered: the queue counted now)
            return
        taken_inside = [slot for slot in group if inside(slot)]
        try:
            signed = [s.signed for s in group]
            if taken_inside:
                outcome = self._appender.append_each(signed, taking_inside(group))
            else:
                outcome = self._appender.append_each(signed)
        except BaseException as e:  # the whole group failed: every caller hears it
            for slot in taken_inside:  # rolled back with it (or, committed, their events landed)
                slot.charged = False
            for slot in group:
                slot.error = e
            give_back(group)
            self._answer(group)
            return
        self.groups += 1
        self.events += len(group)
        for slot, result in zip(group, outcome.outcomes, strict=True):
            if slot.refused is not None:  # its take, in the transaction, was refused
                slot.error = slot.refused
            elif isinstance(result, LedgerError):
                slot.error = result
            else:
                slot.receipt = _own(result, outcome.size, outcome.checkpoint)
        give_back(group)
        self._answer(group)

    def _answer(self, group: list[Pending]) -> None:
        """Answer every caller of ``group``, counting first the events queued by others
        (`_others`): a caller answered may be back before the hand-over counts the queue,
        and would be expected twice (`_gather`)."""
        with self._lock:
            self._others = len(self._pending)
        for slot in group:
            slot.finish()


def _own(receipt: Receipt, size: int, checkpoint: str) -> BatchReceipt:
    return BatchReceipt((receipt,), size, checkpoint)
