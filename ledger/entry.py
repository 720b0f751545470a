"""Signed events, the leaf bytes that enter the log, and the hashes that chain them.

- A *signed event* is ``{"event": {...}, "key": <key id>, "sig": <base64url>}`` (format 1)
  or the same with ``"v": 2`` (format 2). The signed *message* is
  format 1: ``DOMAIN_EVENT || JCS(event)``;
  format 2: ``DOMAIN_EVENT_V2 || origin || "\n" || JCS(event)``, where ``origin`` is the
  checkpoint origin of the log the event is meant for (ledger.crypto). The origin is not
  in the JSON: the log that receives the event supplies its own, so an event signed for
  one log never verifies in another (`SignedEvent.for_log`).
  (The message, the event hash and the formats are ledger.eventhash's; this module
  names them too.)
- The *event hash* is ``SHA-256(message)``: it names an event (the unit chain's ``prev``,
  idempotency, authorization ids) and does not depend on the signature or on when the
  log received it, so a partner can chain several events of one unit before sending any.
- A *leaf* is ``JCS({"event", "key", "received", "sig"})`` for format 1 and
  ``JCS({"event", "key", "received", "sig", "v": 2})`` for format 2: it commits to the
  event, the signer's key id, the signature, the log's receive time and the format, so a
  replay knows which message to rebuild. The Merkle leaf hash is RFC 9162's
  ``SHA-256(0x00 || leaf)``.
- The *running chain* is ``chain_i = SHA-256(chain_{i-1} || leaf_hash_i)`` with
  ``chain_{-1}`` = 32 zero bytes.

Which format a log accepts at which index is the rules' business (ledger.rules, the
genesis ``format`` and the ``log.upgrade`` entry); this module only builds and checks
bytes. Leaf bytes are parsed, never re-encoded: `Leaf.from_bytes` keeps the exact input
and refuses bytes that are not already canonical. No I/O, no clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from ledger import codec, crypto, merkle
from ledger.errors import (
    EncodingError,
    KeyFormatError,
    LedgerError,
    SignatureError,
    ValidationError,
    WrongLogError,
)
from ledger.eventhash import (
    FORMAT_1,
    FORMAT_2,
    FORMATS,
    LATEST_FORMAT,
    check_origin,
    event_hash,
    leaf_event_hash,
    signed_message,
)
from ledger.events import Event, event_from_dict, format_time, parse_time
from ledger.frozen import cached, filled
from ledger.leafparse import split_leaf

ZERO_HASH = bytes(32)
_ENVELOPE_FIELDS = {"event", "key", "sig"}
_LEAF_FIELDS = {"event", "key", "received", "sig"}


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
    """An event with its signer's key id and signature, as a partner submits it.

    ``v`` is its format; ``origin`` the log a format-2 event is read against: set by
    `sign_event` for the log it was signed for, or by `for_log` (or the ``log`` argument
    of the parsers) for the log that reads it. A format-1 event ignores it.
    """

    event: Event
    event_bytes: bytes
    key: str
    sig: bytes
    v: int = FORMAT_1
    origin: str | None = None

    @cached
    def hash(self) -> bytes:
        """The event hash (see module docstring).

        Raises:
            ValidationError: a format-2 event not yet bound to a log (`for_log`).
        """
        return event_hash(self.event_bytes, self.v, self.origin)

    @property
    def message(self) -> bytes:
        """The bytes its signature covers, domain included (`signed_message`)."""
        return signed_message(self.event_bytes, self.v, self.origin)

    def message_and_hash(self) -> tuple[bytes, bytes]:
        """(`message`, `hash`) from one `signed_message` (the hash is its SHA-256,
        `event_hash`), the hash kept as `hash` keeps it: for the audit, which needs
        both for every entry.

        Raises:
            ValidationError: as `hash`.
        """
        message = signed_message(self.event_bytes, self.v, self.origin)
        found = self.__dict__.get("hash")
        if found is None:
            found = self.__dict__["hash"] = hashlib.sha256(message).digest()
        return message, found

    def for_log(self, origin: str) -> SignedEvent:
        """This event read against the log named ``origin``.

        A format-1 event is returned as is (its message names no log). A format-2 event
        not yet bound takes ``origin``; one bound to another log is refused, so an event
        signed for log A is never offered to log B (through JSON, where no origin
        travels, the signature simply fails to verify under B's origin).

        Raises:
            WrongLogError: a format-2 event signed for another log.
            ValidationError: ``origin`` is not a valid origin.
        """
        check_origin(origin)
        if self.v == FORMAT_1 or self.origin == origin:
            return self
        if self.origin is not None:
            raise WrongLogError(
                f"the event was signed for log {self.origin!r}, not {origin!r}", field="v"
            )
        # one bound copy per log: the write quota and the append both bind a request's
        # events, and a signature verified on the copy need not be verified again
        # (`verify_event`); the copy is made from this frozen object's own fields
        bound = self.__dict__.get("_bound")
        if bound is None or bound.origin != origin:
            # (not dataclasses.replace: the same object, in half the time)
            if type(self) is SignedEvent:
                bound = _new_signed(
                    self.event, self.event_bytes, self.key, self.sig, self.v, origin
                )
            else:  # (a subclass: its own __init__)
                bound = type(self)(self.event, self.event_bytes, self.key, self.sig, self.v, origin)
            self.__dict__["_bound"] = bound
        return bound

    @classmethod
    def from_dict(cls, data: object, log: str | None = None) -> SignedEvent:
        """Parse ``{"event", "key", "sig"}`` (and ``"v": 2`` for format 2); checks shape,
        not the signature. ``log``, if given, is the origin a format-2 event is read
        against (`for_log`).

        Raises:
            ValidationError: unknown or missing fields, a malformed event, key id, sig,
                format or origin.
        """
        if not isinstance(data, Mapping):
            raise ValidationError("expected a JSON object", field="signed")
        signed = _parse_envelope(data, _ENVELOPE_FIELDS)
        return signed.for_log(log) if log is not None else signed

    @classmethod
    def from_json(cls, data: object, log: str | None = None) -> SignedEvent:
        """`from_dict` for a value `codec.parse` returned (a request body or a part of
        one): the same checks and the same result, but the event's canonical bytes are
        encoded once from the parsed JSON instead of from the event re-built as a dict
        and checked again. That is exact: the parse refused floats, unsafe integers and
        lone surrogates, the kind's check leaves only its own (ASCII) field names, and
        ``Event.from_dict(d).to_dict() == d`` (ledger.events).

        Raises:
            ValidationError: as `from_dict`.
        """
        if type(data) is not dict and not isinstance(data, Mapping):  # (dict: no ABC check)
            raise ValidationError("expected a JSON object", field="signed")
        signed = _parse_envelope(data, _ENVELOPE_FIELDS, parsed=True)
        return signed.for_log(log) if log is not None else signed

    def to_dict(self) -> dict[str, Any]:
        """Return the submission form ``{"event", "key", "sig"}`` (with ``"v": 2`` for a
        format-2 event; the origin never travels: the receiving log supplies its own)."""
        out: dict[str, Any] = {
            "event": self.event.to_dict(),
            "key": self.key,
            "sig": codec.b64url_encode(self.sig),
        }
        if self.v != FORMAT_1:
            out["v"] = self.v
        return out


def sign_event(event: Event, private_key: crypto.Signer, *, log: str | None) -> SignedEvent:
    """Sign ``event`` with ``private_key`` (any `crypto.Signer`: in memory or in a token)
    for the log whose checkpoint origin is ``log`` and return the signed event.

    With an origin the event is format 2 and verifies only in that log; ``log=None``
    signs format 1 (no log named), which only logs from before format 2, up to their
    ``log.upgrade``, accept. Every signer names the log it writes to.

    Raises:
        ValidationError: ``log`` is not a valid origin.
    """
    event_bytes = codec.canonical(event.to_dict())
    v = FORMAT_1 if log is None else FORMAT_2
    message = signed_message(event_bytes, v, log)
    domain = crypto.DOMAIN_EVENT if v == FORMAT_1 else crypto.DOMAIN_EVENT_V2
    signature = crypto.sign(private_key, domain, message[len(domain) :])
    return SignedEvent(
        event=event,
        event_bytes=event_bytes,
        key=crypto.key_id(private_key.public_key()),
        sig=signature,
        v=v,
        origin=log,
    )


def verify_event(signed: SignedEvent, public_key: crypto.Ed25519PublicKey | bytes) -> None:
    """Check that ``signed`` was signed by ``public_key`` (a key object or its raw bytes).

    Steps: (1) the envelope's key id is this key's id; (2) the Ed25519 signature over
    the event's message (`signed_message`: format 1 names no log, format 2 names the log
    ``signed`` is bound to) verifies.

    A success under raw key bytes is remembered on ``signed`` (this object, whose fields
    cannot change): verifying it again under the same bytes returns at once, so a
    request's events are verified once although the write quota and the append both
    ask. A failure, or another key, is checked in full every time.

    Raises:
        SignatureError: the key id does not match or the signature does not verify.
        ValidationError: a format-2 event not bound to a log.
    """
    raw = public_key if isinstance(public_key, bytes) else None
    if raw is not None and verified_under(signed, raw):
        return  # this very (frozen) event already verified under these key bytes
    _require_named(signed, public_key)  # (1)
    crypto.verify(public_key, *signature_parts(signed), signed.sig)  # (2)
    if raw is not None:
        _remember(signed, raw)


def _require_named(signed: SignedEvent, public_key: crypto.Ed25519PublicKey | bytes) -> None:
    if not names_key(signed, public_key):
        raise SignatureError("signed by a different key than the one named", field="key")


def _remember(signed: SignedEvent, raw: bytes) -> None:
    # Remembered on the object, never by value: its fields (event bytes, format, origin,
    # signature) cannot change, so the outcome cannot either. This is what lets the write
    # quota's check (api.quota) and the append's share one verify.
    signed.__dict__["_verified_by"] = bytes(raw)


def names_key(signed: SignedEvent, public_key: crypto.Ed25519PublicKey | bytes) -> bool:
    """Whether ``signed``'s envelope names ``public_key`` (its key id): `verify_event`'s
    first step."""
    return crypto.key_id(public_key) == signed.key


def signature_parts(signed: SignedEvent) -> tuple[bytes, bytes]:
    """(signing domain, the message after it): what ``signed``'s signature covers, as
    `verify_event` checks it (format 1: `crypto.DOMAIN_EVENT` and the event's canonical
    bytes; format 2: `crypto.DOMAIN_EVENT_V2`, the origin and a newline first)."""
    domain = crypto.DOMAIN_EVENT if signed.v == FORMAT_1 else crypto.DOMAIN_EVENT_V2
    return domain, signed.message[len(domain) :]


def remember_verified(signed: SignedEvent, public_key: bytes) -> None:
    """Remember, as `verify_event` does after a success, that ``signed`` verifies under
    the raw key ``public_key``, for a signature checked elsewhere: by
    `ledger.sigcheck.verifies` (what `verify_event`'s `verify_raw` checks for raw bytes)
    over exactly `signature_parts` and ``signed.sig``, in a verifier child
    (ledger.service.sigpool).
    Only for that. The key id, `verify_event`'s first step, is checked here.

    Raises:
        SignatureError: the envelope names another key (nothing remembered).
    """
    _require_named(signed, public_key)
    _remember(signed, public_key)


def verified_under(signed: SignedEvent, public_key: bytes) -> bool:
    """Whether `verify_event` already succeeded for this very object under the raw key
    bytes ``public_key`` (so verifying it again would return at once, checking
    nothing). False means only "not remembered": verify it."""
    return signed.__dict__.get("_verified_by") == public_key


@dataclass(frozen=True)
class Leaf:
    """One log entry's exact bytes and what they say."""

    data: bytes
    signed: SignedEvent
    received: str

    @cached
    def hash(self) -> bytes:
        """The RFC 9162 leaf hash ``SHA-256(0x00 || data)``."""
        return merkle.leaf_hash(self.data)

    @property
    def received_at(self) -> datetime:
        """The log's receive time as an aware UTC datetime."""
        return parse_time(self.received, "received")

    @classmethod
    def build(cls, signed: SignedEvent, received: datetime) -> Leaf:
        """Make the leaf for ``signed`` received by the log at ``received`` (with
        ``"v": 2`` last for a format-2 event; a format-1 leaf is as it always was)."""
        stamp = _receive_stamp(received)
        # JCS orders the keys event < key < received < sig < v; the event bytes are
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
                codec.b64url_ascii(signed.sig),
                b'"}' if signed.v == FORMAT_1 else b'","v":%d}' % signed.v,
            )
        )
        if cls is not Leaf:  # (a subclass: its own __init__)
            return cls(data=data, signed=signed, received=stamp)
        # not the frozen dataclass's __init__ (one object.__setattr__ a field; one leaf
        # an entry): a leaf holds its fields and nothing else until its cached hash
        return filled(Leaf, data=data, signed=signed, received=stamp)

    @classmethod
    def from_bytes(cls, data: bytes, log: str | None = None) -> Leaf:
        """Parse stored leaf bytes, which must be canonical. ``log`` is the origin of the
        log that holds it: a format-2 leaf's event hash needs it (a reader that only
        looks at the event may leave it out).

        Raises:
            EncodingError: not canonical JSON.
            ValidationError: unknown or missing fields, a malformed event or origin.
        """
        if isinstance(data, bytearray | memoryview):
            data = bytes(data)
        if log is not None:
            check_origin(log)
        parsed = None
        if type(data) is bytes:  # anything else: the general parser refuses it
            try:
                parsed = _parse_leaf_fast(data, log)  # bound to ``log`` as it is built
            except LedgerError:
                pass  # the general parser below names what is wrong
        if parsed is not None:
            if cls is not Leaf:  # (a subclass: its own __init__)
                return cls(data=data, signed=parsed[0], received=parsed[1])
            # not the frozen dataclass's __init__ (one leaf an entry of an audit), as `build`
            return filled(Leaf, data=data, signed=parsed[0], received=parsed[1])
        signed, received = _parse_leaf(data)
        if log is not None:
            signed = signed.for_log(log)
        return cls(data=bytes(data), signed=signed, received=received)


#: `format_time` remembered for the last few receive times: a batch's entries share one
#: (equal aware datetimes are one instant, so one text; a naive one raises, uncached)
_receive_stamp = lru_cache(maxsize=16)(format_time)


def _parse_leaf(data: bytes) -> tuple[SignedEvent, str]:
    """The general leaf parser: parse, re-encode to check canonical form, parse the event
    (and re-encode it for its bytes). Every error a leaf can have is raised from here."""
    value = codec.parse_canonical(data)
    if not isinstance(value, dict):
        raise ValidationError("expected a JSON object", field="leaf")
    signed = _parse_envelope(value, _LEAF_FIELDS)
    received = value["received"]
    parse_time(received, "received")
    return signed, received


def _parse_leaf_fast(data: bytes, origin: str | None = None) -> tuple[SignedEvent, str] | None:
    """The fast path of `Leaf.from_bytes` (ledger.leafparse): None for bytes it leaves to
    `_parse_leaf`; otherwise what `_parse_leaf` would return. A format-2 event is bound
    to ``origin`` (a valid origin, checked by the caller) as it is built: the same
    `SignedEvent` as `SignedEvent.for_log` would give, without the copy (one per entry
    in an audit).

    Raises:
        LedgerError: the event or a value is malformed (the caller falls back too).
    """
    parts = split_leaf(data)
    if parts is None:
        return None
    format_2 = parts.format_2
    # `_new_signed`: not the frozen dataclass's __init__ (six fields, one event an entry)
    signed = _new_signed(
        event_from_dict(parts.event),
        parts.event_bytes,
        parts.key,
        parts.sig,
        FORMAT_2 if format_2 else FORMAT_1,
        origin if format_2 else None,
    )
    return signed, parts.received


def _parse_envelope(
    data: Mapping[str, object], expected: set[str], *, parsed: bool = False
) -> SignedEvent:
    """The signed event in ``data`` (shape checked); ``parsed``: ``data`` is what
    `codec.parse` returned, so its event is encoded as is (`SignedEvent.from_json`)."""
    v = FORMAT_1
    if "v" in data:
        # only format 2 is ever written: format 1 is the absence of "v" (one spelling)
        given = data["v"]
        if type(given) is not int or given != FORMAT_2:
            raise ValidationError("v is 2 (format 2) or absent (format 1)", field="v")
        v = FORMAT_2
    names = data.keys()
    # exactly ``expected`` and "v" when present ("v" is in ``data`` iff format 2 here)
    if len(names) != len(expected) + (v == FORMAT_2) or not names >= expected:
        _check_names(names, expected)  # refused: name the field
    fields = data["event"]
    event = event_from_dict(fields)
    try:
        key = data["key"]
        if type(key) is not str or key not in _KEY_IDS_SEEN:
            codec.b64url_decode(key, field="key", size=crypto.KEY_ID_SIZE)  # type: ignore[arg-type]
            if type(key) is str and len(_KEY_IDS_SEEN) < _KEY_IDS_KEPT:
                _KEY_IDS_SEEN.add(key)
        sig = codec.b64url_decode(data["sig"], field="sig", size=crypto.SIGNATURE_SIZE)  # type: ignore[arg-type]
    except (EncodingError, KeyFormatError) as e:
        raise ValidationError(e.message, field=e.field) from e
    if parsed:
        event_bytes = codec.canonical_parsed(fields)
    else:
        event_bytes = codec.canonical(event.to_dict())
    return _new_signed(event, event_bytes, key if type(key) is str else str(key), sig, v, None)


#: key ids `_parse_envelope` found well formed, by their exact str text: a log has few
#: signing keys, each naming many events, so each spelling is checked once (bounded)
_KEY_IDS_SEEN: set[str] = set()
_KEY_IDS_KEPT = 4096


def _new_signed(
    event: Event, event_bytes: bytes, key: str, sig: bytes, v: int, origin: str | None
) -> SignedEvent:
    """``SignedEvent(event, event_bytes, key, sig, v, origin)`` without the frozen
    dataclass's ``__init__`` (one ``object.__setattr__`` a field; a request makes two
    an event: parsed, then bound to the log). It holds its fields and nothing else
    until its cached ``hash`` and memos are added, so its instance dictionary filled in
    field order is the object ``__init__`` makes."""
    return filled(
        SignedEvent, event=event, event_bytes=event_bytes, key=key, sig=sig, v=v, origin=origin
    )


def _check_names(names: Iterable[str], expected: set[str]) -> None:
    """Refuse an envelope whose field names (besides ``"v"``) are not ``expected``."""
    extra = sorted(set(names) - expected - {"v"})
    if extra:
        raise ValidationError("unknown field", field=extra[0])
    missing = sorted(expected - set(names))
    if missing:
        raise ValidationError("required field is missing", field=missing[0])


# the message and hash helpers live in ledger.eventhash; callers name them from here too
__all__ = [
    "FORMATS",
    "FORMAT_1",
    "FORMAT_2",
    "LATEST_FORMAT",
    "check_origin",
    "event_hash",
    "leaf_event_hash",
    "signed_message",
]
