"""The one interface every command talks to: `Backend`, implemented by the local
database (cli.backends.local) and by a server over HTTP (cli.backends.remote).

Both answer in the API's JSON shapes (docs/API.md), so a command never asks which one
it has. Private keys never leave the machine: events are signed before either backend
sees them, and a key that signs a server request is passed as a `KeyLoader`, read only
by the backend that needs it (a local database needs none).

This module imports neither the HTTP client nor the store, so that commands can name the
interface without loading either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from ledger.epcis.errors import EpcisRefusedError
from ledger.errors import ValidationError

if TYPE_CHECKING:
    from ledger import gs1
    from ledger.audit.replay import AuditReport
    from ledger.crypto import Ed25519PrivateKey
    from ledger.entry import SignedEvent

#: Loads the private key that signs a request to a server (ledger.reqsig).
KeyLoader = Callable[[], "Ed25519PrivateKey"]
#: Called with (entries done, total) while an audit runs.
Progress = Callable[[int, int], None]


class ImportRefusedError(EpcisRefusedError):
    """The capture was refused; the message lists each refused event's code."""


def refusal_summary(problem: dict[str, Any]) -> str:
    """``N of M EPCIS events refused ...: event 0: code (field): detail; event 1: ...``.

    Raises:
        ValidationError: the problem names no refused event (its detail is the message).
    """
    parts = []
    for item in problem.get("events", []):
        where = f"event {item.get('event')}" + (f" epc {item['epc']}" if "epc" in item else "")
        field = f" ({item['field']})" if item.get("field") else ""
        parts.append(f"{where}: {item.get('code')}{field}: {item.get('detail')}")
    if not parts:
        raise ValidationError(str(problem.get("detail", "refused")))
    return f"{problem.get('detail', 'refused')}: " + "; ".join(parts)


class Backend(Protocol):
    """Every operation a command needs from a log, wherever the log is."""

    def append(self, events: Sequence[SignedEvent]) -> dict[str, Any]:
        """Append atomically per batch of 1,000; the receipts JSON of all the batches."""
        ...

    def unit(self, gtin: str, serial: str, signature: str | None = None) -> dict[str, Any]:
        """The unit view JSON (``signature``: the label's brand signature, if scanned)."""
        ...

    def head(self, unit: gs1.UnitId) -> str:
        """The unit's head (base64url event hash of its latest entry), for ``prev``.

        Raises:
            NotFoundError: the unit is not in the log.
        """
        ...

    def verifier_key(self) -> str:
        """The log's C2SP verifier key."""
        ...

    def origin(self) -> str:
        """The log's checkpoint origin: events are signed for it (format 2), so the log
        refuses what was signed for any other."""
        ...

    def actor(self, actor_id: str) -> dict[str, Any]:
        """The actor JSON (role, prefixes, keys)."""
        ...

    def entry(self, index: int) -> dict[str, Any]:
        """``GET /v1/entries/{index}``'s JSON: the entry with its inclusion proof to the
        latest checkpoint, that checkpoint and its size.

        Raises:
            NotFoundError: no entry at ``index``.
        """
        ...

    def audit(self, trusted: list[str], progress: Progress | None) -> AuditReport:
        """Replay and check the whole log against its verifier key and ``trusted`` notes."""
        ...

    def export_epcis_unit(self, unit: gs1.UnitId, epc_base: str) -> dict[str, Any]:
        """The EPCIS 2.0 document of one unit's chain.

        Raises:
            UsageError: this backend cannot honour ``epc_base``.
        """
        ...

    def export_epcis_range(self, start: int, end: int | None, epc_base: str) -> dict[str, Any]:
        """The EPCIS 2.0 document of entries ``start <= index < end`` (default: all)."""
        ...

    def capture_epcis(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """Append a signed EPCIS capture envelope, all or none; the receipts JSON.

        Raises:
            ImportRefusedError: some event was refused (the message names each).
        """
        ...

    def claim(self, gtin: str, serial: str, code: str) -> dict[str, Any]:
        """Claim a unit with its claim code or a transfer code; the claim JSON."""
        ...

    def alerts(self, brand: str, signer: KeyLoader) -> dict[str, Any]:
        """The brand's triage queue: clone signals, reports, response times."""
        ...

    def upload_product_image(
        self, brand: str, gtin: str, data: bytes, signer: KeyLoader
    ) -> dict[str, Any]:
        """Store a picture of ``brand``'s product ``gtin`` re-encoded; its ``hash``,
        ``media``, ``width``, ``height``, ``bytes`` and the stored bytes (``data``,
        base64url), which the brand checks before signing the hash."""
        ...

    def report_unit(self, brand: str, report_id: int, signer: KeyLoader) -> str | None:
        """``GTIN/SERIAL`` of the unit report ``report_id`` names, None if not found."""
        ...

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
        """Answer a report as ``actor`` (ack, close, or flag with the signed ``flag``)."""
        ...

    def custody(self, units: Sequence[gs1.UnitId]) -> list[dict[str, Any]]:
        """Where each unit in the log stands (``POST /v1/partners/custody``'s units:
        gtin, serial, lot, head, head_index, custodian, pending, containers, container),
        1,000 per request;
        units not in the log are left out."""
        ...

    def contents(self, sscc: str) -> list[dict[str, Any]]:
        """Where every unit whose outermost container is ``sscc`` stands (as `custody`
        answers, with ``containers`` and ``container``); empty: nothing is in it."""
        ...

    def actors(self, role: str | None) -> list[dict[str, Any]]:
        """The registered actors (of ``role``): id, role, name, revoked."""
        ...

    def inbox(self, actor: str, signer: KeyLoader) -> list[dict[str, Any]]:
        """What is on its way to ``actor`` (a signed request on a server)."""
        ...

    def holdings(self, actor: str, signer: KeyLoader) -> list[dict[str, Any]]:
        """What ``actor`` holds (a signed request on a server)."""
        ...

    def authorization(
        self, brand: str, partner: str, gtin: str | None, at: str | None
    ) -> dict[str, Any]:
        """``GET /v1/brands/{brand}/authorizations``'s answer: whether ``brand``
        authorizes ``partner`` (for ``gtin``) at ``at`` (default now), with its proofs."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def remote_url(server: str, log: str | None) -> str:
    """The base URL of ``log`` on ``server`` (``/logs/{log}``; the default log: as is)."""
    base = server.rstrip("/")
    return f"{base}/logs/{quote(log, safe='')}" if log else base
