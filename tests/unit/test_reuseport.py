"""`cli.reuseport.reuse_port_socket`: the connections a worker accepts on it have Nagle's
algorithm off, on asyncio's loop and on uvloop (uvicorn's ``auto`` loop when installed).

Without it each keep-alive response waited for the client's delayed ACK: one worker of
``provenance serve --workers`` answered 1,440 req/s at 44 ms each where the same app on
one process answered 3,070 (docs/PERFORMANCE.md, "Two workers, the bench's sockets").
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from cli.reuseport import reuse_port_socket

pytestmark = pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="needs SO_REUSEPORT")


def _loops() -> list[Callable[[], asyncio.AbstractEventLoop]]:
    loops: list[Callable[[], asyncio.AbstractEventLoop]] = [asyncio.new_event_loop]
    try:
        import uvloop
    except ImportError:
        return loops
    return [*loops, uvloop.new_event_loop]


async def _accepted_nodelay(listener: socket.socket) -> int:
    """TCP_NODELAY of the server side of one connection accepted on ``listener``."""
    loop = asyncio.get_running_loop()
    seen: asyncio.Future[int] = loop.create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await loop.create_server(Probe, sock=listener)
    try:
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(seen, 10)
        finally:
            writer.close()
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("new_loop", _loops(), ids=lambda f: f.__module__)
def test_accepted_connections_have_nagle_off(
    new_loop: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    listener = reuse_port_socket("127.0.0.1", 0)
    assert listener.proto == socket.IPPROTO_TCP
    loop = new_loop()
    try:
        assert loop.run_until_complete(_accepted_nodelay(listener)) != 0
    finally:
        loop.close()
        listener.close()


def test_a_socket_left_at_proto_0_shows_why() -> None:
    # the check above can fail: a listener made the way uvicorn's supervisor makes its
    # own (proto 0, no option) hands asyncio connections with Nagle on
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(_accepted_nodelay(listener)) == 0
    finally:
        loop.close()
        listener.close()
