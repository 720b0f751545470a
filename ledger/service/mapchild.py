"""The map's child process (ledger.service.mapworker): its loop, run as
``python -P -c "...; from ledger.service.mapchild import serve; serve()"``.

It reads the database's URL and log number (its first message), says it is ready, then
answers each request (the stored root row, the predicted heads) with the new root and
the changed buckets' rows, or with the failure's text: the parent then updates the map
itself. It keeps the map's top buckets between requests (`MapCache`: used only while
their root is the stored root the request carries) and reads the committed buckets
below them through its own connection.
"""

from __future__ import annotations

import sys
from functools import partial

from sqlalchemy import create_engine

from ledger.map.trie import new_head
from ledger.service.headmap import MapCache
from ledger.service.mapworker import CODE_ID, Answer, receive, send
from ledger.store.mapnodes import read_buckets


def serve() -> None:
    """The child's loop (see the module doc): updates a cached map per request, reading
    the committed buckets below its cached top through its own connection."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    first = receive(stdin)
    if first is None:
        return
    url, log = first[0]
    engine = create_engine(url, pool_size=1)  # reads only: no pragma, no migration
    cache = MapCache()
    send(stdout, (0, CODE_ID, None, "ready"))
    try:
        while (received := receive(stdin)) is not None:
            (number, root_row, flat), digest = received
            answer: Answer
            try:
                with engine.connect() as conn:
                    bucket_map = cache.open(partial(read_buckets, conn, log), root_row)
                    root = bucket_map.update({k: new_head(i, h) for k, i, h in flat})
                    rows = bucket_map.rows()
                    bucket_map.forget_deep()
                answer = (number, digest, root, rows)
            except Exception as e:  # told to the parent, which updates the map itself
                cache.drop()
                answer = (number, digest, None, f"{type(e).__name__}: {e}"[:500])
            send(stdout, answer)
    finally:
        engine.dispose()
