"""`api.metrics.RequestTally` shows what prometheus's own Counter and Histogram showed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from api.metrics import LATENCY_BUCKETS, RequestTally

_REQUESTS = st.lists(
    st.tuples(
        st.sampled_from(["/v1/entries", "/01/{gtin}/21/{serial}", "unmatched"]),
        st.sampled_from(["GET", "POST"]),
        st.sampled_from([200, 201, 404, 429, 500]),
        # the bounds themselves too: a bucket counts what is at most its bound
        st.one_of(st.sampled_from(LATENCY_BUCKETS), st.floats(0, 10, allow_nan=False)),
    ),
    max_size=40,
)


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if family.name.startswith("provenance_http_request")
        and not sample.name.endswith("_created")
    }


@settings(max_examples=150, deadline=None)
@given(_REQUESTS)
def test_the_tally_shows_what_prometheus_counters_show(requests: list) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    tally = RequestTally(ours)
    counter = Counter(
        "provenance_http_requests", "HTTP requests", ["route", "method", "status"], registry=theirs
    )
    histogram = Histogram(
        "provenance_http_request_seconds",
        "HTTP request latency",
        ["route"],
        buckets=LATENCY_BUCKETS,
        registry=theirs,
    )
    for route, method, status, seconds in requests:
        tally.record(route, method, status, seconds)
        counter.labels(route, method, str(status)).inc()
        histogram.labels(route).observe(seconds)
    mine, reference = _samples(ours), _samples(theirs)
    assert mine.keys() == reference.keys()
    for key, value in reference.items():
        assert abs(mine[key] - value) <= 1e-9 * max(1.0, abs(value)), key


def test_count_reads_one_route_method_and_status() -> None:
    tally = RequestTally(CollectorRegistry())
    tally.record("/v1/entries", "POST", 201, 0.002)
    tally.record("/v1/entries", "POST", 201, 0.004)
    tally.record("/v1/entries", "POST", 429, 0.001)
    assert tally.count("/v1/entries", "POST", 201) == 2
    assert tally.count("/v1/entries", "POST", 429) == 1
    assert tally.count("/v1/entries", "GET", 201) == 0
