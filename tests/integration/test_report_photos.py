"""Report photos as stored and served: re-encoded on intake, and a photo stored before
re-encoding existed (a WebP, or a JPEG with its EXIF) is re-encoded when served, so only
``image/jpeg`` or ``image/png`` without metadata ever leaves the server."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from alembic import command
from PIL import Image
from sqlalchemy import text

from ledger.errors import NotFoundError
from ledger.store.database import _alembic_config, migrate
from ledger.vocab import ReportStatus
from tests.factories import GTIN
from tests.integration.signals_world import SignalWorld
from tests.unit.test_photo_reencode import gps_jpeg

#: these tests migrate every log in the database: a database of their own (conftest)
OWN_DATABASE = True


@pytest.fixture
def sw(db_url: str) -> Iterator[SignalWorld]:
    world = SignalWorld.open(db_url)
    yield world
    world.ledger.close()


def test_a_filed_photo_is_stored_without_its_gps_and_served_as_jpeg(sw: SignalWorld) -> None:
    sw.mint("SN-1")
    filed = sw.ledger.reports.report(GTIN, "SN-1", "counterfeit", photo=gps_jpeg(), client="c")
    row = sw.ledger.reports.find(filed["id"]) or {}
    assert row["photo_type"] == "image/jpeg" and b"PhoneMaker" not in row["photo"]
    data, media = sw.ledger.reports.report_photo(filed["id"], sw.ledger.state().actors["acme"])
    assert (data, media) == (bytes(row["photo"]), "image/jpeg")


@pytest.mark.parametrize("legacy", ["webp", "jpeg-with-exif"])
def test_a_photo_stored_before_reencoding_is_served_reencoded(sw: SignalWorld, legacy: str) -> None:
    if legacy == "webp":
        out = io.BytesIO()
        Image.new("RGB", (20, 20), "green").save(out, "WEBP")
        photo, media = out.getvalue(), "image/webp"
    else:
        photo, media = gps_jpeg(), "legacy:image/jpeg"  # as migration 0006 marks it
    sw.mint("SN-1")
    store = sw.ledger.reports._signal_store
    row = {
        "gtin": GTIN,
        "serial": "SN-1",
        "brand": "acme",
        "reason": "other",
        "text": None,
        "photo": photo,
        "photo_type": media,
        "client": "c",
        "created_at": "2026-01-01T00:00:00Z",
        "status": ReportStatus.OPEN,
    }
    report_id = store.insert_report(sw.ledger.log, row).report_id
    assert report_id is not None
    data, served = sw.ledger.reports.report_photo(report_id, sw.ledger.state().actors["acme"])
    assert served == "image/jpeg" and b"PhoneMaker" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and not image.getexif()


def test_a_report_without_a_photo_has_none_to_serve(sw: SignalWorld) -> None:
    sw.mint("SN-1")
    filed = sw.ledger.reports.report(GTIN, "SN-1", "other", client="c")
    with pytest.raises(NotFoundError):
        sw.ledger.reports.report_photo(filed["id"], sw.ledger.state().actors["acme"])


def test_migration_0006_marks_the_photos_stored_before_it(sw: SignalWorld) -> None:
    """A JPEG with GPS EXIF filed under 0005 (kept as sent) is served re-encoded after the
    upgrade; the downgrade gives the old type back."""
    sw.mint("SN-1")
    engines = sw.ledger.store.engines
    with engines.writer.begin() as conn:
        command.downgrade(_alembic_config(conn), "0005_perf")
    with engines.writer.begin() as conn:  # what the code before 0006 stored
        conn.execute(
            text(
                "INSERT INTO reports (log, gtin, serial, brand, reason, photo, photo_type, "
                "client, created_at, status) VALUES (:log, :gtin, 'SN-1', 'acme', 'other', "
                ":photo, 'image/jpeg', 'c', '2026-01-01T00:00:00Z', 'open')"
            ),
            {"log": sw.ledger.log, "gtin": GTIN, "photo": gps_jpeg()},
        )
    migrate(engines)
    report_id = sw.ledger.reports._signal_store.reports(sw.ledger.log)[0]["id"]
    assert (sw.ledger.reports.find(report_id) or {})["photo_type"] == "legacy:image/jpeg"
    data, served = sw.ledger.reports.report_photo(report_id, sw.ledger.state().actors["acme"])
    assert served == "image/jpeg" and b"PhoneMaker" not in data and b"Exif" not in data
    with engines.writer.begin() as conn:
        command.downgrade(_alembic_config(conn), "0005_perf")
    with engines.reader.connect() as conn:
        kept = conn.execute(
            text("SELECT photo_type FROM reports WHERE id = :id"), {"id": report_id}
        ).scalar_one()
    assert kept == "image/jpeg"
    migrate(engines)
