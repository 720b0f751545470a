"""A registry built from the command line: actors' keys, unit heads, events signed now.

`World` keeps each actor's Ed25519 key (created on first use, written mode 0600 under
``home/keys/`` when a home folder is given), the head of every unit it walks, and the
events queued for the next append. `onboard` queues what every world starts with: the
operator registers a brand and its partners, the brand registers its products and
authorizes each partner for its prefix. Used by ``provenance demo`` and
``provenance hammer``; events are signed with the real clock, so a server accepts them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cli.common import write_private_key
from cli.signing import sign_with
from ledger import codec, crypto
from ledger.entry import SignedEvent
from ledger.events import format_time


@dataclass
class World:
    """Keys, unit heads and queued events of a world as it is built."""

    home: Path | None = None
    keys: dict[str, crypto.Ed25519PrivateKey] = field(default_factory=dict)
    heads: dict[str, str] = field(default_factory=dict)
    events: list[SignedEvent] = field(default_factory=list)
    #: the origin of the log the events are for (format 2); None signs format 1, which
    #: only a log before its ``log.upgrade`` takes
    origin: str | None = None

    def key(self, actor: str) -> crypto.Ed25519PrivateKey:
        """The actor's key, created on first use (and written under ``home/keys/``)."""
        if actor not in self.keys:
            key = crypto.generate_private_key()
            if self.home is not None:
                write_private_key(self.home / "keys" / f"{actor}.pem", key)
            self.keys[actor] = key
        return self.keys[actor]

    def public(self, actor: str) -> str:
        """The actor's public key, base64url."""
        return crypto.public_key_to_b64(self.key(actor).public_key())

    def sign(self, actor: str, kind: str, **fields: Any) -> SignedEvent:
        """Sign an event by ``actor`` timed now (not queued)."""
        return sign_with(self.key(actor), actor, kind, log=self.origin, **fields)

    def add(self, actor: str, kind: str, **fields: Any) -> SignedEvent:
        """Sign an event now and queue it."""
        signed = self.sign(actor, kind, **fields)
        self.events.append(signed)
        return signed

    def step(
        self, serial: str, actor: str, kind: str, gtin: str = "09506000134352", **fields: Any
    ) -> None:
        """Queue a unit event extending the unit's head."""
        signed = self.add(
            actor, kind, unit={"gtin": gtin, "serial": serial}, prev=self.heads[serial], **fields
        )
        self.heads[serial] = codec.b64url_encode(signed.hash)

    def take(self) -> list[SignedEvent]:
        """The queued events, leaving the queue empty."""
        out, self.events = self.events, []
        return out


@dataclass(frozen=True)
class Brand:
    """A brand to onboard: its actor id, name, GS1 company prefix and products."""

    actor: str
    name: str
    prefix: str
    products: dict[str, str]  # GTIN-14 -> product name
    #: GTIN-14 -> more fields of its ``product.register`` (``name_zh``, ``support``)
    details: dict[str, dict[str, str]] = field(default_factory=dict)


def onboard(world: World, brand: Brand, partners: dict[str, tuple[str, str]]) -> None:
    """Queue the operator's registrations, the brand's products and its authorizations.

    ``partners`` maps actor id -> (role, name). Each partner is authorized by the brand
    for the brand's whole prefix, from a day ago for a year. The operator's key must
    already be in ``world.keys``.
    """
    now = datetime.now(UTC)
    window = {
        "not_before": format_time(now - timedelta(days=1)),
        "not_after": format_time(now + timedelta(days=365)),
    }
    world.add(
        "operator",
        "actor.register",
        subject=brand.actor,
        role="brand",
        name=brand.name,
        keys=[world.public(brand.actor)],
        prefixes=[brand.prefix],
    )
    for actor, (role, name) in partners.items():
        world.add(
            "operator",
            "actor.register",
            subject=actor,
            role=role,
            name=name,
            keys=[world.public(actor)],
        )
    for gtin, name in brand.products.items():
        world.add(
            brand.actor, "product.register", gtin=gtin, name=name, **brand.details.get(gtin, {})
        )
    for actor, (role, _) in partners.items():
        world.add(
            brand.actor,
            "authorize",
            partner=actor,
            role=role,
            gtins=[],
            prefixes=[brand.prefix],
            **window,
        )
