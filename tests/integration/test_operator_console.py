"""The operator's console service (ledger.service.operator, ledger.service.loghealth) on
SQLite and PostgreSQL: onboarding signs the licence document's SHA-256 into
``actor.register`` and stores the file under it; a stored file altered afterwards is
caught when shown; bad uploads, markup and refused registrations change nothing; the
blacklist is ``actor.revoke`` with its reason and ``since``; roles (an ``onboarding``
user onboards but never blacklists; a brand's staff get nothing); witnesses, the
checkpoint's age, the high-water mark; the pending key recoveries."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import text

from ledger import codec, crypto, note
from ledger.audit import witness
from ledger.entry import Leaf
from ledger.errors import LedgerError, NotFoundError, ValidationError
from ledger.events import format_time
from ledger.reqsig import ForbiddenError
from ledger.rules.errors import ActorExistsError, AlreadyRevokedError, CannotRevokeOperatorError
from ledger.service import licences
from ledger.service.console import ConsoleService
from ledger.service.console_auth import Staff
from ledger.service.highwater import HighWater
from ledger.service.ledger import Ledger
from ledger.service.loghealth import log_health
from ledger.service.operator import OperatorService
from tests.factories import key, public_b64
from tests.integration.signals_world import Clock, SignalWorld
from tests.integration.world import config

ADMIN = Staff("op-admin", "operator", "operator", "admin")
ONBOARDING = Staff("op-onboarding", "operator", "operator", "onboarding")
BRAND = Staff("acme-admin", "acme", "brand", "admin")
PDF = b"%PDF-1.7\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"
W1 = note.Signer("witness.example/w1", key(40), note.ALG_COSIGNATURE_V1)
W2 = note.Signer("witness.example/w2", key(41), note.ALG_COSIGNATURE_V1)


def png(colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def sw(db_url: str) -> Iterator[SignalWorld]:
    world = SignalWorld.open(db_url)
    with world.ledger.store.engines.writer.begin() as conn:  # per database, not per log
        conn.execute(text("DELETE FROM operator_documents"))
    yield world
    world.ledger.close()


@pytest.fixture
def ops(sw: SignalWorld) -> OperatorService:
    return OperatorService(ConsoleService(sw.ledger), sw.ledger)


def onboard(ops: OperatorService, who: str, seed: int, **extra: object) -> int:
    fields: dict[str, object] = {
        "subject": who, "role": "courier", "name": f"{who} Ltd",
        "keys": public_b64(seed), "prefixes": "", "document": PDF,
        "filename": "licence.pdf", "declared": "application/pdf", "checked": True,
    }  # fmt: skip
    return ops.onboard(ADMIN, **{**fields, **extra})  # type: ignore[arg-type]


def stored_rows(sw: SignalWorld) -> int:
    with sw.ledger.store.engines.writer.connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM operator_documents")).scalar_one())


def test_onboarding_signs_the_documents_hash_and_stores_the_file(
    sw: SignalWorld, ops: OperatorService
) -> None:
    index = onboard(ops, "swift", 20, role="brand", prefixes="9506077, 9506078")
    event = Leaf.from_bytes(sw.ledger.entry(index).leaf).signed
    digest = codec.b64url_encode(hashlib.sha256(PDF).digest())
    assert event.event.kind == "actor.register" and event.event.documents == digest
    assert event.event.actor == "operator"  # signed by the operator's registry key
    assert event.event.prefixes == ("9506077", "9506078")
    data, media, name = ops.document(ADMIN, "swift")
    assert (data, media, name) == (PDF, licences.PDF, "licence.pdf")
    assert codec.b64url_encode(hashlib.sha256(data).digest()) == event.event.documents
    row = next(a for a in ops.actors(ADMIN) if a["id"] == "swift")
    assert row["documents"] == digest and row["document"]["size"] == len(PDF)
    assert (row["role"], row["prefixes"], row["registered_index"]) == (
        "brand", ["9506077", "9506078"], index
    )  # fmt: skip
    assert row["status"] == "active" and len(row["keys"]) == 1
    # a second actor onboarded with the same file: one stored copy
    onboard(ops, "swift-two", 21)
    assert stored_rows(sw) == 1
    assert [r["action"] for r in ops._console.staff.audit_trail("operator")][:2] == [
        "onboard", "onboard"
    ]  # fmt: skip


def test_a_stored_document_altered_afterwards_is_caught_when_shown(
    sw: SignalWorld, ops: OperatorService
) -> None:
    onboard(ops, "swift", 20, document=png(), filename="scan.png", declared="image/png")
    with sw.ledger.store.engines.writer.begin() as conn:
        conn.execute(text("UPDATE operator_documents SET data = :d"), {"d": png("blue")})
    with pytest.raises(licences.DocumentAlteredError) as altered:
        ops.document(ADMIN, "swift")
    assert altered.value.status == 409
    # swapping the row's key to the new file's hash does not help: the log signed the old
    with sw.ledger.store.engines.writer.begin() as conn:
        new = codec.b64url_encode(hashlib.sha256(png("blue")).digest())
        conn.execute(text("UPDATE operator_documents SET digest = :d"), {"d": new})
    with pytest.raises(NotFoundError):
        ops.document(ADMIN, "swift")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"document": b"\0" * (licences.MAX_DOCUMENT + 1)}, licences.DocumentTooLargeError),
        ({"document": b"<html><script>alert(1)</script></html>"}, licences.BadDocumentError),
        ({"document": b"%PDF-1.7\n<script>alert(1)</script>"}, licences.BadDocumentError),  # no EOF
        ({"document": b""}, licences.BadDocumentError),
        ({"filename": "licence.html"}, licences.BadDocumentError),
        ({"declared": "text/html"}, licences.BadDocumentError),
        ({"name": "<script>alert(1)</script>"}, ValidationError),
        ({"subject": "<script>"}, ValidationError),
        ({"keys": "<script>alert(1)</script>"}, ValidationError),
        ({"checked": False}, ValidationError),
        ({"role": "operator"}, ValidationError),
        ({"role": "brand"}, LedgerError),  # a brand without prefixes: the rules refuse
    ],
)
def test_a_bad_upload_changes_nothing(
    sw: SignalWorld, ops: OperatorService, change: dict[str, object], error: type[Exception]
) -> None:
    size = sw.ledger.head().size
    with pytest.raises(error):
        onboard(ops, "swift", 20, **change)
    assert sw.ledger.head().size == size and stored_rows(sw) == 0
    assert not any(a["id"] == "swift" for a in ops.actors(ADMIN))


def test_a_registration_the_log_refuses_stores_no_document(
    sw: SignalWorld, ops: OperatorService
) -> None:
    onboard(ops, "swift", 20)
    size = sw.ledger.head().size
    with pytest.raises(ActorExistsError):
        onboard(ops, "swift", 22, document=png(), filename="other.png", declared="image/png")
    assert sw.ledger.head().size == size and stored_rows(sw) == 1


def test_a_document_signed_from_the_command_line_is_attached_only_if_it_matches(
    sw: SignalWorld, ops: OperatorService
) -> None:
    digest = codec.b64url_encode(hashlib.sha256(PDF).digest())
    sw.sign(
        1, "actor.register", "operator", subject="cli-courier", role="courier",
        name="CLI Courier", keys=[public_b64(23)], documents=digest,
    )  # fmt: skip
    with pytest.raises(NotFoundError):
        ops.document(ADMIN, "cli-courier")  # the hash is signed, the file not here
    with pytest.raises(ValidationError):
        ops.attach(ONBOARDING, "cli-courier", png(), "licence.png", "image/png")
    assert stored_rows(sw) == 0
    with pytest.raises(NotFoundError):
        ops.attach(ONBOARDING, "acme", PDF, "licence.pdf")  # acme's entry names none
    assert ops.attach(ONBOARDING, "cli-courier", PDF, "licence.pdf") == digest
    assert ops.document(ONBOARDING, "cli-courier")[0] == PDF


def test_the_blacklist_is_a_revocation_with_reason_and_since(
    sw: SignalWorld, ops: OperatorService
) -> None:
    onboard(ops, "shady", 20)
    since = "2026-11-20T08:30"
    index = ops.blacklist(ADMIN, "shady", "relabelling goods", since)
    event = Leaf.from_bytes(sw.ledger.entry(index).leaf).signed.event
    assert (event.kind, event.reason, event.since) == (  # type: ignore[attr-defined]
        "actor.revoke",
        "relabelling goods",
        "2026-11-20T08:30:00.000Z",
    )
    row = next(a for a in ops.actors(ADMIN) if a["id"] == "shady")
    assert (row["status"], row["reason"], row["since"], row["revoked_index"]) == (
        "blacklisted", "relabelling goods", "2026-11-20T08:30:00.000Z", index
    )  # fmt: skip
    with pytest.raises(AlreadyRevokedError):
        ops.blacklist(ADMIN, "shady", "again")
    with pytest.raises(CannotRevokeOperatorError):
        ops.blacklist(ADMIN, "operator", "no")


@pytest.mark.parametrize(
    ("reason", "since"),
    [
        ("<script>alert(1)</script>", ""),
        ("", ""),
        ("late", format_time(Clock().now.replace(year=2030))),
        ("bad time", "yesterday"),
        ("offset", "2026-11-20T08:30+08:00"),
    ],
)
def test_a_bad_blacklist_changes_nothing(
    sw: SignalWorld, ops: OperatorService, reason: str, since: str
) -> None:
    size = sw.ledger.head().size
    with pytest.raises(ValidationError):
        ops.blacklist(ADMIN, "acme", reason, since)
    assert sw.ledger.head().size == size


def test_roles_onboarding_onboards_but_never_blacklists_and_brands_get_nothing(
    sw: SignalWorld, ops: OperatorService
) -> None:
    ops.onboard(
        ONBOARDING, subject="swift", role="courier", name="Swift", keys=public_b64(20),
        prefixes="", document=PDF, filename="l.pdf", checked=True,
    )  # fmt: skip
    size = sw.ledger.head().size
    with pytest.raises(ForbiddenError):
        ops.blacklist(ONBOARDING, "swift", "no")
    assert ops.actors(ONBOARDING)  # it sees the list
    triager = Staff("acme-t", "acme", "brand", "triager")
    for staff in (BRAND, triager):
        with pytest.raises(ForbiddenError):
            ops.actors(staff)
        with pytest.raises(ForbiddenError):
            ops.document(staff, "swift")
        with pytest.raises(ForbiddenError):
            ops.blacklist(staff, "swift", "no")
        with pytest.raises(ForbiddenError):
            ops.onboard(
                staff, subject="rival", role="courier", name="R", keys=public_b64(24),
                prefixes="", document=PDF, checked=True,
            )  # fmt: skip
    assert sw.ledger.head().size == size and stored_rows(sw) == 1


@pytest.fixture
def witnessed(db_url: str, tmp_path: Path) -> Iterator[tuple[Ledger, Clock]]:
    clock = Clock()
    base = config(f"h-{uuid.uuid4().hex[:10]}")
    cfg = dataclasses.replace(base, witnesses=(W1.verifier.to_text(), W2.verifier.to_text()))
    ledger = Ledger.open(db_url, cfg, clock=clock)
    water = HighWater(tmp_path / "mark.json", cfg.origin)
    ledger.high_water = water
    ledger.init(name="Registry")
    yield ledger, clock
    ledger.close()


def cosign(ledger: Ledger, signer: note.Signer, old: int, at: int) -> None:
    text_ = ledger.checkpoint()
    checkpoint = note.verify_checkpoint(text_, ledger.verifier_key)
    line = note.cosign_checkpoint(checkpoint, signer, at)
    proof = ledger.consistency_proof(old, checkpoint.size) if old else []
    ledger.cosigning.add_cosignature(witness.submission(old, proof, text_, line), "now")


def test_health_witnesses_checkpoint_age_and_the_high_water_mark(
    witnessed: tuple[Ledger, Clock],
) -> None:
    ledger, clock = witnessed
    stamp = int(clock.now.timestamp())
    cosign(ledger, W1, 0, stamp)
    size = ledger.head().size
    health = log_health(ledger, clock.advance(minutes=5))
    assert health["size"] == size and health["checkpoint"]["age_seconds"] == 300
    assert health["mark"] == {"size": None, "state": "none", "error": None}  # none written yet
    w1, w2 = health["witnesses"]
    assert (w1["name"], w1["cosigned"], w1["behind"], w1["lagging"]) == (
        "witness.example/w1", size, 0, False
    )  # fmt: skip
    assert w1["at"] == format_time(datetime.fromtimestamp(stamp, UTC))
    assert (w2["cosigned"], w2["at"], w2["behind"]) == (0, None, size)
    assert w2["lagging"] is False  # behind for 5 minutes: catching up, not lagging
    ledger.high_water.record_checkpoint(size, ledger.checkpoint())  # type: ignore[union-attr]
    health = log_health(ledger, clock.advance(minutes=20))
    assert health["mark"] == {"size": size, "state": "ok", "error": None}
    assert [w["lagging"] for w in health["witnesses"]] == [False, True]
    assert health["replicas"] == []


def test_pending_recoveries_soonest_first_this_logs_only_until_cancelled_or_in_effect(
    sw: SignalWorld, ops: OperatorService, db_url: str
) -> None:
    assert ops.recoveries(ADMIN) == []
    onboard(ops, "lost-co", 63)
    later = format_time(sw.clock.now + timedelta(days=9))
    soon = format_time(sw.clock.now + timedelta(days=7, minutes=1))
    first = sw.ledger.head().size
    sw.sign(1, "key.recover", "operator", subject="lost-co", key=public_b64(61), effective=later)
    sw.sign(1, "key.recover", "operator", subject="acme", key=public_b64(60), effective=soon)
    other = SignalWorld.open(db_url)  # another log in the same database: not listed here
    try:
        other.sign(1, "key.recover", "operator", subject="acme", key=public_b64(62),
                   effective=format_time(other.clock.now + timedelta(days=8)))  # fmt: skip
    finally:
        other.ledger.close()
    acme_key, lost_key = (crypto.key_id(key(s).public_key()) for s in (60, 61))
    assert ops.recoveries(ADMIN) == [
        {"actor": "acme", "name": "Acme", "key_id": acme_key, "public_key": public_b64(60),
         "recovered_index": first + 1, "effective": soon},
        {"actor": "lost-co", "name": "lost-co Ltd", "key_id": lost_key,
         "public_key": public_b64(61), "recovered_index": first, "effective": later},
    ]  # fmt: skip
    with pytest.raises(ForbiddenError):
        ops.recoveries(BRAND)
    sw.sign(2, "key.recover.cancel", "acme", subject="acme", key=acme_key)
    assert [r["key_id"] for r in ops.recoveries(ADMIN)] == [lost_key]
    sw.clock.advance(days=9)  # in effect: no longer pending (nor on the actor's record)
    assert ops.recoveries(ADMIN) == [] and sw.ledger.actor_view("lost-co")["recoveries"] == []
