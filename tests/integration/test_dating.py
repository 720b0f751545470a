"""A quiet log keeps its served checkpoint dated (ledger.service.dating) on SQLite and
PostgreSQL: every checkpoint is signed with the log's time line; re-dating replaces it
once it is 300 s old (never sooner), keeps the checkpoint's text and root, writes
nothing else, and the cached unit view serves the re-dated note with the witnesses'
cosignatures; so an honest view passes a client's age check, and the old note fails it."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from ledger import note
from ledger.audit import witness
from ledger.errors import LedgerError
from ledger.note import logtime
from ledger.service.ledger import Ledger
from ledger.verify.freshness import CheckpointStaleError, check_fresh
from tests.factories import GTIN, key
from tests.integration.world import LedgerWorld, config, dump
from tests.rules_factories import NOW, SERIAL

W1 = note.Signer("witness.example/w1", key(40), note.ALG_COSIGNATURE_V1)
T0 = int(NOW.timestamp())


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: int) -> None:
        self.now = NOW + timedelta(seconds=seconds)


@pytest.fixture
def dated(db_url: str) -> Iterator[tuple[LedgerWorld, Clock]]:
    """A base world in a log that trusts witness W1, with a clock the test moves."""
    cfg = dataclasses.replace(
        config(f"d-{uuid.uuid4().hex[:10]}"), witnesses=(W1.verifier.to_text(),)
    )
    moved = Clock()
    ledger = Ledger.open(db_url, cfg, clock=moved)
    ledger.init(name="Registry")
    yield LedgerWorld.base(ledger), moved
    ledger.close()


def test_every_signed_checkpoint_carries_the_logs_time(
    dated: tuple[LedgerWorld, Clock],
) -> None:
    ledger = dated[0].ledger
    text = ledger.checkpoint()
    assert logtime.stamped_at(text, ledger.verifier_key) == T0
    assert check_fresh(text, ledger.verifier_key, now=T0 + 60).age == 60


def test_a_quiet_log_is_redated_when_due_and_only_then(
    dated: tuple[LedgerWorld, Clock],
) -> None:
    world, moved = dated
    ledger = world.ledger
    before = ledger.checkpoint()
    view = ledger.unit_view(GTIN, SERIAL)  # cached now, with the note of T0
    assert view["checkpoint"] == before
    rows = dump(ledger)
    moved.at(299)
    assert ledger.dating.redate() is None  # not due: nothing written
    assert dump(ledger) == rows
    moved.at(400)
    assert ledger.dating.redate() == T0 + 400
    after = ledger.checkpoint()
    assert note.Note.from_bytes(after).text == note.Note.from_bytes(before).text
    assert note.verify_checkpoint(after, ledger.verifier_key).root == ledger.head().root
    changed = dump(ledger)
    assert {t for t in rows if rows[t] != changed[t]} == {"checkpoints"}
    # a client at T0 + 900: the re-dated view passes, the old one is a stale replay
    assert check_fresh(after, ledger.verifier_key, now=T0 + 900).age == 500
    with pytest.raises(CheckpointStaleError):
        check_fresh(before, ledger.verifier_key, now=T0 + 900)
    served = ledger.unit_view(GTIN, SERIAL)["checkpoint"]
    assert served is not None and logtime.stamped_at(served, ledger.verifier_key) == T0 + 400


def test_the_view_serves_the_witnesses_newest_cosignatures(
    dated: tuple[LedgerWorld, Clock],
) -> None:
    world, moved = dated
    ledger = world.ledger
    ledger.unit_view(GTIN, SERIAL)
    text = ledger.checkpoint()
    checkpoint = note.verify_checkpoint(text, ledger.verifier_key)
    line = note.cosign_checkpoint(checkpoint, W1, T0 + 30)
    ledger.cosigning.add_cosignature(
        witness.submission(0, [], text, line), "2026-11-28T12:00:00.000Z"
    )
    moved.at(60)
    ledger.dating.redate()  # not due, but it reloads what the view serves
    served = ledger.unit_view(GTIN, SERIAL)["checkpoint"]
    assert isinstance(served, str)
    trusted = [W1.verifier.to_text()]
    assert check_fresh(served, ledger.verifier_key, trusted, now=T0 + 600).source == W1.name
    with pytest.raises(LedgerError):  # the log's own time does not count with witnesses
        check_fresh(text, ledger.verifier_key, trusted, now=T0 + 60)
