"""Figure: resolver JSON requests/s with reads on a streaming replica vs on the primary alone.

Starts its own PostgreSQL primary and a hot-standby replica of it on this machine
(tests/integration/pgcluster.py: initdb, pg_basebackup -R, free ports, temp folders, as
the postgres user), seeds a small log on the primary (tests.e2e.server.seed), and serves
the real app (bench.server) twice over the same data: once with every read on the
primary (the baseline, measured before and after; the better one counts), once with
``DATABASE_REPLICA_URLS`` = the replica. ``wrk -t2 -c16`` drives the resolver each time
(16 clients, not 64: with two PostgreSQL servers, uvicorn and wrk on two shared cores,
64 clients push requests past wrk's 2 s timeout and measure the timeout, not the server).

What it shows on one 2-core machine: the replica takes the resolver's reads at about
the same throughput; the replica, the primary, the server and wrk share the same two
cores, so more throughput needs the replica on its own machine (docs/SCALING.md).
Targets: reads on the replica keep at least 0.8 x the primary-alone throughput, and the
server's read transactions on the primary per request (its /metrics
``provenance_db_read_transactions``, less a scrape's own read; the JSON answer writes
nothing) fall to at most 0.1 x. The clusters' commit counts per request are shown too,
less their idle rate (the bench's statistics queries, the server's timers); autovacuum
is settled after the seeding and off while measuring.

    .venv/bin/python -m bench.suite --only replicas [--quick]
"""

from __future__ import annotations

import time

from bench.figures import Figure, Run
from bench.server import metric_total, serve, wrk_run
from tests.e2e.server import seed
from tests.integration.pgcluster import Cluster, clusters, server_binaries
from tests.integration.world import config

RATIO_TARGET = 0.8
#: the server's read transactions on the primary per resolver request (its /metrics:
#: the JSON answer writes nothing) with the replica, over without it
OFFLOAD_TARGET = 0.1
CLIENTS = 16
#: seconds the server sits idle to measure the clusters' background commits
IDLE_SECONDS = 2.0
#: sessions report their statistics at most once a second
STATS_DELAY = 1.5


def _commits(cluster: Cluster) -> int:
    rows = cluster.execute(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    )
    return int(str(rows[0][0]))


def _caught_up(primary: Cluster, replica: Cluster) -> None:
    query = "SELECT coalesce(max(size), 0) FROM logs"
    deadline = time.monotonic() + 60
    while primary.execute(query) != replica.execute(query):
        if time.monotonic() > deadline:
            raise SystemExit("the replica did not catch up with the primary within 60 s")
        time.sleep(0.1)


def _drive(
    url: str, path: str, seconds: float, pair: tuple[Cluster, Cluster]
) -> tuple[dict[str, float], float, float, float]:
    """wrk on ``path``: its result, primary / replica commits per request, and the
    server's own read transactions on the primary per request (its /metrics).

    A commit count is the requests' own: the clusters' commits while the server sits
    idle for `IDLE_SECONDS` (the bench's own statistics queries, autovacuum, the
    server's timers) give a rate per second, and that rate times the loaded window is
    taken off the loaded window's commits (never below 0)."""
    wrk_run(f"{url}{path}", 1, CLIENTS)  # warm-up: connections, caches
    time.sleep(STATS_DELAY)
    began = time.monotonic()
    idle = [_commits(c) for c in pair]
    time.sleep(IDLE_SECONDS)
    before = [_commits(c) for c in pair]
    reads_before = _primary_reads(url)
    middle = time.monotonic()
    result = wrk_run(f"{url}{path}", seconds, CLIENTS)
    reads_after = _primary_reads(url)
    # a scrape reads the log's size on the primary itself: one scrape's worth is
    # in the difference, measured by scraping twice with no load between
    scrape = _primary_reads(url) - reads_after
    time.sleep(STATS_DELAY)
    after = [_commits(c) for c in pair]
    ended = time.monotonic()
    requests = max(result["requests"], 1.0)
    if result["non_2xx"]:
        raise SystemExit(f"replica benchmark: non-2xx answers {result}")
    own = [
        max(0.0, (a - b) - (b - i) / (middle - began) * (ended - middle)) / requests
        for i, b, a in zip(idle, before, after, strict=True)
    ]
    return result, own[0], own[1], max(0.0, reads_after - reads_before - scrape) / requests


def _primary_reads(url: str) -> float:
    """The server's read transactions on the primary so far (its /metrics)."""
    found = metric_total(url, r'provenance_db_read_transactions\{[^}]*role="primary"[^}]*\}')
    if found is None:
        raise SystemExit("the server did not report its read transactions")
    return found


def figures(run: Run) -> list[Figure]:
    """Resolver req/s with reads on the replica, against the primary alone."""
    if server_binaries() is None:
        raise SystemExit("no PostgreSQL server binaries (initdb, pg_basebackup): apt install")
    seconds = run.pick(3, 15)  # quick: 3 x (1 s warm-up, 2 s idle, 3 s, 1.5 s) of wrk
    with clusters() as site:
        primary = site.primary()
        replica = site.replica_of(primary)
        name = "bench-replicas"
        _, units = seed(primary.url(), name)
        # autovacuum's transactions after the seeding are not requests': settle
        # them first, and keep them out of the windows measured
        primary.execute("VACUUM ANALYZE")
        primary.execute("ALTER SYSTEM SET autovacuum = off")
        primary.execute("SELECT pg_reload_conf()")
        _caught_up(primary, replica)
        gtin, serial = units["sold"]
        path = f"/01/{gtin}/21/{serial}"
        pair = (primary, replica)
        with serve(primary.url(), config(name)) as url:
            alone, alone_primary, _, alone_reads = _drive(url, path, seconds, pair)
        extra = {"DATABASE_REPLICA_URLS": replica.url()}
        with serve(primary.url(), config(name), extra_env=extra) as url:
            split, split_primary, split_replica, split_reads = _drive(url, path, seconds, pair)
            replica_up = metric_total(url, r"provenance_replica_up\{[^}]*\}")
        with serve(primary.url(), config(name)) as url:
            again, _, _, _ = _drive(url, path, seconds, pair)
    if replica_up is None:
        raise SystemExit("the server did not report its replica")
    baseline = max(alone, again, key=lambda r: r["rps"])
    print(
        f"  primary alone {alone['rps']:,.0f} / {again['rps']:,.0f} req/s "
        f"({alone_primary:.4f} primary commits, {alone_reads:.4f} server reads on it "
        f"per request); reads on the replica {split['rps']:,.0f} req/s "
        f"({split_primary:.4f} primary, {split_replica:.4f} replica commits, "
        f"{split_reads:.4f} server reads on the primary per request)"
    )
    return [
        Figure.info("baseline/resolver/json/16-clients/primary-alone", baseline["rps"], "req/s"),
        Figure.ratio_at_least(
            "resolver/json/16-clients/reads-on-replica",
            split["rps"],
            "req/s",
            baseline["rps"],
            RATIO_TARGET,
        ),
        Figure.info(
            "resolver/json/16-clients/reads-on-replica/p99",
            split["p99_ms"],
            "ms",
            baseline["p99_ms"],
        ),
        Figure.ratio_at_most(
            "resolver/json/16-clients/reads-on-replica/primary-reads-per-request",
            split_reads,
            "transactions",
            max(alone_reads, 1e-9),
            OFFLOAD_TARGET,
        ),
        Figure.info(
            "resolver/json/16-clients/reads-on-replica/primary-commits-per-request",
            split_primary,
            "commits",
            alone_primary,
        ),
        Figure.info(
            "resolver/json/16-clients/reads-on-replica/replica-commits-per-request",
            split_replica,
            "commits",
        ),
    ]
