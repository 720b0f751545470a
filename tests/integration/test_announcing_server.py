"""`cli.announcing.AnnouncingServer`: "serving on" comes once a request is answered."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import httpx
import uvicorn

from cli.announcing import AnnouncingServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _app(fail: bool) -> Any:
    """An ASGI app whose start takes half a second (as the real one opens its database),
    or fails."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await asyncio.sleep(0.5)
                    kind = "lifespan.startup.failed" if fail else "lifespan.startup.complete"
                    await send({"type": kind, "message": "no database"} if fail else {"type": kind})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def _run(server: AnnouncingServer) -> None:
    try:
        server.run()
    except SystemExit:  # uvicorn's answer to a start that failed
        pass


def _serve(fail: bool) -> tuple[AnnouncingServer, threading.Thread, threading.Event, int]:
    port = _free_port()
    config = uvicorn.Config(
        _app(fail), host="127.0.0.1", port=port, log_level="critical", lifespan="on"
    )
    announced = threading.Event()
    server = AnnouncingServer(config, announced.set)
    thread = threading.Thread(target=_run, args=(server,), daemon=True)
    thread.start()
    return server, thread, announced, port


def test_the_announcement_comes_when_a_request_is_answered() -> None:
    server, thread, announced, port = _serve(fail=False)
    try:
        assert announced.wait(30)
        # at once, no retry: before the change the line came before the app's start
        answer = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert (answer.status_code, answer.text) == (200, "ok")
    finally:
        server.should_exit = True
        thread.join(30)
    assert not thread.is_alive()


def test_a_start_that_fails_announces_nothing() -> None:
    server, thread, announced, port = _serve(fail=True)
    thread.join(30)  # uvicorn gives up (SystemExit in its thread)
    assert not thread.is_alive()
    assert not announced.is_set()
    del server, port
