"""A queued scan's packed form (`Packed`): what the resolver's scan queue (api.scans)
holds per scan, its scans-table rows (`rows_of`) and its size estimate (`scan_bytes`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from ledger.events import format_time
from ledger.service.ledger import Scan
from ledger.service.scanfacts import ScanRow
from ledger.signals.compute import ScanFact
from ledger.signals.places import read_place

_SLOT = 8  # a pointer in the queue or in a unit's recent scans
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: a queued scan, packed: (gtin, serial, microseconds since the epoch, place, client,
#: agent, network, region), the 32-hex-digit hashes as their 16 bytes. About 300 bytes
#: where a `Scan` object holds 370: what lets `MAX_SCANS` scans fit in `MAX_BYTES`.
Packed = tuple[str, str, int, str | None, str | bytes, str, str | bytes | None, str | None]


def pack(scan: Scan) -> Packed:
    """The queue's form of ``scan`` (`unpack` gives it back, equal)."""
    return packed_of(*fields_of(scan))


def fields_of(scan: Scan) -> tuple[str, str, int, str | None, str, str, str | None, str | None]:
    """``scan``'s fields in the order `_packed` and `ScanQueue.record` take them, its
    time as `micros_of` gives it."""
    return (
        scan.gtin,
        scan.serial,
        micros_of(scan.at),
        scan.place,
        scan.client,
        scan.agent,
        scan.network,
        scan.region,
    )


def packed_of(
    gtin: str,
    serial: str,
    micros: int,
    place: str | None,
    client: str | bytes,
    agent: str,
    network: str | bytes | None,
    region: str | None,
) -> Packed:
    """The queue's tuple of a scan's fields (`pack` of a `Scan`, `ScanQueue.record` of
    the resolver's fields): the hashes squeezed to bytes where they can be."""
    return (
        gtin,
        serial,
        micros,
        place,
        # the resolver's record brings them squeezed (api.scanrecord.Pseudonyms)
        client if client.__class__ is bytes else squeeze(client),
        agent,
        network if network is None or network.__class__ is bytes else squeeze(network),
        region,
    )


def micros_of(at: datetime) -> int:
    """Microseconds since the epoch of an aware time (exact: no float on the way)."""
    since = at - _EPOCH
    return (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds


def unpack(packed: Packed) -> Scan:
    """The `Scan` that `pack` packed."""
    gtin, serial, micros, place, client, agent, network, region = packed
    return Scan(
        gtin,
        serial,
        _EPOCH + timedelta(microseconds=micros),
        place,
        _widen(client),
        agent,
        None if network is None else _widen(network),
        region,
    )


def rows_of(batch: Sequence[Packed]) -> list[ScanRow]:
    """The scans-table rows of packed scans: each ``unpack(p).to_row()``, made without
    the `Scan` in between and with the time's text worked out once per whole second
    (a batch holds a few seconds of scans): the flusher's thread writes every scan."""
    seconds: dict[int, str] = {}
    rows = []
    for gtin, serial, micros, place, client, agent, network, region in batch:
        second = micros // 1_000_000
        prefix = seconds.get(second)
        if prefix is None:
            # format_time's YYYY-MM-DDTHH:MM:SS, then its milliseconds (cut, not rounded)
            prefix = seconds[second] = format_time(_EPOCH + timedelta(seconds=second))[:19]
        rows.append(
            (
                gtin,
                serial,
                f"{prefix}.{micros // 1000 % 1000:03d}Z",
                place,
                client.hex() if client.__class__ is bytes else client,
                agent,
                network.hex() if network.__class__ is bytes else network,
                region,
            )
        )
    return rows


def squeeze(value: str | bytes) -> str | bytes:
    """A client or network hash as the queue keeps it: exactly 32 lower-case hex digits
    as their 16 bytes, anything else (an owner's ``o...`` pseudonym) as it is; bytes
    are taken as squeezed already."""
    # a parse and a comparison, not a pattern
    if isinstance(value, str) and len(value) == 32:
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            return value
        if raw.hex() == value:
            return raw
    return value


def facts_of(packed: Sequence[Packed]) -> list[ScanFact]:
    """Packed scans as clone-signal facts (what ledger.service.signals makes of their
    `Scan` objects), in their order, made straight from the packed form."""
    facts = []
    for _, _, micros, stored, client, _, network, _ in packed:
        place, source = read_place(stored)
        facts.append(
            ScanFact(
                _EPOCH + timedelta(microseconds=micros),
                place,
                _widen(client),
                source,
                None if network is None else _widen(network),
            )
        )
    return facts


def _widen(value: str | bytes) -> str:
    return value.hex() if isinstance(value, bytes) else value


def scan_bytes(packed: Packed) -> int:
    """An estimate of the memory a queued scan holds: its tuple, its own values
    (GTINs, places and agents are interned, serials shared per unit: `UNIT_BYTES`)
    and the queue's pointers."""
    # the region is interned, like the place; every packed scan is an 8-tuple
    _, _, micros, _, client, _, network, _ = packed
    size = _PACKED + sys.getsizeof(micros) + sys.getsizeof(client) + 2 * _SLOT
    return size if network is None else size + sys.getsizeof(network)


#: what an 8-tuple holds itself (`scan_bytes`: asked twice per scan, so spelled out)
_PACKED = sys.getsizeof((None,) * 8)
