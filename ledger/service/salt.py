"""The daily client hash: who scanned or reported, told apart within one UTC day only.

A client is never stored by address. `ScanSalt.client_hash` keys an HMAC-SHA-256 of the
address with the salt of the day: 32 random bytes created on the day's first use and
shared by every worker and every server on the database (`ledger.store.salts`), and
deleted as soon as the day is over. Nothing derives it from a long-lived secret, so
once a day's salt is gone no one, the operator holding every key included, can test
the 2^32 IPv4 addresses against that day's hashes, nor tell whether two days' hashes
are the same client (docs/PRIVACY.md).

Each worker keeps the current day's salt in memory (one database round trip per day);
the first use on a new day drops the old one from memory and deletes every older row.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ledger.store import SaltStore

#: hex digits of the HMAC kept: 128 bits, as wide as the ``client`` columns
HASH_HEX = 32


def utc_day(now: datetime) -> str:
    """The UTC day of ``now`` as ``YYYY-MM-DD`` (a naive time is taken as UTC)."""
    moment = now if now.tzinfo is None else now.astimezone(UTC)
    return moment.strftime("%Y-%m-%d")


def _next_day(day: str) -> datetime:
    """The start (UTC) of the day after ``day`` (``YYYY-MM-DD``)."""
    return datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=1)


class ScanSalt:
    """The day's salt of one database, and the client hashes keyed with it.

    Shared by a `Ledger` and its per-request copies; safe to call from several threads.
    """

    def __init__(self, store: SaltStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        #: (day, its salt, the start of the next UTC day)
        self._current: tuple[str, bytes, datetime] | None = None

    def salt(self, now: datetime | None = None) -> bytes:
        """The salt of the UTC day of ``now`` (default: the clock's).

        Raises:
            StorageError: the database failed.
        """
        moment = now or self._clock()
        current = self._current
        if current is not None and moment.tzinfo is not None and moment < current[2]:
            # the day of an aware ``moment`` is at most the salt's (the test below,
            # without writing out the day: every scan asks twice)
            return current[1]
        day = utc_day(moment)
        if current is not None and current[0] >= day:
            # today's salt; a clock a little behind another worker's never brings back
            # a past day's salt (it was deleted: that day is over)
            return current[1]
        with self._lock:
            current = self._current
            if current is not None and current[0] >= day:
                return current[1]
            salt = self._store.salt_of(day, secrets.token_bytes(32))
            # a new day: the old salts go, from memory and from the database
            self._store.forget_before(day)
            self._current = (day, salt, _next_day(day))
            return salt

    def client_hash(self, address: str, now: datetime | None = None) -> str:
        """``HMAC-SHA-256(salt of the day, address)``, the first `HASH_HEX` hex digits:
        the same for one address all day, on every worker; unlinkable across days.

        Raises:
            StorageError: the database failed.
        """
        salt = self.salt(now)
        return hmac.new(salt, address.encode(), hashlib.sha256).hexdigest()[:HASH_HEX]

    def purge(self, now: datetime | None = None) -> int:
        """Delete every salt of a day before the UTC day of ``now`` (default: the clock's),
        from the database and from this worker's memory; return how many rows went.

        Raises:
            StorageError: the database failed.
        """
        day = utc_day(now or self._clock())
        with self._lock:
            if self._current is not None and self._current[0] < day:
                self._current = None
            return self._store.forget_before(day)

    def days(self) -> list[str]:
        """The days whose salt the database holds (at most today's after a purge)."""
        return self._store.days()
