"""Where a webhook may post: the address policy that keeps a brand from making the
server probe a network it should not reach (docs/CONSOLE.md, "SSRF policy").

A target is an ``http``/``https`` URL without user info. Its host is resolved here, and
**every** address it resolves to must be public: not loopback, private, shared (CGNAT),
link-local, multicast, reserved, unspecified, documentation or benchmarking space, in
IPv4 or IPv6; an IPv6 address carrying an IPv4 one (IPv4-mapped ``::ffff:a.b.c.d``,
IPv4-compatible, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``, Teredo) is judged by the
IPv4 address it carries. A host written as a number in another form (``2130706433``,
``0x7f.1``, ``0177.0.0.1``) is read the way the C resolver reads it and judged the same.
The operator may allow networks anyway (`TargetPolicy.allowed`, the environment setting
``PROVENANCE_WEBHOOK_ALLOW_NETS``, e.g. ``10.20.0.0/16``) for receivers inside its own
network; plain ``http`` is accepted only to those.

The caller then connects to the address checked here (`Target.address`), never
resolving the name again, so a DNS answer that changes between check and connect (DNS
rebinding) cannot move the request.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ledger.errors import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]
ALLOW_ENV = "PROVENANCE_WEBHOOK_ALLOW_NETS"
MAX_URL = 2000
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
#: special ranges Python's ``is_global`` does not already refuse everywhere
_ALSO_REFUSED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "100.64.0.0/10",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",
        "255.255.255.255/32",
        "2001:db8::/32",
        "2001::/23",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
        "::/128",
        "::1/128",
    )
)


class TargetRefusedError(ValidationError):
    """The webhook's URL is malformed or points where the server may not post."""

    code = "webhook-target-refused"


@dataclass(frozen=True)
class Target:
    """A checked target: the URL's parts and the one address to connect to."""

    scheme: str
    host: str
    port: int
    path: str  # path and query, as given
    address: IPAddress


@dataclass(frozen=True)
class TargetPolicy:
    """Which non-public networks the operator allows (none by default)."""

    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TargetPolicy:
        """Read ``PROVENANCE_WEBHOOK_ALLOW_NETS`` (comma-separated CIDR networks).

        Raises:
            ValidationError: a value that is not a network.
        """
        env = os.environ if environ is None else environ
        nets = []
        for item in env.get(ALLOW_ENV, "").split(","):
            if item.strip():
                try:
                    nets.append(ipaddress.ip_network(item.strip(), strict=False))
                except ValueError as exc:
                    raise ValidationError(
                        f"{ALLOW_ENV}: {item.strip()!r} is not a network", field=ALLOW_ENV
                    ) from exc
        return cls(tuple(nets))

    def is_allowed(self, address: IPAddress) -> bool:
        """Whether the server may post to ``address``: public, or in an allowed network."""
        return any(address in net for net in self.allowed) or is_public(address)

    def operator_allowed(self, address: IPAddress) -> bool:
        """Whether ``address`` is in a network the operator allowed explicitly."""
        return any(address in net for net in self.allowed)


def is_public(address: IPAddress) -> bool:
    """True for a global unicast address (the module docstring's list refused); an IPv6
    address carrying an IPv4 one is judged by that one."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = _carried_v4(address)
        if carried is not None:
            return is_public(carried)
    if any(address in net for net in _ALSO_REFUSED if net.version == address.version):
        return False
    return bool(
        address.is_global
        and not address.is_multicast
        and not address.is_private
        and not address.is_reserved
        and not address.is_loopback
        and not address.is_link_local
        and not address.is_unspecified
    )


def _carried_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64 or address in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client's (obfuscated-back) address
    if int(address) >> 32 == 0 and int(address) > 1:  # IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(address))
    return None


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an address if it is one, in any form the C resolver accepts for IPv4
    (dotted, decimal, octal, hex, fewer than four parts) or as an IPv6 literal."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))  # "2130706433", "0x7f.1"
    except OSError:
        return None


def parse(url: str) -> tuple[str, str, int, str]:
    """A webhook URL's scheme, host (lowercase, no brackets), port and path with query.

    Raises:
        TargetRefusedError: not an absolute ``http``/``https`` URL with a host, user info
            present, a bad port, control characters, or over `MAX_URL` characters.
    """
    if len(url) > MAX_URL or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise TargetRefusedError(
            f"a webhook URL is at most {MAX_URL} printable characters", field="url"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefusedError(f"not a URL: {exc}", field="url") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetRefusedError("a webhook URL starts with https:// (or http://)", field="url")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise TargetRefusedError("a webhook URL carries no user name or password", field="url")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise TargetRefusedError("a webhook URL names a host", field="url")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver, TCP).

    Raises:
        TargetRefusedError: the name does not resolve.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefusedError(f"{host} does not resolve: {exc}", field="url") from exc
    return [str(info[4][0]) for info in infos]


def check(url: str, policy: TargetPolicy, resolver: Resolver = system_resolver) -> Target:
    """Parse ``url``, resolve its host and return the `Target` to connect to: the first
    of its addresses, once every one of them passed ``policy`` (one bad address refuses
    the URL: a name that also resolves inside the network is not used at all).

    Raises:
        TargetRefusedError: a malformed URL, a name that does not resolve, an address
            the policy refuses, or plain http to a network the operator did not allow.
    """
    scheme, host, port, path = parse(url)
    literal = literal_address(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        addresses = []
        for text in resolver(host, port):
            try:
                addresses.append(ipaddress.ip_address(text.split("%", 1)[0]))
            except ValueError as exc:
                raise TargetRefusedError(f"{host} resolved to {text!r}", field="url") from exc
        if not addresses:
            raise TargetRefusedError(f"{host} resolves to no address", field="url")
    for address in addresses:
        if not policy.is_allowed(address):
            raise TargetRefusedError(
                f"{host} is {address}: a loopback, private, link-local, multicast or "
                f"reserved address, which webhooks may not reach",
                field="url",
            )
    if scheme == "http" and not all(policy.operator_allowed(a) for a in addresses):
        raise TargetRefusedError(
            "plain http only to networks the operator allowed; use https", field="url"
        )
    return Target(scheme, host, port, path, addresses[0])
