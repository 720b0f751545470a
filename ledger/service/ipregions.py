"""The offline IP-to-region table of the console's scan analytics (docs/CONSOLE.md,
"Regions"): a client address to an ISO 3166-1 country (``DE``) or, for China, an ISO
3166-2 province (``CN-GD``), read from ``data/ipregions.bin`` (built by
``tools/build_ipregions.py`` from the NRO's whois data and the ip2region data; see
``data/NOTICE``). No network, no service: the file is read once per process.

The file, zlib-compressed: the magic ``PLIPREGION1\\n``; a u32 length and that many
bytes of region names joined by ``\\n`` (index 0 is ``""``: no region); then for IPv4
a u32 count n, n u32 range starts (ascending) and n u16 region indexes; then the same
for IPv6 with u64 starts (an address's top 64 bits). Little-endian. An address's region
is that of the last start at or below it.
"""

from __future__ import annotations

import ipaddress
import struct
import sys
import zlib
from array import array
from bisect import bisect_right
from functools import cache
from pathlib import Path

from ledger.signals.places import read_place

DATA = Path(__file__).parent / "data" / "ipregions.bin"
MAGIC = b"PLIPREGION1\n"
#: the region of an address the table cannot place (private, reserved, unassigned)
UNKNOWN = "unknown"


class RegionTable:
    """The parsed table: `region` answers one address."""

    def __init__(self, raw: bytes) -> None:
        if not raw.startswith(MAGIC):
            raise ValueError("not an ipregions table")
        at = len(MAGIC)
        (size,) = struct.unpack_from("<I", raw, at)
        at += 4
        self.names = [sys.intern(n) for n in raw[at : at + size].decode().split("\n")]
        at += size
        self._v4, at = _steps(raw, at, "I", 4)
        self._v6, at = _steps(raw, at, "Q", 8)

    def region(self, address: str) -> str:
        """The region of ``address`` (IPv4 or IPv6 text): a country or ``CN-XX``
        province code, or `UNKNOWN` for anything not a public address the table places
        (private, loopback, link-local, reserved, malformed)."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return UNKNOWN
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global or ip.is_multicast:
            return UNKNOWN
        if isinstance(ip, ipaddress.IPv4Address):
            starts, which = self._v4
            key = int(ip)
        else:
            starts, which = self._v6
            key = int(ip) >> 64
        at = bisect_right(starts, key) - 1
        name = self.names[which[at]] if at >= 0 else ""
        return name or UNKNOWN


def _steps(raw: bytes, at: int, code: str, width: int) -> tuple[tuple[array[int], array[int]], int]:
    (n,) = struct.unpack_from("<I", raw, at)
    at += 4
    starts = array(code, raw[at : at + n * width])
    at += n * width
    which = array("H", raw[at : at + n * 2])
    at += n * 2
    if sys.byteorder != "little":
        starts.byteswap()
        which.byteswap()
    return (starts, which), at


@cache
def table() -> RegionTable:
    """The bundled table, read and parsed once per process."""
    return RegionTable(zlib.decompress(DATA.read_bytes()))


def scan_region(stored_place: str | None, address: str | None) -> str:
    """A scan's region for the analytics: the place it was recorded with (a trusted
    proxy's geolocation or what the scanning partner typed, such as ``CN-SH``) as it
    is, else the bundled table's region of the client ``address``, else `UNKNOWN`.
    The address is only looked up, never kept."""
    place, _ = read_place(stored_place)
    if place:
        return place
    if address:
        return table().region(address)
    return UNKNOWN
