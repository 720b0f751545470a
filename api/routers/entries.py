"""Writes (single and batch signed events) and reads of entries with their proofs."""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from api.context import Context, ctx
from api.fastroute import install_first
from api.jsonbody import json_body
from api.quota import write_quota
from api.readlimits import READ_LIMIT
from api.schemas import MAX_INT64, NOT_MODIFIED, Entries, Receipt, problems
from api.schemas_events import REF
from api.views import IMMUTABLE, REVALIDATE, cached_json
from ledger import codec
from ledger.entry import SignedEvent
from ledger.errors import EncodingError, NotFoundError, ValidationError
from ledger.service import collector
from ledger.service.groupcharges import Charge
from ledger.service.ledger import BatchReceipt, Ledger

router = APIRouter(tags=["entries"])

#: the signed event, its ``event`` one of the kinds, each closed (api.schemas_events)
_SIGNED_EVENT: dict[str, Any] = {"$ref": REF + "SignedEvent"}
_EXAMPLE = {
    "event": {
        "kind": "handoff",
        "actor": "acme",
        "time": "2026-11-28T12:00:00Z",
        "unit": {"gtin": "09506000134352", "serial": "SN-1"},
        "prev": "IgMLT2OCZhogLC4p8prf-K2NH-FRZNWQ3VeJjIcOurs",
        "to": "ship-co",
    },
    "key": "ajgD1fBZkCocba-8m6Rykg",
    "sig": "A" * 86,
    "v": 2,
}
_WRITE_ERRORS = problems(400, 403, 409, 413, 415, 422, 429, 503)
_READ_RESPONSES = {**NOT_MODIFIED, **problems(404, 422, 429, 503)}
_Size = Annotated[
    int | None,
    Query(ge=1, le=MAX_INT64, description="prove against the checkpoint at this size"),
]


def _receipt(context: Context, receipt: BatchReceipt) -> Response:
    """The receipt response (201 if anything was new), counting what was appended."""
    context.metrics.appended.inc(sum(not r.duplicate for r in receipt.receipts))
    created = any(not r.duplicate for r in receipt.receipts)
    return Response(
        receipt.to_json(),
        status_code=201 if created else 200,
        headers={"Cache-Control": "no-store"},
        media_type="application/json",
    )


async def _grouped(ledger: Ledger, signed: SignedEvent, charge: Charge | None) -> BatchReceipt:
    """`Ledger.append` by group commit without a thread of this request's own: queued
    (`Ledger.submit`), woken on this loop once its group has committed."""
    waker = _waker()
    woken = waker.future()
    pending = ledger.submit(signed, functools.partial(waker.wake, woken), charge)
    await woken
    return pending.answer()


class _Waker:
    """Wakes the requests of one event loop waiting for their groups (`_grouped`): the
    group's writer thread answers each caller in turn (`Pending.finish`), and each
    answer lands here; the first of a run asks the loop to run `_drain` (one
    ``call_soon_threadsafe``: a write to the loop's self-pipe, on which the writer lets
    the GIL go), the others join it. So a group of n callers wakes its loop once or a
    few times, not n times."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # held weakly: `_WAKERS` keeps this waker only as long as its loop lives, which
        # a strong reference from the value to its own key would prevent for ever
        self._loop = weakref.ref(loop)
        self._lock = threading.Lock()
        self._ready: list[asyncio.Future[None]] = []

    def future(self) -> asyncio.Future[None]:
        """A future of this loop for one caller, resolved by `wake` (from any thread)."""
        loop = self._loop()
        if loop is None:  # (only a caller on its running loop asks: never gone)
            raise RuntimeError("the event loop is gone")
        return loop.create_future()

    def wake(self, future: asyncio.Future[None]) -> None:  # in the group's writer thread
        with self._lock:
            self._ready.append(future)
            first = len(self._ready) == 1
        if first:
            try:
                loop = self._loop()
                if loop is None:
                    raise RuntimeError("the event loop is gone")
                loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # the loop is closed: nobody waits for these answers
                with self._lock:
                    self._ready.clear()

    def _drain(self) -> None:  # on the loop
        with self._lock:
            ready, self._ready = self._ready, []
        for future in ready:
            if not future.done():  # (a request cancelled meanwhile)
                future.set_result(None)


#: each running loop's `_Waker` (dropped with its loop)
_WAKERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Waker] = weakref.WeakKeyDictionary()


def _waker() -> _Waker:
    """This running loop's `_Waker`."""
    loop = asyncio.get_running_loop()
    waker = _WAKERS.get(loop)
    if waker is None:
        waker = _WAKERS.setdefault(loop, _Waker(loop))
    return waker


def _signed(value: object, field: str, position: int | None = None) -> SignedEvent:
    """A signed event of a parsed body (``value`` as `codec.parse` returned it), its
    errors' field under ``field`` (``field[position]`` for an item of a list: named
    only when refused)."""
    try:
        return SignedEvent.from_json(value)
    except ValidationError as e:
        where = field if position is None else f"{field}[{position}]"
        e.field = f"{where}.{e.field}" if e.field else where
        raise


def _batch(body: bytes, most: int) -> list[SignedEvent]:
    """The signed events of a batch body ``{"events": [...]}`` of 1 to ``most``.

    The body is parsed without the duplicate-key hook (`codec.parse_counted`), then
    shown to have had no duplicate key by counting (`_colons`); a body that has one,
    or any error, is parsed by `codec.parse` first, so it is refused as it always was
    (a duplicate key before the shape and the events' errors).

    The parsed JSON is dropped when this returns: only the events are kept while the
    batch is appended, so the cyclic collector's passes meanwhile (each walks every
    young object alive) do not walk the body's dicts as well.

    Raises:
        EncodingError: the body is not JSON as `codec.parse` accepts it.
        ValidationError: not that shape, or an event is malformed (field
            ``events[i]...``).
    """
    with collector.paused():
        data, count = codec.parse_counted(body)
        try:
            if (
                not isinstance(data, dict)
                or set(data) != {"events"}
                or not isinstance(data["events"], list)
            ):
                raise ValidationError('expected {"events": [...]}', field="body")
            events = data["events"]
            if not 1 <= len(events) <= most:
                raise ValidationError(f"a batch holds 1 to {most} events", field="events")
            signed = [_signed(item, "events", i) for i, item in enumerate(events)]
        except Exception:
            if count is not None:
                codec.parse(body)  # a duplicate key is the error, as it always was
            raise
        if count is not None and count != _colons(events, signed):
            codec.parse(body)  # raises: a key was duplicated
            raise EncodingError("duplicate key")  # (unreachable: fail closed)
        del data, events  # freed before the collector's next pass: it never walks them
    return signed


def _colons(events: list[dict[str, Any]], signed: list[SignedEvent]) -> int:
    """The ``:`` in the compact JSON of ``{"events": events}`` (the body's value: one
    per object member, and each in its strings; `codec.parse_counted`) when each of
    ``events`` was made into the matching one of ``signed``, counted without walking
    it: the one member ``events``; each event's members (``event``, ``key``, ``sig``
    and ``v``, the only names `SignedEvent.from_json` lets through, none holding a
    ``:``, nor do the key id, the signature, or 2); and the event's own, its canonical
    bytes' ``:`` (one per member, and each in its strings, which JSON writes as they
    are: UTF-8 holds no 0x3a byte but ``:``)."""
    return 1 + sum(
        len(item) + s.event_bytes.count(b":") for item, s in zip(events, signed, strict=True)
    )


@router.post(
    "/v1/entries",
    summary="Append one signed event",
    response_model=Receipt,
    status_code=201,
    responses={200: {"model": Receipt, "description": "already in the log"}, **_WRITE_ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _SIGNED_EVENT, "example": _EXAMPLE}},
        }
    },
)
async def append_one(request: Request) -> Response:
    """Append a signed event; the receipt carries its index and a checkpoint including it.

    The event costs its signer one event of its write quota (api.quota): 429 when spent.
    """
    context = ctx(request)
    body = await json_body(request, context.settings.max_event_bytes)
    signed = _signed(codec.parse(body), "body")
    ledger = context.ledger_to_queue(request, [signed])  # the group writes: no copy
    # the database bucket's take goes with the event's group (ledger.service.groupcommit)
    admission = await write_quota(request).admit(ledger, [signed], grouped=True)
    try:
        receipt = await _grouped(ledger, signed, admission.charge)
    except Exception:
        await admission.refund()  # refused: nothing written, nothing spent
        raise
    await admission.settle(r.event_hash for r in receipt.receipts if r.duplicate)
    return _receipt(context, receipt)


async def _append_fast(request: Request) -> Response:
    """`FAST_ROUTE`'s endpoint: `append_one`, under its typed route's name."""
    request.scope["route"] = _APPEND_ONE  # the metrics count it by its template
    return await append_one(request)


#: ``POST /v1/entries`` straight to `append_one`, without FastAPI's request handling
#: (its dependency solving and endpoint wrapping: ~35 us a request, a single event's
#: most frequent route). The typed route documents it (OpenAPI) and serves
#: ``/logs/{log}/v1/entries``; `append_one` reads its body and does every check itself,
#: and the app's middleware (size limits, bad signatures, metrics, headers) and error
#: handlers (problem+json) stand in front of either. Mounted first (`install_fast_route`)
#: and answered before the router (api.hotroutes).
FAST_ROUTE = Route("/v1/entries", _append_fast, methods=["POST"], include_in_schema=False)
_APPEND_ONE = next(r for r in router.routes if getattr(r, "endpoint", None) is append_one)


#: the request `FAST_ROUTE` answers, which no route mounted before it may answer
ASKED = [("POST", "/v1/entries")]


def install_fast_route(routes: list[Any]) -> None:
    """Put `FAST_ROUTE` first in ``routes`` (`api.fastroute.install_first`): no route
    mounted before the typed ``POST /v1/entries`` may answer it.

    Raises:
        RuntimeError: one does (a programming error).
    """
    install_first(routes, FAST_ROUTE, router, append_one, ASKED, "the entries'")


@router.post(
    "/v1/entries:batch",
    summary="Append signed events atomically",
    response_model=Receipt,
    status_code=201,
    responses={200: {"model": Receipt, "description": "all already in the log"}, **_WRITE_ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["events"],
                        "additionalProperties": False,
                        "properties": {
                            "events": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 1000,
                                "items": _SIGNED_EVENT,
                            }
                        },
                    },
                    "example": {"events": [_EXAMPLE]},
                }
            },
        }
    },
)
async def append_batch(request: Request) -> Response:
    """Append 1 to 1,000 signed events in one transaction: all or none.

    Each signer pays its events of the batch from its write quota, all or none (api.quota).
    """
    context = ctx(request)
    body = await json_body(request, context.settings.max_batch_bytes)
    signed = _batch(body, context.settings.max_batch)
    ledger = context.ledger_for_events(request, signed)
    # each event read against its log here, once (the quota and the append find them
    # bound), and the unbound ones freed: a request's objects are fewer for the collector
    signed = [s.for_log(ledger.origin) for s in signed]
    admission = await write_quota(request).admit(ledger, signed)
    try:
        receipt = await run_in_threadpool(ledger.append_batch, signed)
    except Exception:
        await admission.refund()  # refused: nothing written, nothing spent
        raise
    await admission.settle(r.event_hash for r in receipt.receipts if r.duplicate)
    return _receipt(context, receipt)


def _checkpoint_for(request: Request, size: int | None) -> tuple[int, str, str]:
    """(size, checkpoint note, cache policy): a fixed old size is immutable."""
    ledger = ctx(request).ledger_for(request)
    stored = ledger.stored_checkpoint(size)
    return stored.size, stored.note, IMMUTABLE if size is not None else REVALIDATE


@router.get(
    "/v1/entries/{index}",
    summary="One entry with its inclusion proof",
    dependencies=[READ_LIMIT],
    response_model=Entries,
    responses=_READ_RESPONSES,
)
def get_entry(
    request: Request,
    index: int = Path(ge=0, le=MAX_INT64, examples=[0]),
    size: _Size = None,
) -> Response:
    """The entry at ``index`` and its proof to the latest checkpoint (or the one at ``size``)."""
    ledger = ctx(request).ledger_for(request)
    tree, note, policy = _checkpoint_for(request, size)
    if not 0 <= index < tree:
        raise NotFoundError(f"no entry at index {index} in the tree of size {tree}", field="index")
    views = ledger.entry_views([ledger.entry(index)], tree)
    return cached_json(
        request, {"entries": views, "size": tree, "checkpoint": note}, f"e{index}-{tree}", policy
    )


@router.get(
    "/v1/entries",
    summary="A range of entries with their inclusion proofs",
    dependencies=[READ_LIMIT],
    response_model=Entries,
    responses=_READ_RESPONSES,
)
def get_entries(
    request: Request,
    start: int = Query(0, ge=0, le=MAX_INT64),
    end: int | None = Query(
        None, ge=1, le=MAX_INT64, description="exclusive; at most start + 1000"
    ),
    size: _Size = None,
) -> Response:
    """Entries ``start <= index < end`` (at most 1,000) with proofs to one checkpoint.

    A range at or past the end of the tree is empty; ``size`` says where the tree ends.
    """
    if end is not None and end < start:
        raise ValidationError("end must not be below start", field="end")
    ledger = ctx(request).ledger_for(request)
    tree, note, policy = _checkpoint_for(request, size)
    stop = max(start, min(end if end is not None else start + 100, start + 1000, tree))
    stored = ledger.entries(start, stop) if stop > start else []
    body = {"entries": ledger.entry_views(stored, tree), "size": tree, "checkpoint": note}
    return cached_json(request, body, f"r{start}-{stop}-{tree}", policy)
