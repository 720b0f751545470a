"""The benchmark app on N ``SO_REUSEPORT`` workers, started the way ``provenance serve
--workers N`` starts them (`cli.reuseport.run`), so ``resolver/json/2-workers`` measures
the production path.

    python -m bench.serve_workers --port PORT --workers N

An earlier version started one ``uvicorn --fd`` process per socket. uvicorn wraps such a
descriptor as an ``AF_UNIX`` socket, so asyncio did not set ``TCP_NODELAY`` on the
connections it accepted: Nagle's algorithm and the client's delayed ACKs then held each
keep-alive response for up to 40 ms, and one worker answered 1,440 req/s where the same
app on a plain uvicorn socket answered 3,070 (docs/PERFORMANCE.md, "Two workers, the
bench's sockets"). `cli.reuseport` hands uvicorn the socket objects themselves.
"""

from __future__ import annotations

import argparse
import sys

from api.httpproto import PROTOCOL_PATH
from cli import reuseport


def main() -> None:
    """Serve ``bench.resolver_app:app`` on 127.0.0.1 until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    sys.exit(
        reuseport.run(
            "bench.resolver_app:app",
            args.workers,
            host="127.0.0.1",
            port=args.port,
            log_level="warning",
            access_log=False,
            http=PROTOCOL_PATH,
            proxy_headers=False,  # as `provenance serve` runs them
        )
    )


if __name__ == "__main__":
    main()
