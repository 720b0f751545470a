"""What a resolver hit records: its scan (unit, time, place, client pseudonyms, agent,
region), queued in the queue's packed form (api.scans).

The place is the trusted geolocation header's (`api.clients.geo_place`), else the
client's ``place`` hint, recorded as a hint (ledger.signals.places): only the former is
evidence for a travel signal. A scan that brings the unit's owner cookie is recorded
under the owner token's pseudonym instead of the daily client hash.

`Pseudonyms` keeps the last client hashes computed with the day's salt in memory
(at most `PSEUDONYMS` per salt, forgotten with it): a shopper reloading the page, or
the many scans behind one carrier-grade NAT, cost a dictionary lookup instead of two
HMACs per scan (docs/PRIVACY.md says what that memory holds and for how long). It keeps
the regions of the same addresses for as long (`Pseudonyms.region`): the table's lookup
parses the address and tests it against the reserved ranges, 8 us a scan. And it keeps
each (address, unit)'s scan identifiers as the queue packs them (`Pseudonyms.scan_ids`):
the page's repeat scans, most of them, cost one lookup for all three.
"""

from __future__ import annotations

import hashlib
import sys
from datetime import datetime
from functools import lru_cache

from fastapi import Request

from api.clients import PLACE, agent_class, client_address, geo_place
from api.forwarded import network_of
from api.scanpack import micros_of, squeeze
from api.scans import ScanQueue
from ledger.service.claims import owner_client, owner_hash
from ledger.service.ipregions import scan_region
from ledger.service.salt import ScanSalt, utc_day
from ledger.service.settings import Settings
from ledger.signals.places import HEADER, HINT, stored_place

#: client hashes kept in memory at most, per daily salt (about 250 bytes each)
PSEUDONYMS = 4_096


class Pseudonyms:
    """The day's client hashes (`ScanSalt.client_hash`) of the last `PSEUDONYMS`
    inputs (an address, or a unit's network key), kept for the salt they were
    computed with and dropped all at once when the salt is not the day's any more.
    Called on the event loop only (not thread-safe)."""

    def __init__(self, salt: ScanSalt, capacity: int = PSEUDONYMS) -> None:
        self.salt = salt
        self.capacity = capacity
        self._salt: bytes | None = None
        self._day: str | None = None
        self._hashes: dict[str, str] = {}
        self._regions: dict[str, str] = {}
        self._scans: dict[tuple[str, str, str], tuple[str | bytes, str | bytes, str]] = {}

    def __len__(self) -> int:
        return len(self._hashes)

    def of(self, text: str, now: datetime) -> str:
        """``text``'s client hash on the UTC day of ``now``: `ScanSalt.client_hash`'s
        value, from memory when computed with the same salt.

        Raises:
            StorageError: the database failed (the day's salt is read once per day).
        """
        salt = self.salt.salt(now)
        if salt is not self._salt:
            # a new day's salt (or one read again): yesterday's hashes go at once
            self._forget()
            self._salt, self._day = salt, utc_day(now)
        found = self._hashes.get(text)
        if found is None:
            found = self.salt.client_hash(text, now)
            if len(self._hashes) >= self.capacity:
                del self._hashes[next(iter(self._hashes))]  # the oldest first out
            self._hashes[text] = found
        return found

    def forget_before(self, now: datetime) -> None:
        """Drop the hashes and the salt kept for a day before the UTC day of ``now``:
        the salt purge calls this, so a worker that sees no scan after midnight keeps
        no past day's salt or addresses past the purge either (docs/PRIVACY.md)."""
        if self._day is not None and self._day < utc_day(now):
            self._forget()
            self._salt = self._day = None

    def _forget(self) -> None:
        self._hashes.clear()
        self._regions.clear()
        self._scans.clear()

    def scan_ids(
        self, address: str, gtin: str, serial: str, now: datetime
    ) -> tuple[str | bytes, str | bytes, str]:
        """A scan's identifiers from ``address`` of unit (``gtin``, ``serial``) on the
        UTC day of ``now``, as the queue packs them (`api.scanpack.squeeze`): the client
        hash (`of` the address), the unit's network pseudonym (`of` its network key)
        and the address's region (`region`, interned); kept with the day's hashes, at
        most `capacity` of them.

        Raises:
            StorageError: the database failed (the day's salt is read once per day).
        """
        if self.salt.salt(now) is self._salt:
            found = self._scans.get((address, gtin, serial))
            if found is not None:
                return found
        client = squeeze(self.of(address, now))  # a new day's salt clears the memory here
        # many-scanners counts networks: addresses of one network are one scanner;
        # keyed like the client hash (daily), per unit, never the address or prefix
        network = squeeze(self.of(f"network|{gtin}/{serial}|{network_of(address)}", now))
        found = (client, network, sys.intern(self.region(None, address)))
        if len(self._scans) >= self.capacity:
            del self._scans[next(iter(self._scans))]  # the oldest first out
        self._scans[(address, gtin, serial)] = found
        return found

    def region(self, stored_place: str | None, address: str) -> str:
        """`ledger.service.ipregions.scan_region` of (``stored_place``, ``address``);
        the region of an address alone kept with the day's hashes (`of`: dropped with
        them, at most `capacity`). Call after `of` for the same day."""
        if stored_place is not None:
            return scan_region(stored_place, address)
        found = self._regions.get(address)
        if found is None:
            found = scan_region(None, address)
            if len(self._regions) >= self.capacity:
                del self._regions[next(iter(self._regions))]  # the oldest first out
            self._regions[address] = found
        return found


@lru_cache(maxsize=4096)  # pure; a resolver hit asks twice (the scan, the view)
def owner_cookie(gtin: str, serial: str) -> str:
    """The name of the cookie that holds a unit's owner token (one per unit)."""
    return "pl_owner_" + hashlib.sha256(f"{gtin}/{serial}".encode()).hexdigest()[:16]


def queue_scan(
    request: Request,
    settings: Settings,
    pseudonyms: Pseudonyms,
    queue: ScanQueue,
    gtin: str,
    serial: str,
    place: str | None,
    *,
    now: datetime,
    agent: str | None,
    owner_token: str | None,
) -> int:
    """Queue the scan record of this resolver hit (module docstring) in ``queue``,
    packed straight from its fields (`ScanQueue.record`: the `Scan` it would make is
    never built); return how many old scans the queue's bounds dropped. ``now``: the
    time of the hit; ``agent``: its User-Agent header (None: not sent);
    ``owner_token``: the unit's owner cookie it carries (`owner_cookie`; None: none),
    as the resolver read them. The client pseudonyms are keyed with the day's salt
    (``pseudonyms``, ledger.service.salt), never the raw address.

    Raises:
        StorageError: the database failed (the day's salt is read once per day).
    """
    # the geolocation header is evidence only from a trusted proxy; ?place= is a hint
    trusted = geo_place(request, settings) if settings.place_header else None
    hint = place.upper() if place and PLACE.fullmatch(place.upper()) else None
    place = stored_place(trusted, HEADER) if trusted else stored_place(hint, HINT)
    address = client_address(request)
    client, network, region = pseudonyms.scan_ids(address, gtin, serial, now)
    if owner_token:
        client = owner_client(owner_hash(owner_token))
    if place is not None:
        # the analytics' region: the recorded place, else the offline table's region
        # of the address (looked up in scan_ids, never stored)
        place = sys.intern(place)
        region = sys.intern(pseudonyms.region(place, address))
    return queue.record(
        # interned: the queue holds many scans of few GTINs and places (api.scans)
        sys.intern(gtin),
        serial,
        micros_of(now),
        place,
        client,
        agent_class(agent or ""),
        network,
        region,
    )
