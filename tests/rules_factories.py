"""Factories for rule tests: a `World` that replays scripted events through the rules.

`World.base()` is a small log, signed for the log `ORIGIN` in format 2 and holding
format 2 and rule set 2 from its genesis (a log created today): the genesis operator, a brand ``acme`` (prefix 9506000,
product GTIN 09506000134352), a courier ``ship-co``, a retailer ``shop``, an inspector
``insp``, customs ``customs``, one authorization each from acme, and one unit
``SN-0001`` with a claim commitment. Every event goes through `rules.check` and
`State.apply`, exactly as the service and the audit do.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ledger import codec, rules
from ledger.entry import SignedEvent, sign_event
from ledger.events import event_from_dict, parse_time
from ledger.rules.state import Record, State, UnitRecord
from tests.factories import GTIN, key, public_b64

TIME = "2026-11-28T12:00:00Z"
NOW = parse_time(TIME)
PREFIX = "9506000"
# Long enough that tests against a live server (real clock) stay inside it for years.
WINDOW = {"not_before": "2026-01-01T00:00:00Z", "not_after": "2036-01-01T00:00:00Z"}
CLAIM_CODE = "ABCD-EFGH-JKMN-PQRS-T"
CLAIM_SALT = bytes(range(16))
SERIAL = "SN-0001"
#: the log the worlds' events are signed for (format 2), unless a test names another or
#: None (format 1: the events of a log from before its ``log.upgrade``)
ORIGIN = "test.example/log"

#: actor id -> (role, key seed); the operator is registered by genesis
ACTORS: dict[str, tuple[str, int]] = {
    "operator": ("operator", 1),
    "acme": ("brand", 2),
    "ship-co": ("courier", 4),
    "shop": ("retailer", 5),
    "insp": ("inspector", 6),
    "customs": ("customs", 7),
    "other-brand": ("brand", 8),
}


def claim_commitment(code: str = CLAIM_CODE, salt: bytes = CLAIM_SALT) -> dict[str, str]:
    """The ``claim`` field of a commission for ``code``."""
    digest = hashlib.sha256(salt + code.encode("ascii")).digest()
    return {"salt": codec.b64url_encode(salt), "hash": codec.b64url_encode(digest)}


def event_hash(signed: SignedEvent) -> str:
    """The base64url event hash (a unit head, an authorization id)."""
    return codec.b64url_encode(signed.hash)


@dataclass
class World:
    """A state built by replaying accepted events, and helpers to sign the next one."""

    state: State = field(default_factory=State)
    log: list[SignedEvent] = field(default_factory=list)
    seeds: dict[str, int] = field(default_factory=lambda: {a: s for a, (_, s) in ACTORS.items()})
    auths: dict[str, str] = field(default_factory=dict)
    #: the log these events are signed for (None: format 1, a log before its upgrade)
    origin: str | None = ORIGIN

    @property
    def index(self) -> int:
        """The index the next event would get."""
        return len(self.log)

    def copy(self) -> World:
        """An independent copy (the state's records are frozen; its dicts are copied)."""
        return World(
            copy.deepcopy(self.state),
            list(self.log),
            dict(self.seeds),
            dict(self.auths),
            self.origin,
        )

    def sign(self, kind: str, actor: str, seed: int | None = None, **fields: Any) -> SignedEvent:
        """Sign a ``kind`` event by ``actor`` with its key (or ``key(seed)``)."""
        data = {"kind": kind, "actor": actor, "time": TIME, **fields}
        return sign_event(
            event_from_dict(data), key(self.seeds[actor] if seed is None else seed), log=self.origin
        )

    def on_unit(self, kind: str, actor: str, serial: str = SERIAL, **fields: Any) -> SignedEvent:
        """Sign a unit event whose ``prev`` is the unit's current head."""
        head = self.state.units[(GTIN, serial)].head
        unit = {"gtin": GTIN, "serial": serial}
        return self.sign(kind, actor, **{"unit": unit, "prev": head, **fields})

    def check(self, signed: SignedEvent, now: datetime = NOW) -> list[Record]:
        """Run the rules on ``signed`` at the next index (state unchanged)."""
        return rules.check(self.state, signed, self.index, now)

    def accept(self, signed: SignedEvent, now: datetime = NOW) -> list[Record]:
        """Check ``signed`` and apply its records; return them."""
        records = self.check(signed, now)
        self.state.apply(records)
        self.log.append(signed)
        return records

    def do(self, kind: str, actor: str, **fields: Any) -> list[Record]:
        """Sign and accept a non-unit event."""
        return self.accept(self.sign(kind, actor, **fields))

    def unit_do(self, kind: str, actor: str, serial: str = SERIAL, **fields: Any) -> UnitRecord:
        """Sign and accept a unit event; return the unit's new record."""
        self.accept(self.on_unit(kind, actor, serial, **fields))
        return self.unit(serial)

    def unit(self, serial: str = SERIAL) -> UnitRecord:
        """The unit's current record."""
        return self.state.units[(GTIN, serial)]

    def register(self, actor: str, role: str, seed: int, **extra: Any) -> None:
        """The operator registers ``actor`` with the key of ``seed`` (unless ``extra`` has keys)."""
        self.seeds[actor] = seed
        fields = {"subject": actor, "role": role, "name": actor.title(), "keys": [public_b64(seed)]}
        self.do("actor.register", "operator", **{**fields, **extra})

    def authorize(self, partner: str, role: str, brand: str = "acme", **scope: Any) -> str:
        """``brand`` authorizes ``partner``; return the authorization id."""
        fields = {"gtins": [GTIN], "prefixes": [], **WINDOW, **scope}
        signed = self.sign("authorize", brand, partner=partner, role=role, **fields)
        self.accept(signed)
        self.auths[partner] = event_hash(signed)
        return self.auths[partner]

    def commission(self, serial: str = SERIAL, brand: str = "acme", **extra: Any) -> UnitRecord:
        """``brand`` commissions a unit of the test GTIN."""
        unit = {"gtin": GTIN, "serial": serial}
        self.do("commission", brand, unit=unit, prev=None, **extra)
        return self.unit(serial)

    @classmethod
    def genesis(cls, origin: str | None = ORIGIN, **versions: int | None) -> World:
        """A log holding only the operator's self-registration, signed for ``origin``:
        format 2 and rule set 2 from entry 0, as `Ledger.init` writes them, unless
        ``versions`` say otherwise. ``origin=None`` signs format 1 and names rule set 2
        alone (format 1 still open); ``origin=None, rules=None`` is a log from before the
        versions were recorded (format 1, rule set 1, until its ``log.upgrade``)."""
        world = cls(origin=origin)
        defaults = {"format": None if origin is None else 2, "rules": 2}
        named = {k: v for k, v in {**defaults, **versions}.items() if v is not None}
        world.do(
            "actor.register",
            "operator",
            subject="operator",
            role="operator",
            name="Registry",
            keys=[public_b64(1)],
            **named,
        )
        return world

    @classmethod
    def base(cls, origin: str | None = ORIGIN, **versions: int | None) -> World:
        """The scripted log described in the module docstring (``origin``, ``versions``:
        as `genesis`)."""
        world = cls.genesis(origin, **versions)
        for actor, (role, seed) in ACTORS.items():
            if actor == "operator":
                continue
            extra = (
                {"prefixes": [PREFIX if actor == "acme" else "9506001"]} if role == "brand" else {}
            )
            world.register(actor, role, seed, **extra)
        world.do("product.register", "acme", gtin=GTIN, name="Acme Sneaker 42")
        world.authorize("ship-co", "courier")
        world.authorize("shop", "retailer", gtins=[], prefixes=[PREFIX])
        world.authorize("insp", "inspector")
        world.authorize("customs", "customs")
        world.commission(claim=claim_commitment())
        return world


BASE = World.base()


def base() -> World:
    """A fresh copy of the base world (built once, copied per test)."""
    return BASE.copy()


def utc(text: str) -> datetime:
    """An aware datetime from ISO text (tests' shorthand)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
