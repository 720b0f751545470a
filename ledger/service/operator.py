"""The operator's console pages over the default log (docs/CONSOLE.md, "The operator"):
the actor list with the pending key recoveries, onboarding with a checked licence
document, and the blacklist.

**Onboarding.** The operator's staff (``onboard``: roles ``admin`` and ``onboarding``)
upload the applicant's licence document (ledger.service.licences: PDF, JPEG or PNG by
its bytes, at most 8 MiB); its SHA-256 goes into the ``actor.register`` the server
signs with the operator's registry key, in the existing ``documents`` field, and the
file is stored under that hash (ledger.store.documents) only once the log accepted the
entry: a refused onboarding stores nothing. An actor registered from the command line
with ``--documents FILE`` has the hash but no file here; `OperatorService.attach`
stores the file when, and only when, its hash is the one the log signed.

**Showing a document** hashes the stored bytes again and compares them with the hash
in the actor's signed entry: a file altered in the database is refused
(`DocumentAlteredError`), never served.

**The blacklist** (``blacklist``: role ``admin`` only) is the log's ``actor.revoke``
with its ``reason`` and ``since``: the actor signs nothing more, and the units it
handled from ``since`` on are shown to shoppers with a caution (docs/SIGNALS.md).

Every action goes to the console's audit trail. Text typed into these forms is signed
into the permanent log, which other software shows too, so markup characters
(``<``, ``>``) are refused rather than escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from ledger import crypto
from ledger.entry import Leaf, SignedEvent, sign_event
from ledger.errors import NotFoundError, ValidationError
from ledger.events import ActorRegister, ActorRevoke, event_from_dict, format_time, parse_time
from ledger.reqsig import ForbiddenError
from ledger.rules import pending_recovery
from ledger.rules.state import ActorRecord, KeyRecord
from ledger.service import licences
from ledger.service.console import ConsoleService
from ledger.service.console_auth import Staff
from ledger.service.ledger import Ledger
from ledger.store import DocumentStore
from ledger.vocab import PARTNER_ROLES, Role

#: the roles the console onboards: a brand or a partner, never another operator
ONBOARD_ROLES = (Role.BRAND.value, *(r.value for r in PARTNER_ROLES))
#: the most actors one page lists (newest first); ``q`` narrows
LIST_LIMIT = 200
MAX_KEYS = 8
MAX_PREFIXES = 16
MAX_REASON = 500


class OperatorService:
    """The operator's onboarding, blacklist and actor list over ``console``'s log."""

    def __init__(self, console: ConsoleService, ledger: Ledger) -> None:
        self._console = console
        self._ledger = ledger
        self._documents = DocumentStore(ledger.store.engines)

    def require(self, staff: Staff, action: str | None = None) -> None:
        """Allow only the operator's staff, and ``action`` only for its roles.

        Raises:
            ForbiddenError: a brand's staff, or a role without ``action``.
        """
        if not staff.operator:
            raise ForbiddenError("these pages are for the operator's staff")
        if action is not None:
            self._console.require(staff, action)

    def now(self) -> datetime:
        """The log's clock."""
        return self._ledger.now()

    # --- the actor list -----------------------------------------------------------------

    def actors(self, staff: Staff, query: str = "") -> list[dict[str, Any]]:
        """The registered actors, newest first (at most `LIST_LIMIT`; ``query`` keeps
        those whose id, name or role contains it): role, name, GS1 prefixes, registered
        index, keys (with scope, whether removed, and when a recovered key not yet in
        effect will be), status (``active`` or
        ``blacklisted`` with the revocation's index, reason and ``since``), and the
        licence document: its hash in the signed entry and whether a file is stored.

        Raises:
            ForbiddenError: not the operator's staff.
        """
        self.require(staff)
        records = self._ledger.store.records_in(
            self._ledger.log, ActorRecord, "role", [r.value for r in Role]
        )
        needle = query.strip().lower()[:64]
        actors = sorted(
            (
                a
                for a in cast(list[ActorRecord], records)
                if not needle or needle in f"{a.id}\n{a.name}\n{a.role}".lower()
            ),
            key=lambda a: a.registered_index,
            reverse=True,
        )[:LIST_LIMIT]
        keys: dict[str, list[KeyRecord]] = {}
        for k in self._ledger.store.records_in(
            self._ledger.log, KeyRecord, "actor", [a.id for a in actors]
        ):
            key = cast(KeyRecord, k)
            keys.setdefault(key.actor, []).append(key)
        # the registrations (their documents) and revocations (their reasons): one read
        wanted = [a.registered_index for a in actors]
        wanted += [a.revoked_index for a in actors if a.revoked_index is not None]
        found = self._ledger.store.entries_at(self._ledger.log, wanted)
        events = {i: Leaf.from_bytes(e.leaf).signed.event for i, e in found.items()}
        now = self.now()
        rows = [self._row(a, keys.get(a.id, []), events, now) for a in actors]
        stored = self._documents.described(r["documents"] for r in rows if r["documents"])
        for row in rows:
            row["document"] = stored.get(row["documents"] or "")
        return rows

    def recoveries(self, staff: Staff) -> list[dict[str, Any]]:
        """The key recoveries still pending at the log's clock, soonest in effect first:
        each ``{actor, name, key_id, public_key, recovered_index, effective}``. The same
        recoveries the actor's public record lists (`Ledger.actor_view`), across every
        actor, so the operator sees what any of them can still cancel.

        Raises:
            ForbiddenError: not the operator's staff.
        """
        self.require(staff)
        now = self.now()
        pending = [
            (k, found)
            for k in self._ledger.store.recovered_keys(self._ledger.log)
            if (found := pending_recovery(k, now)) is not None
        ]
        actors = self._ledger.store.records_in(
            self._ledger.log, ActorRecord, "id", [k.actor for k, _ in pending]
        )
        names = {a.id: a.name for a in actors if isinstance(a, ActorRecord)}
        pending.sort(key=lambda p: (parse_time(p[1][1]), p[0].key_id))
        return [
            {
                "actor": k.actor,
                "name": names.get(k.actor, ""),
                "key_id": k.key_id,
                "public_key": k.public_key,
                "recovered_index": index,
                "effective": effective,
            }
            for k, (index, effective) in pending
        ]

    @staticmethod
    def _row(
        actor: ActorRecord,
        keys: Sequence[KeyRecord],
        events: Mapping[int, object],
        now: datetime,
    ) -> dict[str, Any]:
        registered = events.get(actor.registered_index)
        documents = registered.documents if isinstance(registered, ActorRegister) else None
        revoked = events.get(actor.revoked_index) if actor.revoked_index is not None else None
        reason = revoked.reason if isinstance(revoked, ActorRevoke) else None
        return {
            "id": actor.id,
            "role": actor.role,
            "name": actor.name,
            "prefixes": list(actor.prefixes),
            "registered_index": actor.registered_index,
            "keys": [
                {
                    "key_id": k.key_id,
                    "scope": list(k.scope),
                    "removed": k.removed_index is not None,
                    # a recovered key not yet in effect: when it will be
                    "pending": (pending_recovery(k, now) or (0, None))[1],
                }
                for k in sorted(keys, key=lambda k: k.added_index)
            ],
            "status": "active" if actor.revoked_index is None else "blacklisted",
            "revoked_index": actor.revoked_index,
            "since": actor.revoked_since,
            "reason": reason,
            "documents": documents,
        }

    # --- onboarding ---------------------------------------------------------------------

    def onboard(
        self,
        staff: Staff,
        *,
        subject: str,
        role: str,
        name: str,
        keys: str,
        prefixes: str,
        document: bytes,
        filename: str = "",
        declared: str = "",
        checked: bool = False,
    ) -> int:
        """Register ``subject`` with its keys (one base64url public key per line) and, for
        a brand, its GS1 prefixes (separated by spaces or commas), the SHA-256 of its
        checked licence ``document`` in the entry; store the document; return the
        entry's index. Nothing is stored when anything is refused.

        Raises:
            ForbiddenError: not the operator's staff, or a role that may not onboard.
            ValidationError: the document was not marked as checked, a role the console
                does not onboard, markup in the name, too many keys or prefixes, a
                malformed field (the event's own checks), no operator key.
            BadDocumentError, DocumentTooLargeError: the document (licences.check).
            RuleError: the log refuses the registration (an id, key or prefix taken, a
                look-alike name, a brand without prefixes).
        """
        self.require(staff, "onboard")
        if not checked:
            raise ValidationError(
                "confirm that you checked the document against the licence", field="checked"
            )
        if role not in ONBOARD_ROLES:
            raise ValidationError(
                f"the console onboards a {', '.join(ONBOARD_ROLES)}", field="role"
            )
        name = _plain(name, "name")
        key_list = [k.strip() for k in keys.split() if k.strip()]
        prefix_list = [p for p in prefixes.replace(",", " ").split() if p]
        if len(key_list) > MAX_KEYS or len(prefix_list) > MAX_PREFIXES:
            raise ValidationError(
                f"at most {MAX_KEYS} keys and {MAX_PREFIXES} prefixes", field="keys"
            )
        checked_doc = licences.check(document, filename, declared)
        signed = self._sign(
            "actor.register",
            subject=subject.strip(),
            role=role,
            name=name,
            keys=key_list,
            prefixes=prefix_list or None,
            documents=checked_doc.digest,
        )
        index = self._ledger.append(signed).receipts[0].index
        self._store(checked_doc)
        self._console.staff.audit(
            staff.org, staff.username, "onboard", subject, f"{role}; document {checked_doc.digest}"
        )
        return index

    def attach(
        self, staff: Staff, subject: str, document: bytes, filename: str = "", declared: str = ""
    ) -> str:
        """Store the licence document of an actor registered with its hash (from the
        command line, or when storing failed after the entry); return the hash.

        Raises:
            ForbiddenError: not the operator's staff, or a role that may not onboard.
            NotFoundError: no such actor.
            ValidationError: its entry names no document, or another one.
            BadDocumentError, DocumentTooLargeError: the document (licences.check).
        """
        self.require(staff, "onboard")
        signed_hash = self._signed_hash(subject)
        checked_doc = licences.check(document, filename, declared)
        if checked_doc.digest != signed_hash:
            raise ValidationError(
                f"this file's SHA-256 is not the one {subject}'s registration signed",
                field="document",
            )
        self._store(checked_doc)
        self._console.staff.audit(staff.org, staff.username, "attach", subject, signed_hash)
        return signed_hash

    def document(self, staff: Staff, subject: str) -> tuple[bytes, str, str]:
        """The licence document of ``subject``: its bytes, type and file name, after
        checking that the bytes hash to the value its signed registration holds.

        Raises:
            ForbiddenError: not the operator's staff.
            NotFoundError: no such actor, no document named, or none stored.
            DocumentAlteredError: the stored bytes do not hash to the signed value.
        """
        self.require(staff)
        signed_hash = self._signed_hash(subject)
        row = self._documents.get(signed_hash)
        if row is None:
            raise NotFoundError(f"no document of {subject} is stored here", field="document")
        data = bytes(row["data"])
        if licences.digest(data) != signed_hash or licences.sniff(data) != row["media"]:
            raise licences.DocumentAlteredError(
                f"the stored document of {subject} does not match the SHA-256 its signed "
                "registration holds: it was altered after it was stored",
                field="document",
            )
        return data, str(row["media"]), str(row["name"])

    # --- the blacklist ------------------------------------------------------------------

    def blacklist(self, staff: Staff, subject: str, reason: str, since: str = "") -> int:
        """Revoke ``subject`` (``actor.revoke``) with ``reason`` and, if given, ``since``
        (RFC 3339 UTC, or a browser's ``YYYY-MM-DDTHH:MM`` taken as UTC; not in the
        future): units it handled from then on are shown with a caution (none given:
        every unit it handled). Return the entry's index.

        Raises:
            ForbiddenError: not the operator's staff, or a role that may not blacklist.
            ValidationError: no reason, markup in it, a malformed or future ``since``.
            RuleError: the log refuses it (unknown, already revoked, the operator).
        """
        self.require(staff, "blacklist")
        reason = _plain(reason, "reason", MAX_REASON)
        at = None
        if since.strip():
            at = _since(since.strip())
            if parse_time(at, "since") > self._ledger.now():
                raise ValidationError("since is not in the future", field="since")
        signed = self._sign("actor.revoke", subject=subject.strip(), reason=reason, since=at)
        index = self._ledger.append(signed).receipts[0].index
        self._console.staff.audit(
            staff.org, staff.username, "blacklist", subject, f"{reason} (since {at or 'always'})"
        )
        return index

    # --- helpers ------------------------------------------------------------------------

    def _sign(self, kind: str, **fields: Any) -> SignedEvent:
        key: crypto.Signer | None = self._ledger.config.operator_key
        if key is None:
            raise ValidationError("a read-only server signs nothing", field="key")
        data = {
            "kind": kind,
            "actor": self._ledger.config.operator_id,
            "time": format_time(self._ledger.now()),
            **{k: v for k, v in fields.items() if v is not None},
        }
        return sign_event(event_from_dict(data), key, log=self._ledger.origin)

    def _event(self, index: int) -> object:
        return Leaf.from_bytes(self._ledger.entry(index).leaf).signed.event

    def _signed_hash(self, subject: str) -> str:
        found = self._ledger.store.records(self._ledger.log, {ActorRecord: [subject]})
        actor = next((a for a in found if isinstance(a, ActorRecord)), None)
        if actor is None:
            raise NotFoundError(f"no actor {subject!r}", field="subject")
        event = self._event(actor.registered_index)
        signed = event.documents if isinstance(event, ActorRegister) else None
        if signed is None:
            raise NotFoundError(f"{subject}'s registration names no document", field="document")
        return signed

    def _store(self, doc: licences.Document) -> None:
        self._documents.put(
            {
                "digest": doc.digest,
                "media": doc.media,
                "size": len(doc.data),
                "name": doc.name,
                "created_at": format_time(self._ledger.now()),
                "data": doc.data,
            }
        )


def _plain(text: str, field: str, limit: int = 200) -> str:
    """``text`` stripped, 1-``limit`` characters, without markup characters."""
    text = (text or "").strip()
    if not 1 <= len(text) <= limit:
        raise ValidationError(f"{field} is 1-{limit} characters", field=field)
    if "<" in text or ">" in text:
        raise ValidationError(f"{field} holds no markup (< or >)", field=field)
    return text


def _since(text: str) -> str:
    """``text`` as RFC 3339 UTC: as is, or a browser's ``YYYY-MM-DDTHH:MM[:SS]`` as UTC.

    Raises:
        ValidationError: neither.
    """
    if text.endswith("Z"):
        return format_time(parse_time(text, "since"))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as e:
        raise ValidationError(
            "since is a date and time like 2026-01-31T12:00", field="since"
        ) from e
    if moment.tzinfo is not None:
        raise ValidationError("since is UTC, without an offset", field="since")
    return format_time(moment.replace(tzinfo=UTC))
