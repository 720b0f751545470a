"""The hammer's world: a brand, its partners and units, and the next event of each unit.

Writer ``i`` owns its units exclusively: they go brand -> ``w{i}-a`` and then back and
forth between ``w{i}-a`` and ``w{i}-b``, handoff and receive alternating, so every event
a writer signs is valid and it can keep each unit's head itself. The shared units stay
with the brand between contention rounds (see cli.hammer.racer), where every writer's
inspector (``w{i}-qc``) or warehouse (``w{i}-a``) races for the same head.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace

from cli.world import Brand, World, onboard
from ledger import codec, crypto, gs1
from ledger.entry import SignedEvent
from ledger.events import Handoff

#: the first digits of every hammer brand's GS1 company prefix (9 digits in all, the rest
#: random per run: prefixes are unique across brands, so each run registers its own)
PREFIX_START = "97"


@dataclass(frozen=True)
class Unit:
    """What a writer knows of a unit: its head and who holds it (or is about to)."""

    gtin: str
    serial: str
    head: str
    holder: str
    pending: str | None = None

    @property
    def ref(self) -> dict[str, str]:
        """The event's ``unit`` field."""
        return {"gtin": self.gtin, "serial": self.serial}

    def after(self, signed: SignedEvent) -> Unit:
        """The unit once ``signed`` (a handoff or receive extending the head) is in the log."""
        head = codec.b64url_encode(signed.hash)
        if isinstance(signed.event, Handoff):
            return replace(self, head=head, pending=signed.event.to)
        return replace(self, head=head, holder=self.pending or self.holder, pending=None)


@dataclass(frozen=True)
class Cast:
    """Writer ``i``'s actors: the two partners its units shuttle between, its inspector."""

    a: str
    b: str
    qc: str


@dataclass
class HammerWorld:
    """Keys, the brand, each writer's cast and units, and the shared units."""

    world: World
    brand: Brand
    casts: list[Cast]
    owned: list[list[Unit]] = field(default_factory=list)
    shared: list[Unit] = field(default_factory=list)

    def next_event(self, unit: Unit, cast: Cast) -> SignedEvent:
        """The valid next custody event of an owned unit: a handoff or its receive."""
        if unit.pending is not None:
            return self.world.sign(unit.pending, "receive", unit=unit.ref, prev=unit.head)
        to = cast.b if unit.holder == cast.a else cast.a
        return self.world.sign(unit.holder, "handoff", unit=unit.ref, prev=unit.head, to=to)

    def public_keys(self) -> dict[str, str]:
        """Key id -> base64url public key of every actor (what readers verify with)."""
        out = {}
        for key in self.world.keys.values():
            public = key.public_key()
            out[crypto.key_id(public)] = crypto.public_key_to_b64(public)
        return out


def plan(
    operator: crypto.Ed25519PrivateKey,
    writers: int,
    units_per_writer: int,
    shared: int,
    origin: str | None = None,
) -> tuple[HammerWorld, list[list[SignedEvent]]]:
    """The world and the batches that create it (registrations, then commissions).

    Actor ids, the brand's GS1 prefix and the two GTINs are random per run, so runs
    against one server's log do not collide.
    """
    tag = secrets.token_hex(3)
    prefix = PREFIX_START + f"{secrets.randbelow(10**7):07d}"
    first = _gtin(prefix)
    second = _gtin(prefix)
    while second == first:
        second = _gtin(prefix)
    products = {first: "Hammer test product A", second: "Hammer test product B"}
    brand = Brand(f"brand-{tag}", "Hammer Test Brand", prefix, products)
    casts = [Cast(f"w{i}-a-{tag}", f"w{i}-b-{tag}", f"w{i}-qc-{tag}") for i in range(writers)]
    partners: dict[str, tuple[str, str]] = {}
    for c in casts:
        partners[c.a] = ("warehouse", f"Warehouse {c.a}")
        partners[c.b] = ("courier", f"Courier {c.b}")
        partners[c.qc] = ("inspector", f"Inspector {c.qc}")
    world = World(origin=origin)  # format 2 for the log named ``origin`` (None: format 1)
    world.keys["operator"] = operator
    onboard(world, brand, partners)
    batches = [world.take()]
    gtins = list(products)
    hammer = HammerWorld(world, brand, casts)
    for i in range(writers):
        serials = [f"W{i}-{n:05d}" for n in range(units_per_writer)]
        hammer.owned.append([_commission(hammer, gtins[n % 2], s) for n, s in enumerate(serials)])
    hammer.shared = [_commission(hammer, gtins[n % 2], f"SH-{n:04d}") for n in range(shared)]
    commissions = world.take()
    batches += [commissions[i : i + 1000] for i in range(0, len(commissions), 1000)]
    return hammer, batches


def _commission(hammer: HammerWorld, gtin: str, serial: str) -> Unit:
    brand = hammer.brand.actor
    signed = hammer.world.add(
        brand, "commission", unit={"gtin": gtin, "serial": serial}, prev=None, lot="HAMMER"
    )
    return Unit(gtin, serial, codec.b64url_encode(signed.hash), holder=brand)


def _gtin(prefix: str) -> str:
    """A random GTIN-14 under the run's 9-digit ``prefix``, with its check digit."""
    body = "0" + prefix + f"{secrets.randbelow(1000):03d}"
    return body + str(gs1.gtin_check_digit(body))
