"""ledger.signals.compute, ledger.signals.places, ledger.reqsig and the verdict's signal step: pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import crypto, reqsig
from ledger.signals import compute as signals
from ledger.signals.compute import ScanFact, Signal, Thresholds
from ledger.signals.places import CENTROIDS, distance_km
from ledger.signals.reports import ReportFact, corroborated
from ledger.verify.verdict import CAUTION, GENUINE, INVALID, UNKNOWN, Reason, with_signals
from tests.factories import key

T0 = datetime(2026, 11, 28, 12, tzinfo=UTC)


def at(minutes: float, place: str | None, client: str, source: str = "header") -> ScanFact:
    """A scan; its place from the trusted geolocation header unless ``source`` says
    ``hint`` (hints are never travel evidence: tests/unit/test_forged_signal_rules.py)."""
    return ScanFact(T0 + timedelta(minutes=minutes), place, client, source if place else None)


def test_distances_are_symmetric_zero_within_a_country_and_unknown_outside_the_table() -> None:
    assert distance_km("CN-SH", "CN-BJ") == 0
    assert distance_km("US", "CN") == distance_km("CN", "US")
    assert 11_000 < (distance_km("US", "CN") or 0) < 12_500
    assert distance_km("XX", "CN") is None and distance_km(None, "CN") is None


@given(st.sampled_from(sorted(CENTROIDS)), st.sampled_from(sorted(CENTROIDS)))
def test_distance_is_a_metric_on_the_table(a: str, b: str) -> None:
    d = distance_km(a, b)
    assert d is not None and 0 <= d <= 20_016  # half the Earth's circumference
    assert (d == 0) == (a == b)


def test_travel_fires_on_an_impossible_move_and_names_both_scans() -> None:
    found = signals.impossible_travel([at(0, "CN-SH", "a"), at(60, "US", "b")])
    assert found is not None and found.code == "impossible-travel"
    assert found.evidence["from"]["place"] == "CN-SH" and found.evidence["minutes"] == 60


@pytest.mark.parametrize(
    "scans",
    [
        [at(0, "CN-SH", "a"), at(1, "CN-SH", "b")],  # one city
        [at(0, "CN-SH", "a"), at(5, "CN-GD", "b")],  # one country
        [at(0, "DE", "a"), at(30, "NL", "b")],  # neighbours: under the minimum distance
        [at(0, "CN", "a"), at(60 * 24, "US", "b")],  # a day later: a flight
        [at(0, None, "a"), at(1, "US", "b")],  # no place
        [at(0, "ZZ", "a"), at(1, "US", "b")],  # unknown country
    ],
)
def test_travel_control_cases_do_not_fire(scans: list[ScanFact]) -> None:
    assert signals.impossible_travel(scans) is None


def test_post_claim_scans_ignore_the_owner_and_scans_before_the_claim() -> None:
    scans = [at(0, "CN", "shop-visitor"), at(60, "CN", "owner"), at(120, "CN", "owner-o")]
    claimed = T0 + timedelta(minutes=30)
    assert signals.post_claim_scans(scans, claimed, {"owner", "owner-o"}) is None
    found = signals.post_claim_scans([*scans, at(180, "US", "x")], claimed, {"owner"})
    assert found is not None and found.evidence["clients"] == 2
    assert signals.post_claim_scans(scans, None, set()) is None


def test_many_scanners_counts_distinct_clients_within_a_day() -> None:
    t = Thresholds(scanners_per_day=3)
    spread = [at(i * 60 * 13, "CN", f"c{i}") for i in range(8)]  # 13 h apart: at most 2/day
    assert signals.many_scanners(spread, t) is None
    burst = [at(i, "CN", f"c{i}") for i in range(4)]
    same = [at(i, "CN", "c") for i in range(40)]
    assert signals.many_scanners(same, t) is None
    found = signals.many_scanners(burst, t)
    assert found is not None and found.evidence["clients"] == 4


def _most_clients_in_a_day(scans: list[ScanFact]) -> int:
    """The definition, quadratic: the most distinct clients in any window ending at a
    scan, within the scan's UTC day (pseudonyms change with the day)."""
    return max(
        (
            len(
                {
                    s.client
                    for s in scans
                    if end.at - timedelta(days=1) <= s.at <= end.at and s.at.date() == end.at.date()
                }
            )
            for end in scans
        ),
        default=0,
    )


@given(
    st.lists(st.tuples(st.integers(0, 4 * 24 * 60), st.sampled_from("abcdefgh")), max_size=60).map(
        sorted
    ),
    st.integers(1, 6),
)
def test_many_scanners_sliding_window_matches_the_definition(
    raw: list[tuple[int, str]], limit: int
) -> None:
    scans = [at(m, "CN", c) for m, c in raw]
    found = signals.many_scanners(scans, Thresholds(scanners_per_day=limit))
    most = _most_clients_in_a_day(scans)
    if most > limit:
        assert found is not None and found.evidence["clients"] == most
    else:
        assert found is None


def _sliding_window(scans: list[ScanFact], limit: int) -> tuple[int, int, int] | None:
    """The earlier many-scanners window, kept as the reference: a 24-hour window that
    never spans midnight, slid scan by scan; (scanners, start, end) of the first
    window with the most scanners above ``limit``."""
    best = None
    start = 0
    window: dict[str, int] = {}
    for end, scan in enumerate(scans):
        window[scan.scanner] = window.get(scan.scanner, 0) + 1
        while scan.at - scans[start].at > timedelta(days=1) or (
            scans[start].at.date() != scan.at.date()
        ):
            window[scans[start].scanner] -= 1
            if not window[scans[start].scanner]:
                del window[scans[start].scanner]
            start += 1
        if len(window) > limit and (best is None or len(window) > best[0]):
            best = (len(window), start, end)
    return best


@given(
    st.lists(
        st.tuples(
            st.integers(0, 4 * 24 * 60),
            st.sampled_from("abcdefgh"),
            st.sampled_from(["", "n1", "n2", "n3"]),  # "": no network known
        ),
        max_size=80,
    ).map(sorted),
    st.integers(1, 6),
)
def test_many_scanners_evidence_is_the_sliding_windows(
    raw: list[tuple[int, str, str | None]], limit: int
) -> None:
    """The day-by-day count gives the signal the sliding window gave: same scanners,
    same first and last scan, same evidence."""
    scans = [ScanFact(T0 + timedelta(minutes=m), "CN", c, "header", n or None) for m, c, n in raw]
    found = signals.many_scanners(scans, Thresholds(scanners_per_day=limit))
    reference = _sliding_window(scans, limit)
    if reference is None:
        assert found is None
        return
    scanners, first, last = reference
    assert found is not None
    assert found.evidence["scanners"] == scanners
    assert found.evidence["scans"] == last - first + 1
    assert found.evidence["from"] == signals.format_time(scans[first].at)
    assert found.evidence["to"] == signals.format_time(scans[last].at)


def test_probing_fires_per_gtin_from_the_threshold() -> None:
    rows = [
        {"gtin": "A", "serial": f"S{i}", "scans": 1, "first": "1", "last": "2"} for i in range(5)
    ]
    rows += [{"gtin": "B", "serial": "typo", "scans": 2, "first": "1", "last": "3"}]
    found = signals.serial_probing(rows, Thresholds(probe_serials=5))
    assert [s.evidence["gtin"] for s in found] == ["A"]
    assert found[0].evidence["serials"] == 5 and len(found[0].evidence["examples"]) == 5


def test_with_signals_turns_genuine_into_caution_and_keeps_invalid_and_unknown() -> None:
    verified = [Reason("verified", "ok")]
    travel = Signal("impossible-travel", {"km": 1})
    assert with_signals(GENUINE, verified, [])[0] == GENUINE
    verdict, reasons = with_signals(GENUINE, verified, [travel])
    assert verdict == CAUTION and [r.code for r in reasons] == ["impossible-travel"]
    assert with_signals(INVALID, [Reason("proof-invalid", "x")], [travel])[0] == INVALID
    verdict, reasons = with_signals(UNKNOWN, [Reason("not-found", "x")], [])
    assert verdict == UNKNOWN
    # open reports: a caution only once independent reporters agree (ledger.signals.reports)
    agreed = corroborated(
        [ReportFact("counterfeit", T0 + timedelta(days=d), f"c{d}", f"n{d}") for d in range(3)]
    )
    verdict, reasons = with_signals(GENUINE, verified, [], agreed)
    assert verdict == CAUTION and reasons[-1].code == "reported"
    assert reasons[-1].evidence["open"] == 3 and reasons[-1].evidence["reasons"] == ["counterfeit"]


def test_the_owner_sees_the_claim_as_theirs_others_as_a_caution() -> None:
    claimed = [Reason("claimed", "x")]
    assert with_signals(CAUTION, claimed, [], owner=False)[0] == CAUTION
    verdict, reasons = with_signals(CAUTION, claimed, [], owner=True)
    assert (verdict, [r.code for r in reasons]) == (GENUINE, ["owned", "verified"])
    verdict, _ = with_signals(CAUTION, [*claimed, Reason("recalled", "r")], [], owner=True)
    assert verdict == CAUTION


# --- signed requests ----------------------------------------------------------------------


def test_a_signed_request_verifies_and_any_change_does_not() -> None:
    public = crypto.public_key_to_b64(key(2).public_key())
    header = reqsig.sign_request(key(2), "GET", "/v1/brands/acme/alerts", b"", T0)
    parsed = reqsig.parse_header(header)
    assert parsed.key == crypto.key_id(key(2).public_key())
    reqsig.verify_request(parsed, public, "GET", "/v1/brands/acme/alerts", b"", T0)
    changes = [
        ("POST", "/v1/brands/acme/alerts", b"", T0),
        ("GET", "/v1/brands/rival/alerts", b"", T0),
        ("GET", "/v1/brands/acme/alerts", b"x", T0),
        ("GET", "/v1/brands/acme/alerts", b"", T0 + timedelta(minutes=6)),
    ]
    for method, target, body, now in changes:
        with pytest.raises(reqsig.AuthenticationError):
            reqsig.verify_request(parsed, public, method, target, body, now)
    other = crypto.public_key_to_b64(key(3).public_key())
    with pytest.raises(reqsig.AuthenticationError):
        reqsig.verify_request(parsed, other, "GET", "/v1/brands/acme/alerts", b"", T0)


@pytest.mark.parametrize(
    "header", [None, "", "Bearer x", "Provenance key=a, time=b, sig=c", "Provenance key=a"]
)
def test_malformed_authorization_headers_are_refused(header: str | None) -> None:
    with pytest.raises(reqsig.AuthenticationError):
        reqsig.parse_header(header)


def test_a_request_signature_is_not_an_event_signature() -> None:
    message = reqsig.message("GET", "/x", "2026-11-28T12:00:00Z", b"")
    sig = crypto.sign(key(2), crypto.DOMAIN_REQUEST, message)
    with pytest.raises(Exception, match="does not verify"):
        crypto.verify(key(2).public_key(), crypto.DOMAIN_EVENT, message, sig)
