"""What a partner (warehouse, courier, retailer) asks of the log before and after a scan:
where units stand (`PartnerService.custody`, many at once, for a scan list; `contents`,
every unit in a carton or on a pallet), what is on
its way to it (`inbox`), what it holds (`holdings`), and who the other actors are
(`actors`, to find a recipient's id).

Reads of the projections only: nothing here appends, and nothing here is proven (the
unit view carries the proofs). What counts as a re-scan is the CLI's to judge from
`custody` (cli.scanning.rescan), as a partner's own system may.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from ledger.entry import Leaf
from ledger.events import format_time
from ledger.rules.state import ActorRecord, AuthorizationRecord, KeyRecord, UnitRecord
from ledger.service.unitview import entry_json
from ledger.shapes import (
    ActorItemShape,
    AuthorizationAnswerShape,
    CustodyShape,
    EvidenceShape,
    GrantShape,
    HeldShape,
)
from ledger.store import Store
from ledger.verify.authorization import Grant, Status, covers, status_at
from ledger.verify.verdict import ServedEntry
from ledger.vocab import Role

#: the most units one `custody` call answers (as one append batch)
MAX_UNITS = 1000


def custody_of(record: UnitRecord) -> CustodyShape:
    """The custody answer for one unit's projection."""
    return {
        "gtin": record.gtin,
        "serial": record.serial,
        "lot": record.lot,
        "head": record.head,
        "head_index": record.head_index,
        "custodian": record.custodian,
        "pending": record.pending,
        "containers": list(record.containers),
        "container": record.container,
    }


class PartnerService:
    """The partner reads of one log in one store."""

    def __init__(self, store: Store, log: int) -> None:
        self._store = store
        self._log = log

    def custody(self, units: Sequence[tuple[str, str]]) -> list[CustodyShape]:
        """The custody of each of ``units`` (GTIN, serial) that is in the log, in no
        particular order; units not in the log are left out.

        Raises:
            ValidationError: more than `MAX_UNITS` units.
        """
        from ledger.errors import ValidationError

        if len(units) > MAX_UNITS:
            raise ValidationError(f"at most {MAX_UNITS} units per request", field="units")
        records = self._store.records(self._log, {UnitRecord: list(units)})
        return [custody_of(cast(UnitRecord, r)) for r in records]

    def contents(self, sscc: str) -> list[CustodyShape]:
        """Where each unit whose outermost container is ``sscc`` stands, by GTIN and
        serial (every unit on a pallet, whatever carton it is in; empty: no such
        container, or nothing is in it). Read from the projections, not proven: each
        unit's own chain (its unit view) proves where it is."""
        records = self._store.records_in(self._log, UnitRecord, "container", [sscc])
        units = sorted((cast(UnitRecord, r) for r in records), key=lambda u: (u.gtin, u.serial))
        return [custody_of(u) for u in units]

    def inbox(self, actor: str) -> list[HeldShape]:
        """The units handed (or returned) to ``actor`` and not yet received, by GTIN and
        serial; ``counterpart`` is the sender."""
        records = self._units("pending", actor)
        return [_held(r, r.custodian) for r in records]

    def holdings(self, actor: str) -> list[HeldShape]:
        """The units ``actor`` holds (including those it handed on and that are not yet
        received: ``counterpart`` is then their recipient), by GTIN and serial."""
        records = self._units("custodian", actor)
        return [_held(r, r.pending) for r in records]

    def actors(self, role: Role | None = None) -> list[ActorItemShape]:
        """Every registered actor (of ``role``, if given), by id; revoked ones included
        and marked, so that a clerk sees why a recipient is refused."""
        roles: Iterable[str] = [role.value] if role is not None else [r.value for r in Role]
        records = self._store.records_in(self._log, ActorRecord, "role", roles)
        actors = sorted((cast(ActorRecord, r) for r in records), key=lambda a: a.id)
        return [
            {"id": a.id, "role": a.role, "name": a.name, "revoked": a.revoked_index is not None}
            for a in actors
        ]

    def retailers(self, brand: str, at: datetime) -> list[dict[str, Any]]:
        """The partners ``brand`` authorizes as retailers at ``at`` (unrevoked, the time
        inside the window), by name: the public list a shopper checks a shop against.
        Only the role the brand gave decides who is listed: its couriers, warehouses and
        inspectors never are. Each with the GTINs and prefixes it covers and its window."""
        found = self._store.records_in(self._log, AuthorizationRecord, "brand", [brand])
        live = [
            a
            for a in found
            if isinstance(a, AuthorizationRecord)
            and a.role == Role.RETAILER
            and status_at(_grant(a), at) == Status.AUTHORIZED
        ]
        names = {
            r.id: r.name
            for r in self._store.records(self._log, {ActorRecord: [a.partner for a in live]})
            if isinstance(r, ActorRecord) and r.revoked_index is None
        }
        out: dict[str, dict[str, Any]] = {}
        for a in sorted(live, key=lambda a: a.granted_index):
            if a.partner not in names:
                continue  # a revoked actor sells nothing, whatever its grant says
            shown = out.setdefault(
                a.partner,
                {"id": a.partner, "name": names[a.partner], "gtins": [], "prefixes": [],
                 "until": a.not_after},
            )  # fmt: skip
            shown["gtins"] = sorted({*shown["gtins"], *a.gtins})
            shown["prefixes"] = sorted({*shown["prefixes"], *a.prefixes})
            shown["until"] = max(shown["until"], a.not_after)
        return sorted(out.values(), key=lambda r: str(r["name"]).lower())

    def authorization(
        self, brand: str, partner: str, gtin: str | None, at: datetime
    ) -> AuthorizationAnswerShape:
        """Whether ``brand`` authorizes ``partner`` (for ``gtin``, any when None) at
        ``at``, with the evidence a platform checks offline
        (ledger.verify.authorization.verify_answer): ``{brand, partner, gtin, at,
        authorized, status, authorization, entries, checkpoint}``.

        Of the brand's grants to the partner that cover the GTIN, one in force at ``at``
        is shown, else the latest one (expired, revoked or not yet valid); none:
        ``never-authorized``. ``entries`` are the grant (``role: grant``), its
        revocation, and the brand's key entries that sign them, each with its proof to
        ``checkpoint``.
        """
        found = self._store.records_in(self._log, AuthorizationRecord, "partner", [partner])
        grants = sorted(
            (a for a in found if isinstance(a, AuthorizationRecord) and a.brand == brand),
            key=lambda a: a.granted_index,
        )
        judged = [(a, status_at(_grant(a), at)) for a in grants if covers(_grant(a), gtin)]
        live = [j for j in judged if j[1] == Status.AUTHORIZED]
        chosen: tuple[AuthorizationRecord, Status] | None = (live or judged)[-1] if judged else None
        stored = self._store.checkpoint(self._log)
        answer: AuthorizationAnswerShape = {
            "brand": brand,
            "partner": partner,
            "gtin": gtin,
            "at": format_time(at),
            "authorized": False,
            "status": Status.NEVER_AUTHORIZED,
            "authorization": None,
            "entries": [],
            "checkpoint": stored.note,
        }
        if chosen is None:
            return answer
        record, status = chosen
        answer["authorized"], answer["status"] = status == Status.AUTHORIZED, status
        answer["authorization"] = _authorization(record)
        answer["entries"] = self._evidence(record, stored.size)
        return answer

    def _evidence(self, record: AuthorizationRecord, size: int) -> list[EvidenceShape]:
        """The grant, its revocation and their keys' entries, proven at ``size``."""
        wanted: list[tuple[Any, int]] = [("grant", record.granted_index)]
        if record.revoked_index is not None:
            wanted.append(("revocation", record.revoked_index))
        leaves = {i: Leaf.from_bytes(self._store.entry(self._log, i).leaf) for _, i in wanted}
        key_ids = {leaves[i].signed.key for _, i in wanted}
        keys = self._store.records(self._log, {KeyRecord: key_ids})
        wanted += sorted({("key", k.added_index) for k in keys if isinstance(k, KeyRecord)})
        stored = [self._store.entry(self._log, i) for _, i in wanted]
        proofs = self._store.inclusion_proofs(self._log, [e.index for e in stored], size)
        return [
            {
                "role": role,
                **entry_json(ServedEntry(e.index, e.leaf, e.leaf_hash, p), Leaf.from_bytes(e.leaf)),
            }
            for (role, _), e, p in zip(wanted, stored, proofs, strict=True)
        ]

    def _units(self, column: str, actor: str) -> list[UnitRecord]:
        records = self._store.records_in(self._log, UnitRecord, column, [actor])
        return sorted((cast(UnitRecord, r) for r in records), key=lambda u: (u.gtin, u.serial))


def _held(record: UnitRecord, counterpart: str | None) -> HeldShape:
    return {
        "gtin": record.gtin,
        "serial": record.serial,
        "lot": record.lot,
        "expiry": record.expiry,
        "counterpart": counterpart,
        "index": record.head_index,
        "container": record.container,
    }


def _grant(record: AuthorizationRecord) -> Grant:
    return Grant(
        record.gtins, record.prefixes, record.not_before, record.not_after, record.revoked_at
    )


def _authorization(record: AuthorizationRecord) -> GrantShape:
    """The grant as the answer names it (``id``: its authorize event's hash)."""
    return {
        "id": record.id,
        "role": record.role,
        "gtins": list(record.gtins),
        "prefixes": list(record.prefixes),
        "not_before": record.not_before,
        "not_after": record.not_after,
        "granted_index": record.granted_index,
        "revoked_index": record.revoked_index,
        "revoked_at": record.revoked_at,
    }
