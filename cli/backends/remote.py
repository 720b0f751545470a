"""The `Backend` of a provenance server, over HTTP (docs/API.md).

Reads are the API's JSON as served; the verify and audit commands re-check what
matters on this machine. Requests that need an actor's authority (a brand's alerts,
answering a report) are signed with its key (ledger.reqsig); writes carry events
already signed here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cli.backends.base import ImportRefusedError, KeyLoader, Progress, refusal_summary
from cli.backends.http import Http, RemoteError, Response
from cli.common import UsageError
from ledger import codec
from ledger.epcis.vocab import DEFAULT_EPC_BASE
from ledger.errors import NotFoundError

if TYPE_CHECKING:  # events, notes and signing load in the methods that use them (start-up)
    from ledger import gs1
    from ledger.audit.replay import AuditReport
    from ledger.entry import SignedEvent

__all__ = ["Remote", "RemoteError"]

_PAGE = 1000


class Remote:
    """A provenance server over HTTP: one log's base URL (``/logs/{log}`` included)."""

    def __init__(self, url: str) -> None:
        self.http = Http(url)
        self.url = self.http.url
        self._origin: str | None = None

    def append(self, events: Sequence[SignedEvent]) -> dict[str, Any]:
        """POST the events in batches of 1,000."""
        out: dict[str, Any] = {"receipts": [], "size": 0, "checkpoint": ""}
        for start in range(0, len(events), _PAGE):
            body = {"events": [e.to_dict() for e in events[start : start + _PAGE]]}
            part = self.http.json(self.http.request("POST", "/v1/entries:batch", json=body))
            out = {**part, "receipts": out["receipts"] + part["receipts"]}
        return out

    def unit(self, gtin: str, serial: str, signature: str | None = None) -> dict[str, Any]:
        """GET the unit view."""
        params = {"s": signature} if signature else {}
        return dict(self.http.json(self.http.get(f"/v1/units/{gtin}/{serial}", **params)))

    def head(self, unit: gs1.UnitId) -> str:
        """The latest entry of the served unit view.

        Raises:
            NotFoundError: the unit is not in the log.
        """
        from ledger.entry import Leaf

        view = self.unit(unit.gtin, unit.serial)
        if not view["entries"]:
            raise NotFoundError(f"unit {unit.gtin}/{unit.serial} is not in the log", field="unit")
        leaf = codec.b64url_decode(view["entries"][-1]["leaf"], field="leaf")
        return codec.b64url_encode(Leaf.from_bytes(leaf, self.origin()).signed.hash)

    def verifier_key(self) -> str:
        """GET /v1/log/key (pin it with PROVENANCE_LOG_KEY to not trust the server for it)."""
        return self.http.text("/v1/log/key").strip()

    def origin(self) -> str:
        """The log's origin: the name of the pinned log key (``PROVENANCE_LOG_KEY``) when
        there is one, so a server cannot have this client sign for another log; else the
        first line of the checkpoint the server serves.

        Raises:
            ValidationError: the served origin is not a valid origin.
        """
        from ledger import note
        from ledger.entry import check_origin

        if self._origin is None:
            pinned = os.environ.get("PROVENANCE_LOG_KEY", "").strip()
            if pinned:
                self._origin = note.Verifier.from_text(pinned).name
            else:
                self._origin = self.http.text("/v1/checkpoint").split("\n", 1)[0]
        return check_origin(self._origin)

    def actor(self, actor_id: str) -> dict[str, Any]:
        """GET the actor."""
        return dict(self.http.json(self.http.get(f"/v1/actors/{actor_id}")))

    def entry(self, index: int) -> dict[str, Any]:
        """GET one entry with its inclusion proof and the checkpoint."""
        return dict(self.http.json(self.http.get(f"/v1/entries/{index}")))

    def audit(self, trusted: list[str], progress: Progress | None) -> AuditReport:
        """Fetch every entry with proofs and replay it (cli.backends.remote_source), against
        ``PROVENANCE_LOG_KEY`` when it is set, else the key the server serves."""
        from cli.backends.remote_source import RemoteSource
        from ledger.audit.replay import audit_source

        source = RemoteSource(self.http)
        key = os.environ.get("PROVENANCE_LOG_KEY", "").strip() or self.verifier_key()
        return audit_source(source, key, trusted=trusted, progress=progress)

    def export_epcis_unit(self, unit: gs1.UnitId, epc_base: str) -> dict[str, Any]:
        """The resolver's ``application/ld+json`` answer (docs/EPCIS.md).

        Raises:
            UsageError: ``epc_base`` is not the default (the server chose its own).
        """
        if epc_base != DEFAULT_EPC_BASE:
            raise UsageError("--epc-base with --server works for ranges only")
        response = self.http.request("GET", unit.path(), headers={"Accept": "application/ld+json"})
        return dict(self.http.json(response))

    def export_epcis_range(self, start: int, end: int | None, epc_base: str) -> dict[str, Any]:
        """Entries from ``/v1/entries``, all proven to one checkpoint, exported here."""
        from ledger.entry import Leaf
        from ledger.epcis.export import export_document
        from ledger.events import format_time

        first = self.http.json(self.http.get("/v1/entries", start=0, end=1))
        size, checkpoint = int(first["size"]), str(first["checkpoint"])
        stop = size if end is None else min(end, size)
        entries = []
        for page in range(start, stop, _PAGE):
            params = {"start": page, "end": min(stop, page + _PAGE), "size": size}
            for item in self.http.json(self.http.get("/v1/entries", **params))["entries"]:
                leaf = Leaf.from_bytes(
                    codec.b64url_decode(item["leaf"], field="leaf"), checkpoint.split("\n", 1)[0]
                )
                entries.append((int(item["index"]), codec.b64url_decode(item["leaf_hash"]), leaf))
        created = format_time(datetime.now(UTC))
        return export_document(entries, created, epc_base=epc_base, checkpoint=checkpoint)

    def capture_epcis(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """POST /v1/epcis/capture.

        Raises:
            ImportRefusedError: the server refused events (each one named in the line).
            RemoteError: any other refusal.
        """
        response = self.http.request("POST", "/v1/epcis/capture", json=envelope)
        if response.status_code >= 400 and "events" in _problem(response):
            raise ImportRefusedError(refusal_summary(_problem(response)))
        return dict(self.http.json(response))

    def claim(self, gtin: str, serial: str, code: str) -> dict[str, Any]:
        """POST the claim (no key: the code is the authority)."""
        path = f"/v1/units/{gtin}/{serial}/claim"
        return dict(self.http.json(self._send("POST", path, {"code": code})))

    def alerts(self, brand: str, signer: KeyLoader) -> dict[str, Any]:
        """GET the brand's queue, signed with the actor's key."""
        response = self._send("GET", f"/v1/brands/{brand}/alerts", None, signer)
        return dict(self.http.json(response))

    def upload_product_image(
        self, brand: str, gtin: str, data: bytes, signer: KeyLoader
    ) -> dict[str, Any]:
        """POST the picture as the body, the request signed with the brand's key."""
        from ledger import reqsig

        path = f"/v1/products/{quote(gtin, safe='')}/image"
        auth = reqsig.sign_request(signer(), "POST", path, data, datetime.now(UTC))
        headers = {"Content-Type": "application/octet-stream", "Authorization": auth}
        response = self.http.request("POST", path, content=data, headers=headers)
        return dict(self.http.json(response))

    def report_unit(self, brand: str, report_id: int, signer: KeyLoader) -> str | None:
        """The unit of a report in the brand's queue (the server shows no other)."""
        queue = self.alerts(brand, signer)
        match = next((r for r in queue["reports"] if r["id"] == report_id), None)
        return None if match is None else f"{match['unit']['gtin']}/{match['unit']['serial']}"

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
        """POST the answer, signed with the actor's key."""
        body: dict[str, Any] = {"action": action, **({"note": note} if note else {})}
        if flag is not None:
            body["flag"] = flag.to_dict()
        path = f"/v1/reports/{report_id}/resolve"
        return dict(self.http.json(self._send("POST", path, body, signer)))

    def custody(self, units: Sequence[gs1.UnitId]) -> list[dict[str, Any]]:
        """POST /v1/partners/custody, 1,000 units per request."""
        out: list[dict[str, Any]] = []
        for start in range(0, len(units), _PAGE):
            body = {
                "units": [
                    {"gtin": u.gtin, "serial": u.serial} for u in units[start : start + _PAGE]
                ]
            }
            response = self.http.request("POST", "/v1/partners/custody", json=body)
            out.extend(self.http.json(response)["units"])
        return out

    def contents(self, sscc: str) -> list[dict[str, Any]]:
        """GET /v1/partners/containers/{sscc}."""
        path = f"/v1/partners/containers/{quote(sscc, safe='')}"
        return list(self.http.json(self.http.get(path))["units"])

    def actors(self, role: str | None) -> list[dict[str, Any]]:
        """GET /v1/partners/actors."""
        params = {"role": role} if role else {}
        return list(self.http.json(self.http.get("/v1/partners/actors", **params))["actors"])

    def inbox(self, actor: str, signer: KeyLoader) -> list[dict[str, Any]]:
        """GET the actor's inbox, signed with its key."""
        path = f"/v1/partners/{quote(actor, safe='')}/inbox"
        return list(self.http.json(self._send("GET", path, None, signer))["units"])

    def holdings(self, actor: str, signer: KeyLoader) -> list[dict[str, Any]]:
        """GET the actor's holdings, signed with its key."""
        path = f"/v1/partners/{quote(actor, safe='')}/holdings"
        return list(self.http.json(self._send("GET", path, None, signer))["units"])

    def authorization(
        self, brand: str, partner: str, gtin: str | None, at: str | None
    ) -> dict[str, Any]:
        """GET /v1/brands/{brand}/authorizations."""
        params = {
            "partner": partner,
            **({"gtin": gtin} if gtin else {}),
            **({"at": at} if at else {}),
        }
        path = f"/v1/brands/{quote(brand, safe='')}/authorizations"
        return dict(self.http.json(self.http.get(path, **params)))

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()

    def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        signer: KeyLoader | None = None,
    ) -> Response:
        """A request with a canonical JSON body, signed (ledger.reqsig) when ``signer``."""
        data = b"" if body is None else codec.canonical(body)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if signer is not None:
            from ledger import reqsig

            headers["Authorization"] = reqsig.sign_request(
                signer(), method, path, data, datetime.now(UTC)
            )
        return self.http.request(method, path, content=data or None, headers=headers)


def _problem(response: Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
