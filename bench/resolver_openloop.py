"""An open-loop load generator: requests sent at a fixed rate, latency from the schedule.

`wrk` is closed-loop: a slow answer delays the next request of its connection, so the
server is asked less exactly when it is slow, and the latencies it records leave out
the waiting the schedule would have seen (coordinated omission). Here request ``i`` is
due at ``start + i / rate`` whatever happened before; it goes out on the next free
keep-alive connection, and its latency is measured from when it was due to when its
answer was read whole. A server that falls behind shows it in the tail.

    open_loop("http://127.0.0.1:8000/01/...", rate=800, seconds=5)
"""

from __future__ import annotations

import asyncio
import statistics
from urllib.parse import urlsplit

#: keep-alive connections the schedule is spread over
CONNECTIONS = 64


async def _answer(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 answer whole (Content-Length framed); return its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def _run(url: str, rate: float, seconds: float, accept: str) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: {accept}\r\n"
        "User-Agent: bench-openloop\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    due: asyncio.Queue[float | None] = asyncio.Queue()
    latencies: list[float] = []
    failed = [0]

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while (when := await due.get()) is not None:
                writer.write(request)
                status = await _answer(reader)
                latencies.append(loop.time() - when)
                if status >= 300:
                    failed[0] += 1
        finally:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(CONNECTIONS)]
    total = int(rate * seconds)
    start = loop.time() + 0.05
    for i in range(total):
        when = start + i / rate
        delay = when - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        due.put_nowait(when)
    for _ in workers:
        due.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = loop.time() - start
    ordered = sorted(latencies)
    return {
        "rate": rate,
        "achieved": len(latencies) / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000,
        "max_ms": ordered[-1] * 1000,
        "non_2xx": float(failed[0]),
    }


def open_loop(
    url: str, rate: float, seconds: float, accept: str = "application/json"
) -> dict[str, float]:
    """Send GET ``url`` at ``rate`` requests/s for ``seconds``; return the intended
    rate, the achieved one, p50/p99/max latency from each request's due time (ms) and
    the count of answers that were not 2xx."""
    return asyncio.run(_run(url, rate, seconds, accept))
