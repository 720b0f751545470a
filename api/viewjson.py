"""A unit view as JSON bytes, its unchanging part encoded once.

A view's ``entries``, ``checkpoint``, ``map_proof`` and ``versions`` are the same objects
for every view of a unit at one log size (ledger.service.unitview.UnitBase): most of its
bytes, and most of the encoding's cost. `render` keeps their encoding, keyed by those
very objects (identity, never equality, so no other view's can be served), at most
`MAX_BYTES` of them, and encodes only the rest per request (verdict, reasons, unit,
scans, owner, witnesses). The bytes are what ``JSONResponse`` would send, up to the
order of the top-level keys.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

#: the view's parts that are fixed per (unit, log size)
STATIC = ("entries", "checkpoint", "map_proof", "versions")
#: encodings kept at most (bytes)
MAX_BYTES = 16 * 1024 * 1024

_kept: OrderedDict[int, tuple[tuple[Any, ...], bytes]] = OrderedDict()
_size = [0]


def _dumps(value: Any) -> bytes:
    # Starlette's JSONResponse settings
    return json.dumps(
        value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


def render(view: Mapping[str, Any]) -> bytes:
    """``view`` as JSON (a UTF-8 object), the static parts from the cache when they are
    the objects encoded before."""
    return b"".join(render_parts(view))


def render_parts(view: Mapping[str, Any]) -> tuple[bytes, ...]:
    """`render`'s bytes in pieces, the kept encoding among them as it is kept: sent one
    after another (`PartsResponse`), a large unit's view is never copied into one
    string (1.3 MB for a unit of 1,000 entries)."""
    parts = tuple(view.get(k) for k in STATIC)
    entries = parts[0]
    if not isinstance(entries, list) or not entries:
        return (_dumps(dict(view)),)
    key = id(entries)
    found = _kept.get(key)
    if found is None or any(a is not b for a, b in zip(found[0], parts, strict=True)):
        fragment = _dumps({k: view[k] for k in STATIC if k in view})[1:-1]
        if found is not None:
            _size[0] -= len(found[1])
        _kept[key] = (parts, fragment)
        _size[0] += len(fragment)
        while _size[0] > MAX_BYTES and len(_kept) > 1:
            _, (_, old) = _kept.popitem(last=False)
            _size[0] -= len(old)
    else:
        fragment = found[1]
        _kept.move_to_end(key)
    rest = _dumps({k: v for k, v in view.items() if k not in STATIC})
    # no copy of the kept part: a chain of + copied it (1.3 MB for a unit of 1,000
    # entries) twice, each into a fresh mapping the kernel had to fault in (1.6 ms), a
    # join once (0.13 ms)
    return rest[:-1] + b",", fragment, b"}"


class PartsResponse(Response):
    """A response whose body is ``parts`` sent one after another as they are (its
    ``Content-Length`` their sum), never joined into one string first."""

    def __init__(
        self,
        parts: Sequence[bytes],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.parts = tuple(parts)
        super().__init__(b"", status_code, headers, media_type)
        length = str(sum(len(p) for p in self.parts)).encode("latin-1")
        self.raw_headers = [
            (k, length if k == b"content-length" else v) for k, v in self.raw_headers
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        last = len(self.parts) - 1
        for i, part in enumerate(self.parts):
            await send({"type": "http.response.body", "body": part, "more_body": i < last})
