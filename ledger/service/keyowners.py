"""Who owns a signing key, in memory for a moment: the write quota's question, per request.

Every signed write through the API asks which live actor a key belongs to before the
append (api.quota charges that actor): two database reads for a single event, on every
request. `KeyOwners` keeps the answers ``{key id: (actor, key) or None}`` for `TTL`
seconds and forgets all of them whenever this process appends an event that can change
one (`CHANGES_OWNERS`: a registration, revocation, key rotation or recovery, a log
upgrade), right after that append, so this process never answers from before a change
it wrote. A change another worker appended shows within `TTL`. Callers that miss the
same keys while one of them reads them wait for that read's answers (one read when an
answer expires under many concurrent requests, not one each); a read that failed, or
that a `forget` overtook, is not believed: they read anew.

The answers only decide who pays: whether a key may sign an entry is decided by the
rules in the append's own transaction (ledger.service.append), never from here. A
stale answer within `TTL` (another worker's revocation) at worst charges an event the
append then refuses, and the refusal gives the tokens back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from ledger.entry import SignedEvent
from ledger.rules.state import ActorRecord, KeyRecord

#: seconds an answer is trusted: how late another worker's key change may show here
TTL = 1.0
#: seconds a caller waits for another's read of the same keys before reading itself
FLIGHT_WAIT = 5.0
#: event kinds (by prefix) after whose append every answer is forgotten
CHANGES_OWNERS = ("actor.", "key.", "log.")

Owner = tuple[ActorRecord, KeyRecord]
#: reads the current owners of some keys from the database (`Ledger.key_owners`' reads)
Load = Callable[[Iterable[str]], Mapping[str, Owner]]


def changes_owners(items: Sequence[SignedEvent]) -> bool:
    """Whether appending ``items`` may change who owns a key (`CHANGES_OWNERS`)."""
    return any(s.event.kind.startswith(CHANGES_OWNERS) for s in items)


class KeyOwners:
    """The current owner of each recently asked key, or None for a key that is not a
    current key of a live actor. One per ledger, shared by its per-request copies and
    their threads; ``clock`` is monotonic seconds (tests give their own)."""

    def __init__(self, ttl: float = TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._known: dict[str, tuple[Owner | None, float]] = {}
        #: bumped by `forget`: a read begun before it must not store what it read
        self._generation = 0
        #: the reads under way, by their keys: a caller missing the same keys meanwhile
        #: waits for that read's answers instead of reading them again (`owners`)
        self._flights: dict[frozenset[str], threading.Event] = {}

    def cached(self, key_ids: Iterable[str]) -> dict[str, Owner] | None:
        """The owners of ``key_ids`` from memory alone (keys without one left out), or
        None if any of them is not in memory or is older than `TTL` (then `owners`)."""
        now = self._clock()
        out: dict[str, Owner] = {}
        with self._lock:
            for key_id in key_ids:
                known = self._known.get(key_id)
                if known is None or now - known[1] >= self._ttl:
                    return None
                if known[0] is not None:
                    out[key_id] = known[0]
        return out

    def owners(self, key_ids: Iterable[str], load: Load) -> dict[str, Owner]:
        """The owners of ``key_ids`` (keys without one left out): from memory, else all
        of them by one ``load``, whose answers are kept unless `forget` ran meanwhile."""
        wanted = set(key_ids)
        found = self.cached(wanted)
        if found is not None:
            return found
        flight_key = frozenset(wanted)
        with self._lock:
            generation = self._generation
            flight = self._flights.get(flight_key)
            leads = flight is None
            if flight is None:
                flight = self._flights[flight_key] = threading.Event()
        if not leads:  # the same keys are being read by another caller: its answers
            flight.wait(FLIGHT_WAIT)
            found = self.cached(wanted)
            if found is not None:
                return found
            with self._lock:  # it failed, or a `forget` overtook it: read them anew
                generation = self._generation
            return self._read(wanted, load, generation)
        try:
            return self._read(wanted, load, generation)
        finally:
            with self._lock:
                self._flights.pop(flight_key, None)
            flight.set()

    def _read(self, wanted: set[str], load: Load, generation: int) -> dict[str, Owner]:
        """``load`` the owners of ``wanted``, kept unless `forget` ran since
        ``generation`` was read."""
        loaded = dict(load(wanted))
        now = self._clock()
        with self._lock:
            if generation == self._generation:  # nothing changed owners while we read
                if len(self._known) > 10_000:  # bounded: keys asked once and never again
                    self._known.clear()
                for key_id in wanted:
                    self._known[key_id] = (loaded.get(key_id), now)
        return {k: v for k, v in loaded.items() if k in wanted}

    def forget(self) -> None:
        """Forget every answer (an append that may change owners has just committed, or
        failed after possibly committing)."""
        with self._lock:
            self._generation += 1
            self._known.clear()
