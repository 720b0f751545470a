"""Build and sign events on the command line; the key stays on this machine.

The crypto and event modules load on the first signature, not when a command module
is imported (``provenance --help`` signs nothing).
"""

from __future__ import annotations

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


def unit_ref(unit: gs1.UnitId) -> dict[str, str]:
    """The event's ``unit`` field."""
    return {"gtin": unit.gtin, "serial": unit.serial}
