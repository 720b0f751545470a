"""Which address a client has, given the peer, the ``X-Forwarded-For`` hops and the
networks of the trusted proxies (``PROVENANCE_TRUSTED_PROXIES``).

Plain functions of strings and networks: api.context applies them to the socket peer
and the headers (`api.context.client_address`, `api.context.is_https`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from ledger.service.settings import Network

#: the most ``X-Forwarded-For`` hops looked at: a longer chain is a client's invention
MAX_FORWARDED_HOPS = 16
#: the prefix lengths of "one network" for counting independent reporters
#: (ledger.signals.reports): a home or office line gets about this much
NETWORK_PREFIX_V4, NETWORK_PREFIX_V6 = 24, 48


def resolve_client(peer: str, forwarded: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client behind ``peer`` given the ``X-Forwarded-For`` header values (in the
    order received) and the trusted proxy networks.

    An untrusted peer is the client whatever the headers say. From a trusted peer, the
    hops are walked from the right (the nearest first): a trusted hop is skipped, the
    first untrusted one is the client; if every hop is trusted, the farthest one is. A
    malformed hop (not a bare IPv4 or IPv6 address), or a chain longer than
    `MAX_FORWARDED_HOPS`, ends the walk: nothing at or beyond it is believed, and the
    client is the last trusted hop seen. Addresses are normalised (IPv4-mapped IPv6 to
    IPv4, IPv6 compressed, lower case), so one host has one identity.
    """
    current = normal(peer)
    if current is None:
        return peer
    hops = [hop.strip() for value in forwarded for hop in value.split(",")]
    for position, raw in enumerate(reversed(hops)):
        if not trusted_address(current, trusted):
            return current
        hop = normal(raw) if position < MAX_FORWARDED_HOPS else None
        if hop is None:
            return current
        current = hop
    return current


def normal(text: str) -> str | None:
    """``text`` as a normalised IP address, or None if it is not one (ports, brackets,
    zone ids, names, ``unknown``, obfuscated identifiers: all refused)."""
    if not text or len(text) > 45 or not text.isascii():
        return None  # before the cache: it keeps only texts an address could be
    return _normal(text)


@lru_cache(maxsize=4096)  # a pure function of its text, asked for every peer
def _normal(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            return None
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
    return str(address)


def trusted_address(address: str, trusted: Sequence[Network]) -> bool:
    if not trusted:  # the default: no address to parse
        return False
    ip = ipaddress.ip_address(address)
    return any(ip.version == net.version and ip in net for net in trusted)


@lru_cache(maxsize=4096)  # pure; every scan record and report names its network
def network_of(address: str) -> str:
    """The network ``address`` lies in, as CIDR text: its /24 (IPv4) or /48 (IPv6); the
    text itself when it is not an IP address (such a client is its own network)."""
    ip = normal(address)
    if ip is None:
        return address
    prefix = NETWORK_PREFIX_V4 if ipaddress.ip_address(ip).version == 4 else NETWORK_PREFIX_V6
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def network_pseudonym(key: bytes, gtin: str, serial: str, address: str) -> str:
    """32 hex digits naming the network of ``address`` (`network_of`) for one unit, an
    HMAC under ``key``: no address or prefix can be read back without the key, and the
    networks of two units cannot be joined. Stable as long as ``key`` is (reports are
    counted by network over several days: ledger.signals.reports)."""
    message = f"network|{gtin}/{serial}|{network_of(address)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]
