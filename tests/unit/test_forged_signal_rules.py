"""Signals that need evidence, as pure rules (ledger.signals, ledger.verify.verdict,
ledger.service.policies, api.forwarded.network_of): a hinted place is never travel
evidence, invented owner cookies are one client, one report is a note, independent
reporters (networks, days) are what turn a unit amber."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.forwarded import network_of, network_pseudonym
from ledger.errors import ValidationError
from ledger.service.claims import owner_client
from ledger.service.policies import Policies
from ledger.signals import compute
from ledger.signals.compute import ScanFact, Thresholds, many_scanners, unit_signals
from ledger.signals.places import HEADER, HINT, first_scan, read_place, stored_place
from ledger.signals.reports import ReportFact, ReportThresholds, corroborated
from ledger.verify.verdict import Reason, with_signals
from tests.profiles import examples

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
VERIFIED = [Reason("verified", "ok")]


def scan(minutes: float, place: str | None, client: str, source: str | None) -> ScanFact:
    return ScanFact(T0 + timedelta(minutes=minutes), place, client, source)


# --- places ------------------------------------------------------------------------------------


def test_places_keep_their_source_and_old_rows_are_hints() -> None:
    assert read_place(stored_place("CN", HEADER)) == ("CN", HEADER)
    assert read_place(stored_place("CN-SH", HINT)) == ("CN-SH", HINT)
    assert read_place("US") == ("US", HINT)  # written before places had sources
    assert read_place(None) == (None, None) and stored_place(None, HEADER) is None
    assert first_scan({"at": "t", "place": "geo:JP"}) == {
        "at": "t",
        "place": "JP",
        "place_source": HEADER,
    }


@settings(max_examples=examples(100))
@given(
    places=st.lists(st.sampled_from(["CN", "US", "BR", "AU", "DE", "JP", None]), max_size=12),
    gaps=st.lists(st.integers(1, 3), min_size=12, max_size=12),
)
def test_hinted_places_never_fire_travel(places: list[str | None], gaps: list[int]) -> None:
    times = [sum(gaps[: i + 1]) for i in range(len(places))]
    timed = list(enumerate(zip(times, places, strict=False)))
    hinted = [scan(t, p, f"c{i}", HINT if p else None) for i, (t, p) in timed]
    assert compute.impossible_travel(hinted) is None
    trusted = [scan(t, p, f"c{i}", HEADER if p else None) for i, (t, p) in timed]
    # the same places from the trusted header fire whenever two far countries follow
    # each other within minutes (every pair here is over 500 km apart or one country)
    placed = [p for p in places if p]
    far = any(a != b for a, b in itertools.pairwise(placed))
    assert (compute.impossible_travel(trusted) is not None) == far


def test_evidence_names_places_with_their_source() -> None:
    scans = [scan(0, "CN", "a", HINT), scan(1, "CN", "b", HINT), scan(2, "US", "c", HEADER)]
    scans += [scan(3 + i, None, f"d{i}", None) for i in range(9)]
    found = many_scanners(scans)
    assert found is not None
    assert found.evidence["places"] == [
        {"place": "CN", "source": "hint", "scans": 2},
        {"place": "US", "source": "header", "scans": 1},
    ]
    assert found.evidence["scans"] == 12 and found.evidence["clients"] == 12


# --- clients -----------------------------------------------------------------------------------


def test_owner_pseudonyms_match_the_prefix_the_rule_knows() -> None:
    pseudonym = owner_client("A" * 43)
    assert pseudonym.startswith(compute.OWNER_PREFIX) and len(pseudonym) == 32
    assert not any(c.startswith(compute.OWNER_PREFIX) for c in "0123456789abcdef")  # hex


@settings(max_examples=examples(100))
@given(cookies=st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40))
def test_invented_owner_cookies_count_as_one_client(cookies: list[bytes]) -> None:
    forged = [scan(i, None, "o" + c.hex()[:31], None) for i, c in enumerate(cookies)]
    signals = unit_signals(forged, claimed_at=None, owners=set())
    assert all(s.code != "many-scanners" for s in signals)


@settings(max_examples=examples(100))
@given(clients=st.sets(st.text("0123456789abcdef", min_size=32, max_size=32), max_size=40))
def test_clients_of_one_network_are_one_scanner(clients: set[str]) -> None:
    scans = [scan(i, None, c, None) for i, c in enumerate(sorted(clients))]
    one_network = [compute.ScanFact(s.at, None, s.client, None, "net-a") for s in scans]
    assert many_scanners(one_network) is None
    # without a network (rows from before networks were kept) each client counts
    assert (many_scanners(scans) is not None) == (len(clients) > 10)


def test_a_real_owner_keeps_their_own_pseudonym() -> None:
    owner = "o" + "1" * 31
    scans = [scan(0, None, owner, None), scan(1, None, "o" + "2" * 31, None)]
    credible = compute.credible_clients(scans, {owner})
    assert [s.client for s in credible] == [owner, compute.UNPROVEN_OWNER]
    many = [scan(i, None, f"{i:032x}", None) for i in range(10)] + scans
    found = unit_signals(many, claimed_at=None, owners={owner}, thresholds=Thresholds())
    # ten addresses, the owner and the unproven cookies: twelve clients, over ten
    assert [s.code for s in found] == ["many-scanners"]
    assert found[0].evidence["unproven_owner_scans"] == 1


# --- reports -----------------------------------------------------------------------------------


def report(day: float, client: str, network: str | None) -> ReportFact:
    return ReportFact("counterfeit", T0 + timedelta(days=day), client, network)


def test_one_report_is_a_note_that_leaves_genuine_genuine() -> None:
    finding = corroborated([report(0, "c1", "n1")])
    assert finding is not None and not finding.corroborated
    verdict, reasons = with_signals("genuine", VERIFIED, [], finding)
    assert verdict == "genuine"
    assert [r.code for r in reasons] == ["report-under-review", "verified"]
    assert reasons[0].evidence["open"] == 1 and reasons[0].evidence["networks"] == 1
    assert corroborated([]) is None


@settings(max_examples=examples(100))
@given(
    rows=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 50)), min_size=1, max_size=40),
    networks=st.integers(1, 2),
)
def test_fewer_networks_than_the_threshold_never_corroborate(
    rows: list[tuple[int, int]], networks: int
) -> None:
    """Any number of clients over any number of days, from one or two networks: a note."""
    facts = [report(day, f"c{c}", f"n{c % networks}") for day, c in rows]
    finding = corroborated(facts)
    assert finding is not None and not finding.corroborated
    assert with_signals("genuine", VERIFIED, [], finding)[0] == "genuine"


def test_three_networks_over_two_days_corroborate_and_one_day_does_not() -> None:
    one_day = [report(0, "a", "n1"), report(0.01, "b", "n2"), report(0.02, "c", "n3")]
    finding = corroborated(one_day)
    assert finding is not None and not finding.corroborated and finding.days == 1
    two_days = [report(0, "a", "n1"), report(1, "b", "n2"), report(1.01, "c", "n3")]
    finding = corroborated(two_days)
    assert finding is not None and finding.corroborated
    verdict, reasons = with_signals("genuine", VERIFIED, [], finding)
    assert verdict == "caution" and [r.code for r in reasons] == ["reported"]
    assert reasons[0].evidence["networks"] == 3 and reasons[0].evidence["days"] == 2
    # reports without a network (filed before networks were kept) are no reporters
    legacy = [report(d, f"c{d}", None) for d in range(5)]
    finding = corroborated(legacy)
    assert finding is not None and not finding.corroborated and finding.networks == 0


def test_the_thresholds_are_policies_from_the_environment() -> None:
    default = Policies.from_env({})
    assert default.signals.reports == ReportThresholds(min_reporters=3, min_days=2)
    policies = Policies.from_env(
        {"PROVENANCE_REPORT_REPORTERS": "2", "PROVENANCE_REPORT_DAYS": "1"}
    )
    assert policies.signals.reports == ReportThresholds(min_reporters=2, min_days=1)
    two = [report(0, "a", "n1"), report(0.01, "b", "n2")]
    finding = corroborated(two, policies.signals.reports)
    assert finding is not None and finding.corroborated
    with pytest.raises(ValidationError):
        Policies.from_env({"PROVENANCE_REPORT_REPORTERS": "0"})


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("198.51.100.7", "198.51.100.0/24"),
        ("::ffff:198.51.100.9", "198.51.100.0/24"),
        ("2001:db8:40:1::5", "2001:db8:40::/48"),
        ("unknown", "unknown"),
    ],
)
def test_a_network_is_a_slash_24_or_a_slash_48(address: str, network: str) -> None:
    assert network_of(address) == network


def test_network_pseudonyms_are_per_unit_and_name_no_address() -> None:
    key = b"k" * 32
    one = network_pseudonym(key, "09506000134352", "A-1", "198.51.100.60")
    assert network_pseudonym(key, "09506000134352", "A-1", "198.51.100.61") == one  # same /24
    assert network_pseudonym(key, "09506000134352", "A-2", "198.51.100.60") != one  # unit
    assert network_pseudonym(key, "09506000134352", "A-1", "198.51.101.60") != one  # network
    assert network_pseudonym(b"x" * 32, "09506000134352", "A-1", "198.51.100.60") != one
    assert len(one) == 32 and set(one) <= set("0123456789abcdef")  # a hash, not the prefix


def test_eleven_addresses_of_one_24_neither_fire_nor_corroborate() -> None:
    """Eleven clients in one IPv4 /24 (network_of, then the per-unit pseudonym) are one
    scanner and one reporter, however many days they report on."""
    key = b"k" * 32
    addresses = [f"203.0.113.{10 + i}" for i in range(11)]
    assert len({network_of(a) for a in addresses}) == 1
    nets = [network_pseudonym(key, "09506000134352", "S", a) for a in addresses]
    scans = [
        compute.ScanFact(T0 + timedelta(minutes=i), None, f"c{i}", None, n)
        for i, n in enumerate(nets)
    ]
    assert many_scanners(scans) is None
    facts = [report(i % 3, f"c{i}", n) for i, n in enumerate(nets)]
    finding = corroborated(facts)
    assert finding is not None and not finding.corroborated and finding.networks == 1
    # eleven real networks do fire
    real = [compute.ScanFact(s.at, None, s.client, None, f"net-{i}") for i, s in enumerate(scans)]
    assert many_scanners(real) is not None


def test_one_network_on_both_sides_of_midnight_is_not_two_scanners() -> None:
    """A network's pseudonym changes with the day's salt: six networks scanned just
    before and just after midnight bear twelve names, but never share a window."""
    midnight = datetime(2026, 12, 2, tzinfo=UTC)
    before = [
        compute.ScanFact(midnight - timedelta(minutes=10 - i), None, f"a{i}", None, f"d1-net{i}")
        for i in range(6)
    ]
    after = [
        compute.ScanFact(midnight + timedelta(minutes=i), None, f"b{i}", None, f"d2-net{i}")
        for i in range(6)
    ]
    assert many_scanners(before + after) is None
    # eleven networks within one day still fire
    day = [
        compute.ScanFact(midnight + timedelta(hours=1, minutes=i), None, f"x{i}", None, f"n{i}")
        for i in range(11)
    ]
    assert many_scanners(before + day) is not None
