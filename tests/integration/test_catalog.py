"""Product pictures and print batches (ledger.service.catalog, ledger.service.batches):
a picture is shown only while its stored bytes are the ones the brand signed; bad
uploads store nothing; product data is signed by the brand's key, never the console's;
print batches read from the log, voided by the console key, brand by brand."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator

import pytest
from PIL import Image
from sqlalchemy import text

from ledger import entry
from ledger.errors import ConflictError, NotFoundError, ValidationError
from ledger.events import event_from_dict, format_time
from ledger.reqsig import ForbiddenError
from ledger.rules.errors import KeyOutOfScopeError
from ledger.service.batches import VOID_REASON, PrintBatches
from ledger.service.catalog import IMAGE_SIDE, MAX_UPLOAD, ImageTooLargeError, ProductImages
from ledger.service.console import ConsoleService
from ledger.service.photos import PhotoError
from tests.factories import GTIN, key, public_b64
from tests.integration.signals_world import SignalWorld

OTHER_GTIN = "09506001000014"  # under rival's prefix 9506001


@pytest.fixture
def sw(db_url: str) -> Iterator[SignalWorld]:
    world = SignalWorld.open(db_url)
    # these tables are per database, and a PostgreSQL schema serves the session
    with world.ledger.store.engines.writer.begin() as conn:
        for table in ("console_users", "console_sessions", "console_keys", "product_images"):
            conn.execute(text(f"DELETE FROM {table}"))
    world.sign(
        1, "actor.register", "operator", subject="rival", role="brand", name="Rival",
        keys=[public_b64(8)], prefixes=["9506001"],
    )  # fmt: skip
    world.sign(8, "product.register", "rival", gtin=OTHER_GTIN, name="Rival Boot")
    yield world
    world.ledger.close()


def photo(size: tuple[int, int] = (1600, 1200), fmt: str = "JPEG") -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make: must not survive
    Image.new("RGB", size, (40, 90, 160)).save(out, fmt, exif=exif)
    return out.getvalue()


def stored_rows(sw: SignalWorld) -> int:
    with sw.ledger.store.engines.writer.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM product_images")).scalar_one())


def register(sw: SignalWorld, seed: int = 2, **fields: object) -> None:
    sw.sign(seed, "product.register", "acme", gtin=GTIN, name="Acme Sneaker 42", **fields)


def test_the_picture_is_shown_only_while_it_is_the_one_the_brand_signed(sw: SignalWorld) -> None:
    images = ProductImages(sw.ledger)
    stored = images.upload("acme", GTIN, photo(), sw.clock.now)
    assert max(stored["width"], stored["height"]) == IMAGE_SIDE and stored["media"] == "image/jpeg"
    data, _ = images.stored(stored["hash"])
    assert b"SecretCam" not in data and b"Exif" not in data
    # uploaded but not signed: the product has no picture yet
    assert images.shown(GTIN, stored["hash"]) is None
    with pytest.raises(NotFoundError):
        images.verified(GTIN)

    register(sw, image=stored["hash"], name_zh="运动鞋", support="400-800-1234")
    images = ProductImages(sw.ledger)  # a fresh cache
    served, media, signed = images.verified(GTIN)
    assert served == data and signed == stored["hash"] and media == "image/jpeg"
    assert images.shown(GTIN, signed) == (stored["width"], stored["height"])

    # the database's administrator puts another picture under the signed hash
    swapped = photo((800, 600), "PNG")
    with sw.ledger.store.engines.writer.begin() as conn:
        conn.execute(text("UPDATE product_images SET data = :d"), {"d": swapped})
    fresh = ProductImages(sw.ledger)
    assert fresh.shown(GTIN, signed) is None
    with pytest.raises(NotFoundError):
        fresh.verified(GTIN)
    with pytest.raises(NotFoundError):
        fresh.verified(GTIN, signed)
    with pytest.raises(NotFoundError):
        fresh.stored(signed)


def test_a_content_addressed_request_for_another_hash_is_refused(sw: SignalWorld) -> None:
    images = ProductImages(sw.ledger)
    first = images.upload("acme", GTIN, photo(), sw.clock.now)["hash"]
    second = images.upload("acme", GTIN, photo((900, 900)), sw.clock.now)["hash"]
    register(sw, image=first)
    assert images.verified(GTIN, first)[2] == first
    with pytest.raises(NotFoundError):  # stored, but not what the brand signs
        images.verified(GTIN, second)
    register(sw, image=second)  # the brand signs a new picture: the old one is gone
    with pytest.raises(NotFoundError):
        images.verified(GTIN, first)
    assert images.verified(GTIN)[2] == second


def bomb() -> bytes:
    """A PNG whose header declares 100,000 x 100,000 pixels over a few bytes of data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\xff" * (MAX_UPLOAD + 1), ImageTooLargeError),
        (bomb(), PhotoError),
        (b"<html><script>alert(1)</script></html>", PhotoError),
        (photo()[:400], PhotoError),  # truncated
        (b"GIF89a" + b"\x00" * 100, PhotoError),  # not one of the formats taken
    ],
)
def test_bad_uploads_store_nothing(sw: SignalWorld, data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        ProductImages(sw.ledger).upload("acme", GTIN, data, sw.clock.now)
    assert stored_rows(sw) == 0


def test_a_brand_uploads_only_for_its_own_gtins(sw: SignalWorld) -> None:
    images = ProductImages(sw.ledger)
    with pytest.raises(NotFoundError):
        images.upload("acme", OTHER_GTIN, photo(), sw.clock.now)
    assert stored_rows(sw) == 0
    # a GTIN under acme's prefix that no one registered yet: a picture for a new product
    assert images.upload("acme", "09506000134376", photo(), sw.clock.now)["hash"]
    assert images.may_register("rival", OTHER_GTIN) and not images.may_register("rival", GTIN)


def test_product_data_is_signed_by_the_brand_key_never_the_console_key(sw: SignalWorld) -> None:
    console = ConsoleService(sw.ledger)
    console.keys.delegate_key("acme", key(2))
    size = sw.ledger.primary_size()
    with pytest.raises(KeyOutOfScopeError):
        sw.ledger.append(
            console.keys.console_sign("acme", "product.register", gtin=GTIN, name="Swapped")
        )
    assert sw.ledger.primary_size() == size
    assert ProductImages(sw.ledger).product(GTIN).name == "Acme Sneaker 42"  # type: ignore[union-attr]
    register(sw, name_zh="运动鞋")  # the brand's own key: accepted, an update
    assert ProductImages(sw.ledger).product(GTIN).name_zh == "运动鞋"  # type: ignore[union-attr]


def mint_run(sw: SignalWorld, serials: range, lot: str, gtin: str = GTIN, seed: int = 2) -> None:
    brand = "acme" if seed == 2 else "rival"
    events = [
        entry.sign_event(
            event_from_dict(
                {
                    "kind": "commission",
                    "actor": brand,
                    "time": format_time(sw.clock.now),
                    "unit": {"gtin": gtin, "serial": f"B-{n:04d}"},
                    "prev": None,
                    "lot": lot,
                }
            ),
            key(seed),
            log=sw.ledger.origin,
        )
        for n in serials
    ]
    sw.ledger.append_batch(events)


@pytest.fixture
def console(sw: SignalWorld) -> ConsoleService:
    return ConsoleService(sw.ledger, clock=sw.clock)


def login(console: ConsoleService, org: str, user: str, role: str):  # type: ignore[no-untyped-def]
    password = console.staff.add_user(org, user, role)
    return console.staff.login(user, password)[0]


def test_print_batches_are_read_from_the_log_and_voided_by_the_console_key(
    sw: SignalWorld, console: ConsoleService
) -> None:
    mint_run(sw, range(1, 6), "L1")
    sw.clock.advance(minutes=3)
    mint_run(sw, range(6, 9), "L1")  # the same run, appended later: one batch
    mint_run(sw, range(9, 11), "L2")
    sw.clock.advance(minutes=30)
    mint_run(sw, range(11, 13), "L1")  # the same lot half an hour later: another batch
    mint_run(sw, range(1, 3), "R1", gtin=OTHER_GTIN, seed=8)
    batches = PrintBatches(sw.ledger, console, clock=sw.clock)
    admin = login(console, "acme", "acme-admin", "admin")
    found = batches.batches(admin)
    shape = [(b["lot"], b["count"], b["first_serial"], b["last_serial"]) for b in found]
    assert shape == [
        ("L1", 2, "B-0011", "B-0012"),
        ("L2", 2, "B-0009", "B-0010"),
        ("L1", 8, "B-0001", "B-0008"),
    ]
    assert batches.batches(admin) == found  # a refresh with nothing new changes nothing
    first = found[-1]["id"]
    assert batches.unit_lines(admin, first).splitlines()[0] == f"{GTIN}/B-0001"

    # roles and brands: an analyst may not void; rival's staff never see acme's batch
    analyst = login(console, "acme", "acme-analyst", "analyst")
    rival = login(console, "rival", "rival-admin", "admin")
    operator = login(console, "operator", "op-admin", "admin")
    console.keys.delegate_key("acme", key(2))
    size = sw.ledger.primary_size()
    with pytest.raises(ForbiddenError):
        batches.void(analyst, first, "misprint")
    with pytest.raises(ForbiddenError):
        batches.void(operator, first, "misprint")
    with pytest.raises(ForbiddenError):
        batches.void(rival, first, "misprint")
    with pytest.raises(ForbiddenError):
        batches.batch(rival, first)
    assert [b["lot"] for b in batches.batches(rival)] == ["R1"]
    with pytest.raises(ValidationError):
        batches.void(admin, first, " ")
    assert sw.ledger.primary_size() == size

    assert batches.void(admin, first, "misprinted sheet") == 8
    for n in range(1, 9):
        view = sw.ledger.unit_view(GTIN, f"B-{n:04d}")
        assert view["unit"]["recalled"]
        recall = view["entries"][-1]["event"]
        assert recall["kind"] == "recall" and recall["reason"] == VOID_REASON
    assert not sw.ledger.unit_view(GTIN, "B-0011")["unit"]["recalled"]
    voided = batches.batch(admin, first)
    assert voided["state"] == "voided" and voided["recalled"] == 8
    with pytest.raises(ConflictError):
        batches.void(admin, first, "again")
    trail = console.staff.audit_trail("acme")
    assert trail[0]["action"] == "void-batch" and "misprinted sheet" in trail[0]["detail"]


def test_an_unknown_batch_is_not_found(sw: SignalWorld, console: ConsoleService) -> None:
    admin = login(console, "acme", "acme-admin", "admin")
    with pytest.raises(NotFoundError):
        PrintBatches(sw.ledger, console).batch(admin, 999)


def test_a_label_signed_by_the_console_key_does_not_verify(
    sw: SignalWorld, console: ConsoleService
) -> None:
    """The operator's server holds the console key: were its signature a label's, the
    server could print valid labels for any unit of the brand."""
    from ledger import label
    from ledger.gs1 import UnitId

    sw.mint("SN-L")
    console.keys.delegate_key("acme", key(2))
    unit = UnitId(gtin=GTIN, serial="SN-L")
    genuine = label.sign_label(unit, key(2))
    assert sw.ledger.unit_view(GTIN, "SN-L", genuine)["unit"]["label"] == "valid"
    forged = label.sign_label(unit, console.keys.signer("acme"))
    view = sw.ledger.unit_view(GTIN, "SN-L", forged)
    assert view["verdict"] == "invalid" and view["unit"]["label"] == "invalid"
