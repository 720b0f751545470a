"""Pre-signed, custody-like event streams for the append and storage benchmarks.

Everything is signed here, before any timing, from `tests.rules_factories.World.base()`,
for the benchmarks' log `ORIGIN` (format 2, what a new log takes from genesis): its actors (brand ``acme``, courier ``ship-co``, retailer ``shop``), its keys (fixed
seeds), its product GTIN and its authorizations. Every event carries the world's fixed
time, so a `Ledger` whose clock is `tests.rules_factories.NOW` accepts them, in order,
after `base_events`.

Two kinds of stream: commissions of fresh units (the brand creates serials), and
handoff/receive pairs on units that already exist (acme -> ship-co -> shop, the second
leg of each unit after the first leg of every unit, as a shipment would travel).

No I/O, no database: this module only builds signed events.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ledger import codec
from ledger.entry import SignedEvent
from tests.factories import GTIN
from tests.rules_factories import World

#: the checkpoint origin of every benchmark log: the streams are signed for it
ORIGIN = "bench.example/log"
#: who receives a unit from its current holder
NEXT_HOLDER = {"acme": "ship-co", "ship-co": "shop", "shop": "ship-co"}


def base_world() -> World:
    """The scripted base world (operator, acme, ship-co, shop, authorizations, SN-0001),
    signed for `ORIGIN`."""
    return World.base(ORIGIN)


def base_events(world: World) -> list[SignedEvent]:
    """The base world's events after its genesis (a ledger writes its own genesis)."""
    return list(world.log[1:])


def serial(tag: str, number: int) -> str:
    """A unit serial ``<tag>-<number>`` (GS1 AI 21 allows up to 20 characters)."""
    return f"{tag}-{number:07d}"


@dataclass
class Fleet:
    """Units commissioned by acme, with each unit's head and holder as the stream goes."""

    world: World
    #: the events' ``time`` (default: the world's fixed time; a live server needs now)
    time: str | None = None
    serials: list[str] = field(default_factory=list)
    heads: dict[str, str] = field(default_factory=dict)
    holders: dict[str, str] = field(default_factory=dict)
    _next_pair: int = 0

    def _sign(self, kind: str, actor: str, **fields: Any) -> SignedEvent:
        if self.time is not None:
            fields["time"] = self.time
        return self.world.sign(kind, actor, **fields)

    def commission(self, tag: str, count: int) -> list[SignedEvent]:
        """Sign ``count`` commissions of fresh units ``<tag>-0000000`` ...; track them."""
        out: list[SignedEvent] = []
        for number in range(count):
            name = serial(tag, number)
            unit = {"gtin": GTIN, "serial": name}
            signed = self._sign("commission", "acme", unit=unit, prev=None)
            self.serials.append(name)
            self.heads[name] = codec.b64url_encode(signed.hash)
            self.holders[name] = "acme"
            out.append(signed)
        return out

    def transfers(self, count: int) -> list[SignedEvent]:
        """Sign ``count`` (even) events: a handoff and its receive, unit after unit.

        Pairs go round-robin over the fleet, so a batch holds many units and each unit
        makes one hop per round.
        """
        out: list[SignedEvent] = []
        for _ in range(count // 2):
            name = self.serials[self._next_pair % len(self.serials)]
            self._next_pair += 1
            holder = self.holders[name]
            to = NEXT_HOLDER[holder]
            unit = {"gtin": GTIN, "serial": name}
            handoff = self._sign("handoff", holder, unit=unit, prev=self.heads[name], to=to)
            prev = codec.b64url_encode(handoff.hash)
            receive = self._sign("receive", to, unit=unit, prev=prev)
            self.heads[name] = codec.b64url_encode(receive.hash)
            self.holders[name] = to
            out += [handoff, receive]
        return out


def commission_stream(tag: str, count: int, time: str | None = None) -> list[SignedEvent]:
    """``count`` commissions of fresh units (valid after `base_events`)."""
    return Fleet(base_world(), time).commission(tag, count)


def commission_slices(tag: str, count: int, size: int = 10_000) -> Iterator[list[SignedEvent]]:
    """``count`` commissions of fresh units, signed ``size`` at a time as the caller
    takes each slice: a caller that appends and drops each one never holds them all
    (10^5 held events would be walked by every full collection after)."""
    for start in range(0, count, size):
        yield commission_stream(f"{tag}{start}", min(size, count - start))


def custody_stream(
    tag: str, count: int, time: str | None = None
) -> tuple[list[SignedEvent], list[SignedEvent]]:
    """Return (setup, timed): commissions of ceil(count / 4) units, then ``count`` transfers.

    Each unit makes two hops (acme -> ship-co -> shop): four events.
    """
    fleet = Fleet(base_world(), time)
    setup = fleet.commission(tag, max(1, -(-count // 4)))
    return setup, fleet.transfers(count)


def storage_stream(units: int) -> list[SignedEvent]:
    """A mixed custody log: ``units`` commissions, then two hops per unit (5 x units)."""
    fleet = Fleet(base_world())
    return fleet.commission("ST", units) + fleet.transfers(4 * units)
