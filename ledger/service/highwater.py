"""The log's high-water mark, kept outside its database: never serve a shorter log.

A checkpoint, once returned to a client, may be held by witnesses, auditors and shoppers'
pages for ever. A database restored from an old backup holds fewer entries than those
checkpoints: serving it would look exactly like a split view, and every acknowledged
entry since the backup would be gone. So the largest checkpoint this log ever published
is kept in a small JSON state file beside the log key, outside the database's folder
(two slot files written in turn, see `HighWater._write`):

- `HighWater.before_commit` is the `Appender`'s keeper (ledger.service.publishing):
  inside the batch's write transaction, after its checkpoint is signed and BEFORE the
  commit makes it readable, it writes the new checkpoint and the batch's leaves, synced
  to disk, under an exclusive ``flock`` shared by every process of the host (server
  workers and local CLI appends); a failed commit undoes it. A process that stops
  between the two leaves the mark one batch ahead of the database: the next start rolls
  the log forward from those leaves (`pending`, ledger.service.startguard);
- `guard` (ledger.service.startguard) runs when a server or a local command opens the
  log, before anything is served or written: a log smaller than the mark, or one whose
  tree at the mark's size has another root, is refused (`ShorterLogError`), unless the
  operator accepts it with an incident note (`PROVENANCE_ACCEPT_SHORTER_LOG`,
  ``provenance restore --accept-shorter-log``), which is logged and kept in the state
  file's ``incidents``.

The state (one per log origin) lives in two slot files, ``ORIGIN.json`` and
``ORIGIN.2.json``, each a whole copy with a checksum of its content::

    {"origin": "...", "size": 80, "checkpoint": "<signed note>", "incidents": [...],
     "batch": {"base": 78, "leaves": "<base64 of each leaf as u32 length || bytes>"},
     "check": "<sha-256 of the rest>"}

A write goes, in place, into the slot holding the older mark, with one ``fdatasync``
(no rename, no folder fsync: a third of the cost): a crash that tears it spoils only that
slot, whose mark was never acknowledged, and the other slot still holds the previous one.
The reader takes the sound slot with the larger size.

Its checkpoint is re-verified under the log's key whenever it is read: a state file of
another log is refused, not believed.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ledger.audit.witness import Seen
from ledger.errors import LedgerError, StorageError, ValidationError
from ledger.service.settings import home
from ledger.service.slotformat import body as _body
from ledger.service.slotformat import pack_leaves as _pack
from ledger.service.slotformat import parse as _parse
from ledger.service.slotformat import size_of as _size
from ledger.service.slotformat import split_leaves as _split
from ledger.service.witnessed import evidence_folder, folder_files, largest

if TYPE_CHECKING:
    from ledger.service.config import LogSpec
    from ledger.service.publishing import Publishing

#: where the state files live (default: ``highwater/`` beside the log key file)
STATE_DIR_ENV = "PROVENANCE_HIGHWATER_DIR"
#: the incident note that lets a server serve a log shorter than its mark (logged, kept)
OVERRIDE_ENV = "PROVENANCE_ACCEPT_SHORTER_LOG"

log = logging.getLogger("provenance.highwater")


def state_path(spec: LogSpec, environ: Mapping[str, str] | None = None) -> Path:
    """The state file of log ``spec``: ``PROVENANCE_HIGHWATER_DIR``, else ``highwater/``
    beside the log key file, else (a key in a token) ``$PROVENANCE_HOME/highwater``; one
    file per checkpoint origin."""
    env = os.environ if environ is None else environ
    configured = env.get(STATE_DIR_ENV)
    if configured:
        folder = Path(configured).expanduser()
    elif isinstance(spec.log_key, Path):
        folder = spec.log_key.expanduser().absolute().parent / "highwater"
    else:
        folder = home() / "highwater"
    return folder / f"{quote(spec.origin, safe='')}.json"


@dataclass(frozen=True)
class Mark:
    """The largest published checkpoint of a log, verified, and the incidents so far."""

    seen: Seen
    incidents: tuple[dict[str, Any], ...] = field(default=())
    #: where the checkpoint was kept: the state file, or a witness's evidence file
    where: str = ""

    @property
    def size(self) -> int:
        """The checkpoint's tree size."""
        return self.seen.checkpoint.size

    @property
    def root(self) -> bytes:
        """The checkpoint's tree root."""
        return self.seen.checkpoint.root


class HighWater:
    """The state file at ``path`` of the log with checkpoint ``origin``."""

    def __init__(self, path: Path, origin: str) -> None:
        self.path = path
        self.origin = origin
        # made once: every commit locks, reads both slots and writes one (pathlib's
        # joins and comparisons were ~a tenth of a group's keeping)
        self._slots = (path, path.with_name(path.name.removesuffix(".json") + ".2.json"))
        self._lock_path = path.with_suffix(".lock")
        self._known = -1  # the largest size this process wrote or read: skip smaller ones
        self._lock = threading.Lock()
        # each slot's bytes as this process last read or wrote them, with their content:
        # a slot whose bytes are unchanged is not parsed and checked again (a kept batch
        # of 1,000 leaves is ~600 kB of JSON; re-parsing both slots cost ~10 ms a commit).
        # Keyed by the bytes themselves, not by (size, mtime): a slot is rewritten in
        # place, padded to its old size, by other processes within one mtime tick.
        self._seen: dict[Path, tuple[bytes, dict[str, Any] | None]] = {}

    # --- writing ------------------------------------------------------------------

    def before_commit(self, batch: Publishing) -> Callable[[], None]:
        """Keep ``batch``'s checkpoint and leaves durably (fsynced) before its commit
        makes the checkpoint readable (the keeper of ledger.service.publishing); return
        the undo that puts the previous mark back, for a commit that fails.

        Raises:
            StorageError: the state file cannot be written (the batch must not commit),
                or it already holds a checkpoint this large: another checkpoint of a
                size this log published would be a fork.
        """
        with self._exclusive():
            raw = self._load_bytes()
            loaded = [(slot, data) for slot, data, _ in raw]
            data = max((d for _, d in loaded if d is not None), key=_size, default=None)
            if data is not None and _size(data) >= batch.size:
                raise StorageError(
                    f"the high-water file {self.path} already holds checkpoint {_size(data)}: "
                    f"refusing to publish another checkpoint of size {batch.size} (a database "
                    "behind its mark must be opened through the start-up guard first)"
                )
            slot = self._target(loaded)
            # the undo's copy: the bytes just loaded under this lock (not a re-read)
            before = next((text for p, _, text in raw if p == slot), None)
            known = self._known
            # one string, not a list: the state is hashed and written before each commit
            leaves = base64.b64encode(_pack(batch.leaves)).decode()
            state = {
                "origin": self.origin,
                "size": batch.size,
                "checkpoint": batch.checkpoint,
                "incidents": data.get("incidents", []) if data else [],
                "batch": {"base": batch.base, "leaves": leaves},
            }
            self._put(slot, _body(state), content=state)
            self._known = batch.size

        def undo() -> None:
            with self._exclusive():
                if before is None:
                    with contextlib.suppress(FileNotFoundError):
                        slot.unlink()
                else:
                    self._put(slot, before, exact=True)
                self._known = known

        return undo

    def pending(self) -> tuple[int, list[bytes], str] | None:
        """The latest batch the file keeps: the size it grew from, its leaves and the
        checkpoint they end at (None: no batch kept; the mark was seeded or lowered).

        Raises:
            ValidationError: every slot is damaged, or the batch is not base64 leaves.
        """
        data = self._read_raw()
        batch = data.get("batch") if data else None
        if data is None or not isinstance(batch, dict):
            return None
        try:
            leaves = _split(base64.b64decode(batch["leaves"], validate=True))
            base = int(batch["base"])
        except (KeyError, TypeError, ValueError, binascii.Error) as e:
            raise ValidationError(
                f"the high-water file {self.path} holds a damaged batch: {e}", field="highwater"
            ) from e
        if base + len(leaves) != _size(data):
            return None
        return base, leaves, str(data.get("checkpoint"))

    def record_checkpoint(self, size: int, checkpoint: str) -> None:
        """Keep ``checkpoint`` (of tree size ``size``) unless a larger one is kept."""
        if size <= self._known:
            return
        with self._exclusive():
            data = self._read_raw()
            if data is not None and _size(data) >= size:
                self._known = max(self._known, _size(data))
                return
            incidents = data.get("incidents", []) if data else []
            self._write(
                {
                    "origin": self.origin,
                    "size": size,
                    "checkpoint": checkpoint,
                    "incidents": incidents,
                }
            )
            self._known = size

    def accept_shorter(
        self, checkpoint: str, size: int, note: str, at: str, given_up: Mark
    ) -> dict[str, Any]:
        """Lower the mark to ``checkpoint`` (size ``size``) on the operator's word, giving
        up ``given_up`` (the evidence it was behind: `evidence`). The incident (time,
        note, the checkpoint given up, the size served) is appended to the file's
        ``incidents`` and logged; the witnesses' evidence files above ``size`` move into
        a ``given-up-<time>`` subfolder (kept, no longer read). `sign_incidents` signs it
        when the log next opens with its key. Returns the incident.

        Raises:
            ValidationError: an empty note.
        """
        if not note.strip():
            raise ValidationError("an accepted shorter log needs an incident note", field="note")
        with self._exclusive():
            data = self._read_raw() or {}
            incident = {
                "at": at,
                "note": note.strip(),
                "given_up_size": given_up.size,
                "given_up_checkpoint": given_up.seen.note,
                "served_size": size,
            }
            incidents = [*data.get("incidents", []), incident]
            self._write(
                {
                    "origin": self.origin,
                    "size": size,
                    "checkpoint": checkpoint,
                    "incidents": incidents,
                },
                both=True,  # a lower mark must not lose to the older slot's larger one
            )
            self._known = size
            self._set_aside_evidence(at)
        log.warning(
            "INCIDENT: log %s is served at size %d although checkpoint %d was published: %s "
            "(recorded in %s; tell the witnesses, docs/OPERATIONS.md)",
            self.origin,
            size,
            incident["given_up_size"],
            incident["note"],
            self.path,
        )
        return incident

    def _set_aside_evidence(self, at: str) -> None:
        """Move the witnesses' evidence files out of the folder read at start-up: they
        hold the given-up tree (the mark, now lowered, speaks for the served one)."""
        folder = evidence_folder(self.path)
        files = folder_files(folder)
        if files:
            aside = folder / ("given-up-" + at.replace(":", ""))
            aside.mkdir(mode=0o700, parents=True, exist_ok=True)
            for path in files:
                path.rename(aside / path.name)

    def sign_incidents(self, sign: Callable[[Mapping[str, Any]], str | None]) -> int:
        """Sign each recorded incident not yet signed with ``sign`` (the log key, which a
        restore from the command line may not hold; None: it cannot be signed) and keep
        the note in the file; return how many were signed."""
        with self._exclusive():
            data = self._read_raw()
            if data is None:
                return 0
            incidents, signed = [], 0
            for incident in data.get("incidents", []):
                if not incident.get("signed"):
                    note = sign(incident)
                    if note is not None:
                        incident, signed = {**incident, "signed": note}, signed + 1
                incidents.append(incident)
            if signed:
                self._write({**data, "incidents": incidents}, both=True)
        return signed

    def signed_incidents(self) -> list[str]:
        """The signed incident notes kept in the file, oldest first (docs/OPERATIONS.md)."""
        data = self._read_raw() or {}
        return [i["signed"] for i in data.get("incidents", []) if isinstance(i.get("signed"), str)]

    # --- reading ------------------------------------------------------------------

    def read(self, log_key: str) -> Mark | None:
        """The mark, its checkpoint verified under ``log_key`` (None: no file yet).

        Raises:
            ValidationError: the file is not a state file, or belongs to another log.
        """
        data = self._read_raw()
        if data is None or not _size(data):
            return None  # none yet, or an accepted loss of the whole log
        try:
            seen = Seen.verified(str(data.get("checkpoint")), log_key)
        except LedgerError as e:
            raise ValidationError(
                f"the high-water state file {self.path} holds no checkpoint of this log "
                f"({e.message}): it belongs to another log or was altered",
                field="highwater",
            ) from e
        if seen.checkpoint.origin != self.origin or _size(data) != seen.checkpoint.size:
            raise ValidationError(
                f"the high-water state file {self.path} is for log {seen.checkpoint.origin!r}, "
                f"not {self.origin!r}",
                field="highwater",
            )
        return Mark(seen, tuple(data.get("incidents") or ()), where=f"state file {self.path}")

    def evidence(self, log_key: str, files: Sequence[Path] = ()) -> Mark | None:
        """The largest checkpoint this log is known to have published: the mark, or a
        larger one among the witnesses' evidence (the evidence folder and ``files``,
        ledger.service.witnessed), each verified under ``log_key``.

        Raises:
            ValidationError: the state file or an evidence file is not this log's, or two
                of them hold one size with two roots.
        """
        mark = self.read(log_key)
        found = [*folder_files(evidence_folder(self.path)), *files]
        seen, where = largest(found, log_key, self.origin)
        if seen is None:
            return mark
        if mark is not None and seen.checkpoint.size == mark.size:
            if seen.checkpoint.root != mark.seen.checkpoint.root:
                raise ValidationError(
                    f"evidence file {where} and the high-water file {self.path} hold two "
                    f"checkpoints of size {mark.size} with different roots: a split view "
                    "signed by the log key",
                    field="evidence",
                )
        if mark is not None and mark.size >= seen.checkpoint.size:
            return mark
        incidents = mark.incidents if mark is not None else ()
        return Mark(seen, incidents, where=f"witness evidence {where}")

    @property
    def slots(self) -> tuple[Path, Path]:
        """The two slot files (``ORIGIN.json`` and ``ORIGIN.2.json``), written in turn."""
        return self._slots

    def _read_raw(self) -> dict[str, Any] | None:
        """The slot holding the largest mark (None: no slot yet).

        A damaged slot (a write torn by a crash: never acknowledged) is passed over while
        the other one is sound.

        Raises:
            ValidationError: every slot there is damaged.
            StorageError: a slot cannot be read.
        """
        loaded = self._load()
        sound = [data for _, data in loaded if data is not None]
        if sound:
            return max(sound, key=_size)
        if loaded:
            raise ValidationError(
                f"the high-water state file {loaded[0][0]} is damaged (not JSON, not a state "
                "file, or its check fails)",
                field="highwater",
            )
        return None

    def _load(self) -> list[tuple[Path, dict[str, Any] | None]]:
        """Each slot file that exists, with its content (None: damaged)."""
        return [(slot, data) for slot, data, _ in self._load_bytes()]

    def _load_bytes(self) -> list[tuple[Path, dict[str, Any] | None, bytes]]:
        """Each slot file that exists, with its content (None: damaged) and its bytes as
        read now. A slot whose bytes are those this process last saw is not parsed again
        (`_seen` is only a hint: it is always compared with what was just read)."""
        found = []
        for slot in self.slots:
            try:
                text = slot.read_bytes()
            except FileNotFoundError:
                self._seen.pop(slot, None)
                continue
            except OSError as e:
                raise StorageError(f"cannot read the high-water file {slot}: {e}") from e
            seen = self._seen.get(slot)
            if seen is None or seen[0] != text:
                seen = (text, _parse(text))
                self._seen[slot] = seen
            found.append((slot, seen[1], text))
        return found

    # --- the file -----------------------------------------------------------------

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """This process's threads, then every process on the host (flock on a lock file)."""
        with self._lock:
            try:
                try:
                    fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                except FileNotFoundError:  # no folder yet (or no more): made, then again
                    self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                    fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as e:
                raise StorageError(f"cannot lock the high-water file {self.path}: {e}") from e
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the flock

    def _write(self, data: dict[str, Any], *, both: bool = False) -> None:
        """Write ``data`` durably into the slot holding the older mark (``both``: into
        both), in place: one ``fdatasync``, no rename. A crash mid-write spoils only that
        slot, whose mark nobody was told of yet; the other keeps the previous one."""
        body = _body(data)
        targets = self.slots if both else (self._target(self._load()),)
        for slot in targets:
            self._put(slot, body)

    def _target(self, loaded: list[tuple[Path, dict[str, Any] | None]]) -> Path:
        """The slot to write next: a missing or damaged one, else the smaller mark."""
        found = dict(loaded)
        older = [slot for slot in self.slots if found.get(slot) is None]
        return older[0] if older else min(self.slots, key=lambda p: _size(found[p] or {}))

    def _put(
        self,
        slot: Path,
        body: bytes,
        *,
        exact: bool = False,
        content: dict[str, Any] | None = None,
    ) -> None:
        """Write ``body`` into ``slot`` in place, synced (``exact``: cut any padding, to
        put back the exact bytes an undo restores). ``content``: what ``body`` holds (its
        data without the check), remembered so that the next load need not parse it."""
        self._seen.pop(slot, None)  # unknown until the write is whole
        try:
            created = not slot.exists()
            fd = os.open(slot, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                # spaces pad over a longer old content (JSON ignores them), so the file's
                # size, metadata the sync would also flush, rarely changes; a content far
                # longer (a big batch's leaves) is cut, or every later write would carry it
                old = os.fstat(fd).st_size
                padded = body.ljust(old, b" ")
                _write_all(fd, padded)
                if old > len(body) + (0 if exact else _SLACK):
                    os.ftruncate(fd, len(body))
                    padded = body
                os.fdatasync(fd)
            finally:
                os.close(fd)
            if content is not None:
                self._seen[slot] = (padded, content)
            if created:  # a new name in the folder: make the folder's entry durable too
                folder = os.open(slot.parent, os.O_RDONLY)
                try:
                    os.fsync(folder)
                finally:
                    os.close(folder)
        except OSError as e:
            raise StorageError(f"cannot write the high-water file {slot}: {e}") from e


#: how much longer than its new content a slot may stay (padded) before it is cut
_SLACK = 64 * 1024


def _write_all(fd: int, data: bytes) -> None:
    """Write ``data`` at the start of ``fd``, all of it: a short write (a full disk) would
    leave a torn slot behind a commit that believes its mark durable."""
    done = 0
    while done < len(data):
        written = os.pwrite(fd, data[done:], done)
        if written <= 0:
            raise OSError(f"the high-water slot took {done} of {len(data)} bytes")
        done += written
