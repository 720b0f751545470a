"""A small world for claim, signal and report tests: a ledger on a clock the test moves,
a brand ``acme`` with one product, and units minted with real claim codes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ledger import claimcode, entry
from ledger.events import event_from_dict, format_time
from ledger.service.ledger import Ledger, Scan
from ledger.signals.places import HEADER, stored_place
from tests.factories import GTIN, key, public_b64
from tests.integration.world import config
from tests.rules_factories import NOW, PREFIX


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class SignalWorld:
    """A ledger with acme (seed 2) and its product; units with their claim codes."""

    ledger: Ledger
    clock: Clock
    codes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def open(cls, url: str) -> SignalWorld:
        clock = Clock()
        ledger = Ledger.open(url, config(f"s-{uuid.uuid4().hex[:10]}"), clock=clock)
        ledger.init(name="Registry")
        world = cls(ledger, clock)
        world.sign(
            1,
            "actor.register",
            "operator",
            subject="acme",
            role="brand",
            name="Acme",
            keys=[public_b64(2)],
            prefixes=[PREFIX],
        )
        world.sign(2, "product.register", "acme", gtin=GTIN, name="Acme Sneaker 42")
        return world

    def sign(self, seed: int, kind: str, actor: str, **fields: Any) -> Any:
        """Sign and append one event at the clock's time."""
        event = event_from_dict(
            {"kind": kind, "actor": actor, "time": format_time(self.clock.now), **fields}
        )
        return self.ledger.append(entry.sign_event(event, key(seed), log=self.ledger.origin))

    def mint(self, serial: str) -> str:
        """Commission ``serial`` with a fresh claim code; return the code."""
        code = claimcode.new_claim_code()
        salt, digest = claimcode.claim_commitment(code, claimcode.new_salt())
        self.sign(
            2,
            "commission",
            "acme",
            unit={"gtin": GTIN, "serial": serial},
            prev=None,
            claim={"salt": salt, "hash": digest},
        )
        self.codes[serial] = code
        return code

    def recall(self, serial: str) -> None:
        """The brand recalls ``serial``, signed on the unit's head."""
        head = self.ledger.state().units[(GTIN, serial)].head
        self.sign(2, "recall", "acme", unit={"gtin": GTIN, "serial": serial}, prev=head,
                  reason="faulty adhesive")  # fmt: skip

    def scan(
        self,
        serial: str,
        place: str | None,
        client: str,
        gtin: str = GTIN,
        source: str = HEADER,
    ) -> None:
        """Store one scan at the clock's time; its place from the trusted geolocation
        header unless ``source`` is ``hint`` (a client's ``?place=``)."""
        stored = stored_place(place, source)
        self.ledger.record_scans([Scan(gtin, serial, self.clock.now, stored, client, "mobile")])

    def view(self, serial: str, owner_token: str | None = None) -> dict[str, Any]:
        return self.ledger.unit_view(GTIN, serial, owner_token=owner_token)

    def codes_of(self, view: dict[str, Any]) -> list[str]:
        return [r["code"] for r in view["reasons"]]
