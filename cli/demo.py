"""``provenance demo``: a realistic small world, its labels, and the stories to scan.

The operator; brand ``acme`` with two products; a warehouse, two couriers, two
retailers and an inspector, each authorized; 50 units walked through varied paths; one
lot recalled; one courier revoked after handling units; one serial never minted; one
label with a forged signature. Labels go to ``./labels/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cli.backend import Local
from cli.common import write_private_key
from cli.signing import sign_with
from ledger import codec, crypto, gs1, label
from ledger.entry import SignedEvent
from ledger.events import format_time

GTINS = {"09506000134352": "Acme Runner 42 (shoe)", "09506000134369": "Acme Trail Jacket"}
PARTNERS = {
    "acme-warehouse": ("warehouse", "Acme Central Warehouse"),
    "swift-courier": ("courier", "Swift Courier"),
    "shady-courier": ("courier", "Shady Courier"),
    "shanghai-store": ("retailer", "Shanghai Flagship Store"),
    "online-shop": ("retailer", "Acme Online Shop"),
    "qc-lab": ("inspector", "QC Lab"),
}


@dataclass
class World:
    """Keys, unit heads and events of the demo as it is built."""

    home: Path
    keys: dict[str, crypto.Ed25519PrivateKey] = field(default_factory=dict)
    heads: dict[str, str] = field(default_factory=dict)
    events: list[SignedEvent] = field(default_factory=list)

    def key(self, actor: str) -> crypto.Ed25519PrivateKey:
        """The actor's key, created (mode 0600 under keys/) on first use."""
        if actor not in self.keys:
            key = crypto.generate_private_key()
            write_private_key(self.home / "keys" / f"{actor}.pem", key)
            self.keys[actor] = key
        return self.keys[actor]

    def add(self, actor: str, kind: str, **fields: Any) -> SignedEvent:
        """Sign an event now and queue it."""
        signed = sign_with(self.key(actor), actor, kind, **fields)
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


def build(store: Local, home: Path, base_url: str, labels_dir: Path) -> list[tuple[str, str]]:
    """Write the demo world through ``store``; return (story, resolver URL) pairs."""
    from cli.commands_custody import write_labels
    from qr import prepare_units

    world = World(home)
    world.keys["operator"] = store.ledger.config.operator_key
    now = datetime.now(UTC)
    window = {
        "not_before": format_time(now - timedelta(days=1)),
        "not_after": format_time(now + timedelta(days=365)),
    }
    pub = lambda actor: crypto.public_key_to_b64(world.key(actor).public_key())  # noqa: E731
    world.add(
        "operator",
        "actor.register",
        subject="acme",
        role="brand",
        name="Acme Footwear Ltd",
        keys=[pub("acme")],
        prefixes=["9506000"],
    )
    for actor, (role, name) in PARTNERS.items():
        world.add(
            "operator", "actor.register", subject=actor, role=role, name=name, keys=[pub(actor)]
        )
    for gtin, name in GTINS.items():
        world.add("acme", "product.register", gtin=gtin, name=name)
    for actor, (role, _) in PARTNERS.items():
        world.add(
            "acme", "authorize", partner=actor, role=role, gtins=[], prefixes=["9506000"], **window
        )
    store.append(world.events)
    world.events.clear()
    units = [gs1.UnitId(gtin="09506000134352", serial=f"SN-{n:06d}") for n in range(1, 41)]
    units += [gs1.UnitId(gtin="09506000134369", serial=f"JK-{n:06d}") for n in range(1, 11)]
    prepared = prepare_units(base_url, units, world.key("acme"))
    for p in prepared:
        lot = "L-RECALL" if p.unit.serial in {f"SN-{n:06d}" for n in range(31, 36)} else "L-2026-11"
        signed = world.add(
            "acme",
            "commission",
            unit={"gtin": p.unit.gtin, "serial": p.unit.serial},
            prev=None,
            lot=lot,
            claim={"salt": p.claim_salt, "hash": p.claim_hash},
        )
        world.heads[p.unit.serial] = codec.b64url_encode(signed.hash)
    store.append(world.events)
    world.events.clear()
    write_labels(list(prepared), labels_dir, "pdf")
    _walk(world)
    store.append(world.events)
    world.events.clear()
    world.add(
        "operator",
        "actor.revoke",
        subject="shady-courier",
        reason="blacklisted: caught relabelling goods",
    )
    store.append(world.events)
    return _stories(base_url, prepared, world)


def _walk(world: World) -> None:
    """Custody paths for the units (the heads advance as events are queued)."""
    for n in range(1, 31):
        serial = f"SN-{n:06d}"
        world.step(serial, "acme", "handoff", to="acme-warehouse", place="Dongguan factory")
        world.step(serial, "acme-warehouse", "receive", place="Shenzhen DC")
    for n in range(1, 11):  # into the flagship store
        serial = f"SN-{n:06d}"
        world.step(serial, "acme-warehouse", "handoff", to="swift-courier", place="Shenzhen DC")
        world.step(serial, "swift-courier", "receive", place="Shenzhen DC")
        world.step(serial, "swift-courier", "handoff", to="shanghai-store", place="Shanghai")
        world.step(serial, "shanghai-store", "receive", place="Shanghai, Nanjing Road")
    for n in range(1, 4):  # sold in the shop
        world.step(f"SN-{n:06d}", "shanghai-store", "sell", place="Shanghai, Nanjing Road")
    for n in range(11, 16):  # online: sold and delivered to the buyer
        serial = f"SN-{n:06d}"
        world.step(serial, "acme-warehouse", "handoff", to="online-shop", place="Shenzhen DC")
        world.step(serial, "online-shop", "receive", place="Hangzhou fulfilment centre")
        world.step(serial, "online-shop", "sell", place="acme.example online")
        world.step(serial, "online-shop", "deliver", place="Beijing, Chaoyang")
    for n in range(16, 21):  # inspected in the warehouse
        world.step(
            f"SN-{n:06d}",
            "qc-lab",
            "inspect",
            result="pass" if n != 20 else "fail",
            note="stitching and sole checked",
            place="Shenzhen DC",
        )
    for n in range(21, 24):  # handled by a courier that is later blacklisted
        serial = f"SN-{n:06d}"
        world.step(serial, "acme-warehouse", "handoff", to="shady-courier", place="Shenzhen DC")
        world.step(serial, "shady-courier", "receive", place="Guangzhou")
    for n in range(31, 36):  # the recalled lot
        world.step(f"SN-{n:06d}", "acme", "recall", reason="lot L-RECALL: faulty sole adhesive")


def _stories(base_url: str, prepared: list[Any], world: World) -> list[tuple[str, str]]:
    uri = {p.unit.serial: p.uri for p in prepared}
    forged = label.label_uri(
        base_url,
        gs1.UnitId(gtin="09506000134352", serial="SN-000024"),
        codec.b64url_encode(bytes(64)),
    )
    never = gs1.format_digital_link(base_url, "09506000134352", "SN-999999")
    return [
        ("genuine, in the flagship store", uri["SN-000004"]),
        ("genuine, fresh from the factory", uri["SN-000036"]),
        ("sold in the shop (a second buyer should beware)", uri["SN-000001"]),
        ("delivered to an online buyer", uri["SN-000011"]),
        ("inspected and passed", uri["SN-000016"]),
        ("failed its inspection", uri["SN-000020"]),
        ("recalled lot L-RECALL", uri["SN-000031"]),
        ("handled by a courier later blacklisted", uri["SN-000021"]),
        ("a jacket in the warehouse", uri["JK-000001"]),
        ("a label with a forged brand signature", forged),
        ("a serial that was never minted (counterfeit)", never),
    ]
