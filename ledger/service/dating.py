"""Keep the served checkpoint dated: a quiet log re-dates its latest checkpoint.

Clients refuse a checkpoint whose newest trusted time is older than their maximum age
(ledger.verify.freshness; 600 s by default). The log dates every checkpoint it signs
with its own time line (ledger.note.logtime); on a quiet log nothing is signed, so
`CheckpointDating.redate` (run every `ROUND_SECONDS` by the server's housekeeping)
re-dates the latest checkpoint once its time line is `REDATE_SECONDS` old: same text,
same root, a new time line. The worst age an honest server serves is then about
REDATE_SECONDS + 2 rounds = 420 s, under the 600 s default.

Unit views are cached by log size (ledger.service.unitview), with the note they were
built with; `served` swaps in the latest note of the same checkpoint (newer time line,
and the witnesses' cosignatures the log holds), kept in memory by `reload`: the view
path reads nothing. A map of heads left behind the log (its child's write lost,
docs/FORMAT.md 14.2) is caught up here too once `MAP_LOST_AFTER` seconds old: readers
are served the checkpoint at the map's size meanwhile, which is not the one re-dated.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ledger.errors import LedgerError, NotFoundError
from ledger.events import format_time
from ledger.note import Note, Signer, logtime
from ledger.service.cosigning import CosigningService
from ledger.service.headmap import catch_up_in
from ledger.store import Store

#: re-date the latest checkpoint once its time line is this old (seconds)
REDATE_SECONDS = 300
#: seconds after its checkpoint's time a map still behind the log is caught up by
#: `CheckpointDating.redate` (its child's write lands ~20-50 ms after the commit)
MAP_LOST_AFTER = 10
#: how often the server's housekeeping calls `CheckpointDating.redate` (seconds)
ROUND_SECONDS = 60.0


@dataclass
class Latest:
    """The latest checkpoint's served note (log time line and cosignatures), in memory."""

    text: str = ""  # the checkpoint text (no signatures); "" before the first reload
    note: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


class CheckpointDating:
    """Re-dates and serves the latest checkpoint of one log (module docstring)."""

    def __init__(
        self,
        store: Store,
        log: int,
        verifier_key: str,
        signer: Signer | None,
        cosigning: CosigningService,
        clock: Callable[[], datetime],
        latest: Latest,
    ) -> None:
        self._store = store
        self._log = log
        self._verifier_key = verifier_key
        self._signer = signer
        self._cosigning = cosigning
        self._clock = clock
        self._latest = latest
        #: `served`'s answers by note, and the latest note they were given against
        self._answers: tuple[str, dict[str, str]] = ("", {})

    def redate(self, every: int = REDATE_SECONDS) -> int | None:
        """Re-date the latest checkpoint when its time line is ``every`` seconds old or
        missing (a checkpoint signed before time lines); then `reload`. Returns the new
        time, or None when nothing was re-dated (fresh enough, a read-only ledger, or no
        checkpoint at the head's size, as after a tail restore between checkpoints).

        Raises:
            StorageError: the database failed; nothing was written.
        """
        now = self._clock()
        stamp = int(now.timestamp())
        done: int | None = None
        if self._signer is not None:
            with self._store.writer(self._log) as tx:
                head = tx.lock_head()  # appends wait: the re-dated note is the latest
                try:
                    note = tx.checkpoint_note(head.size) if head.size else None
                except NotFoundError:
                    note = None
                at = None if note is None else logtime.stamped_at(note, self._verifier_key)
                if head.map_size is not None and (at is None or stamp - at >= MAP_LOST_AFTER):
                    # the map's child never wrote the last batch's rows (killed, or its
                    # process stopped): readers are served the checkpoint at the map's
                    # size, which is not re-dated; catch the map up (ledger.service.headmap)
                    catch_up_in(tx, head.size)
                if note is not None and (at is None or stamp - at >= every):
                    tx.redate_checkpoint(
                        head.size, logtime.stamp(note, self._signer, stamp), format_time(now)
                    )
                    done = stamp
        self.reload()
        return done

    def reload(self) -> None:
        """Read the latest checkpoint's served note (with cosignatures) into memory.

        Raises:
            StorageError: the database failed.
        """
        try:
            note = self._cosigning.cosigned_checkpoint()
        except NotFoundError:
            return
        with self._latest.lock:
            self._latest.text, self._latest.note = Note.from_bytes(note).text, note

    def served(self, note: str | None) -> str | None:
        """The note to serve for ``note``: the in-memory latest one when it is the same
        checkpoint (same text) dated at least as late, else ``note`` itself."""
        if note is None:
            return None
        with self._latest.lock:
            text, latest = self._latest.text, self._latest.note
        # every view of a unit at one log size carries the same note: its answer holds
        # until `reload` puts a new latest note (two note parses per view saved)
        against, answers = self._answers
        if against is not latest:
            against, answers = latest, {}
            self._answers = (against, answers)  # one assignment: safe across threads
        found = answers.get(note)
        if found is None:
            if len(answers) >= 64:  # notes of older sizes: a bound all the same
                answers.clear()
            found = answers[note] = self._served(note, text, latest)
        return found

    def _served(self, note: str, text: str, latest: str) -> str:
        """`served` computed: ``latest`` when it is ``note``'s checkpoint dated as late."""
        if not text or not note.startswith(text + "\n"):
            return note
        try:
            mine = logtime.stamped_at(note, self._verifier_key) or 0
            theirs = logtime.stamped_at(latest, self._verifier_key) or 0
        except LedgerError:
            return note
        return latest if theirs >= mine else note
