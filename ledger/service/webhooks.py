"""The console's webhooks: on each new alert (clone signal) or buyer's report of a
brand, one delivery to each of the brand's webhooks, retried with exponential back-off
by a background worker (docs/CONSOLE.md, "Webhooks").

- A brand's admin adds a webhook from ``/console/settings``: a ``generic`` JSON
  receiver (the server makes its HMAC secret and shows it once) or a WeCom, DingTalk or
  Feishu group robot (the robot's URL, and its signing secret for DingTalk and Feishu).
  The URL and the secret are stored sealed (AES-256-GCM under a key derived from the
  operator's registry key, the organisation as associated data); the page shows the
  URL with its secret parts masked, never the secret again.
- The URL is checked when added and again before each attempt
  (ledger.service.webhook_targets): resolved, every address public unless the
  operator allowed its network, and the request goes to the address checked.
- `WebhookService.tick` (the worker calls it every few seconds): turn the alerts that
  are new since the last look into deliveries (a webhook added now gets only alerts
  raised after it), then attempt the due ones. An attempt that fails is tried again
  after `BACKOFF_BASE` x 2^(tries-1) seconds (capped at `BACKOFF_MAX`), `MAX_TRIES`
  times in all, then marked ``failed``; each is leased for `LEASE` first, so two
  workers never send the same delivery at once.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger import crypto
from ledger.errors import NotFoundError, ValidationError
from ledger.events import format_time
from ledger.service.console import ConsoleService
from ledger.service.console_auth import Staff
from ledger.service.ledger import Ledger
from ledger.service.webhook_send import KINDS, Outcome, post, shape
from ledger.service.webhook_targets import (
    Resolver,
    TargetPolicy,
    TargetRefusedError,
    check,
    system_resolver,
)
from ledger.store import WebhookStore

MAX_TRIES = 8
BACKOFF_BASE = 30
BACKOFF_MAX = 3600
LEASE = timedelta(seconds=60)
MAX_HOOKS = 10
MAX_SECRET = 200
#: deliveries attempted per tick
PER_TICK = 20
_AAD = b"provenance-ledger webhook v1\n"


class WebhookService:
    """The webhooks of the console's ledger."""

    def __init__(
        self,
        ledger: Ledger,
        console: ConsoleService,
        *,
        policy: TargetPolicy | None = None,
        resolver: Resolver = system_resolver,
        clock: Callable[[], datetime] | None = None,
        wall: Callable[[], float] = time.time,
        public_url: str = "",
    ) -> None:
        self._ledger = ledger
        self._console = console
        self._store = WebhookStore(ledger.store.engines)
        self.policy = policy if policy is not None else TargetPolicy.from_env()
        self._resolver = resolver
        self._clock = clock or ledger.now
        self._wall = wall
        self._public_url = public_url.rstrip("/")
        key = ledger.config.operator_key
        self._seal_key = crypto.signer_secret(key, "webhook-secrets") if key else None

    # --- the settings page -------------------------------------------------------------

    def add(self, staff: Staff, kind: str, url: str, secret: str | None) -> tuple[int, str | None]:
        """Add a webhook of ``staff``'s brand; return its id and, for a ``generic`` one,
        the secret the server made (shown once, never again).

        Raises:
            ForbiddenError: the role may not change settings.
            ValidationError: an unknown kind, too many webhooks, too long a secret, no
                operator key to seal with.
            TargetRefusedError: a URL that is malformed or points where webhooks may
                not post.
        """
        self._console.require(staff, "settings")
        if kind not in KINDS:
            raise ValidationError(f"the kind must be one of {', '.join(KINDS)}", field="kind")
        if self._seal_key is None:
            raise ValidationError("a read-only server keeps no webhook secrets", field="kind")
        url = url.strip()
        check(url, self.policy, self._resolver)
        if len(self._store.hooks(staff.org)) >= MAX_HOOKS:
            raise ValidationError(f"at most {MAX_HOOKS} webhooks per brand", field="url")
        secret = (secret or "").strip() or None
        if secret is not None and (len(secret) > MAX_SECRET or not secret.isprintable()):
            raise ValidationError(
                f"a secret is at most {MAX_SECRET} printable characters", field="secret"
            )
        shown = None
        if kind == "generic":
            secret = shown = "whsec_" + secrets.token_urlsafe(32)
        elif kind == "wecom":
            secret = None  # the robot's key is in its URL
        now = format_time(self._clock())
        row = {
            "org": staff.org,
            "kind": kind,
            "display": masked(url),
            "sealed": self._seal(staff.org, {"url": url, "secret": secret}),
            "created_at": now,
            "created_by": staff.username,
        }
        current = [a["id"] for a in self._console.brand_alerts(staff.org)]
        hook_id = self._store.add_hook(row, current, now)
        self._console.staff.audit(staff.org, staff.username, "webhook-add", masked(url), kind)
        return hook_id, shown

    def delete(self, staff: Staff, hook_id: int) -> None:
        """Delete one of ``staff``'s brand's webhooks (its pending deliveries dropped).

        Raises:
            ForbiddenError: the role may not change settings.
            NotFoundError: no such webhook of the brand.
        """
        self._console.require(staff, "settings")
        if not self._store.delete_hook(staff.org, hook_id, format_time(self._clock())):
            raise NotFoundError(f"no webhook {hook_id}", field="webhook")
        self._console.staff.audit(staff.org, staff.username, "webhook-delete", str(hook_id), None)

    def hooks(self, staff: Staff) -> list[dict[str, Any]]:
        """``staff``'s brand's webhooks: id, kind, masked URL, when and by whom added."""
        self._console.require(staff, "settings")
        return [
            {k: v for k, v in row.items() if k != "sealed"} for row in self._store.hooks(staff.org)
        ]

    def deliveries(self, staff: Staff) -> list[dict[str, Any]]:
        """The latest 50 deliveries of ``staff``'s brand: status, tries, last error."""
        self._console.require(staff, "settings")
        return self._store.deliveries(staff.org)

    # --- the worker --------------------------------------------------------------------

    def tick(self) -> dict[str, int]:
        """Turn new alerts into deliveries, then attempt the due ones; return how many
        were queued, delivered and failed (for good) in this tick. A server without the
        operator's key (a read-only one) neither stores nor sends anything."""
        if self._seal_key is None:
            return {"queued": 0, "delivered": 0, "failed": 0}
        queued = self.discover()
        delivered = failed = 0
        for outcome in self.deliver_due():
            delivered += outcome == "delivered"
            failed += outcome == "failed"
        return {"queued": queued, "delivered": delivered, "failed": failed}

    def discover(self) -> int:
        """Queue one delivery per webhook for each alert of a brand with webhooks that
        no look has seen before; return how many deliveries were queued."""
        by_org: dict[str, list[dict[str, Any]]] = {}
        for hook in self._store.hooks():
            by_org.setdefault(hook["org"], []).append(hook)
        queued = 0
        now = format_time(self._clock())
        for org, hooks in by_org.items():
            seen = self._store.seen(org)
            for alert in self._console.brand_alerts(org):
                if alert["id"] in seen:
                    continue
                rows = [self._delivery(org, hook["id"], alert, now) for hook in hooks]
                if self._store.enqueue(org, alert["id"], now, rows):
                    queued += len(rows)
        return queued

    def _delivery(self, org: str, hook_id: int, alert: dict[str, Any], now: str) -> dict[str, Any]:
        event = "report.created" if alert["source"] == "report" else "alert.created"
        link = (
            f"/console/reports/{alert['report_id']}"
            if alert["report_id"] is not None
            else "/console/alerts"
        )
        message = {
            "event": event,
            "delivery": secrets.token_hex(8),
            "brand": org,
            "alert": alert["id"],
            "source": alert["source"],
            "code": alert["code"],
            "unit": alert["unit"],
            "created_at": alert["created_at"],
            "console": self._public_url + link,
        }
        return {
            "org": org,
            "webhook_id": hook_id,
            "alert": alert["id"],
            "event": event,
            "payload": json.dumps(message, ensure_ascii=False, sort_keys=True),
            "status": "pending",
            "tries": 0,
            "next_at": now,
            "last_error": None,
            "last_status": None,
            "created_at": now,
            "done_at": None,
        }

    def deliver_due(self) -> list[str]:
        """Attempt up to `PER_TICK` due deliveries; return each one's new status."""
        now = self._clock()
        out = []
        for row in self._store.due(format_time(now), PER_TICK):
            if not self._store.claim(row["id"], row["next_at"], format_time(now + LEASE)):
                continue  # another worker took it
            out.append(self._attempt(row))
        return out

    def _attempt(self, row: dict[str, Any]) -> str:
        hook = self._store.hook(row["webhook_id"])
        now = self._clock()
        tries = int(row["tries"]) + 1
        if hook is None:
            dropped = {"status": "dropped", "done_at": format_time(now), "tries": tries - 1,
                      "last_error": "the webhook was deleted"}  # fmt: skip
            self._store.finish(row["id"], dropped)
            return "dropped"
        outcome = self._send(hook, json.loads(row["payload"]))
        values: dict[str, Any] = {
            "tries": tries,
            "last_status": outcome.status,
            "last_error": outcome.error,
        }
        if outcome.ok:
            values.update(status="delivered", done_at=format_time(now), next_at=format_time(now))
        elif tries >= MAX_TRIES:
            values.update(status="failed", done_at=format_time(now), next_at=format_time(now))
        else:
            wait = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (tries - 1))
            values.update(status="pending", next_at=format_time(now + timedelta(seconds=wait)))
        self._store.finish(row["id"], values)
        return str(values["status"])

    def _send(self, hook: dict[str, Any], message: dict[str, Any]) -> Outcome:
        try:
            target_value = self._unseal(hook["org"], bytes(hook["sealed"]))
            url, secret = str(target_value["url"]), target_value.get("secret")
            signed_url, headers, body = shape(hook["kind"], url, secret, message, self._wall())
            target = check(signed_url, self.policy, self._resolver)  # again: DNS may change
        except TargetRefusedError as exc:
            return Outcome(False, None, f"refused: {exc.message}"[:300])
        except (InvalidTag, ValueError) as exc:
            return Outcome(False, None, f"the sealed target cannot be read: {exc}"[:300])
        return post(target, hook["kind"], target.path, headers, body)

    # --- sealing -----------------------------------------------------------------------

    def _seal(self, org: str, value: dict[str, Any]) -> bytes:
        assert self._seal_key is not None  # noqa: S101 - checked by the caller
        nonce = os.urandom(12)
        data = json.dumps(value).encode()
        return nonce + AESGCM(self._seal_key).encrypt(nonce, data, _AAD + org.encode())

    def _unseal(self, org: str, sealed: bytes) -> dict[str, Any]:
        if self._seal_key is None:
            raise ValueError("no operator key to unseal with")
        data = AESGCM(self._seal_key).decrypt(sealed[:12], sealed[12:], _AAD + org.encode())
        value = json.loads(data)
        if not isinstance(value, dict):
            raise ValueError("not a sealed target")
        return value


def masked(url: str) -> str:
    """``url`` as the page shows it: scheme, host, port and path, with the last path
    segment (Feishu's hook token) cut to 4 characters and the query (WeCom's ``key``,
    DingTalk's ``access_token``) replaced by ``?…``."""
    parts = urlsplit(url)
    path = parts.path
    head, _, last = path.rpartition("/")
    if len(last) > 8:
        path = f"{head}/{last[:4]}…"
    return f"{parts.scheme}://{parts.netloc}{path}{'?…' if parts.query else ''}"[:300]
