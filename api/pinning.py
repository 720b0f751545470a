"""Which database a request's reads go to: a replica far enough along, or the primary.

Reads of GET and HEAD requests may be served by a PostgreSQL streaming replica
(docs/SCALING.md); every other request reads the primary, so a write is never
decided on stale state (a claim's lockout, a report's triage). A client that must see
its own write sends the tree size its write returned, as ``?min_size=N`` or the header
``Provenance-Min-Size: N``; the ledgers handed out for reads wait briefly for a replica
that far along, else read the primary. Each is pinned to one database for the request,
so a request's reads agree with each other.
"""

from __future__ import annotations

from fastapi import Request

from ledger.errors import ValidationError
from ledger.service.ledger import Ledger

MIN_SIZE_HEADER = "Provenance-Min-Size"


def pin(ledger: Ledger, request: Request | None) -> Ledger:
    """The ledger with this request's reads pinned: a request that may write reads the
    primary (never act on stale state); a read may use a replica, up to ``min_size``.

    Raises:
        ValidationError: a malformed ``min_size``.
    """
    if request is None:
        return ledger.reading()
    if request.method not in ("GET", "HEAD"):
        return ledger.reading(primary=True)
    asked = min_size(request)
    # A fixed tree size in the URL (?size=, ?new=, /entries/{index}) exists on the primary:
    # a replica that has not reached it answers no better, so it is skipped (without a
    # wait: an invented size must not cost more than a read of the primary does).
    implied = implied_size(request)
    if implied > asked:
        return ledger.reading(implied, wait=False)
    return ledger.reading(asked)


def implied_size(request: Request) -> int:
    """The tree size the URL itself presumes, 0 if none."""
    found = 0
    index = request.path_params.get("index")
    for value, extra in (
        (request.query_params.get("size"), 0),
        (request.query_params.get("new"), 0),
        (index if isinstance(index, str) else None, 1),  # entry i exists: size i + 1
    ):
        if value and value.isascii() and value.isdigit() and len(value) < 19:
            found = max(found, int(value) + extra)
    return found


def min_size(request: Request) -> int:
    """The tree size the client needs to see (``?min_size=`` or ``Provenance-Min-Size``).

    Raises:
        ValidationError: not a non-negative decimal integer below 2^63.
    """
    return asked_size(request.query_params.get("min_size"), request.headers.get(MIN_SIZE_HEADER))


def asked_size(query: str | None, header: str | None) -> int:
    """`min_size` of the query parameter's decoded value (``query``; empty or None:
    absent) and the header's (``header``), for a caller that parsed the query itself.

    Raises:
        ValidationError: not a non-negative decimal integer below 2^63.
    """
    raw = query or header
    if raw is None:
        return 0
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise ValidationError("min_size is a tree size: a decimal integer", field="min_size")
    return int(raw)
