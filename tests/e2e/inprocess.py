"""Serve an ASGI app in this process, for synchronous httpx clients.

`InProcessApp` runs the app on one asyncio event loop in a background thread (an anyio
blocking portal), the way one uvicorn worker runs it on its loop: the ASGI lifespan
(startup, then shutdown at `stop`) and every request, so the app's background tasks
(the scan flusher) run between requests as they do under uvicorn. `client()` is a plain
``httpx.Client`` whose transport hands each request to ``httpx.ASGITransport`` on that
loop and waits for the answer: no socket, no subprocess, no server start-up.

What it does not prove, and the live server does (tests/e2e/server.py): uvicorn's start-up
and HTTP parsing, the headers a real server adds or rewrites, request bodies streamed in
chunks (chunked transfer encoding is refused here: ``ASGITransport`` takes whole bodies),
the client address of a real connection, concurrency across connections.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any, Self

import anyio
import anyio.from_thread
import httpx
from starlette.types import ASGIApp, Message, Scope

#: The address requests come from unless a client names another (the live server's
#: clients connect from loopback too).
LOOPBACK = "127.0.0.1"

_ports = itertools.count(40000)


@contextlib.asynccontextmanager
async def lifespan(app: ASGIApp) -> AsyncIterator[None]:
    """Drive the app's ASGI lifespan as a server does: ``lifespan.startup`` before the
    first request, ``lifespan.shutdown`` at the end; a failed startup raises."""
    to_app, app_receives = anyio.create_memory_object_stream[Message](2)
    app_sends, from_app = anyio.create_memory_object_stream[Message](2)
    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}

    async def run() -> None:
        await app(scope, app_receives.receive, app_sends.send)

    async def expect(wanted: str) -> None:
        message = await from_app.receive()
        if message["type"] != wanted:
            raise RuntimeError(f"lifespan: {message['type']}: {message.get('message', '')}")

    async with to_app, app_receives, app_sends, from_app, anyio.create_task_group() as tasks:
        tasks.start_soon(run)
        await to_app.send({"type": "lifespan.startup"})
        await expect("lifespan.startup.complete")
        try:
            yield
        finally:
            await to_app.send({"type": "lifespan.shutdown"})
            await expect("lifespan.shutdown.complete")


class _PortalTransport(httpx.BaseTransport):
    """A synchronous transport: each request goes through ``httpx.ASGITransport`` on the
    portal's event loop; the answer comes back whole, its headers as the app sent them."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, asgi: httpx.ASGITransport):
        self.portal = portal
        self.asgi = asgi

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.AsyncByteStream):
            raise TypeError("in-process requests take whole bodies (bytes), not iterators")
        return self.portal.call(self._send, request)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        response = await self.asgi.handle_async_request(request)
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        return httpx.Response(
            response.status_code,
            headers=response.headers.raw,
            stream=httpx.ByteStream(raw),
            extensions=response.extensions,
        )


class InProcessApp:
    """``app`` served on an event loop of its own in this process (see the module doc)."""

    def __init__(self, app: ASGIApp, base_url: str) -> None:
        self.app = app
        self.base_url = base_url
        self._stack: contextlib.ExitStack | None = None
        self._portal: anyio.from_thread.BlockingPortal | None = None

    def start(self) -> Self:
        """Start the loop and run the app's lifespan startup.

        Raises:
            RuntimeError: the app's startup failed.
        """
        with contextlib.ExitStack() as stack:
            portal = stack.enter_context(anyio.from_thread.start_blocking_portal())
            stack.enter_context(portal.wrap_async_context_manager(lifespan(self.app)))
            self._stack, self._portal = stack.pop_all(), portal
        return self

    def stop(self) -> None:
        """Run the app's lifespan shutdown and stop the loop."""
        stack, self._stack, self._portal = self._stack, None, None
        if stack is not None:
            stack.close()

    def client(self, address: str = LOOPBACK, **kwargs: Any) -> httpx.Client:
        """A client whose requests reach the app from ``address`` (the ASGI ``client``),
        keeping its cookies like any ``httpx.Client``; ``kwargs`` go to ``httpx.Client``."""
        if self._portal is None:
            raise RuntimeError("the app is not started")
        asgi = httpx.ASGITransport(app=self.app, client=(address, next(_ports)))
        transport = _PortalTransport(self._portal, asgi)
        return httpx.Client(base_url=self.base_url, transport=transport, **kwargs)
