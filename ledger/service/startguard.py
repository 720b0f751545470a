"""The start-up guard: never serve a log shorter than what it published.

`guard` runs when a server or a local command opens a log for writing, before anything is
served or written: it compares the database with the largest checkpoint the log is known
to have published (ledger.service.highwater: the mark kept outside the database, or a
witness's checkpoint) and refuses a shorter log or another tree, unless the operator
accepts the loss with an incident note; then `sign_incidents` signs every recorded
incident with the log key (docs/OPERATIONS.md, "Backups and restores").

The mark is written before each commit (ledger.service.publishing), so a process that
stops between the two leaves it one batch ahead; `roll_forward` appends that batch from
the leaves the file keeps, to the very checkpoint the mark holds, before the comparison.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ledger.audit.witness import Seen
from ledger.errors import ShorterLogError
from ledger.events import format_time
from ledger.note.checkpoint import Checkpoint
from ledger.note.incident import Incident, one_line, sign_incident
from ledger.service.highwater import OVERRIDE_ENV, HighWater, Mark, log
from ledger.service.tail import roll_forward

if TYPE_CHECKING:
    from ledger.service.ledger import Ledger


def guard(ledger: Ledger, water: HighWater, override: str | None = None) -> Mark | None:
    """Refuse to serve ``ledger``'s log when it is behind the largest checkpoint it is known
    to have published (`HighWater.evidence`: the mark, or a witness's), before anything
    is served or written; returns the mark (None: none kept yet).

    The log must hold at least that checkpoint's size, and its tree at that size must
    have the checkpoint's root; a log exactly behind the batch the state file keeps is
    first rolled forward from it (`roll_forward`). A log that has entries but no mark
    yet (first start with this check) seeds the mark with its latest checkpoint.
    ``override`` (an incident note) serves a shorter log anyway:
    `HighWater.accept_shorter` records and logs it.
    Last, every recorded incident not yet signed is signed with the log key
    (`sign_incidents`), so readers can fetch it (``GET /v1/log/incidents``).

    Raises:
        ShorterLogError: the log is shorter than the evidence, or another tree.
        ValidationError: the state file or an evidence file is not one of this log's.
    """
    mark = water.evidence(ledger.verifier_key)
    primary = ledger.store.on_primary()
    head = primary.head(ledger.log)
    if mark is not None and head.size < mark.size:
        # another process (a second worker) may be between its mark and its commit
        head = _committed(primary, ledger.log, mark.size, head)
    if mark is not None and head.size < mark.size:
        if roll_forward(ledger.store, ledger.log, ledger.verifier_key, water, head.size):
            head = primary.head(ledger.log)
    if mark is not None and head.size < mark.size:
        if not override:
            raise ShorterLogError(
                f"log {ledger.config.name!r} holds {head.size} entries but checkpoint "
                f"{mark.size} was published ({mark.where}): refusing to serve a shorter log, "
                "which readers would see as a rollback. Recover the missing tail (provenance "
                f"restore --tail BUNDLE), or accept the loss with an incident note "
                f"({OVERRIDE_ENV}=NOTE, docs/OPERATIONS.md)"
            )
        latest = ledger.checkpoint(head.size) if head.size else ""
        water.accept_shorter(latest, head.size, override, format_time(ledger.now()), mark)
    elif mark is not None and mark.size and primary.root(ledger.log, mark.size) != mark.root:
        raise ShorterLogError(
            f"log {ledger.config.name!r} in this database is not the log whose checkpoint "
            f"{mark.size} was published (its tree at {mark.size} has another root; "
            f"{mark.where}): a backup of another log, or a rewritten one; refusing to serve it"
        )
    if water.read(ledger.verifier_key) is None and head.size:
        water.record_checkpoint(head.size, ledger.checkpoint(head.size))
    sign_incidents(ledger, water)
    return water.read(ledger.verifier_key)


#: seconds the guard waits for a log behind its mark to reach it (another writer's
#: commit in flight) before it rolls the log forward or refuses it
COMMIT_WAIT = 2.0


def _committed(store: Any, log_id: int, size: int, head: Any) -> Any:
    """The log's head once it holds ``size`` entries, or as it is after `COMMIT_WAIT`
    seconds: a writer writes its mark before its commit (ledger.service.publishing),
    so a process starting beside a writer of the same log can read the mark of a batch
    that commits a moment later."""
    deadline = time.monotonic() + COMMIT_WAIT
    while head.size < size and time.monotonic() < deadline:
        time.sleep(0.02)
        head = store.head(log_id)
    return head


def sign_incidents(ledger: Ledger, water: HighWater) -> int:
    """Sign with ``ledger``'s log key each incident ``water`` recorded unsigned (a restore
    from the command line records it without the key); return how many were signed."""
    signer = ledger.signer
    if signer is None:
        return 0
    primary = ledger.store.on_primary()

    def sign(incident: Mapping[str, Any]) -> str | None:
        given_up = incident.get("given_up_checkpoint")
        served = incident.get("served_size")
        if not isinstance(given_up, str) or not isinstance(served, int):
            return None  # recorded before incidents named their checkpoint: kept unsigned
        lost = Seen.verified(given_up, ledger.verifier_key).checkpoint
        # The file has a checksum, not a key: sign only a loss the database shows (the
        # given-up tree is not the one served), never one written into the file alone
        size = primary.head(ledger.log).size
        really = size < lost.size or primary.root(ledger.log, lost.size) != lost.root
        if not really or served > size:
            log.warning(
                "not signing the incident recorded in %s: the database still serves the "
                "checkpoint it says was given up (%d), or less than it says is served (%d)",
                water.path,
                lost.size,
                served,
            )
            return None
        statement = Incident(
            lost,
            Checkpoint(water.origin, served, primary.root(ledger.log, served)),
            str(incident.get("at")),
            one_line(str(incident.get("note"))),
        )
        return sign_incident(statement, signer)

    return water.sign_incidents(sign)
