"""``provenance demo``: a realistic small world, its labels, and the stories to scan.

The operator; brand ``acme`` with two products; a warehouse, two couriers, two
retailers and an inspector, each authorized; 50 units walked through varied paths; one
lot recalled; one courier revoked after handling units; one serial never minted; one
label with a forged signature; after the sale, one unit claimed by its buyer, one
resold with its transfer code, and one code scanned in two countries an hour apart (a
clone). Labels go to ``./labels/``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cli.backends.local import Local
from cli.world import Brand, World, onboard
from ledger import codec, gs1, label
from ledger.signals.places import HEADER, stored_place

GTINS = {"09506000134352": "Acme Runner 42", "09506000134369": "Acme Trail Jacket"}
#: what a shopper reads besides the English name: the Chinese name and where to get help
SUPPORT = "400-820-4242 · support@acme.example"
DETAILS = {
    "09506000134352": {"name_zh": "Acme Runner 42 跑鞋", "support": SUPPORT},
    "09506000134369": {"name_zh": "Acme 越野夹克", "support": SUPPORT},
}
PARTNERS = {
    "acme-warehouse": ("warehouse", "Acme Central Warehouse"),
    "swift-courier": ("courier", "Swift Courier"),
    "shady-courier": ("courier", "Shady Courier"),
    "shanghai-store": ("retailer", "Shanghai Flagship Store"),
    "online-shop": ("retailer", "Acme Online Shop"),
    "qc-lab": ("inspector", "QC Lab"),
}
ACME = Brand("acme", "Acme Footwear Ltd", "9506000", GTINS, DETAILS)


def build(store: Local, home: Path, base_url: str, labels_dir: Path) -> list[tuple[str, str]]:
    """Write the demo world through ``store``; return (story, resolver URL) pairs."""
    from cli.commands.mint import PrintRun, write_labels
    from qr import prepare_units

    world = World(home, origin=store.origin())
    world.keys["operator"] = store.ledger.config.operator_key
    onboard(world, ACME, PARTNERS)
    store.append(world.take())
    units = [gs1.UnitId(gtin="09506000134352", serial=f"SN-{n:06d}") for n in range(1, 41)]
    units += [gs1.UnitId(gtin="09506000134369", serial=f"JK-{n:06d}") for n in range(1, 11)]
    prepared = prepare_units(base_url, units, world.key("acme"))
    lots: dict[gs1.UnitId, str | None] = {}
    for p in prepared:
        lot = "L-RECALL" if p.unit.serial in {f"SN-{n:06d}" for n in range(31, 36)} else "L-2026-11"
        lots[p.unit] = lot
        signed = world.add(
            "acme",
            "commission",
            unit={"gtin": p.unit.gtin, "serial": p.unit.serial},
            prev=None,
            lot=lot,
            claim={"salt": p.claim_salt, "hash": p.claim_hash},
        )
        world.heads[p.unit.serial] = codec.b64url_encode(signed.hash)
    store.append(world.take())
    # one product and lot per sheet, named in its header and on each label
    run = PrintRun(lots=lots, products=ACME.products, author=ACME.name)
    write_labels(list(prepared), labels_dir, "pdf", run)
    _walk(world)
    store.append(world.take())
    world.add(
        "operator",
        "actor.revoke",
        subject="shady-courier",
        reason="blacklisted: caught relabelling goods",
    )
    store.append(world.take())
    _after_sale(store, {p.unit.serial: p for p in prepared}, datetime.now(UTC))
    return _stories(base_url, prepared, world)


def console_logins(store: Local, home: Path, base_url: str) -> list[dict[str, str]]:
    """Give the demo's console what it shows: acme's console key (delegated with acme's
    own key), a buyer's report with a photo on SN-000024, and the logins ``acme-admin``
    and ``operator-admin``; return each login (``url``, ``user``, ``password``)."""
    import io

    from PIL import Image

    from cli.common import load_private_key
    from ledger.service.console import ConsoleService

    console = ConsoleService(store.ledger)
    console.keys.delegate_key("acme", load_private_key(home / "keys" / "acme.pem"), revoke=True)
    photo = io.BytesIO()
    Image.new("RGB", (320, 240), (180, 40, 40)).save(photo, "PNG")
    store.ledger.reports.report(
        "09506000134352",
        "SN-000024",
        "counterfeit",
        text="Bought at a market stall for a third of the price; the stitching is crooked.",
        photo=photo.getvalue(),
        where="Night market stall 14, Shenzhen",
        client="demo-reporter",
    )
    lines: list[dict[str, str]] = []
    for org, user in (("acme", "acme-admin"), ("operator", "operator-admin")):
        password = console.staff.add_user(org, user, "admin")
        lines.append({"url": f"{base_url}/console/", "user": user, "password": password})
    return lines


def _after_sale(store: Local, prepared: dict[str, Any], now: datetime) -> None:
    """A buyer claims SN-000002 and someone else checks it; SN-000012 is claimed and
    resold with its transfer code; SN-000005's code is scanned in Shanghai and, an hour
    later, in the United States."""
    from ledger.service.ledger import Scan

    ledger, gtin = store.ledger, "09506000134352"
    ledger.claims.claim(gtin, "SN-000002", prepared["SN-000002"].claim_code, client="demo-buyer")
    seen = datetime.now(UTC)  # after the claim: someone else checks the buyer's item
    first = ledger.claims.claim(
        gtin, "SN-000012", prepared["SN-000012"].claim_code, client="demo-a"
    )
    ledger.claims.claim(gtin, "SN-000012", first.transfer_code, client="demo-b")
    # placed by a trusted proxy's geolocation header: a typed ?place= would be a hint only
    sh, us = stored_place("CN-SH", HEADER), stored_place("US", HEADER)
    ledger.record_scans(
        [
            Scan(gtin, "SN-000005", now - timedelta(minutes=90), sh, "demo-shopper", "wechat"),
            Scan(gtin, "SN-000005", now - timedelta(minutes=30), us, "demo-cloner", "mobile"),
            Scan(gtin, "SN-000002", seen, sh, "demo-stranger", "wechat"),
        ]
    )


#: places as ISO 3166-2 codes: the shopper's page names them in the reader's language
#: ("Guangdong, China" / "中国广东"), where free text would show as written
GUANGDONG, SHANGHAI = "CN-GD", "CN-SH"


def _walk(world: World) -> None:
    """Custody paths for the units (the heads advance as events are queued)."""
    for n in range(1, 31):
        serial = f"SN-{n:06d}"
        world.step(serial, "acme", "handoff", to="acme-warehouse", place=GUANGDONG)
        world.step(serial, "acme-warehouse", "receive", place=GUANGDONG)
    for n in range(1, 11):  # into the flagship store
        serial = f"SN-{n:06d}"
        world.step(serial, "acme-warehouse", "handoff", to="swift-courier", place=GUANGDONG)
        world.step(serial, "swift-courier", "receive", place=GUANGDONG)
        world.step(serial, "swift-courier", "handoff", to="shanghai-store", place=SHANGHAI)
        world.step(serial, "shanghai-store", "receive", place=SHANGHAI)
    for n in range(1, 4):  # sold in the shop
        world.step(f"SN-{n:06d}", "shanghai-store", "sell", place=SHANGHAI)
    for n in range(11, 16):  # online: sold and delivered to the buyer
        serial = f"SN-{n:06d}"
        world.step(serial, "acme-warehouse", "handoff", to="online-shop", place=GUANGDONG)
        world.step(serial, "online-shop", "receive", place="CN-ZJ")
        world.step(serial, "online-shop", "sell")  # online: no place
        world.step(serial, "online-shop", "deliver", place="CN-BJ")
    for n in range(16, 21):  # inspected in the warehouse
        world.step(
            f"SN-{n:06d}",
            "qc-lab",
            "inspect",
            result="pass" if n != 20 else "fail",
            note="鞋底缝线合格 · sole stitching passed"
            if n != 20
            else "鞋底缝线开裂 · sole stitching split",
            place=GUANGDONG,
        )
    for n in range(21, 24):  # handled by a courier that is later blacklisted
        serial = f"SN-{n:06d}"
        world.step(serial, "acme-warehouse", "handoff", to="shady-courier", place=GUANGDONG)
        world.step(serial, "shady-courier", "receive", place=GUANGDONG)
    for n in range(31, 36):  # the recalled lot
        reason = "L-RECALL 批次鞋底胶水缺陷 · lot L-RECALL: faulty sole adhesive"
        world.step(f"SN-{n:06d}", "acme", "recall", reason=reason)


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
        ("claimed by its buyer (seen by someone else)", uri["SN-000002"]),
        ("resold second-hand with its transfer code", uri["SN-000012"]),
        ("a cloned code scanned in two countries", uri["SN-000005"]),
        ("a label with a forged brand signature", forged),
        ("a serial that was never minted (counterfeit)", never),
    ]
