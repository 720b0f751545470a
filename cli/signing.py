"""Build, sign and send events from the command line; the key stays on this machine."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cli.backend import Backend, Local, Remote, remote_url
from cli.common import OPTIONS, key_path, load_private_key
from ledger import codec, gs1
from ledger.crypto import Ed25519PrivateKey
from ledger.entry import Leaf, SignedEvent, sign_event
from ledger.errors import NotFoundError
from ledger.events import event_from_dict, format_time


def backend() -> Backend:
    """``--server`` if given, else the local database (``--db``); the ``--log`` chosen."""
    if OPTIONS.server:
        return Remote(remote_url(OPTIONS.server, OPTIONS.log))
    return Local(OPTIONS.database_url, OPTIONS.log)


def sign(actor: str, key: Path | None, kind: str, **fields: Any) -> SignedEvent:
    """Sign a ``kind`` event by ``actor`` with its key file, timed now.

    Raises:
        KeyFormatError: the key file is missing, readable by others, or not Ed25519.
        ValidationError: a field is malformed.
    """
    return sign_with(load_private_key(key_path(key, actor)), actor, kind, **fields)


def sign_with(private: Ed25519PrivateKey, actor: str, kind: str, **fields: Any) -> SignedEvent:
    """Sign a ``kind`` event by ``actor`` with an already loaded key, timed now.

    Fields given as None are left out (``prev`` excepted).

    Raises:
        ValidationError: a field is malformed.
    """
    data = {"kind": kind, "actor": actor, "time": format_time(datetime.now(UTC)), **fields}
    return sign_event(
        event_from_dict({k: v for k, v in data.items() if v is not None or k == "prev"}), private
    )


def head_of(store: Backend, unit: gs1.UnitId) -> str:
    """The unit's current head (event hash of its latest entry), from the backend.

    Raises:
        NotFoundError: the unit is not in the log.
    """
    view = store.unit(unit.gtin, unit.serial)
    if not view["entries"]:
        raise NotFoundError(f"unit {unit.gtin}/{unit.serial} is not in the log", field="unit")
    last = Leaf.from_bytes(codec.b64url_decode(view["entries"][-1]["leaf"], field="leaf"))
    return codec.b64url_encode(last.signed.hash)


def unit_ref(unit: gs1.UnitId) -> dict[str, str]:
    """The event's ``unit`` field."""
    return {"gtin": unit.gtin, "serial": unit.serial}
