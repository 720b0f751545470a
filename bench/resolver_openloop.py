"""An open-loop load generator: requests sent at a fixed rate, latency from the schedule.

`wrk` is closed-loop: a slow answer delays the next request of its connection, so the
server is asked less exactly when it is slow, and the latencies it records leave out
the waiting the schedule would have seen (coordinated omission). Here request ``i`` is
due at ``start + i / rate`` whatever happened before; it goes out on the next free
keep-alive connection, and its latency is measured from when it was due to when its
answer was read whole. A server that falls behind shows it in the tail.

One thread and one event loop drive every connection (uvloop when installed): the
client's own cost per request is a small fraction of the server's, and no request
waits for a client thread to get the GIL back before it is sent or its answer is
timed (the latency figure's earlier client, 64 threads on ``http.client``, did).

    open_loop("http://127.0.0.1:8000/01/...", rate=800, seconds=5)
    scheduled("http://127.0.0.1:8000", [post(...), ...], rate=600)
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

#: keep-alive connections the schedule is spread over
CONNECTIONS = 64


@dataclass
class Answers:
    """What a `scheduled` run saw: per request, in the order sent, its latency from its
    due time (seconds), status and body; and the run's length from the first due time."""

    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    seconds: float = 0.0


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one HTTP/1.1 answer whole (Content-Length framed); return status and body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return status, (await reader.readexactly(length) if length else b"")


def get(url: str, accept: str = "application/json") -> bytes:
    """The bytes of ``GET url`` with ``Accept: accept`` (keep-alive)."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return (
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: {accept}\r\n"
        "User-Agent: bench-openloop\r\n\r\n"
    ).encode()


def post(url: str, body: bytes, content_type: str = "application/json") -> bytes:
    """The bytes of ``POST url`` carrying ``body`` (keep-alive)."""
    parts = urlsplit(url)
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nUser-Agent: bench-openloop\r\n\r\n"
    )
    return head.encode() + body


async def _run(url: str, requests: Sequence[bytes], rate: float, keep: bool) -> Answers:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    due: asyncio.Queue[int | None] = asyncio.Queue()
    answers = Answers()
    count = len(requests)
    latencies: list[float] = [0.0] * count
    statuses: list[int] = [0] * count
    bodies: list[bytes] = [b""] * count if keep else []
    start = loop.time() + 0.05

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while (i := await due.get()) is not None:
                writer.write(requests[i])
                status, body = await _answer(reader)
                latencies[i] = loop.time() - (start + i / rate)
                statuses[i] = status
                if keep:
                    bodies[i] = body
        finally:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(CONNECTIONS)]
    for i in range(count):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        due.put_nowait(i)
    for _ in workers:
        due.put_nowait(None)
    await asyncio.gather(*workers)
    answers.seconds = loop.time() - start
    answers.latencies, answers.statuses, answers.bodies = latencies, statuses, bodies
    return answers


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def scheduled(url: str, requests: Sequence[bytes], rate: float, keep: bool = False) -> Answers:
    """Send ``requests`` (whole HTTP/1.1 requests, `get` / `post`) to ``url``'s host,
    request ``i`` due at ``start + i / rate``; return every answer's latency from its due
    time and status, and with ``keep`` its body (checked by the caller afterwards, so
    checking costs the load nothing)."""
    loop = _new_loop()
    try:
        return loop.run_until_complete(_run(url, requests, rate, keep))
    finally:
        loop.close()


def open_loop(
    url: str, rate: float, seconds: float, accept: str = "application/json"
) -> dict[str, float]:
    """Send GET ``url`` at ``rate`` requests/s for ``seconds``; return the intended
    rate, the achieved one, p50/p99/max latency from each request's due time (ms) and
    the count of answers that were not 2xx."""
    request = get(url, accept)
    answers = scheduled(url, [request] * int(rate * seconds), rate)
    ordered = sorted(answers.latencies)
    return {
        "rate": rate,
        "achieved": len(ordered) / answers.seconds,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000,
        "max_ms": ordered[-1] * 1000,
        "non_2xx": float(sum(1 for s in answers.statuses if not 200 <= s < 300)),
    }
