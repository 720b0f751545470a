"""What a resolver hit records: its `Scan` (unit, time, place, client pseudonyms, agent,
region).

The place is the trusted geolocation header's (`api.clients.geo_place`), else the
client's ``place`` hint, recorded as a hint (ledger.signals.places): only the former is
evidence for a travel signal. A scan that brings the unit's owner cookie is recorded
under the owner token's pseudonym instead of the daily client hash.
"""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime

from fastapi import Request

from api.clients import PLACE, agent_class, client_address, geo_place
from api.forwarded import network_of
from ledger.service.claims import owner_client, owner_hash
from ledger.service.ipregions import scan_region
from ledger.service.ledger import Scan
from ledger.service.salt import ScanSalt
from ledger.service.settings import Settings
from ledger.signals.places import HEADER, HINT, stored_place


def owner_cookie(gtin: str, serial: str) -> str:
    """The name of the cookie that holds a unit's owner token (one per unit)."""
    return "pl_owner_" + hashlib.sha256(f"{gtin}/{serial}".encode()).hexdigest()[:16]


def scan_of(
    request: Request, settings: Settings, salt: ScanSalt, gtin: str, serial: str, place: str | None
) -> Scan:
    """The scan record of this resolver hit (module docstring); the client pseudonyms
    are keyed with the day's ``salt`` (ledger.service.salt), never the raw address.

    Raises:
        StorageError: the database failed (the day's salt is read once per day).
    """
    now = datetime.now(UTC)
    # the geolocation header is evidence only from a trusted proxy; ?place= is a hint
    trusted = geo_place(request, settings)
    hint = place.upper() if place and PLACE.fullmatch(place.upper()) else None
    place = stored_place(trusted, HEADER) if trusted else stored_place(hint, HINT)
    address = client_address(request)
    token = request.cookies.get(owner_cookie(gtin, serial))
    # the analytics' region: the recorded place, else the offline table's region of
    # the address (looked up here, never stored)
    region = scan_region(place, address)
    return Scan(
        # interned: the queue holds many scans of few GTINs and places (api.scans)
        gtin=sys.intern(gtin),
        serial=serial,
        at=now,
        place=None if place is None else sys.intern(place),
        client=owner_client(owner_hash(token)) if token else salt.client_hash(address, now),
        agent=agent_class(request.headers.get("user-agent", "")),
        # many-scanners counts networks: addresses of one network are one scanner;
        # keyed like the client hash (daily), per unit, never the address or prefix
        network=salt.client_hash(f"network|{gtin}/{serial}|{network_of(address)}", now),
        region=sys.intern(region),
    )
