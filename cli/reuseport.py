"""``provenance serve --workers N``: N uvicorn worker processes, each on a listening
socket of its own bound with ``SO_REUSEPORT`` (Linux, the BSDs), so the kernel spreads
new connections evenly over the workers.

uvicorn's own ``--workers`` shares one listening socket among its workers, and a new
connection goes to whichever process accepts first: with keep-alive connections (a CDN,
a load balancer, a benchmark's 64 clients) one worker often ends up holding most of
them while the other idles (measured: 19/45 and 64/0 of wrk's 64 connections on two
workers; docs/PERFORMANCE.md). Each worker here is uvicorn's own worker process
(health checks, graceful shutdown); this module supervises them as uvicorn's supervisor
does: a worker that dies or hangs (uvicorn's health check) is replaced on the same
socket, SIGINT or SIGTERM stops them all, and a worker that fails to start stops the
server. The supervisor refuses a port another socket already listens on
(`check_port_free`): with ``SO_REUSEPORT`` a second server of the same user would
otherwise share the port silently. Linux lets only sockets of the same effective user
share a port this way, so the server wants a user of its own (docs/OPERATIONS.md).
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from typing import Any

#: how often the supervisor looks at its workers (seconds)
WATCH = 0.5
#: uvicorn's exit code of a worker whose startup failed
STARTUP_FAILURE = 3

log = logging.getLogger("uvicorn.error")


def supported() -> bool:
    """Whether this platform has ``SO_REUSEPORT`` (else uvicorn's ``--workers`` serves)."""
    return hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (``host``, ``port``) with ``SO_REUSEPORT``: the
    workers' sockets share the port. The connections it accepts have Nagle's algorithm
    off (``TCP_NODELAY``), as those of a socket uvicorn binds from a host and port.

    Raises:
        OSError: the address is taken by a socket without ``SO_REUSEPORT``, or not
            this machine's.
    """
    # proto named, not left 0: accepted sockets inherit it, and asyncio turns Nagle's
    # algorithm off (TCP_NODELAY) only on sockets whose proto is IPPROTO_TCP. With 0,
    # every keep-alive response waited for the client's delayed ACK, ~40 ms on Linux
    # (uvicorn's own pre-bound sockets have the same flaw: Kludex/uvicorn#3149); the
    # option is set on the listener too, which Linux copies to what it accepts
    sock = socket.socket(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def check_port_free(host: str, port: int) -> None:
    """Refuse a port another socket already listens on: a plain bind (no
    ``SO_REUSEPORT``) fails then, where a ``SO_REUSEPORT`` one by the same user would
    succeed and silently share the port with whatever holds it (another service of
    this user, an older ``provenance serve``).

    Raises:
        OSError: the address is in use, or not this machine's.
    """
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def _start(config: Any, sock: socket.socket) -> Any:
    """One worker process serving ``sock`` (the supervisor keeps the socket: a worker
    that replaces a dead one serves the same socket, connections queued on it
    included, and nothing new is ever bound)."""
    from uvicorn.supervisors.multiprocess import Process

    process = Process(config, [sock])
    process.start()
    return process


def run(app: str, workers: int, **options: Any) -> int:
    """Serve ``app`` (a factory, as `uvicorn.run` takes it) on ``options``' host and
    port with ``workers`` processes until SIGINT or SIGTERM; return the exit code
    (0, or `STARTUP_FAILURE` when a worker could not start). The port must be free
    (`check_port_free`); the sockets are bound once, here.

    Raises:
        OSError: the address cannot be bound, or another socket listens on it.
    """
    import uvicorn

    config = uvicorn.Config(app, factory=True, workers=workers, **options)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    check_port_free(config.host, config.port)
    sockets: list[socket.socket] = []
    processes: list[Any] = []
    code = 0
    try:
        for _ in range(workers):
            sockets.append(reuse_port_socket(config.host, config.port))
        processes = [_start(config, sock) for sock in sockets]
        log.info("Started %d workers, each on its own SO_REUSEPORT socket", workers)
        while not stop.wait(WATCH):
            for i, process in enumerate(processes):
                # uvicorn's health check: a worker that is alive but does not answer
                # within the timeout is hung, and replaced like a dead one
                if process.is_alive(timeout=config.timeout_worker_healthcheck):
                    continue
                process.kill()
                process.join()
                if process.exitcode == STARTUP_FAILURE:
                    log.error("Worker [%s] failed to start; stopping", process.pid)
                    code = STARTUP_FAILURE
                    stop.set()
                    break
                log.warning(
                    "Worker [%s] exited (%s); starting another", process.pid, process.exitcode
                )
                processes[i] = _start(config, sockets[i])
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.join()
        for sock in sockets:
            sock.close()
    return code
