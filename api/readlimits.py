"""Rate limits of the public log reads: entries, checkpoints, proofs, actors, the key.

Each read spends tokens of the client's public bucket (the one the resolver and the
unit APIs spend, ``PROVENANCE_RATE`` per second up to ``PROVENANCE_BURST``; the client
is `api.context.client_address`) by what it costs the server: one token a request, a
range of entries (or an entry bundle) one more per 100 entries asked for. Past the budget: 429
``rate-limited`` with ``Retry-After``. Routes take it as a dependency
(``dependencies=[READ_LIMIT]``), which runs on the event loop before a sync handler
takes a thread.
"""

from __future__ import annotations

from fastapi import Depends, Request

from api.context import ctx

#: entries a token pays for in a range read
ENTRIES_PER_TOKEN = 100


def read_cost(request: Request) -> int:
    """The tokens a read costs: 1, and for ``/v1/entries?start=&end=`` one per
    `ENTRIES_PER_TOKEN` entries asked for (at most 1,000 are served); an entry bundle
    (``/v1/tile/entries/...``, up to 256 entries) as a read of its entries."""
    path = request.url.path
    if "/v1/tile/entries/" in path:
        width = path.rpartition(".p/")[2] if ".p/" in path else ""
        asked = int(width) if width.isdigit() and len(width) <= 3 else 256
        return 1 + asked // ENTRIES_PER_TOKEN
    if not path.endswith("/v1/entries"):
        return 1
    start, end = request.query_params.get("start", "0"), request.query_params.get("end")
    if not (start.isdigit() and len(start) < 19):
        return 1  # the route refuses it (422)
    if end is None or not (end.isdigit() and len(end) < 19):
        asked = 100
    else:
        asked = max(0, min(int(end) - int(start), 1000))
    return 1 + asked // ENTRIES_PER_TOKEN


async def limit_read(request: Request) -> None:
    """Spend the read's tokens (`read_cost`, never more than the burst), or raise 429.

    Raises:
        RateLimitedError: the client is over its budget.
    """
    context = ctx(request)
    await context.limit(request, min(read_cost(request), context.settings.burst))


#: the dependency of every public read route
READ_LIMIT = Depends(limit_read)
