"""Signed events, the leaf bytes that enter the log, and the hashes that chain them.

- A *signed event* is ``{"event": {...}, "key": <key id>, "sig": <base64url>}``; the
  signature is Ed25519 over ``DOMAIN_EVENT || JCS(event)`` (ledger.crypto).
- The *event hash* is ``SHA-256(DOMAIN_EVENT || JCS(event))``: it names an event (the
  unit chain's ``prev``, idempotency, authorization ids) and does not depend on the
  signature or on when the log received it, so a partner can chain several events of
  one unit before sending any of them.
- A *leaf* is ``JCS({"event", "key", "received", "sig"})``: it commits to the event, the
  signer's key id, the signature and the log's receive time. The Merkle leaf hash is
  RFC 9162's ``SHA-256(0x00 || leaf)``.
- The *running chain* is ``chain_i = SHA-256(chain_{i-1} || leaf_hash_i)`` with
  ``chain_{-1}`` = 32 zero bytes.

Leaf bytes are parsed, never re-encoded: `Leaf.from_bytes` keeps the exact input and
refuses bytes that are not already canonical. No I/O, no clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from ledger import codec, crypto, merkle
from ledger.errors import EncodingError, KeyFormatError, SignatureError, ValidationError
from ledger.events import Event, event_from_dict, format_time, parse_time

ZERO_HASH = bytes(32)
_ENVELOPE_FIELDS = {"event", "key", "sig"}
_LEAF_FIELDS = {"event", "key", "received", "sig"}


def event_hash(event_bytes: bytes) -> bytes:
    """Return ``SHA-256(DOMAIN_EVENT || event_bytes)`` for canonical event bytes."""
    return hashlib.sha256(crypto.DOMAIN_EVENT + event_bytes).digest()


def chain_hash(previous: bytes, leaf_hash: bytes) -> bytes:
    """Return the next running chain hash ``SHA-256(previous || leaf_hash)``.

    Use `ZERO_HASH` as ``previous`` for the first entry of a log.

    Raises:
        ValidationError: either input is not 32 bytes.
    """
    if len(previous) != 32 or len(leaf_hash) != 32:
        raise ValidationError("chain and leaf hashes must be 32 bytes", field="chain")
    return hashlib.sha256(previous + leaf_hash).digest()


@dataclass(frozen=True)
class SignedEvent:
    """An event with its signer's key id and signature, as a partner submits it."""

    event: Event
    event_bytes: bytes
    key: str
    sig: bytes

    @cached_property
    def hash(self) -> bytes:
        """The event hash (see module docstring)."""
        return event_hash(self.event_bytes)

    @classmethod
    def from_dict(cls, data: object) -> SignedEvent:
        """Parse ``{"event", "key", "sig"}``; checks shape, not the signature.

        Raises:
            ValidationError: unknown or missing fields, a malformed event, key id or sig.
        """
        if not isinstance(data, Mapping):
            raise ValidationError("expected a JSON object", field="signed")
        return _parse_envelope(data, _ENVELOPE_FIELDS)

    def to_dict(self) -> dict[str, Any]:
        """Return the submission form ``{"event", "key", "sig"}``."""
        return {
            "event": self.event.to_dict(),
            "key": self.key,
            "sig": codec.b64url_encode(self.sig),
        }


def sign_event(event: Event, private_key: crypto.Signer) -> SignedEvent:
    """Sign ``event`` with ``private_key`` (any `crypto.Signer`: in memory or in a token)
    and return the signed event."""
    event_bytes = codec.canonical(event.to_dict())
    signature = crypto.sign(private_key, crypto.DOMAIN_EVENT, event_bytes)
    return SignedEvent(
        event=event,
        event_bytes=event_bytes,
        key=crypto.key_id(private_key.public_key()),
        sig=signature,
    )


def verify_event(signed: SignedEvent, public_key: crypto.Ed25519PublicKey | bytes) -> None:
    """Check that ``signed`` was signed by ``public_key`` (a key object or its raw bytes).

    Steps: (1) the envelope's key id is this key's id; (2) the Ed25519 signature over
    ``DOMAIN_EVENT || JCS(event)`` verifies.

    Raises:
        SignatureError: the key id does not match or the signature does not verify.
    """
    # (1)
    if crypto.key_id(public_key) != signed.key:
        raise SignatureError("signed by a different key than the one named", field="key")
    # (2)
    crypto.verify(public_key, crypto.DOMAIN_EVENT, signed.event_bytes, signed.sig)


@dataclass(frozen=True)
class Leaf:
    """One log entry's exact bytes and what they say."""

    data: bytes
    signed: SignedEvent
    received: str

    @cached_property
    def hash(self) -> bytes:
        """The RFC 9162 leaf hash ``SHA-256(0x00 || data)``."""
        return merkle.leaf_hash(self.data)

    @property
    def received_at(self) -> datetime:
        """The log's receive time as an aware UTC datetime."""
        return parse_time(self.received, "received")

    @classmethod
    def build(cls, signed: SignedEvent, received: datetime) -> Leaf:
        """Make the leaf for ``signed`` received by the log at ``received``."""
        stamp = format_time(received)
        # JCS orders the four keys event < key < received < sig; the event bytes are
        # already canonical and the other values are base64url or a timestamp, which
        # JSON never escapes: splicing gives exactly codec.canonical of the leaf object
        # (a test checks), without re-encoding the event.
        data = b"".join(
            (
                b'{"event":',
                signed.event_bytes,
                b',"key":"',
                signed.key.encode("ascii"),
                b'","received":"',
                stamp.encode("ascii"),
                b'","sig":"',
                codec.b64url_encode(signed.sig).encode("ascii"),
                b'"}',
            )
        )
        return cls(data=data, signed=signed, received=stamp)

    @classmethod
    def from_bytes(cls, data: bytes) -> Leaf:
        """Parse stored leaf bytes, which must be canonical.

        Raises:
            EncodingError: not canonical JSON.
            ValidationError: unknown or missing fields, or a malformed event.
        """
        value = codec.parse_canonical(data)
        if not isinstance(value, dict):
            raise ValidationError("expected a JSON object", field="leaf")
        signed = _parse_envelope(value, _LEAF_FIELDS)
        received = value["received"]
        parse_time(received, "received")
        return cls(data=bytes(data), signed=signed, received=received)


def _parse_envelope(data: Mapping[str, object], expected: set[str]) -> SignedEvent:
    extra = sorted(set(data) - expected)
    if extra:
        raise ValidationError("unknown field", field=extra[0])
    missing = sorted(expected - set(data))
    if missing:
        raise ValidationError("required field is missing", field=missing[0])
    event = event_from_dict(data["event"])
    try:
        key = data["key"]
        codec.b64url_decode(key, field="key", size=crypto.KEY_ID_SIZE)  # type: ignore[arg-type]
        sig = codec.b64url_decode(data["sig"], field="sig", size=crypto.SIGNATURE_SIZE)  # type: ignore[arg-type]
    except (EncodingError, KeyFormatError) as e:
        raise ValidationError(e.message, field=e.field) from e
    return SignedEvent(
        event=event, event_bytes=codec.canonical(event.to_dict()), key=str(key), sig=sig
    )
