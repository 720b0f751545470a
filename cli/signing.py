"""Build and sign events on the command line; the key stays on this machine.

The crypto and event modules load on the first signature, not when a command module
is imported (``provenance --help`` signs nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.common import load_actor_key

if TYPE_CHECKING:
    from ledger import gs1
    from ledger.crypto import Ed25519PrivateKey
    from ledger.entry import SignedEvent


def sign(actor: str, key: Path | None, kind: str, **fields: Any) -> SignedEvent:
    """Sign a ``kind`` event by ``actor`` with its key file, timed now (``log=ORIGIN``
    among ``fields``: for that log, as `sign_with`).

    Raises:
        KeyFormatError: the key file is missing, readable by others, or not Ed25519.
        ValidationError: a field is malformed.
    """
    return sign_with(load_actor_key(key, actor), actor, kind, **fields)


def sign_with(
    private: Ed25519PrivateKey, actor: str, kind: str, *, log: str | None = None, **fields: Any
) -> SignedEvent:
    """Sign a ``kind`` event by ``actor`` with an already loaded key, timed now, for the
    log whose origin is ``log`` (format 2; None: format 1, which only logs before their
    ``log.upgrade`` take).

    Fields given as None are left out (``prev`` excepted).

    Raises:
        ValidationError: a field is malformed.
    """
    from ledger.entry import sign_event
    from ledger.events import event_from_dict, format_time

    data = {"kind": kind, "actor": actor, "time": format_time(datetime.now(UTC)), **fields}
    return sign_event(
        event_from_dict({k: v for k, v in data.items() if v is not None or k == "prev"}),
        private,
        log=log,
    )


def sign_many(
    private: Ed25519PrivateKey,
    actor: str,
    kind: str,
    chains: Sequence[tuple[gs1.UnitId, str | None]],
    *,
    log: str | None,
    **fields: Any,
) -> list[SignedEvent]:
    """One ``kind`` event by ``actor`` per ``(unit, prev)`` of ``chains``, each exactly what
    `sign_with` would sign for it (all timed with one "now").

    Faster for a scan list: the event is validated whole once, on the first unit; the
    others differ from it only in ``unit`` (a `gs1.UnitId`, valid by construction) and
    ``prev`` (checked with the kind's own check), so a field is never signed unchecked.

    Raises:
        ValidationError: a field is malformed (a ``prev`` too, named ``prev``).
    """
    from dataclasses import replace

    from ledger.entry import sign_event
    from ledger.events import event_from_dict, format_time

    if not chains:
        return []
    first_unit, first_prev = chains[0]
    data = {"kind": kind, "actor": actor, "time": format_time(datetime.now(UTC)), **fields}
    data.update(unit=unit_ref(first_unit), prev=first_prev)
    template = event_from_dict({k: v for k, v in data.items() if v is not None or k == "prev"})
    check_prev = type(template).checks["prev"]
    out = [sign_event(template, private, log=log)]
    for unit, prev in chains[1:]:
        checked = None if prev is None else check_prev(prev, "prev")
        out.append(sign_event(replace(template, unit=unit, prev=checked), private, log=log))  # type: ignore[type-var]
    return out


def unit_ref(unit: gs1.UnitId) -> dict[str, str]:
    """The event's ``unit`` field."""
    return {"gtin": unit.gtin, "serial": unit.serial}
