"""Write quotas: how many signed events each actor may append through the API.

Every route that appends events a partner signed (``POST /v1/entries``, ``POST
/v1/entries:batch``, ``POST /v1/epcis/capture``) asks `WriteQuota.admit` before the
append and `Admission.settle` after it. The budget is a token bucket per (log, actor)
in the limiter of api.ratelimit (in this process, or in Redis when ``REDIS_URL`` is set,
so every worker spends one budget): ``PROVENANCE_WRITE_RATE`` events per minute,
``PROVENANCE_WRITE_BURST`` at most at once. A batch costs its number of events and is
admitted whole or refused whole (429 ``write-quota`` with ``Retry-After``), before
anything is written.

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

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.ratelimit import Clock, Limiter, make_limiter
from ledger import codec
from ledger.entry import SignedEvent
from ledger.errors import LedgerError, ValidationError
from ledger.service.ledger import Ledger
from ledger.service.settings import Settings
from ledger.verify.batchverify import first_bad_signature
from ledger.vocab import Role

PREFIX = "provenance:wq"


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
    log: str
    deferred: Counter[str] = field(default_factory=Counter)

    async def settle(self) -> None:
        """After a successful append: charge the events that could not be checked before
        (their signatures verified in the append), even below zero."""
        for actor, cost in self.deferred.items():
            await self.quota.limiter.spend(_bucket(self.log, actor), cost)


class WriteQuota:
    """Token buckets of signed events per (log, actor), in ``limiter``."""

    def __init__(self, limiter: Limiter, rate_per_minute: float, burst: int) -> None:
        self.limiter = limiter
        self.rate_per_minute = rate_per_minute
        self.burst = burst

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> WriteQuota:
        """The quota configured by ``PROVENANCE_WRITE_RATE`` and ``PROVENANCE_WRITE_BURST``,
        shared through Redis when ``REDIS_URL`` is set; ``clock`` for tests.

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
        limiter = make_limiter(
            settings.write_rate / 60, settings.write_burst, settings.redis_url, PREFIX, clock
        )
        return cls(limiter, settings.write_rate, settings.write_burst)

    async def admit(self, ledger: Ledger, events: Sequence[SignedEvent]) -> Admission:
        """Charge each actor the events of ``events`` it verifiably signed, all or none.

        A batch in which some signature does not verify is charged nothing (the append
        refuses it whole). Returns the `Admission` to settle after a successful append.

        Raises:
            WriteQuotaError: an actor's bucket holds fewer tokens than its events in
                ``events``; nothing was charged to anyone.
            ValidationError: an actor's events alone exceed the burst (a batch that
                could never be admitted: split it).
        """
        log = ledger.config.name
        checked, deferred = await run_in_threadpool(_verified_signers, ledger, events)
        admission = Admission(self, log, deferred)
        if checked is None:
            return Admission(self, log)
        taken: list[tuple[str, int]] = []
        for actor, cost in sorted(checked.items()):
            if cost > self.burst:
                await self._give_back(taken)
                raise ValidationError(
                    f"{cost} events signed by {actor!r} exceed its write burst of "
                    f"{self.burst}: split the batch",
                    field="events",
                )
            wait = await self.limiter.acquire(_bucket(log, actor), cost)
            if wait is not None:
                await self._give_back(taken)
                raise WriteQuotaError(
                    f"{actor!r} is over its write quota ({self.rate_per_minute:g} events "
                    f"per minute, {self.burst} at once): {cost} events refused, nothing "
                    f"written; retry in {wait} s",
                    wait,
                    field="actor",
                )
            taken.append((_bucket(log, actor), cost))
        return admission

    async def _give_back(self, taken: list[tuple[str, int]]) -> None:
        for bucket, cost in taken:
            await self.limiter.spend(bucket, -cost)

    async def close(self) -> None:
        """Release the limiter (a Redis connection pool)."""
        await self.limiter.close()


def _bucket(log: str, actor: str) -> str:
    # Actor ids are per log: "acme" in one log is not "acme" in another.
    return f"{log}/{actor}"


def _verified_signers(
    ledger: Ledger, events: Sequence[SignedEvent]
) -> tuple[Counter[str] | None, Counter[str]]:
    """(events per actor signed by one of its current keys with a signature that
    verifies, or None if any such signature fails; events per actor whose key the log
    does not know as a current key of a live actor). The operator's events are in
    neither, nor are events signed with another actor's key (the append refuses those)."""
    owners = ledger.key_owners({s.key for s in events})  # two reads for any batch
    jobs, checked, deferred = [], Counter[str](), Counter[str]()
    for position, signed in enumerate(events):
        actor = signed.event.actor
        owner = owners.get(signed.key)
        if owner is None:
            deferred[actor] += 1  # charged only if the append accepts it
            continue
        record, key = owner
        if record.id != actor or record.role == Role.OPERATOR:
            continue
        jobs.append((position, signed, codec.b64url_decode(key.public_key, field="key")))
        checked[actor] += 1
    if first_bad_signature(jobs) is not None:
        return None, Counter()
    return checked, deferred


def write_quota(request: Request) -> WriteQuota:
    """The app's write quota (built by api.app.create_app)."""
    quota: WriteQuota = request.app.state.write_quota
    return quota
