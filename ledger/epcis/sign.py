"""Build a capture envelope on the partner's machine: convert, chain, sign (docs/EPCIS.md).

The private key never leaves the caller; what comes out is the envelope that
`ledger.epcis.capture.parse_envelope` reads. No I/O: unit heads come from a callback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ledger import codec, crypto, gs1
from ledger.entry import sign_event
from ledger.epcis.capture import (
    FORMAT,
    convert_event,
    epc_units,
    event_id_of,
    event_list,
)
from ledger.epcis.errors import CaptureRefusedError, Refusal
from ledger.errors import LedgerError

_NO_HEAD = codec.b64url_encode(bytes(32))


def sign_document(
    document: Mapping[str, Any],
    actor: str,
    private_key: crypto.Ed25519PrivateKey,
    head_of: Callable[[gs1.UnitId], str],
    log: str | None = None,
) -> dict[str, Any]:
    """Convert and sign ``document`` as ``actor``: the capture envelope to send, each
    event signed for the log whose origin is ``log`` (format 2, ``"v": 2`` beside its
    signature; None: format 1, which only a log before its ``log.upgrade`` takes).

    ``head_of`` answers a unit's current head; events on a unit the document already
    touched chain onto the previous converted event instead.

    Raises:
        ValidationError: ``document`` is not an EPCISDocument.
        CaptureRefusedError: some events cannot be converted (one refusal each).
        LedgerError: whatever ``head_of`` raises (e.g. an unknown unit).
    """
    events = event_list(document)
    heads: dict[gs1.UnitId, str] = {}
    signatures: list[list[dict[str, str | int]]] = []
    refusals: list[Refusal] = []
    for i, epcis in enumerate(events):
        try:
            units = epc_units(epcis)
            # The event's own content first: its reasons are more precise than a missing head.
            convert_event(epcis, actor, [_NO_HEAD] * len(units))
            prevs = [heads[u] if u in heads else head_of(u) for u in units]
            converted = convert_event(epcis, actor, prevs)
        except LedgerError as e:
            refusals.append(Refusal(i, None, e, event_id_of(epcis)))
            signatures.append([])
            continue
        signed = [sign_event(event, private_key, log=log) for event in converted]
        for unit, item in zip(units, signed, strict=True):
            heads[unit] = codec.b64url_encode(item.hash)
        signatures.append(
            [
                {"prev": str(p), "sig": codec.b64url_encode(s.sig)}
                | ({"v": s.v} if s.v != 1 else {})
                for p, s in zip(prevs, signed, strict=True)
            ]
        )
    if refusals:
        raise CaptureRefusedError(refusals, len(events))
    return {
        "format": FORMAT,
        "actor": actor,
        "key": crypto.key_id(private_key.public_key()),
        "document": dict(document),
        "signatures": signatures,
    }
