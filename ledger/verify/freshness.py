"""Is a checkpoint fresh? Its age by a time the client trusts (docs/FORMAT.md 5.2).

A proof of completeness (the map of heads) holds at its checkpoint: a server replaying an
old view with its old, then-complete checkpoint shows a chain that is whole and wrong.
So a client bounds the checkpoint's age. C2SP checkpoints carry no time; signed times
come from ``cosignature/v1`` lines (an 8-byte timestamp under the signature):

- with witness keys configured, only their cosignatures date the checkpoint (the log key
  holder is the party a stale view is about, so its own time proves nothing then);
- with none, the log's own time line (ledger.note.logtime), verified under the pinned
  log key read as a 0x04 key.

`check_fresh` takes the newest trusted time; the checkpoint is fresh when ``now`` minus it
is at most ``max_age`` (default 600 s). Refusals, each with its own code:

- ``bad-timestamp`` (`TimestampError`): a trusted line whose signature field is not 72
  bytes (no timestamp to read), or a timestamp more than `MAX_SKEW` after ``now``;
- ``bad-cosignature`` (`CosignatureError`): a line that names a trusted key and does not
  verify (a forged or altered timestamp), or that carries a trusted witness's name under
  another key ID (a wrong key);
- ``unknown-witness`` (`UnknownWitnessError`): no trusted time is recent enough, but a
  line by a key the client does not trust claims one that is: it is not believed;
- ``checkpoint-stale`` (`CheckpointStaleError`): no trusted time within ``max_age``.

Pure: the caller passes ``now`` (an offline proof can be checked as of its own time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.errors import LedgerError, NoteError, SignatureError, ValidationError
from ledger.events import parse_time
from ledger.note.checkpoint import Checkpoint, as_verifier, verify_checkpoint
from ledger.note.cosignature import parse_witness_keys
from ledger.note.logtime import time_verifier
from ledger.note.signednote import ALG_ED25519, Note, Verifier, _verifies
from ledger.verify.maxage import parse_max_age as parse_max_age

#: the age past which a checkpoint is stale unless a trusted time says otherwise (seconds)
DEFAULT_MAX_AGE = 600
#: how far after ``now`` a trusted timestamp may lie (clocks drift; seconds)
MAX_SKEW = 60
_STAMPED = 72  # u64 timestamp || Ed25519 signature (tlog-cosignature timestamped_signature)


class CheckpointStaleError(LedgerError):
    """No time the client trusts dates the checkpoint within the maximum age."""

    code = "checkpoint-stale"
    status = 409


class TimestampError(NoteError):
    """A trusted cosignature line whose timestamp is malformed or in the future."""

    code = "bad-timestamp"


class CosignatureError(SignatureError):
    """A line naming a trusted key that does not verify, or a trusted name's other key."""

    code = "bad-cosignature"


class UnknownWitnessError(CheckpointStaleError):
    """Stale by every trusted time; only keys the client does not trust say otherwise."""

    code = "unknown-witness"


@dataclass(frozen=True)
class Freshness:
    """The checkpoint's trusted time (seconds since the epoch), its age at ``now`` and who
    vouched for it (the log's origin for its own time line, else a witness's name);
    ``self_dated``: only the log's own line dated it, which proves nothing against a
    dishonest log (it can date an old checkpoint now): trust witnesses for that."""

    size: int
    time: int
    age: int
    source: str
    self_dated: bool = False


def check_fresh(
    note_text: str,
    log_key: str,
    witness_keys: Sequence[Verifier | str] = (),
    *,
    now: int,
    max_age: int = DEFAULT_MAX_AGE,
) -> Freshness:
    """Date the checkpoint by a trusted time and refuse it when older than ``max_age``
    seconds at ``now`` (module docstring).

    Raises:
        NoteError, CheckpointSignatureError, KeyFormatError: the checkpoint does not
            verify under ``log_key``, or a witness key is malformed.
        TimestampError, CosignatureError, UnknownWitnessError, CheckpointStaleError:
            the refusals of the module docstring.
    """
    checkpoint = verify_checkpoint(note_text, log_key)
    witnesses = parse_witness_keys(witness_keys)
    trusted = witnesses or [time_verifier(log_key)]
    log_line = as_verifier(log_key, ALG_ED25519)
    by_id = {(v.name, v.key_hash): v for v in trusted}
    names = {v.name for v in trusted}
    best: tuple[int, str] | None = None
    untrusted_fresh = False
    for line in Note.from_bytes(note_text).signatures:
        ident = (line.name, line.key_hash)
        if ident == (log_line.name, log_line.key_hash):
            continue  # the checkpoint's own signature: no time in it
        verifier = by_id.get(ident)
        if verifier is None:
            if line.name in names and witnesses:
                raise CosignatureError(
                    f"a cosignature names the trusted witness {line.name} under another key "
                    f"(key ID {line.key_hash:08x})",
                    field="cosignature",
                )
            stamp = _timestamp(line.signature)
            untrusted_fresh |= stamp is not None and now - max_age <= stamp <= now + MAX_SKEW
            continue
        when = _trusted_time(checkpoint, verifier, line.signature, now)
        if best is None or when > best[0]:
            best = (when, verifier.name)
    if best is not None and now - best[0] <= max_age:
        return Freshness(
            checkpoint.size, best[0], max(0, now - best[0]), best[1], self_dated=not witnesses
        )
    age = None if best is None else now - best[0]
    said = "no trusted time" if age is None else f"its newest trusted time is {age} s old"
    whose = "the witnesses you trust" if witnesses else "the log's own time line"
    if untrusted_fresh:
        raise UnknownWitnessError(
            f"checkpoint {checkpoint.size}: {said} (by {whose}); a newer time is claimed "
            "only by keys you do not trust",
            field="cosignature",
        )
    raise CheckpointStaleError(
        f"checkpoint {checkpoint.size} is stale: {said} (by {whose}), the limit is "
        f"{max_age} s: the view may leave out everything after it",
        field="checkpoint",
    )


def _timestamp(signature: bytes) -> int | None:
    return int.from_bytes(signature[:8], "big") if len(signature) == _STAMPED else None


def _trusted_time(checkpoint: Checkpoint, verifier: Verifier, signature: bytes, now: int) -> int:
    """A trusted line's verified timestamp (`TimestampError`, `CosignatureError`)."""
    when = _timestamp(signature)
    if when is None:
        raise TimestampError(
            f"{verifier.name}'s line carries {len(signature)} bytes, not a timestamp and a "
            "signature (72)",
            field="cosignature",
        )
    if not _verifies(verifier, checkpoint.body(), signature):
        raise CosignatureError(
            f"{verifier.name}'s cosignature (time {when}) does not verify: forged or altered",
            field="cosignature",
        )
    if when > now + MAX_SKEW:
        raise TimestampError(
            f"{verifier.name} dated the checkpoint {when - now} s in the future",
            field="cosignature",
        )
    return when


def parse_at(text: str) -> int:
    """The time ``--at`` names (RFC 3339 UTC, ``2026-01-31T12:00:00Z``) in epoch seconds.

    Raises:
        TimestampError: not such a time.
    """
    try:
        return int(parse_time(text, "at").timestamp())
    except ValidationError as e:
        raise TimestampError(e.message, field="at") from None
