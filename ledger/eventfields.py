"""The fields of the ledger's events: each field's validator, and the vocabularies and
bounds they hold values to (ledger.events builds the event kinds from them).

A validator takes the value as parsed from JSON and the field's name, and returns the
value in its typed form or raises a `ValidationError` naming the field: strict, as
docs/FORMAT.md says (no extra or missing keys, no wrong types, no values out of range).
Times are RFC 3339 UTC (`parse_time`, `format_time`). No I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger import gs1, sscc
from ledger.codec import b64url_decode
from ledger.errors import EncodingError, ValidationError
from ledger.frozen import filled
from ledger.vocab import PARTNER_ROLES as _PARTNERS
from ledger.vocab import InspectResult, KeyScope, Role, values

# The vocabularies as the validators' tuples of plain strings (ledger.vocab defines them).
ACTOR_ROLES = values(Role)
PARTNER_ROLES = tuple(role.value for role in _PARTNERS)
INSPECT_RESULTS = values(InspectResult)
KEY_SCOPES = values(KeyScope)
#: bounds of a log's recovery wait (genesis ``recovery_wait``, seconds): a day to a year
MIN_RECOVERY_WAIT = 86_400
MAX_RECOVERY_WAIT = 366 * 86_400
MAX_TEXT = 200
MAX_LIST = 64

_ACTOR_ID = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3}|\.\d{6})?Z")
_CODE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_CLAIM_CODE = re.compile(r"[0-9A-Z-]{16,64}")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def parse_time(text: object, field: str = "time") -> datetime:
    """Parse an RFC 3339 UTC timestamp ``YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z``.

    Raises:
        ValidationError: not a string of that exact form, or not a real date and time.
    """
    if type(text) is str:
        # The rules read an entry's times and the record windows several times per entry
        # (about 7 parses an entry in an audit); a text that passed is looked up, not
        # matched and parsed again, and datetimes are immutable, so shared.
        known = _TIMES.get(text)
        if known is not None:
            return known
    if not isinstance(text, str) or not _TIME.fullmatch(text):
        raise ValidationError("expected RFC 3339 UTC time like 2026-01-31T12:00:00Z", field=field)
    try:
        moment = datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    except ValueError as e:
        raise ValidationError(f"not a valid date/time: {e}", field=field) from e
    if len(_TIMES) >= _TIMES_KEPT:
        _TIMES.clear()  # bounded: a long log's old times are not read again
    _TIMES[str(text)] = moment
    return moment


#: timestamps `parse_time` accepted, by their exact str text (bounded)
_TIMES: dict[str, datetime] = {}
_TIMES_KEPT = 4096


def format_time(moment: datetime) -> str:
    """Format an aware datetime as the canonical ledger timestamp (UTC, millisecond).

    Raises:
        ValidationError: ``moment`` has no time zone.
    """
    if moment.tzinfo is None:
        raise ValidationError("datetime must be timezone-aware", field="time")
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    # isoformat's first 23 characters are YYYY-MM-DDTHH:MM:SS.mmm (microseconds cut, as
    # before): half strftime's time, and every scan and view formats a few of these
    return utc.isoformat(timespec="milliseconds")[:23] + "Z"


# --- field validators: (value, field path) -> stored value --------------------------

Check = Callable[[object, str], Any]


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TEXT:
        raise ValidationError(f"expected a string of 1 to {MAX_TEXT} characters", field=field)
    if _CONTROL.search(value):
        raise ValidationError("control characters are not allowed", field=field)
    return value


def _actor_id(value: object, field: str) -> str:
    if not isinstance(value, str) or not _ACTOR_ID.fullmatch(value):
        raise ValidationError(
            "expected an actor id: 1-64 of a-z 0-9 . _ -, starting and ending alphanumeric",
            field=field,
        )
    return value


def check_actor_id(value: object, field: str = "actor") -> str:
    """Return ``value`` if it is a well-formed actor id.

    Raises:
        ValidationError: it is not (field ``field``).
    """
    return _actor_id(value, field)


def _code(value: object, field: str) -> str:
    if not isinstance(value, str) or len(value) > 64 or not _CODE.fullmatch(value):
        raise ValidationError("expected a kebab-case code like 'water-damage'", field=field)
    return value


def _one_of(options: tuple[str, ...]) -> Callable[[object, str], str]:
    def check(value: object, field: str) -> str:
        if value not in options:
            raise ValidationError(f"expected one of {', '.join(options)}", field=field)
        return str(value)

    return check


def _time(value: object, field: str) -> str:
    parse_time(value, field)
    return str(value)


def _b64(size: int) -> Callable[[object, str], str]:
    def check(value: object, field: str) -> str:
        try:
            b64url_decode(value, field=field, size=size)  # type: ignore[arg-type]
        except EncodingError as e:
            raise ValidationError(e.message, field=field) from e
        return str(value)

    return check


_hash = _b64(32)
_public_key = _b64(32)
_key_id = _b64(16)
#: an owner token (ledger.service.claims): 16 random bytes, revealed only by ``consume``
_owner_token = _b64(16)


def _gtin(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ValidationError("expected a GTIN-14 string", field=field)
    if len(value) != 14:
        raise ValidationError("expected a GTIN-14 (14 digits; pad shorter GTINs)", field=field)
    gs1.validate_gtin(value, field=field)
    return value


def _prefix(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.isdigit() or not 4 <= len(value) <= 12:
        raise ValidationError("expected a GS1 company prefix of 4 to 12 digits", field=field)
    return value


def _unit(value: object, field: str) -> gs1.UnitId:
    if type(value) is dict and len(value) == 2:
        # a unit is named by several events (an audit parses each): one accepted before
        # is looked up, not validated twice again (here and in UnitId); UnitId is frozen.
        # Only str pairs are looked up: a stranger's list or dict is unhashable
        gtin, serial = value.get("gtin"), value.get("serial")
        if type(gtin) is str and type(serial) is str:
            known = _UNITS.get((gtin, serial))
            if known is not None:
                return known
    if not isinstance(value, Mapping) or set(value) != {"gtin", "serial"}:
        raise ValidationError('expected {"gtin": ..., "serial": ...}', field=field)
    gtin = _gtin(value["gtin"], f"{field}.gtin")
    serial = value["serial"]
    gs1.validate_serial(serial, field=f"{field}.serial")
    if type(serial) is not str:  # (a str subclass: UnitId's own checks, a plain copy)
        return gs1.UnitId(gtin=gtin, serial=str(serial))
    # both checked here as UnitId checks them (`_gtin` takes only a GTIN-14, which its
    # normalization keeps as it is): made without its __init__ checking them again
    # (~1.2 of the ~3 us a unit not met before costs; every commission names one)
    unit = filled(gs1.UnitId, gtin=gtin, serial=serial)
    if len(_UNITS) >= _UNITS_KEPT:  # str keys only, so no lookalike type hits
        _UNITS.clear()
    _UNITS[(gtin, serial)] = unit
    return unit


#: units `_unit` accepted, by their exact (gtin, serial) str values (bounded)
_UNITS: dict[tuple[object, object], gs1.UnitId] = {}
_UNITS_KEPT = 65536


def _sscc(value: object, field: str) -> str:
    return sscc.validate_sscc(value, field)


def _lot(value: object, field: str) -> str:
    gs1.validate_lot(value, field=field)
    return str(value)


def _expiry(value: object, field: str) -> str:
    gs1.validate_expiry(value, field=field)
    return str(value)


def _claim_code(value: object, field: str) -> str:
    if not isinstance(value, str) or not _CLAIM_CODE.fullmatch(value):
        raise ValidationError("expected a claim code of 16 to 64 of 0-9 A-Z and -", field=field)
    return value


#: the event formats and rule sets a log can name (ledger.entry formats; docs/ARCHITECTURE.md
#: section 4 for the rule sets); the latest of each is what new logs start with
LOG_VERSIONS = (1, 2)
LATEST_VERSION = 2


def _version(value: object, field: str) -> int:
    if isinstance(value, bool) or value not in LOG_VERSIONS:
        raise ValidationError(
            f"expected a version: one of {', '.join(map(str, LOG_VERSIONS))}", field=field
        )
    return int(value)


def _seconds(value: object, field: str) -> int:
    # bool is an int in Python; JSON true is not a number of seconds
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("expected a whole number of seconds", field=field)
    if not MIN_RECOVERY_WAIT <= value <= MAX_RECOVERY_WAIT:
        raise ValidationError(
            f"expected {MIN_RECOVERY_WAIT} to {MAX_RECOVERY_WAIT} seconds", field=field
        )
    return value


def _list_of(
    item: Callable[[object, str], str], min_len: int = 0
) -> Callable[[object, str], tuple[str, ...]]:
    def check(value: object, field: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not min_len <= len(value) <= MAX_LIST:
            raise ValidationError(f"expected a list of {min_len} to {MAX_LIST} items", field=field)
        out = tuple(item(v, f"{field}[{i}]") for i, v in enumerate(value))
        if len(set(out)) != len(out):
            raise ValidationError("list items must be unique", field=field)
        return out

    return check


@dataclass(frozen=True)
class ClaimCommitment:
    """A salted hash of a unit's claim code, committed at commission (FORMAT section 2)."""

    salt: str
    hash: str

    def to_dict(self) -> dict[str, str]:
        """Return ``{"salt": ..., "hash": ...}``."""
        return {"salt": self.salt, "hash": self.hash}


def _claim_commitment(value: object, field: str) -> ClaimCommitment:
    if not isinstance(value, Mapping) or set(value) != {"salt", "hash"}:
        raise ValidationError('expected {"salt": ..., "hash": ...}', field=field)
    salt = _b64(16)(value["salt"], f"{field}.salt")
    return ClaimCommitment(salt=salt, hash=_hash(value["hash"], f"{field}.hash"))


def _null(value: object, field: str) -> None:
    if value is not None:
        raise ValidationError("must be null: a commission starts the unit chain", field=field)
