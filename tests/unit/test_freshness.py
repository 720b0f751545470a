"""The checkpoint's age (ledger.verify.freshness, ledger.note.logtime; docs/FORMAT.md 5.2):
a checkpoint dated within the maximum age passes; an old one (a stale view replayed) is
refused; a trusted witness's newer cosignature rescues it; a forged timestamp, a wrong
key, an unknown witness and a malformed timestamp are each refused with their own code."""

from __future__ import annotations

import base64

import pytest

from ledger import note
from ledger.errors import LedgerError, ValidationError
from ledger.note import logtime
from ledger.verify import freshness
from ledger.verify.freshness import (
    CheckpointStaleError,
    CosignatureError,
    TimestampError,
    UnknownWitnessError,
    check_fresh,
)
from ledger.verify.unitview import verify_unit_view
from tests.factories import key
from tests.rules_factories import ORIGIN

LOG = note.Signer(ORIGIN, key(1))
LOG_KEY = LOG.verifier.to_text()
WITNESS = note.Signer("witness.example/w1", key(40), note.ALG_COSIGNATURE_V1)
UNKNOWN = note.Signer("witness.example/w9", key(49), note.ALG_COSIGNATURE_V1)
IMPOSTOR = note.Signer("witness.example/w1", key(41), note.ALG_COSIGNATURE_V1)  # w1's name
NOW = 1_764_000_000
CHECKPOINT = note.Checkpoint(ORIGIN, 5, bytes(32))
SIGNED = note.sign_checkpoint(CHECKPOINT, LOG).decode()


def dated(at: int, *cosigners: tuple[note.Signer, int]) -> str:
    """The checkpoint dated by the log at ``at``, with witness cosignatures."""
    text = logtime.stamp(SIGNED, LOG, at)
    lines = [note.cosign_checkpoint(CHECKPOINT, w, t) for w, t in cosigners]
    return note.with_cosignatures(text, lines) if lines else text


def forge_time(text: str, name: str, timestamp: int) -> str:
    """``text`` with the timestamp of ``name``'s line changed and its signature kept."""
    parsed = note.Note.from_bytes(text)
    out = []
    for line in parsed.signatures:
        if line.name == name and len(line.signature) == 72:
            line = note.NoteSignature(
                line.name, line.key_hash, timestamp.to_bytes(8, "big") + line.signature[8:]
            )
        out.append(line)
    return note.Note(parsed.text, out).to_bytes().decode()


def test_a_checkpoint_the_log_dated_within_the_age_passes() -> None:
    found = check_fresh(dated(NOW - 120), LOG_KEY, now=NOW)
    assert (found.size, found.time, found.age, found.source) == (5, NOW - 120, 120, ORIGIN)
    assert check_fresh(dated(NOW - 600), LOG_KEY, now=NOW).age == 600  # the limit holds


def test_a_replayed_old_checkpoint_is_stale() -> None:
    with pytest.raises(CheckpointStaleError) as stale:
        check_fresh(dated(NOW - 601), LOG_KEY, now=NOW)
    assert stale.value.code == "checkpoint-stale"
    with pytest.raises(CheckpointStaleError, match="no trusted time"):
        check_fresh(SIGNED, LOG_KEY, now=NOW)  # undated: a checkpoint from before time lines
    assert check_fresh(dated(NOW - 601), LOG_KEY, now=NOW, max_age=3600).age == 601


def test_redating_replaces_the_log_time_line_and_keeps_the_checkpoint() -> None:
    twice = logtime.stamp(dated(NOW - 900), LOG, NOW)
    assert note.Note.from_bytes(twice).text == CHECKPOINT.body()
    assert len(note.Note.from_bytes(twice).signatures) == 2  # the log's line and one time line
    assert logtime.stamped_at(twice, LOG_KEY) == NOW
    assert note.verify_checkpoint(twice, LOG_KEY) == CHECKPOINT
    assert check_fresh(twice, LOG_KEY, now=NOW).age == 0


def test_with_witnesses_only_their_cosignatures_date_it() -> None:
    keys = [WITNESS.verifier.to_text()]
    with pytest.raises(CheckpointStaleError):  # the log's own fresh time is not enough
        check_fresh(dated(NOW, (WITNESS, NOW - 3600)), LOG_KEY, keys, now=NOW)
    rescued = check_fresh(dated(NOW - 3600, (WITNESS, NOW - 60)), LOG_KEY, keys, now=NOW)
    assert (rescued.source, rescued.age) == ("witness.example/w1", 60)


def test_a_forged_cosignature_timestamp_does_not_rescue() -> None:
    keys = [WITNESS.verifier.to_text()]
    forged = forge_time(dated(NOW - 3600, (WITNESS, NOW - 3600)), WITNESS.name, NOW)
    with pytest.raises(CosignatureError) as bad:
        check_fresh(forged, LOG_KEY, keys, now=NOW)
    assert bad.value.code == "bad-cosignature"
    with pytest.raises(CosignatureError):  # the log's own time line, moved forward
        check_fresh(forge_time(dated(NOW - 3600), ORIGIN, NOW), LOG_KEY, now=NOW)


def test_a_wrong_key_under_a_trusted_name_is_refused() -> None:
    keys = [WITNESS.verifier.to_text()]
    with pytest.raises(CosignatureError, match="another key"):
        check_fresh(dated(NOW, (IMPOSTOR, NOW)), LOG_KEY, keys, now=NOW)


def test_an_unknown_witness_does_not_date_it() -> None:
    keys = [WITNESS.verifier.to_text()]
    text = dated(NOW, (WITNESS, NOW - 3600), (UNKNOWN, NOW - 10))
    with pytest.raises(UnknownWitnessError) as unknown:
        check_fresh(text, LOG_KEY, keys, now=NOW)
    assert unknown.value.code == "unknown-witness"
    fresh = check_fresh(dated(NOW, (WITNESS, NOW - 5), (UNKNOWN, NOW)), LOG_KEY, keys, now=NOW)
    assert fresh.source == WITNESS.name  # an unknown line is ignored when trusted ones suffice


def test_malformed_and_future_timestamps_are_refused() -> None:
    parsed = note.Note.from_bytes(dated(NOW))
    short = [
        note.NoteSignature(s.name, s.key_hash, s.signature[8:]) if len(s.signature) == 72 else s
        for s in parsed.signatures
    ]
    with pytest.raises(TimestampError) as bad:
        check_fresh(note.Note(parsed.text, short).to_bytes().decode(), LOG_KEY, now=NOW)
    assert bad.value.code == "bad-timestamp"
    with pytest.raises(TimestampError, match="future"):
        check_fresh(dated(NOW + 3600), LOG_KEY, now=NOW)
    assert check_fresh(dated(NOW + 30), LOG_KEY, now=NOW).age == 0  # within the clock skew


def test_a_checkpoint_under_another_key_is_not_dated() -> None:
    other = note.Signer(ORIGIN, key(2))
    with pytest.raises(LedgerError) as bad:
        check_fresh(dated(NOW), other.verifier.to_text(), now=NOW)
    assert bad.value.code == "bad-checkpoint-signature"


def test_max_age_and_at_parse_strictly() -> None:
    assert [freshness.parse_max_age(t) for t in ("600", "90s", "10m", "1h")] == [
        600,
        90,
        600,
        3600,
    ]
    for text in ("", "0", "-5", "10 m", "1d", "1.5m", "10M"):
        with pytest.raises(ValidationError):
            freshness.parse_max_age(text)
    assert freshness.parse_at("2025-11-24T16:00:00Z") == 1_764_000_000
    for text in ("2025-11-24 16:00:00", "yesterday", "2025-13-01T00:00:00Z"):
        with pytest.raises(TimestampError):
            freshness.parse_at(text)


def test_a_unit_view_with_a_stale_checkpoint_is_invalid() -> None:
    view = {"verdict": "unknown", "reasons": [], "entries": [], "checkpoint": dated(NOW - 700)}
    stale = verify_unit_view(view, LOG_KEY, {}, now=NOW)
    assert stale.verdict == "invalid"
    assert [r["code"] for r in stale.reasons] == ["checkpoint-stale"]
    view["checkpoint"] = dated(NOW - 10)
    fresh = verify_unit_view(view, LOG_KEY, {}, now=NOW)
    assert fresh.ok and fresh.fresh is not None and fresh.fresh.age == 10
    view["checkpoint"] = forge_time(dated(NOW - 700), ORIGIN, NOW)
    assert [r["code"] for r in verify_unit_view(view, LOG_KEY, {}, now=NOW).reasons] == [
        "bad-cosignature"
    ]


def test_the_time_line_is_a_c2sp_cosignature_by_the_log_key() -> None:
    """docs/FORMAT.md 5.2: key type 0x04, name = origin, over cosignature/v1 + time + text."""
    text = dated(NOW)
    line = note.Note.from_bytes(text).signatures[-1]
    verifier = logtime.time_verifier(LOG_KEY)
    assert (line.name, line.key_hash) == (ORIGIN, verifier.key_hash)
    assert verifier.public_key == LOG.verifier.public_key
    assert verifier.key_hash != LOG.verifier.key_hash
    assert note.verify_cosignature(CHECKPOINT, line, verifier) == NOW
    raw = base64.b64decode(text.rsplit(" ", 1)[1])
    assert len(raw) == 4 + 8 + 64 and int.from_bytes(raw[4:12], "big") == NOW


def test_the_append_paths_stamp_is_the_same_bytes() -> None:
    """ledger.service.append dates a note it just signed without parsing it again."""
    time_key = logtime.time_signer(LOG)
    assert logtime.stamp_signed(CHECKPOINT, SIGNED, time_key, NOW) == logtime.stamp(
        SIGNED, LOG, NOW
    )
