"""Write quotas: how many signed events each actor may append through the API.

Every route that appends events a partner signed (``POST /v1/entries``, ``POST
/v1/entries:batch``, ``POST /v1/epcis/capture``) asks `WriteQuota.admit` before the
append and `Admission.settle` after it. The budget is a token bucket per (log, actor):
``PROVENANCE_WRITE_RATE`` events per minute, ``PROVENANCE_WRITE_BURST`` at most at once,
kept in the log's database (ledger.store.quotas) or, when ``REDIS_URL`` is set, in Redis
(api.ratelimit), so every worker spends one budget either way; each decision is atomic.
A batch costs its number of events and is admitted whole or refused whole (429
``write-quota`` with ``Retry-After``), before anything is written.

Who pays is decided only by signatures that verify: an event is charged to its actor
when it is signed by one of that actor's current keys and the signature checks. So a
stranger's unsigned or forged junk naming a partner as its actor costs the partner
nothing (the append refuses it anyway). Events signed by a key the log does not know
yet (registered or rotated in by an earlier event of the same batch) cannot be checked
before the append; once the append accepted them (so their signatures verified) they
are charged to their actor as a debt that later writes wait out. The operator's own
events are not throttled: it runs the log, and its server-signed writes (claims) do not
pass through these routes at all.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.quotagroup import TakeGroups
from api.ratelimit import Clock, Limiter, make_limiter
from ledger import codec
from ledger.entry import SignedEvent
from ledger.errors import LedgerError, ValidationError
from ledger.rules.state import ActorRecord, KeyRecord
from ledger.service.groupcharges import Charge
from ledger.service.ledger import Ledger
from ledger.service.settings import Settings
from ledger.service.sigpool import first_bad_signature
from ledger.verify.batchverify import quick_pool
from ledger.vocab import Role

PREFIX = "provenance:wq"
#: up to this many events, a request whose key owners are in memory is checked without
#: a database read, on the quick verify threads (`batchverify.quick_pool`), awaited; more,
#: or owners not in memory, are read and checked in one hop to anyio's threads
INLINE_EVENTS = 4


class WriteQuotaError(LedgerError):
    """An actor appended more signed events than its write quota allows."""

    code = "write-quota"
    status = 429

    def __init__(self, message: str, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after


@dataclass
class Admission:
    """What `WriteQuota.admit` let through, and what it still charges after the append:
    the events whose keys the log did not know before, by actor."""

    quota: WriteQuota
    ledger: Ledger
    deferred: Counter[str] = field(default_factory=Counter)
    #: the charged events, by event hash: a duplicate is given back when settling
    charged: dict[bytes, str] = field(default_factory=dict)
    #: the single event's charge, not yet taken: its group takes it (`WriteQuota.admit`)
    charge: Charge | None = None

    async def settle(self, duplicates: Iterable[bytes] = ()) -> None:
        """After a successful append: charge the events that could not be checked before
        (their signatures verified in the append), even below zero; give back what the
        events in ``duplicates`` (event hashes the log already held) were charged, so
        that replaying an actor's public events spends nothing of its quota."""
        for actor, cost in self.deferred.items():
            await self.quota.take(self.ledger, actor, cost, force=True)
        for event_hash in duplicates:
            actor = self.charged.pop(event_hash, None)
            if actor is not None:
                await self.quota.take(self.ledger, actor, -1, force=True)

    async def refund(self) -> None:
        """After a refused append (nothing written): give back everything charged."""
        back: Counter[str] = Counter(self.charged.values())
        self.charged.clear()
        await self.quota._give_back(self.ledger, list(back.items()))


class WriteQuota:
    """Token buckets of signed events per (log, actor): in ``limiter`` (Redis, or this
    process), or, without one, in the log's database (ledger.store.quotas), where
    every worker shares them. ``clock`` (seconds, wall time) is the database buckets'."""

    def __init__(
        self,
        limiter: Limiter | None,
        rate_per_minute: float,
        burst: int,
        clock: Clock = time.time,
    ) -> None:
        self.limiter = limiter
        self.rate_per_minute = rate_per_minute
        self.burst = burst
        self.clock = clock
        self._groups = TakeGroups()

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> WriteQuota:
        """The quota configured by ``PROVENANCE_WRITE_RATE`` and ``PROVENANCE_WRITE_BURST``:
        in Redis when ``REDIS_URL`` is set, else in the database; ``clock`` for tests.

        Raises:
            ValidationError: a rate that is not positive or a burst below 1.
        """
        if not settings.write_rate > 0:
            raise ValidationError(
                "PROVENANCE_WRITE_RATE must be a positive number of events per minute",
                field="PROVENANCE_WRITE_RATE",
            )
        if settings.write_burst < 1:
            raise ValidationError(
                "PROVENANCE_WRITE_BURST must be at least 1", field="PROVENANCE_WRITE_BURST"
            )
        limiter = None
        if settings.redis_url:
            rate = settings.write_rate / 60
            limiter = make_limiter(rate, settings.write_burst, settings.redis_url, PREFIX, clock)
        return cls(limiter, settings.write_rate, settings.write_burst, clock or time.time)

    async def take(self, ledger: Ledger, actor: str, cost: int, force: bool = False) -> int | None:
        """Take ``cost`` tokens of ``actor``'s bucket in ``ledger``'s log: None, or the
        whole seconds to wait (nothing taken). ``force`` takes them anyway; a negative
        ``cost`` gives them back.

        Raises:
            StorageError: the database failed (database buckets); nothing was taken.
        """
        if self.limiter is not None:
            bucket = _bucket(ledger.config.name, actor)
            if force:
                await self.limiter.spend(bucket, cost)
                return None
            return await self.limiter.acquire(bucket, cost)

        def run(cost: float, force: bool) -> Awaitable[float]:
            call = functools.partial(
                ledger.take_write_tokens,
                actor,
                cost,
                self.rate_per_minute / 60,
                self.burst,
                self.clock(),
                force,
            )
            return run_in_threadpool(call)

        # concurrent takes of one bucket share a transaction (api.quotagroup)
        wait = await self._groups.take((ledger.config.name, actor), cost, force, run)
        return max(1, math.ceil(wait)) if wait > 0 else None

    async def admit(
        self, ledger: Ledger, events: Sequence[SignedEvent], grouped: bool = False
    ) -> Admission:
        """Charge each actor the events of ``events`` it verifiably signed, all or none.

        A batch in which some signature does not verify is charged nothing (the append
        refuses it whole). Returns the `Admission` to settle after a successful append.
        ``grouped`` (one event, appended by group commit): with the buckets in the
        database, the take is left to the group (the admission's ``charge``, for
        `Ledger.submit` or `Ledger.append`): the group takes it in its own write
        transaction, before the events are judged, and gives it back unless the event
        lands new; a refusal is the `WriteQuotaError` raised here otherwise, and nothing
        of the event is written.

        Raises:
            WriteQuotaError: an actor's bucket holds fewer tokens than its events in
                ``events``; nothing was charged to anyone.
            ValidationError: an actor's events alone exceed the burst (a batch that
                could never be admitted: split it).
            StorageError: the database failed (database buckets).
        """
        # read each event against this log, as the append will: a format-2 signature
        # names the log's origin (JSON carries none), and its event hash does too
        events = [e.for_log(ledger.origin) for e in events]
        if grouped and self.limiter is None and len(events) == 1:
            charge = self._charge_if_verified(ledger, events[0])
            if charge is not None:  # its group checks the signature, then takes
                return Admission(self, ledger, charge=charge)
        keys = {s.key for s in events}
        owners = ledger.cached_key_owners(keys) if len(events) <= INLINE_EVENTS else None
        if owners is None:  # database reads, or many signatures: off the event loop
            checked, deferred = await run_in_threadpool(_read_and_check, ledger, keys, events)
        else:  # owners in memory, a few signatures: verified off the loop, awaited; on
            # the loop, each verify gave the GIL up and the loop then waited for the group's
            # writer to give it back (~250 us a call; docs/PERFORMANCE.md "loop30")
            loop = asyncio.get_running_loop()
            checked, deferred = await loop.run_in_executor(
                quick_pool(), _check_new, ledger, owners, events
            )
        if checked is None:
            return Admission(self, ledger)
        for actor in sorted(set(checked) | set(deferred)):
            whole = checked.get(actor, 0) + deferred.get(actor, 0)
            if whole > self.burst:  # events under a key the batch adds count too
                raise ValidationError(
                    f"{whole} events signed by {actor!r} exceed its write burst of "
                    f"{self.burst}: split the batch",
                    field="events",
                )
        if grouped and self.limiter is None and len(events) == 1 and len(checked) == 1:
            ((actor, cost),) = checked.items()
            return Admission(self, ledger, deferred, charge=self._charge(ledger, actor, cost))
        taken: list[tuple[str, int]] = []
        for actor, cost in sorted(checked.items()):
            wait = await self.take(ledger, actor, cost)
            if wait is not None:
                await self._give_back(ledger, taken)
                raise self._over(actor, cost, wait)
            taken.append((actor, cost))
        charged = {e.hash: e.event.actor for e in events if e.hash in checked.new}
        return Admission(self, ledger, deferred, charged)

    def _charge_if_verified(self, ledger: Ledger, signed: SignedEvent) -> Charge | None:
        """A single event's charge whose signature is checked by its group, not here:
        its actor's, due only if the event is signed by one of the actor's current keys
        (the owners in memory) and the signature verifies under it (`Charge.due`, asked
        by the group's leader right before the take, in its transaction: the group's own
        verify of the event, before its lock, has answered it by then, so it is one
        verify and no hop to the quick threads and back on the event loop). None when
        the owners are not in memory or the event would not be charged (an unknown key,
        another actor's key, the operator's): `admit`'s other ways decide as before."""
        owners = ledger.cached_key_owners({signed.key})
        owner = None if owners is None else owners.get(signed.key)
        if owner is None:
            return None
        record, key = owner
        if record.id != signed.event.actor or record.role == Role.OPERATOR:
            return None
        public = codec.b64url_decode(key.public_key, field="key")

        def due() -> bool:  # (already verified: `verify_event` returns at once)
            return first_bad_signature([(0, signed, public)]) is None

        return self._charge(ledger, record.id, 1, due)

    def _charge(
        self, ledger: Ledger, actor: str, cost: int, due: Callable[[], bool] | None = None
    ) -> Charge:
        """``actor``'s ``cost`` in its database bucket, for a group to take (in its
        leader's thread: the database's own call, not the event loop's), in the group's
        own write transaction (``take_in``; ``take`` gives back what did not land); only
        if ``due`` says so, when given (`Charge.due`)."""
        rate = self.rate_per_minute / 60

        def take(amount: float, force: bool) -> float:
            return ledger.take_write_tokens(actor, amount, rate, self.burst, self.clock(), force)

        def take_in(tx: Any, amount: float, force: bool) -> float:  # the group's transaction
            now = self.clock()
            return ledger.take_write_tokens(actor, amount, rate, self.burst, now, force, tx)

        def refusal(wait: float) -> WriteQuotaError:
            return self._over(actor, cost, max(1, math.ceil(wait)))

        return Charge((ledger.config.name, actor), cost, take, refusal, take_in, due)

    def _over(self, actor: str, cost: int, wait: int) -> WriteQuotaError:
        return WriteQuotaError(
            f"{actor!r} is over its write quota ({self.rate_per_minute:g} events "
            f"per minute, {self.burst} at once): {cost} events refused, nothing "
            f"written; retry in {wait} s",
            wait,
            field="actor",
        )

    async def _give_back(self, ledger: Ledger, taken: list[tuple[str, int]]) -> None:
        for actor, cost in taken:
            await self.take(ledger, actor, -cost, force=True)

    async def close(self) -> None:
        """Release the limiter (a Redis connection pool)."""
        if self.limiter is not None:
            await self.limiter.close()


def _bucket(log: str, actor: str) -> str:
    # Actor ids are per log: "acme" in one log is not "acme" in another.
    return f"{log}/{actor}"


class _Checked(Counter[str]):
    """Events per actor (`_verified_signers`), and the hashes of those events (``new``:
    what the admission charges and gives back)."""

    new: frozenset[bytes] = frozenset()


def _read_and_check(
    ledger: Ledger, keys: set[str], events: Sequence[SignedEvent]
) -> tuple[_Checked | None, Counter[str]]:
    """`_check_new` with the key owners read first (three reads for any batch)."""
    return _check_new(ledger, ledger.key_owners(keys), events)


def _check_new(
    ledger: Ledger,
    owners: Mapping[str, tuple[ActorRecord, KeyRecord]],
    events: Sequence[SignedEvent],
) -> tuple[_Checked | None, Counter[str]]:
    """`_verified_signers` of the events the log does not hold yet (one read): the
    others are duplicates, which cost nothing, so a stranger's replays of an actor's
    public events never hold its tokens, not even while they are answered."""
    logged = ledger.logged_events([s.hash for s in events])
    return _verified_signers(owners, [s for s in events if s.hash not in logged])


def _verified_signers(
    owners: Mapping[str, tuple[ActorRecord, KeyRecord]], events: Sequence[SignedEvent]
) -> tuple[_Checked | None, Counter[str]]:
    """(events per actor signed by one of its current keys (``owners``, from
    `Ledger.key_owners`) with a signature that verifies, their hashes in ``new``, or
    None if any such signature fails; events per actor whose key the log does not know
    as a current key of a live actor). The operator's events are in neither, nor are
    events signed with another actor's key (the append refuses those). No I/O."""
    jobs, checked, deferred = [], _Checked(), Counter[str]()
    hashes: set[bytes] = set()
    raw: dict[str, bytes] = {}  # each key's bytes decoded once, not once an event
    for position, signed in enumerate(events):
        actor = signed.event.actor
        owner = owners.get(signed.key)
        if owner is None:
            deferred[actor] += 1  # charged only if the append accepts it
            continue
        record, key = owner
        if record.id != actor or record.role == Role.OPERATOR:
            continue
        public = raw.get(signed.key)
        if public is None:
            public = raw[signed.key] = codec.b64url_decode(key.public_key, field="key")
        jobs.append((position, signed, public))
        checked[actor] += 1
        hashes.add(signed.hash)
    if first_bad_signature(jobs) is not None:
        return None, Counter()
    checked.new = frozenset(hashes)
    return checked, deferred


def write_quota(request: Request) -> WriteQuota:
    """The app's write quota (built by api.app.create_app)."""
    quota: WriteQuota = request.app.state.write_quota
    return quota
