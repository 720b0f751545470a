"""Where commands send and read: the local database (`Local`) or a server (`Remote`).

Both answer in the API's JSON shapes (docs/API.md), so commands do not care which one
they talk to. Private keys never leave the machine: events are signed before either
backend sees them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

import httpx

from ledger.entry import SignedEvent
from ledger.errors import KeyFormatError, LedgerError, NotFoundError
from ledger.service.config import LogSpec
from ledger.service.settings import Settings

if TYPE_CHECKING:  # the store (SQLAlchemy, Alembic) loads only when a command needs it
    from ledger.audit.replay import AuditReport


class RemoteError(LedgerError):
    """The server refused the request; ``code`` is the problem type's code."""

    def __init__(self, status: int, code: str, message: str, field: str | None) -> None:
        super().__init__(message, field=field)
        self.status = status
        self.code = code


class Backend(Protocol):
    """The operations commands need."""

    def append(self, events: list[SignedEvent]) -> dict[str, Any]:
        """Append atomically; the receipt JSON."""

    def unit(self, gtin: str, serial: str, signature: str | None = None) -> dict[str, Any]:
        """The unit view JSON."""

    def verifier_key(self) -> str:
        """The log's C2SP verifier key."""

    def actor(self, actor_id: str) -> dict[str, Any]:
        """The actor JSON."""

    def audit(self, trusted: list[str], progress: Any) -> AuditReport:
        """Replay and check the whole log."""

    def close(self) -> None:
        """Release resources."""


class Local:
    """The ledger in a local database (the operator's machine, or the demo)."""

    def __init__(self, database_url: str, log: str | None = None) -> None:
        import os

        from cli.common import load_private_key
        from ledger.service.ledger import Ledger, LogConfig

        spec = _local_log(database_url, log)
        pinned = os.environ.get("PROVENANCE_LOG_KEY")
        key_file = spec.operator_key_file
        if pinned and (key_file is None or not key_file.exists()):
            # An auditor's machine: no operator key, the log's verifier key pinned.
            config = LogConfig(
                origin=spec.origin,
                operator_key=None,
                name=spec.name,
                verifier_key=pinned.strip(),
                witnesses=Settings.from_env().witnesses,
            )
            self.ledger = Ledger.open(spec.database_url, config)
            return
        # As api.app, without loading FastAPI for a command line.
        if key_file is None or not key_file.exists():
            raise KeyFormatError(
                f"no operator key at {key_file}: run `provenance init`, "
                "set PROVENANCE_OPERATOR_KEY, or pin PROVENANCE_LOG_KEY to only read"
            )
        config = LogConfig(
            origin=spec.origin,
            operator_key=load_private_key(key_file),
            name=spec.name,
            witnesses=Settings.from_env().witnesses,
        )
        self.ledger = Ledger.open(spec.database_url, config)
        self.ledger.init()

    def append(self, events: list[SignedEvent]) -> dict[str, Any]:
        """Append through the service."""
        out: dict[str, Any] = {"receipts": [], "size": 0, "checkpoint": ""}
        for start in range(0, len(events), 1000):
            part = self.ledger.append_batch(events[start : start + 1000]).to_dict()
            out = {**part, "receipts": out["receipts"] + part["receipts"]}
        return out

    def unit(self, gtin: str, serial: str, signature: str | None = None) -> dict[str, Any]:
        """The unit view from the service."""
        return self.ledger.unit_view(gtin, serial, signature)

    def verifier_key(self) -> str:
        """The local log's verifier key."""
        return self.ledger.verifier_key

    def actor(self, actor_id: str) -> dict[str, Any]:
        """The actor from the projections."""
        return self.ledger.actor_view(actor_id)

    def audit(self, trusted: list[str], progress: Any) -> AuditReport:
        """The full audit of the local database."""
        return self.ledger.audit(trusted=trusted, progress=progress)

    def close(self) -> None:
        """Close the database."""
        self.ledger.close()


def _local_log(database_url: str, log: str | None) -> LogSpec:
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
        operator_key_file=settings.operator_key_file,
    )


def remote_url(server: str, log: str | None) -> str:
    """The base URL of ``log`` on ``server`` (``/logs/{log}``; the default log: as is)."""
    base = server.rstrip("/")
    return f"{base}/logs/{quote(log, safe='')}" if log else base


class Remote:
    """A provenance server over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=60)

    def _json(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"code": "http-error", "detail": response.text[:200]}
            raise RemoteError(
                response.status_code,
                str(problem.get("code", "http-error")),
                str(problem.get("detail", "")),
                problem.get("field"),
            )
        return response.json()

    def _get(self, path: str, **params: Any) -> httpx.Response:
        try:
            return self.http.get(path, params=params or None)
        except httpx.HTTPError as e:
            raise RemoteError(503, "unreachable", f"cannot reach {self.url}: {e}", None) from e

    def append(self, events: list[SignedEvent]) -> dict[str, Any]:
        """POST the events in batches of 1,000."""
        out: dict[str, Any] = {"receipts": [], "size": 0, "checkpoint": ""}
        for start in range(0, len(events), 1000):
            body = {"events": [e.to_dict() for e in events[start : start + 1000]]}
            try:
                response = self.http.post("/v1/entries:batch", json=body)
            except httpx.HTTPError as e:
                raise RemoteError(503, "unreachable", f"cannot reach {self.url}: {e}", None) from e
            part = self._json(response)
            out = {**part, "receipts": out["receipts"] + part["receipts"]}
        return out

    def unit(self, gtin: str, serial: str, signature: str | None = None) -> dict[str, Any]:
        """GET the unit view."""
        params = {"s": signature} if signature else {}
        return dict(self._json(self._get(f"/v1/units/{gtin}/{serial}", **params)))

    def verifier_key(self) -> str:
        """GET /v1/log/key (pin it with PROVENANCE_LOG_KEY to not trust the server for it)."""
        response = self._get("/v1/log/key")
        if response.status_code != 200:
            self._json(response)
        return response.text.strip()

    def actor(self, actor_id: str) -> dict[str, Any]:
        """GET the actor."""
        return dict(self._json(self._get(f"/v1/actors/{actor_id}")))

    def audit(self, trusted: list[str], progress: Any) -> AuditReport:
        """Fetch every entry with proofs and replay it (see cli.remote_audit)."""
        from cli.remote_audit import RemoteSource
        from ledger.audit.replay import audit_source

        source = RemoteSource(self)
        return audit_source(source, self.verifier_key(), trusted=trusted, progress=progress)

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()
