"""Evidence the log cannot forget, and the incident it must sign (issue 24).

The witnesses' checkpoints count as evidence of how far the log grew, even when the
high-water file is lost with the database; an accepted loss becomes an incident note
signed by the log key that readers fetch. On SQLite files: the rules, not the dialect.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger import note
from ledger.errors import LedgerError, ShorterLogError, ValidationError
from ledger.note.incident import Incident, verify_incident
from ledger.service.backup import backup_sqlite
from ledger.service.witnessed import evidence_folder
from tests.factories import key
from tests.integration.test_backup import Site


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    opened = Site(tmp_path)
    yield opened
    opened.ledger.close()


def rolled_back(site: Site, tmp_path: Path) -> tuple[int, int, str]:
    """Back up, grow the log, lose the database AND its high-water file, put the old copy
    back: (backup size, published size, the published checkpoint a witness kept)."""
    backup = backup_sqlite(site.url, site.name, site.key, tmp_path / "b.db")
    site.mint(3)
    published = site.ledger.head().size
    kept = site.ledger.checkpoint(published)
    site.lose_database()
    for slot in site.water.slots:
        slot.unlink()  # the host is gone: only the witnesses remember
    shutil.copy(backup.path, site.db)
    return backup.size, published, kept


def witness_file(site: Site, name: str, text: str) -> Path:
    """Drop ``text`` into the log's evidence folder, as an operator does."""
    folder = evidence_folder(site.water.path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_without_evidence_a_lost_high_water_file_lets_a_rollback_through(
    site: Site, tmp_path: Path
) -> None:
    # the hole the witnesses' evidence closes: nothing on the host remembers
    size, _, _ = rolled_back(site, tmp_path)
    reopened = site.open()
    assert reopened.head().size == size
    reopened.close()


def test_a_witness_checkpoint_refuses_the_rollback_and_is_named(site: Site, tmp_path: Path) -> None:
    size, published, kept = rolled_back(site, tmp_path)
    path = witness_file(site, "w1.note", kept)
    with pytest.raises(ShorterLogError) as refused:
        site.open()
    message = refused.value.message
    assert f"holds {size} entries but checkpoint {published} was published" in message
    assert f"witness evidence {path}" in message


def test_a_witness_state_file_counts_too(site: Site, tmp_path: Path) -> None:
    _, published, kept = rolled_back(site, tmp_path)
    state = {"format": 1, "log_key": site.key, "seen": {"size": published, "checkpoint": kept}}
    witness_file(site, "witness-state.json", json.dumps(state))
    with pytest.raises(ShorterLogError, match=f"checkpoint {published} was published"):
        site.open()


@pytest.mark.parametrize(
    "text",
    ["garbage\n", "{not json", json.dumps({"seen": {}}), "\xff"],
    ids=["text", "broken-json", "no-checkpoint", "latin1"],
)
def test_evidence_that_is_not_a_checkpoint_stops_the_start(
    site: Site, tmp_path: Path, text: str
) -> None:
    rolled_back(site, tmp_path)
    witness_file(site, "bad", text)
    with pytest.raises(ValidationError, match="holds no checkpoint of this log"):
        site.open()


def test_a_checkpoint_signed_by_another_key_raises_no_bar(site: Site, tmp_path: Path) -> None:
    _, published, _ = rolled_back(site, tmp_path)
    stranger = note.Signer(site.config.origin, key(99))  # named after the log, not its key
    forged = note.sign_checkpoint(
        note.Checkpoint(site.config.origin, published + 100, bytes(32)), stranger
    )
    witness_file(site, "forged.note", forged.decode())
    with pytest.raises(ValidationError, match="holds no checkpoint of this log"):
        site.open()


def test_two_witness_checkpoints_of_one_size_and_two_roots_are_a_split_view(
    site: Site, tmp_path: Path
) -> None:
    site.mint(1)
    other = Site(tmp_path / "other", name=site.name)  # same log key, other entries
    other.serial = 1000
    other.mint(1)
    size = site.ledger.head().size
    assert other.ledger.head().size == size
    witness_file(site, "a.note", site.ledger.checkpoint(size))
    witness_file(site, "b.note", other.ledger.checkpoint(size))
    other.ledger.close()
    with pytest.raises(ValidationError, match="split view"):
        site.open()


def test_an_accepted_loss_is_signed_by_the_log_key_and_sets_the_evidence_aside(
    site: Site, tmp_path: Path
) -> None:
    size, published, kept = rolled_back(site, tmp_path)
    witness_file(site, "w1.note", kept)
    reopened = site.open(override="disk and\nbackups lost\x07; tail gone")
    try:
        (text,) = site.water.signed_incidents()
        incident = verify_incident(text, site.key)
        assert incident.given_up.size == published and incident.given_up.root == (
            note.verify_checkpoint(kept, site.key).root
        )
        assert incident.served.size == size
        assert incident.served.root == reopened.store.root(reopened.log, size)
        assert incident.note == "disk and backups lost; tail gone"
        folder = evidence_folder(site.water.path)
        assert not list(folder.glob("*.note"))  # set aside, kept: the next start reads none
        assert [p.name for p in folder.glob("given-up-*/*")] == ["w1.note"]
    finally:
        reopened.close()
    site.open().close()  # served from now on without an override
    assert len(site.water.signed_incidents()) == 1  # signed once


def test_a_restore_records_the_incident_and_the_next_start_signs_it(
    site: Site, tmp_path: Path
) -> None:
    backup = backup_sqlite(site.url, site.name, site.key, tmp_path / "b.db")
    site.mint(2)
    site.mint(1)  # two batches: more than the high-water file keeps to roll forward
    site.lose_database()
    site.restore(Path(backup.path), accept_shorter="tail lost")
    assert site.water.signed_incidents() == []  # a restore holds no log key
    site.open().close()
    (text,) = site.water.signed_incidents()
    assert verify_incident(text, site.key).note == "tail lost"


def test_an_incident_note_verifies_only_whole_and_never_as_a_checkpoint(
    site: Site, tmp_path: Path
) -> None:
    _, _, kept = rolled_back(site, tmp_path)
    witness_file(site, "w1.note", kept)
    site.ledger = site.open(override="lost")
    (text,) = site.water.signed_incidents()
    with pytest.raises(LedgerError):
        note.verify_checkpoint(text, site.key)
    body, signatures = text.split("\n\n", 1)
    for i in range(len(body)):
        flipped = body[:i] + ("x" if body[i] != "x" else "y") + body[i + 1 :]
        with pytest.raises(LedgerError):
            verify_incident(flipped + "\n\n" + signatures, site.key)
    assert isinstance(verify_incident(text, site.key), Incident)


def test_an_incident_written_into_the_file_alone_is_never_signed(
    site: Site, tmp_path: Path
) -> None:
    """The file's check is a plain hash: whoever can write it (a keyless restore, backup
    staff) could add an incident. The log key signs only a loss the database shows."""
    site.mint(3)
    size = site.ledger.head().size
    current = site.ledger.checkpoint(size)
    data = site.water._read_raw()
    assert data is not None
    forged = {"at": "2026-12-03T00:00:00Z", "note": "nothing was lost", "given_up_size": size,
              "given_up_checkpoint": current, "served_size": 1}  # fmt: skip
    with site.water._exclusive():
        site.water._write({**data, "incidents": [forged]}, both=True)
    site.ledger.close()
    site.ledger = site.open()
    assert site.water.signed_incidents() == []  # the tree at 16 is still the one served
