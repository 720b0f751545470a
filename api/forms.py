"""Reading the page's forms: whole, well-formed bodies only.

Starlette's multipart parser answers a malformed body with a bare HTTP 400 and takes a
body that simply stops (no closing boundary: a dropped connection, a crafted request)
as complete, so a report could be filed with the first half of its photo. `read_form`
turns both into one problem, 400 ``malformed-form``, before any field is used.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import Request
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive

from ledger.errors import LedgerError

_TAIL = 512  # bytes of the body kept to find its closing boundary (and a short epilogue)


class MalformedFormError(LedgerError):
    """A form body is not well-formed ``multipart/form-data`` or urlencoded data (no or
    a wrong boundary, a part without a name, a body cut before its closing boundary)."""

    code = "malformed-form"
    status = 400


class _Tail:
    """A ``receive`` that remembers the last bytes of the body it passes on."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.tail = b""

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.tail = (self.tail + message.get("body", b""))[-_TAIL:]
        return message


def boundary(request: Request) -> bytes | None:
    """The multipart boundary of the request's ``Content-Type``, or None (not multipart)."""
    kind, _, params = request.headers.get("content-type", "").partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return None
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "boundary":
            return value.strip().strip('"').encode("latin-1", "replace")
    return b""


@contextlib.asynccontextmanager
async def read_form(
    request: Request, *, max_files: int, max_fields: int, max_part_size: int
) -> AsyncIterator[FormData]:
    """The request's form, its uploads closed on the way out.

    Raises:
        MalformedFormError: the body is not a well-formed form, or a multipart body ends
            before its closing boundary.
    """
    closing = boundary(request)
    tail = _Tail(request.receive)
    reader = Request(request.scope, tail.receive) if closing is not None else request
    try:
        form = await reader.form(
            max_files=max_files, max_fields=max_fields, max_part_size=max_part_size
        )
    except HTTPException as e:
        if e.status_code != 400:
            raise
        raise MalformedFormError(f"the form is malformed: {e.detail}", field="body") from None
    try:
        if closing is not None and b"--" + closing + b"--" not in tail.tail:
            raise MalformedFormError(
                "the multipart body ends before its closing boundary", field="body"
            )
        yield form
    finally:
        await form.close()
