"""Write-quota charges taken by a group commit (ledger.service.groupcommit).

A caller may hand its event's write-quota charge (`Charge`, api.quota: a bucket in the
log's database) to the group instead of taking it itself before the append: the leader
takes the group's charges, one take per bucket when the sum fits (else one by one, in
queue order). A charge that can be taken in the group's own write transaction
(``take_in``: the database bucket's) is taken there, once the log's head is locked and
before any event is judged, and commits or rolls back with the group; any other in the
leader's thread right before the transaction. An event whose take is refused fails
alone with the charge's error and is not written; the charge of an event that did not
land new (refused by the rules, a duplicate, or, taken before, the group failed) is
given back before its caller is answered. Taken before the events are judged, in the
same order: the same decisions as a take per request, without a transaction of its
own (docs/PERFORMANCE.md, "latency, session 26"; "single30, session 30"). A database
error in a take made inside the transaction fails the whole group, as any statement's.

The functions here read and set each slot's charge fields (`ChargedSlot`, the group's
`Pending`); the group's own order and answers stay in ledger.service.groupcommit.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from ledger.errors import LedgerError
from ledger.service.append import BatchReceipt

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Charge:
    """What an event costs in a write-quota bucket, taken by its group's leader.

    ``take(cost, force)`` spends ``cost`` tokens of the bucket and returns 0, or the
    seconds until they are there (nothing taken unless ``force``; a negative cost gives
    tokens back); it may raise (the database). ``refusal(wait)`` is the error of an
    event whose take was refused. Charges of one ``bucket`` in a group are merged.
    ``take_in(tx, cost, force)``, if given, is ``take`` inside the group's own write
    transaction ``tx`` (the appender's `WriteTx`, of the log the bucket counts for):
    the group takes it there. ``take`` still gives back what did not land.
    """

    bucket: Hashable
    cost: int
    take: Callable[[float, bool], float]
    refusal: Callable[[float], BaseException]
    take_in: Callable[[Any, float, bool], float] | None = None
    #: whether the charge is due at all, asked in the leader's thread right before its
    #: take (None: always): one not due is neither taken nor refused. The API's single
    #: events pay only for a signature that verifies (api.quota), checked here with the
    #: group's own verify (done by then: the question costs a look-up)
    due: Callable[[], bool] | None = None


class ChargedSlot(Protocol):
    """What these functions read and set of one event of a group (its `Pending`)."""

    charge: Charge | None
    charged: bool  # its charge was taken (given back unless it lands)
    refused: BaseException | None  # its take in the group's transaction was refused
    error: BaseException | None
    receipt: BatchReceipt | None


def inside(slot: ChargedSlot) -> bool:
    """Whether ``slot``'s charge is taken inside the group's transaction."""
    return slot.charge is not None and slot.charge.take_in is not None


def _due(slot: ChargedSlot) -> bool:
    """Whether ``slot``'s charge is to be taken (`Charge.due`)."""
    due = cast(Charge, slot.charge).due
    return due is None or due()


class _LeftOutError(LedgerError):
    """Why `Appender.append_each` leaves an event out of its group's transaction: its
    take there was refused. The charge's refusal may be any exception, where the append
    keeps a `LedgerError` a position; the caller hears that refusal (its slot's ``refused``),
    never this."""


def taking_inside(
    group: Sequence[ChargedSlot],
) -> Callable[[Any, Sequence[int]], Mapping[int, LedgerError]]:
    """`Appender.append_each`'s ``first``: the charges of ``group`` (by position) that
    are taken inside the transaction, taken there (as `take_charges`, each bucket's
    ``take_in`` on ``tx``); the positions whose take was refused, to leave out. Called
    anew in each transaction of the group (a rolled-back one took nothing)."""

    def first(tx: Any, positions: Sequence[int]) -> Mapping[int, LedgerError]:
        for slot in group:  # what an earlier, rolled-back transaction decided is undone
            if inside(slot):  # (an event left out since, too: it was never taken)
                slot.charged, slot.refused = False, None
        slots = [group[i] for i in positions if inside(group[i])]
        for pairs in _by_bucket(slots).values():  # a database error fails the whole group
            take_in = cast(Callable[[Any, float, bool], float], pairs[0][1].take_in)
            _take_bucket(pairs, functools.partial(take_in, tx), in_tx=True)
        return {
            i: _LeftOutError("its write-quota take was refused")
            for i in positions
            if group[i].refused is not None
        }

    return first


def take_charges(group: Sequence[ChargedSlot]) -> None:
    """Take the group's charges, per bucket: the sum at once when it fits, else each in
    queue order; a refused take sets its slot's error (the charge's refusal), a failed
    one (the database) the error of every slot of its bucket not yet charged."""
    for pairs in _by_bucket(group).values():
        try:
            _take_bucket(pairs)
        except Exception as e:  # the database: the bucket's takes not yet made fail
            for slot, _ in pairs:
                if not slot.charged:
                    slot.error = e


def _by_bucket(slots: Sequence[ChargedSlot]) -> dict[Hashable, list[tuple[ChargedSlot, Charge]]]:
    """The charges of ``slots`` that are due (`Charge.due`), with their slots, by bucket,
    in queue order."""
    buckets: dict[Hashable, list[tuple[ChargedSlot, Charge]]] = {}
    for slot in slots:
        if slot.charge is not None and _due(slot):
            buckets.setdefault(slot.charge.bucket, []).append((slot, slot.charge))
    return buckets


def _take_bucket(
    pairs: list[tuple[ChargedSlot, Charge]],
    take: Callable[[float, bool], float] | None = None,
    in_tx: bool = False,
) -> None:
    """Take one bucket's charges (``take``: the bucket's, default its charges' own); a
    refusal sets the slot's error, or, ``in_tx`` (in the group's transaction), its
    ``refused`` (the event is then left out by the append)."""
    # as api.quotagroup merges concurrent takes: granted whole, each is admitted as it
    # would have been one by one; else each is judged alone, never refused for another
    whole = take or pairs[0][1].take
    if len(pairs) > 1 and whole(sum(c.cost for _, c in pairs), False) == 0:
        for slot, _ in pairs:
            slot.charged = True
        return
    for slot, charge in pairs:
        wait = (take or charge.take)(charge.cost, False)
        if wait <= 0:
            slot.charged = True
        elif in_tx:
            slot.refused = charge.refusal(wait)
        else:
            slot.error = charge.refusal(wait)


def give_back(group: Sequence[ChargedSlot]) -> None:
    """Give back, per bucket, the charges of the slots that did not land new (refused,
    a duplicate, the group failed). The events' fates are settled: a failure here is
    logged, not answered (the bucket keeps the tokens, as a lost refund would)."""
    back: dict[Hashable, tuple[Charge, int]] = {}
    for slot in group:
        if slot.charge is None or not slot.charged:
            continue
        receipt = slot.receipt
        if receipt is not None and not receipt.receipts[0].duplicate:
            continue  # landed new: it pays
        slot.charged = False
        charge, cost = back.get(slot.charge.bucket, (slot.charge, 0))
        back[slot.charge.bucket] = (charge, cost + slot.charge.cost)
    for charge, cost in back.values():
        try:
            charge.take(-cost, True)
        except Exception:
            _log.warning("could not give back %d write-quota tokens", cost, exc_info=True)
