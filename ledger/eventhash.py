"""What an event's signature covers and the hash that names the event.

- format 1: the message is ``DOMAIN_EVENT || JCS(event)``;
- format 2: ``DOMAIN_EVENT_V2 || origin || "\n" || JCS(event)``, where ``origin`` is the
  checkpoint origin of the log the event is meant for (ledger.crypto), so an event
  signed for one log never verifies in another;
- the *event hash* is ``SHA-256(message)``: it names an event (a unit chain's ``prev``,
  idempotency, authorization ids).

`leaf_event_hash` reads it from a stored leaf's bytes without parsing the event (the
store keeps only a key of it). ledger.entry builds and checks the signed events and
leaves around these. No I/O, no clock.
"""

from __future__ import annotations

import hashlib
import re

from ledger import crypto
from ledger.errors import ValidationError
from ledger.leafparse import leaf_event

_ORIGIN = re.compile(r"[\x21-\x7e]{1,255}")
_ORIGINS_SEEN: set[str] = set()  # origins check_origin accepted (bounded), str values only
#: the event formats: 1 (the message names no log) and 2 (it names the log's origin)
FORMAT_1 = 1
FORMAT_2 = 2
FORMATS = (FORMAT_1, FORMAT_2)
#: the format new signers use and new logs require from genesis
LATEST_FORMAT = FORMAT_2


def check_origin(origin: object, field: str = "log") -> str:
    """Return ``origin`` if it can name a log in a format-2 message: 1 to 255 printable
    ASCII characters without spaces (a checkpoint origin line), so ``origin || "\n"``
    is unambiguous.

    Raises:
        ValidationError: it cannot.
    """
    if type(origin) is str and origin in _ORIGINS_SEEN:  # few logs, named by every entry
        return origin
    if not isinstance(origin, str) or not _ORIGIN.fullmatch(origin):
        raise ValidationError(
            "a log origin is 1 to 255 printable ASCII characters without spaces", field=field
        )
    if type(origin) is str and len(_ORIGINS_SEEN) < 1024:
        _ORIGINS_SEEN.add(origin)
    return origin


def signed_message(event_bytes: bytes, v: int = FORMAT_1, origin: str | None = None) -> bytes:
    """Return the exact bytes an event signature covers, domain included.

    Format 1: ``DOMAIN_EVENT || event_bytes``; format 2: ``DOMAIN_EVENT_V2 || origin ||
    "\n" || event_bytes``.

    Raises:
        ValidationError: an unknown format, or format 2 without a valid origin (a
            format-2 event means nothing until it is read against a log).
    """
    if v == FORMAT_1:
        return crypto.DOMAIN_EVENT + event_bytes
    if v == FORMAT_2:
        if origin is None:
            raise ValidationError("a format-2 event is read against its log's origin", field="v")
        return crypto.DOMAIN_EVENT_V2 + check_origin(origin).encode("ascii") + b"\n" + event_bytes
    raise ValidationError(f"unknown event format {v!r}; expected 1 or 2", field="v")


def event_hash(event_bytes: bytes, v: int = FORMAT_1, origin: str | None = None) -> bytes:
    """Return ``SHA-256(signed_message(event_bytes, v, origin))`` for canonical event bytes.

    Raises:
        ValidationError: as `signed_message`.
    """
    return hashlib.sha256(signed_message(event_bytes, v, origin)).digest()


def leaf_event_hash(leaf: bytes, origin: str) -> bytes | None:
    """The event hash of the event in ``leaf``, the leaf bytes of an entry of the log
    whose origin is ``origin``: `event_hash` of the event's bytes in the leaf's format
    (`ledger.leafparse.leaf_event`), without parsing the event. The store keeps only an
    8-byte key of each event hash (0031_from_leaves); every reader that needs the whole
    hash takes it from here. For a leaf the log accepted this equals
    ``Leaf.from_bytes(leaf, origin).signed.hash`` (a test checks); for bytes without a
    leaf's envelope, or a format-2 leaf read against no log's origin, it is None (the
    audit parses every leaf and reports those). Never raises.
    """
    found = leaf_event(leaf)
    if found is None:
        return None
    event_bytes, format_2 = found
    try:
        return event_hash(event_bytes, FORMAT_2 if format_2 else FORMAT_1, origin)
    except ValidationError:  # not an origin: no entry of a log is read without its log
        return None
