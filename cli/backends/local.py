"""The `Backend` of a log in a local database, through the service (ledger.service).

The operator's machine (or the demo's, or an auditor's with the log's key pinned):
the same operations as a server, answered by `Ledger` in the API's JSON shapes. The
operator's own access is the authority here, so the keys a server would want on a
request (`KeyLoader`) are never read.

Importing this module loads the store (SQLAlchemy, Alembic): `cli.backends.connect`
imports it only when a command opens a local log.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from cli.backends.base import ImportRefusedError, KeyLoader, Progress, refusal_summary
from ledger import codec, gs1
from ledger.entry import Leaf, SignedEvent
from ledger.epcis.errors import CaptureRefusedError
from ledger.errors import KeyFormatError, NotFoundError, StorageError, ValidationError
from ledger.service.config import LogSpec, key_ref, open_keys
from ledger.service.highwater import OVERRIDE_ENV, HighWater, state_path
from ledger.service.ledger import Ledger, LogConfig
from ledger.service.policies import Policies
from ledger.service.settings import Settings
from ledger.service.startguard import guard
from ledger.vocab import Role

if TYPE_CHECKING:
    from ledger.audit.replay import AuditReport

_PAGE = 1000


class Local:
    """The ledger in a local database; ``log`` names one log of a deployment file."""

    def __init__(self, database_url: str, log: str | None = None, *, partner: bool = False) -> None:
        spec = local_log(database_url, log)
        self.spec = spec
        pinned = os.environ.get("PROVENANCE_LOG_KEY")
        key_file = spec.operator_key_file
        if pinned and (spec.operator_key is None or (key_file and not key_file.exists())):
            # An auditor's machine: no operator key, the log's verifier key pinned.
            config = LogConfig(
                origin=spec.origin,
                operator_key=None,
                name=spec.name,
                verifier_key=pinned.strip(),
                witnesses=Settings.from_env().witnesses,
            )
            self.ledger = Ledger.open(spec.database_url, config, policies=Policies.from_env())
            return
        # As api.app, without loading FastAPI for a command line.
        if spec.operator_key is None or (key_file is not None and not key_file.exists()):
            raise KeyFormatError(_no_ledger(key_file, partner), field="server")
        operator_key, log_key = open_keys(spec)  # files (0600) or keys in a token
        config = LogConfig(
            origin=spec.origin,
            operator_key=operator_key,
            name=spec.name,
            witnesses=Settings.from_env().witnesses,
            log_key=log_key,
        )
        # the published checkpoints, kept outside the database (ledger.service.highwater)
        water = HighWater(state_path(spec), spec.origin)
        self.ledger = Ledger.open(
            spec.database_url, config, policies=Policies.from_env(), keeper=water
        )
        try:
            guard(self.ledger, water, os.environ.get(OVERRIDE_ENV))
        except BaseException:
            self.ledger.close()
            raise
        self.ledger.init()

    def append(self, events: Sequence[SignedEvent]) -> dict[str, Any]:
        """Append through the service, 1,000 events per atomic batch."""
        out: dict[str, Any] = {"receipts": [], "size": 0, "checkpoint": ""}
        for start in range(0, len(events), _PAGE):
            part = self.ledger.append_batch(events[start : start + _PAGE]).to_dict()
            out = {**part, "receipts": out["receipts"] + part["receipts"]}
        return out

    def unit(self, gtin: str, serial: str, signature: str | None = None) -> dict[str, Any]:
        """The unit view from the service; with the log key at hand, the latest checkpoint
        is re-dated first when due (ledger.service.dating: no server may be running to
        keep a quiet log dated, and clients refuse a checkpoint dated over 10 min ago)."""
        try:
            self.ledger.dating.redate()
        except StorageError:
            pass  # a database this command cannot write (a replica): the view as it is
        return self.ledger.unit_view(gtin, serial, signature)

    def head(self, unit: gs1.UnitId) -> str:
        """The unit's latest entry, read directly (no proofs needed for a head).

        Raises:
            NotFoundError: the unit is not in the log.
        """
        stored = self.ledger.unit_entries(unit.gtin, unit.serial)
        if not stored:
            raise NotFoundError(f"unit {unit.gtin}/{unit.serial} is not in the log", field="unit")
        leaf = Leaf.from_bytes(stored[-1].leaf, self.ledger.origin)
        return codec.b64url_encode(leaf.signed.hash)

    def verifier_key(self) -> str:
        """The local log's verifier key."""
        return self.ledger.verifier_key

    def origin(self) -> str:
        """The local log's checkpoint origin (its configuration's, or the stored log's)."""
        return self.ledger.origin

    def actor(self, actor_id: str) -> dict[str, Any]:
        """The actor from the projections."""
        return self.ledger.actor_view(actor_id)

    def entry(self, index: int) -> dict[str, Any]:
        """The entry with its proof to the latest checkpoint, as the API shows it."""
        note = self.ledger.checkpoint()
        size = int(note.split("\n")[1])
        if not 0 <= index < size:
            raise NotFoundError(f"no entry at index {index} in the tree of size {size}")
        views = self.ledger.entry_views([self.ledger.entry(index)], size)
        return {"entries": views, "size": size, "checkpoint": note}

    def audit(self, trusted: list[str], progress: Progress | None) -> AuditReport:
        """The full audit of the local database (nodes, chain and projections too), against
        ``PROVENANCE_LOG_KEY`` when it is set (a pinned key wins over the operator's)."""
        from ledger.events import format_time
        from ledger.service.audit import audit_stored

        pinned = os.environ.get("PROVENANCE_LOG_KEY", "").strip()
        if not pinned:
            return self.ledger.audit(trusted=trusted, progress=progress)
        now = format_time(self.ledger.now())
        spec = self.spec
        return audit_stored(
            spec.database_url,
            spec.name,
            pinned,
            lambda _: None,
            now,
            trusted=trusted,
            progress=progress,
        ).report

    def export_epcis_unit(self, unit: gs1.UnitId, epc_base: str) -> dict[str, Any]:
        """The unit's chain exported by the service."""
        return self.ledger.epcis.export_unit(unit.gtin, unit.serial, epc_base=epc_base)

    def export_epcis_range(self, start: int, end: int | None, epc_base: str) -> dict[str, Any]:
        """A range of the log exported by the service."""
        return self.ledger.epcis.export_range(start, end, epc_base=epc_base)

    def capture_epcis(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """Capture through the service, as ``POST /v1/epcis/capture`` would.

        Raises:
            ImportRefusedError: some event was refused (the message names each).
        """
        try:
            return self.ledger.epcis.capture(envelope).to_dict()
        except CaptureRefusedError as e:
            summary = refusal_summary({"detail": e.message, **e.problem_fields})
            raise ImportRefusedError(summary) from None

    def claim(self, gtin: str, serial: str, code: str) -> dict[str, Any]:
        """Claim through the service (client ``cli``)."""
        return self.ledger.claims.claim(gtin, serial, code, client="cli").to_dict()

    def alerts(self, brand: str, signer: KeyLoader) -> dict[str, Any]:
        """The brand's queue (the operator's access: ``signer`` is not read)."""
        return self.ledger.reports.alerts(brand)

    def upload_product_image(
        self, brand: str, gtin: str, data: bytes, signer: KeyLoader
    ) -> dict[str, Any]:
        """Through the service (the operator's access: ``signer`` is not read)."""
        from ledger.service.catalog import images_of

        images = images_of(self.ledger)
        stored = images.upload(brand, gtin, data, self.ledger.now())
        return {**stored, "data": codec.b64url_encode(images.stored(stored["hash"])[0])}

    def report_unit(self, brand: str, report_id: int, signer: KeyLoader) -> str | None:
        """The unit of any report in the database, whichever brand's queue it is in."""
        found = self.ledger.reports.find(report_id)
        return None if found is None else f"{found['gtin']}/{found['serial']}"

    def resolve_report(
        self,
        report_id: int,
        *,
        actor: str,
        action: str,
        note: str | None,
        flag: SignedEvent | None,
        signer: KeyLoader,
    ) -> dict[str, Any]:
        """Answer through the service as ``actor``, who must be registered.

        Raises:
            ValidationError: no actor ``actor``.
        """
        by = self.ledger.state().actors.get(actor)
        if by is None:
            raise ValidationError(f"no actor {actor!r}", field="as")
        return self.ledger.reports.resolve_report(
            report_id, by=by, action=action, note=note, flag=flag
        )

    def custody(self, units: Sequence[gs1.UnitId]) -> list[dict[str, Any]]:
        """Custody from the projections, 1,000 units per read."""
        out: list[dict[str, Any]] = []
        for start in range(0, len(units), _PAGE):
            part = [(u.gtin, u.serial) for u in units[start : start + _PAGE]]
            out.extend(dict(c) for c in self.ledger.partners.custody(part))
        return out

    def contents(self, sscc: str) -> list[dict[str, Any]]:
        """The container's units from the projections."""
        return [dict(c) for c in self.ledger.partners.contents(sscc)]

    def actors(self, role: str | None) -> list[dict[str, Any]]:
        """The actors from the projections.

        Raises:
            ValidationError: ``role`` is not a role.
        """
        return [dict(a) for a in self.ledger.partners.actors(_role(role))]

    def inbox(self, actor: str, signer: KeyLoader) -> list[dict[str, Any]]:
        """The inbox (the operator's access: ``signer`` is not read)."""
        return [dict(u) for u in self.ledger.partners.inbox(actor)]

    def holdings(self, actor: str, signer: KeyLoader) -> list[dict[str, Any]]:
        """The holdings (the operator's access: ``signer`` is not read)."""
        return [dict(u) for u in self.ledger.partners.holdings(actor)]

    def authorization(
        self, brand: str, partner: str, gtin: str | None, at: str | None
    ) -> dict[str, Any]:
        """The seller check from the projections, with its proofs.

        Raises:
            ValidationError: ``at`` is not an RFC 3339 UTC time.
        """
        from ledger.events import parse_time

        when = parse_time(at, "at") if at else self.ledger.now()
        wanted = gs1.normalize_gtin(gtin) if gtin else None
        return self.ledger.partners.authorization(brand, partner, wanted, when)

    def size(self) -> int:
        """Entries in the log (local only: ``init`` reports it)."""
        return self.ledger.head().size

    def bundle_lines(self) -> Iterator[str]:
        """The export bundle's lines (docs/FORMAT.md, "Export bundle"; local only)."""
        return self.ledger.exports.bundle_lines()

    def close(self) -> None:
        """Close the database."""
        self.ledger.close()


def _role(role: str | None) -> Role | None:
    """``--role`` as a `Role`.

    Raises:
        ValidationError: not a role.
    """
    if role is None:
        return None
    try:
        return Role(role)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise ValidationError(f"no role {role!r} (roles: {roles})", field="role") from None


def _no_ledger(key_file: object, partner: bool) -> str:
    """Why there is no local ledger, told to whoever runs the command: a partner (a
    clerk's ``handoff``) is pointed at the server, never at ``provenance init``."""
    if partner:
        return (
            f"this machine holds no ledger (no operator key at {key_file}): send to your "
            "platform's server with --server URL (before or after the command name) or "
            "set PROVENANCE_SERVER"
        )
    return (
        f"no operator key at {key_file}: partners pass --server URL (or set "
        "PROVENANCE_SERVER); the operator runs `provenance init`, sets "
        "PROVENANCE_OPERATOR_KEY, or pins PROVENANCE_LOG_KEY to only read"
    )


def local_log(database_url: str, log: str | None) -> LogSpec:
    """The log a local command works on: ``log`` (default: the default log) of the
    ``PROVENANCE_LOGS`` deployment file, else the log of that name in ``database_url``.

    Raises:
        NotFoundError: the deployment file has no log ``log``.
        ValidationError: the deployment file is invalid.
    """
    settings = Settings.from_env()
    if settings.logs_file is not None:
        deployment = settings.deployment()
        name = log or deployment.routing.default
        for spec in deployment.logs:
            if spec.name == name:
                return spec
        raise NotFoundError(f"no log {name!r} in {settings.logs_file}", field="log")
    return LogSpec(
        name=log or settings.log_name,
        origin=settings.origin,
        database_url=database_url,
        operator_key=key_ref(settings.operator_key),
        log_key=key_ref(settings.checkpoint_key),
    )
