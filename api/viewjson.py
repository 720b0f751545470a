"""A unit view as JSON bytes, its unchanging part encoded once (and deflated once).

A view's ``entries``, ``checkpoint``, ``map_proof`` and ``versions`` are the same objects
for every view of a unit at one log size (ledger.service.unitview.UnitBase): most of its
bytes, and most of the encoding's cost. `render` keeps their encoding, keyed by those
very objects (identity, never equality, so no other view's can be served), at most
`MAX_BYTES` of them, and encodes only the rest per request (verdict, reasons, unit,
scans, owner, witnesses). The bytes are what ``JSONResponse`` would send, up to the
order of the top-level keys.

`render_gzip` answers a client that accepts gzip: a kept part of `GZIP_ABOVE` bytes or
more is deflated once (api.gzipparts, on a thread of its own), kept beside its encoding
and counted in the same `MAX_BYTES`; the per-request rest follows it uncompressed.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from api import gzipparts

#: the view's parts that are fixed per (unit, log size)
STATIC = ("entries", "checkpoint", "map_proof", "versions")
#: the view's per-request parts that are kept objects when the view comes from memory
#: (a label's finished view's ``unit``, the judged and worded ``reasons``, the
#: ``witnesses`` summary): their encodings kept by identity too (`piece`)
KEPT_PARTS = frozenset({"reasons", "unit", "witnesses"})
#: encodings (and their deflated forms) kept at most (bytes)
MAX_BYTES = 16 * 1024 * 1024
#: the kept part's size from which a gzip answer is given: below it the answer is a few
#: kB, the gzip answer's own work (and a stored block's overhead) not worth its saving
GZIP_ABOVE = 32 * 1024
#: per-request parts' encodings kept at most (`piece`); cleared whole when full
MAX_PIECES = 4096


class Kept:
    """One view's fixed parts (the objects), their encoding without its braces, and its
    gzip start once deflated (or the deflate under way)."""

    __slots__ = ("deflated", "fragment", "parts", "pending")

    def __init__(self, parts: tuple[Any, ...], fragment: bytes) -> None:
        self.parts = parts
        self.fragment = fragment
        self.deflated: gzipparts.Prefix | None = None
        self.pending: Future[gzipparts.Prefix] | None = None

    def size(self) -> int:
        """The bytes it holds."""
        return len(self.fragment) + (len(self.deflated.data) if self.deflated else 0)


_kept: OrderedDict[int, Kept] = OrderedDict()
_size = [0]
_pieces: dict[int, tuple[object, bytes]] = {}
_keys: dict[str, bytes] = {}
#: one thread deflates, one view at a time: the event loop never does (10 ms for 1.3 MB)
_deflater = ThreadPoolExecutor(max_workers=1, thread_name_prefix="viewjson-deflate")
#: deflates queued or running at most: past them a view is answered plain
MAX_PENDING = 4
_pending: set[Future[gzipparts.Prefix]] = set()
#: `PartsResponse`'s header lists kept at most, by (status, media type, headers)
MAX_TEMPLATES = 64
_templates: dict[tuple[Any, ...], list[tuple[bytes, bytes]]] = {}
#: Starlette's JSONResponse settings (what ``json.dumps`` builds anew on every call)
_encode = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
).encode
_CONSTANTS: dict[object, bytes] = {True: b"true", False: b"false", None: b"null"}


def _dumps(value: Any) -> bytes:
    return _encode(value).encode("utf-8")


def render(view: Mapping[str, Any]) -> bytes:
    """``view`` as JSON (a UTF-8 object), the static parts from the cache when they are
    the objects encoded before."""
    return b"".join(render_parts(view))


def render_parts(view: Mapping[str, Any]) -> tuple[bytes, ...]:
    """`render`'s bytes in pieces, the kept encoding among them as it is kept: sent one
    after another (`PartsResponse`), a large unit's view is never copied into one
    string (1.3 MB for a unit of 1,000 entries)."""
    return _plain(_fixed(view), view)


def _plain(kept: Kept | None, view: Mapping[str, Any]) -> tuple[bytes, ...]:
    if kept is None:
        return (_dumps(dict(view)),)
    rest = b"{" + _members(view)
    # no copy of the kept part: a chain of + copied it (1.3 MB for a unit of 1,000
    # entries) twice, each into a fresh mapping the kernel had to fault in (1.6 ms), a
    # join once (0.13 ms)
    return rest + b",", kept.fragment, b"}"


def gzip_eligible(view: Mapping[str, Any]) -> bool:
    """Whether `render_encoded` would answer ``view`` in gzip, were the deflate done: its
    kept part is `GZIP_ABOVE` bytes or more (encoded and kept now if it was not)."""
    kept = _fixed(view)
    return kept is not None and len(kept.fragment) >= GZIP_ABOVE


async def render_encoded(view: Mapping[str, Any], gzip: bool) -> tuple[tuple[bytes, ...], bool]:
    """``view``'s JSON in pieces, and whether they are gzip: with ``gzip``, one gzip
    member when its kept part is `GZIP_ABOVE` bytes or more and deflated (now, if it
    was not, unless `MAX_PENDING` others wait or the deflate fails): its kept part
    first, then the rest (the same object as `render`'s, its keys in another order);
    else `render_parts`'s pieces. The kept part is looked up once."""
    kept = _fixed(view)
    if gzip and kept is not None and len(kept.fragment) >= GZIP_ABOVE:
        prefix = kept.deflated or await _deflated(kept)
        if prefix is not None:
            members = _members(view)
            tail = b"," + members + b"}" if members else b"}"
            return (prefix.data, gzipparts.gzip_tail(prefix, tail)), True
    return _plain(kept, view), False


async def render_gzip(view: Mapping[str, Any]) -> tuple[bytes, ...] | None:
    """`render_encoded`'s gzip pieces of ``view``, or None when it would send the plain
    ones."""
    parts, packed = await render_encoded(view, True)
    return parts if packed else None


async def _deflated(kept: Kept) -> gzipparts.Prefix | None:
    """``kept``'s gzip start, deflated on `_deflater` once however many requests wait for
    it; counted in `MAX_BYTES` while ``kept`` is still kept. None when `MAX_PENDING`
    other deflates are queued (a crowd asking for many large units in turn waits for
    no queue: it gets plain answers) or the deflate failed."""
    pending = kept.pending
    try:
        if pending is None:
            if len(_pending) >= MAX_PENDING:
                return None
            pending = kept.pending = _deflater.submit(gzipparts.deflate_prefix, b"{", kept.fragment)
            _pending.add(pending)
            pending.add_done_callback(partial(_settled, kept))
        waiter = asyncio.wrap_future(pending)
        waiter.add_done_callback(_retrieved)
        # shielded: a client that goes away does not cancel the others' deflate
        prefix = await asyncio.shield(waiter)
    except Exception:  # e.g. MemoryError, or no thread at shutdown: the plain answer
        return None
    if kept.deflated is None:
        kept.deflated = prefix
        kept.pending = None
        if _kept.get(id(kept.parts[0])) is kept:
            _size[0] += len(prefix.data)
            _trim()
    return prefix


def _settled(kept: Kept, done: Future[gzipparts.Prefix]) -> None:
    """On the deflate's thread, once it ends: no longer queued; a failed deflate is
    forgotten, so that a later request tries again (a success is recorded, and counted,
    by the request that reads it)."""
    _pending.discard(done)
    if kept.pending is done and (done.cancelled() or done.exception() is not None):
        kept.pending = None


def _retrieved(waiter: asyncio.Future[Any]) -> None:
    """Read a waiter's outcome, so that one whose request went away logs no "exception
    was never retrieved" (the request that is still there reads its own)."""
    if not waiter.cancelled():
        waiter.exception()


def _fixed(view: Mapping[str, Any]) -> Kept | None:
    """The kept encoding of ``view``'s static parts (made and kept now if these objects
    have none), or None for a view without entries."""
    parts = tuple(view.get(k) for k in STATIC)
    entries = parts[0]
    if not isinstance(entries, list) or not entries:
        return None
    key = id(entries)
    found = _kept.get(key)
    if found is not None and all(a is b for a, b in zip(found.parts, parts, strict=True)):
        _kept.move_to_end(key)
        return found
    kept = Kept(parts, _dumps({k: view[k] for k in STATIC if k in view})[1:-1])
    if found is not None:
        _size[0] -= found.size()
    _kept[key] = kept
    _size[0] += kept.size()
    _trim()
    return kept


def _trim() -> None:
    """Forget the least recently used encodings until `MAX_BYTES` holds (the newest is
    always kept)."""
    while _size[0] > MAX_BYTES and len(_kept) > 1:
        _, old = _kept.popitem(last=False)
        _size[0] -= old.size()


def _members(view: Mapping[str, Any]) -> bytes:
    """``view``'s per-request members, ``"name":value`` joined by commas (no braces)."""
    return b",".join(_member(k, v) for k, v in view.items() if k not in STATIC)


def _member(name: str, value: Any) -> bytes:
    """``"name":value`` as ``_dumps`` of the object holding it writes it."""
    key = _keys.get(name)
    if key is None:
        key = _keys[name] = _dumps(name) + b":"
    kind = value.__class__
    if kind is bool or value is None:
        return key + _CONSTANTS[value]
    if (kind is list or kind is dict) and name in KEPT_PARTS:
        return key + piece(value)
    return key + _encode(value).encode("utf-8")


def piece(value: list[Any] | dict[str, Any]) -> bytes:
    """``_dumps(value)``, kept with the very object (identity, never equality: a kept
    object is read, not changed, by every view that shares it)."""
    found = _pieces.get(id(value))
    if found is not None and found[0] is value:
        return found[1]
    encoded = _dumps(value)
    if len(_pieces) >= MAX_PIECES:
        _pieces.clear()
    _pieces[id(value)] = (value, encoded)
    return encoded


class PartsResponse(Response):
    """A response whose body is ``parts`` sent one after another as they are (its
    ``Content-Length`` their sum), never joined into one string first; but parts of
    fewer than `JOIN_BELOW` bytes in all are sent as one (copying a few kB costs less
    than each further message's way through every middleware's ``send``)."""

    JOIN_BELOW = 64 * 1024

    def __init__(
        self,
        parts: Sequence[bytes],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.parts = tuple(parts)
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = None
        self.body = b""
        # Starlette's header list for these headers, worked out once: a resolver's are
        # the same on every answer but for the length
        key = (status_code, self.media_type, tuple(headers.items()) if headers else ())
        template = _templates.get(key)
        if template is None:
            self.init_headers(headers)
            template = self.raw_headers
            if len(_templates) >= MAX_TEMPLATES:
                _templates.clear()  # a unit endpoint's ETags fill it: begin again
            _templates[key] = template
        total = sum(len(p) for p in self.parts)
        if total < self.JOIN_BELOW and len(self.parts) > 1:
            self.parts = (b"".join(self.parts),)
        length = str(total).encode("latin-1")
        self.raw_headers = [(k, length if k == b"content-length" else v) for k, v in template]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        last = len(self.parts) - 1
        for i, part in enumerate(self.parts):
            await send({"type": "http.response.body", "body": part, "more_body": i < last})
