"""The brands' console keys (docs/CONSOLE.md), and the events they sign.

A brand delegates a key to its console: the server makes the key, seals it (AES-256-GCM
under a key derived from the operator's registry key, so a copy of the database alone
does not open it) and the brand's own key registers it in the log by a ``key.rotate``
with ``scope`` `CONSOLE_SCOPE` (``flag``, ``recall``). The rules (ledger.rules.context)
refuse anything else it signs: it can never commission a unit, register a product or
rotate a key. The brand revokes it any time with a ``key.rotate`` that removes it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from ledger import crypto
from ledger.entry import SignedEvent, sign_event
from ledger.errors import NotFoundError, ValidationError
from ledger.events import event_from_dict, format_time
from ledger.service.ledger import Ledger
from ledger.store import ConsoleStore

#: what a console key may sign (ledger.vocab.KeyScope)
CONSOLE_SCOPE = ("flag", "recall")
#: added to `CONSOLE_SCOPE` when the brand lets its console end partners' authorizations
#: (``revoke``: ``authorization.revoke`` alone, never ``authorize``)
REVOKE_SCOPE = "revoke"
_SEAL_AAD = b"provenance-ledger console key v1\n"


class ConsoleKeys:
    """The console keys of ``ledger``'s brands, kept sealed in ``store``; ``kind_of``
    tells a registered brand (ledger.service.console.ConsoleService.kind_of)."""

    def __init__(
        self,
        ledger: Ledger,
        store: ConsoleStore,
        kind_of: Callable[[str], str | None],
        clock: Callable[[], datetime],
    ) -> None:
        self._ledger = ledger
        self._store = store
        self._kind_of = kind_of
        self._clock = clock
        operator_key = ledger.config.operator_key
        self._seal_key = (
            crypto.signer_secret(operator_key, "console-keys") if operator_key else None
        )

    def delegate_key(self, org: str, brand_key: crypto.Signer, *, revoke: bool = False) -> str:
        """Make ``org``'s console key, seal and store it, and append the ``key.rotate``
        that registers it with scope `CONSOLE_SCOPE` (and `REVOKE_SCOPE` when ``revoke``:
        the console may then end partners' authorizations, never grant one), signed by
        ``brand_key`` (a current, unscoped key of the brand); return the new key's id. A
        former console key is replaced here (the brand removes it from the log with its
        own key).

        Raises:
            ValidationError: ``org`` is not a registered brand; the server has no
                operator key to seal with.
            RuleError, SignatureError: the log refuses the rotation (nothing is stored).
        """
        if self._kind_of(org) != "brand":
            raise ValidationError(f"{org!r} is not a registered brand", field="org")
        if self._seal_key is None:
            raise ValidationError("a read-only server cannot hold a console key", field="key")
        private = crypto.generate_private_key()
        public = crypto.public_key_to_b64(private.public_key())
        signed = self.sign(
            brand_key, org, "key.rotate", subject=org, add=[public], remove=[],
            scope=[*CONSOLE_SCOPE, *([REVOKE_SCOPE] if revoke else [])],
        )  # fmt: skip
        self._ledger.append(signed)
        raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        nonce = os.urandom(12)
        sealed = nonce + AESGCM(self._seal_key).encrypt(nonce, raw, _SEAL_AAD + org.encode())
        key_id = crypto.key_id(private.public_key())
        self._store.put_key(
            {
                "org": org,
                "key_id": key_id,
                "sealed": sealed,
                "created_at": format_time(self._clock()),
            }
        )
        return key_id

    def key_scopes(self, org: str) -> list[dict[str, Any]]:
        """``org``'s current keys as the log lists them (the brand monitor's view): key
        id, scope (empty: a full key), and whether it is the console's key."""
        console_key = self.key_id(org)
        view = self._ledger.actor_view(org)
        return [
            {
                "key_id": k.get("key_id"),
                "scope": list(k.get("scope") or ()),
                "console": k.get("key_id") == console_key,
            }
            for k in view.get("keys", [])
            if k.get("removed_index") is None
        ]

    def key_recoveries(self, org: str) -> list[dict[str, Any]]:
        """``org``'s key recoveries still pending at the log's clock, as its public record
        lists them (`Ledger.actor_view`): key id, public key, the ``key.recover``'s index
        and when it takes effect; the brand cancels one with any current full key."""
        return [dict(r) for r in self._ledger.actor_view(org).get("recoveries", [])]

    def key_id(self, org: str) -> str | None:
        """The id of ``org``'s console key, or None."""
        row = self._store.key(org)
        return str(row["key_id"]) if row else None

    def signer(self, org: str) -> crypto.Ed25519PrivateKey:
        """``org``'s console key, unsealed.

        Raises:
            NotFoundError: ``org`` has delegated no console key (or the server holds no
                operator key to unseal it with).
        """
        row = self._store.key(org)
        if row is None or self._seal_key is None:
            raise NotFoundError(
                f"{org} has delegated no console key: run `provenance console key "
                f"delegate {org} --as {org}`",
                field="key",
            )
        sealed = bytes(row["sealed"])
        raw = AESGCM(self._seal_key).decrypt(sealed[:12], sealed[12:], _SEAL_AAD + org.encode())
        return crypto.Ed25519PrivateKey.from_private_bytes(raw)

    def console_sign(self, org: str, kind: str, **fields: Any) -> SignedEvent:
        """An event of ``kind`` by ``org`` signed with ``org``'s console key (only what
        the key's scope allows will be accepted by the log).

        Raises:
            NotFoundError: ``org`` has delegated no console key.
        """
        return self.sign(self.signer(org), org, kind, **fields)

    def sign(self, key: crypto.Signer, actor: str, kind: str, **fields: Any) -> SignedEvent:
        """An event of ``kind`` by ``actor`` at the clock's time with ``fields`` (those
        that are None left out, but ``prev``), signed with ``key`` for the ledger's log."""
        data = {"kind": kind, "actor": actor, "time": format_time(self._clock()), **fields}
        event = event_from_dict({k: v for k, v in data.items() if v is not None or k == "prev"})
        return sign_event(event, key, log=self._ledger.origin)
