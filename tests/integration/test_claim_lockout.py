"""The claim lockout as an attacker meets it (docs/SIGNALS.md, "Claims and resale").

Attacks mounted: 40 concurrent wrong codes from one client, and from 40 clients, on one
unit (at most the limit is evaluated, on SQLite and PostgreSQL); a guesser who keeps
going (each wait doubles, capped); a guesser behind the same address as shoppers (they
are not locked out of their claims, and neither is the guesser on another unit); a
vandal locking a unit (its owner's right code passes once the wait has passed). The
counters are also checked against a model of the back-off state machine (hypothesis).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import claimcode
from ledger.events import format_time
from ledger.rules import BadClaimCodeError
from ledger.service import claims as claims_module
from ledger.service.claims import ClaimLockedError, attempt_subjects
from ledger.service.policies import ClaimPolicy
from tests.factories import GTIN
from tests.integration.signals_world import SignalWorld
from tests.profiles import examples

RACERS = 40


@pytest.fixture
def sw(db_url: str) -> Iterator[SignalWorld]:
    world = SignalWorld.open(db_url)
    yield world
    world.ledger.close()


def wrong(code: str) -> str:
    """Another well-formed code (valid check symbol) that is not ``code``."""
    other = claimcode.new_claim_code()
    return other if other != code else wrong(code)


class Evaluations:
    """Counts how many codes the service compared with a commitment."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self._lock = threading.Lock()
        real = claimcode.matches_commitment

        def counting(*args: Any) -> bool:
            with self._lock:
                self.count += 1
            return real(*args)

        monkeypatch.setattr(claims_module.claimcode, "matches_commitment", counting)


def race(sw: SignalWorld, serial: str, clients: list[str]) -> tuple[int, int, list[Any]]:
    """``len(clients)`` wrong codes on ``serial`` at once, one per thread; the number of
    wrong-code answers, of lockouts, and anything else raised."""
    code = sw.codes[serial]
    barrier = threading.Barrier(len(clients))

    def attempt(client: str) -> BaseException | None:
        barrier.wait()
        try:
            sw.ledger.claims.claim(GTIN, serial, wrong(code), client=client)
        except Exception as e:  # every outcome is returned and checked by the caller
            return e
        return None

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        outcomes = list(pool.map(attempt, clients))
    bad = sum(isinstance(o, BadClaimCodeError) for o in outcomes)
    locked = sum(isinstance(o, ClaimLockedError) for o in outcomes)
    other = [o for o in outcomes if not isinstance(o, BadClaimCodeError | ClaimLockedError)]
    return bad, locked, other


def test_forty_concurrent_wrong_codes_from_one_client_evaluate_at_most_the_limit(
    sw: SignalWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    sw.mint("SN-1")
    evaluations = Evaluations(monkeypatch)
    bad, locked, other = race(sw, "SN-1", ["guesser"] * RACERS)
    assert other == []
    assert evaluations.count == bad == 10  # the limit, not one more
    assert locked == RACERS - 10
    with pytest.raises(ClaimLockedError) as caught:  # and it holds afterwards
        sw.ledger.claims.claim(GTIN, "SN-1", sw.codes["SN-1"], client="guesser")
    assert caught.value.retry_after == 900 and evaluations.count == 10


def test_forty_concurrent_wrong_codes_from_forty_clients_evaluate_at_most_the_unit_limit(
    sw: SignalWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    sw.mint("SN-1")
    evaluations = Evaluations(monkeypatch)
    bad, locked, other = race(sw, "SN-1", [f"bot-{i}" for i in range(RACERS)])
    assert other == []
    assert evaluations.count == bad == 30  # PROVENANCE_CLAIM_UNIT_MAX_FAILURES
    assert locked == RACERS - 30
    with pytest.raises(ClaimLockedError):  # a fresh client waits too: the unit waits
        sw.ledger.claims.claim(GTIN, "SN-1", sw.codes["SN-1"], client="fresh")


def test_each_further_wrong_code_doubles_the_wait_up_to_the_cap(sw: SignalWorld) -> None:
    sw.ledger.claims.policy = ClaimPolicy(
        max_failures=3, lockout=timedelta(seconds=60), max_lockout=timedelta(seconds=300)
    )
    code = sw.mint("SN-1")
    for _ in range(2):
        with pytest.raises(BadClaimCodeError):
            sw.ledger.claims.claim(GTIN, "SN-1", wrong(code), client="guesser")
    waits = []
    for _ in range(5):
        with pytest.raises(BadClaimCodeError):  # allowed: evaluated, and wrong
            sw.ledger.claims.claim(GTIN, "SN-1", wrong(code), client="guesser")
        with pytest.raises(ClaimLockedError) as caught:  # the next one waits
            sw.ledger.claims.claim(GTIN, "SN-1", wrong(code), client="guesser")
        waits.append(caught.value.retry_after)
        sw.clock.advance(seconds=caught.value.retry_after - 1)
        with pytest.raises(ClaimLockedError) as early:  # a second early: still waiting,
            sw.ledger.claims.claim(GTIN, "SN-1", wrong(code), client="guesser")
        assert early.value.retry_after == 1  # and refused attempts add nothing
        sw.clock.advance(seconds=1)
    assert waits == [60, 120, 240, 300, 300]


def test_each_wrong_code_says_how_many_tries_are_left_and_the_wait_after(
    sw: SignalWorld,
) -> None:
    sw.ledger.claims.policy = ClaimPolicy(
        max_failures=3, lockout=timedelta(seconds=60), max_lockout=timedelta(seconds=300)
    )
    code = sw.mint("SN-1")
    told = []
    for _ in range(3):
        with pytest.raises(BadClaimCodeError) as bad:
            sw.ledger.claims.claim(GTIN, "SN-1", wrong(code), client="buyer")
        told.append(bad.value.problem_fields)
    sw.clock.advance(seconds=60)
    with pytest.raises(BadClaimCodeError) as bad:
        sw.ledger.claims.claim(GTIN, "SN-1", wrong(code), client="buyer")
    told.append(bad.value.problem_fields)
    assert [(t["attempts_left"], t["wait_after"]) for t in told] == [
        (2, 60), (1, 60), (0, 60), (0, 120)
    ]  # fmt: skip
    with pytest.raises(ClaimLockedError) as locked:  # as announced
        sw.ledger.claims.claim(GTIN, "SN-1", wrong(code), client="buyer")
    assert locked.value.retry_after == 120


def test_a_guesser_does_not_lock_out_the_neighbours_behind_the_same_address(
    sw: SignalWorld,
) -> None:
    code = sw.mint("SN-1")
    other = sw.mint("SN-2")
    for _ in range(10):
        with pytest.raises(BadClaimCodeError):
            sw.ledger.claims.claim(GTIN, "SN-1", wrong(code), client="nat")
    with pytest.raises(ClaimLockedError):  # the guesser waits on the unit it guessed at
        sw.ledger.claims.claim(GTIN, "SN-1", code, client="nat")
    # the same client (one address, many shoppers) is not locked out of another unit
    assert sw.ledger.claims.claim(GTIN, "SN-2", other, client="nat").index > 0
    # and another client on the same unit is counted apart (the unit is under its limit)
    assert sw.ledger.claims.claim(GTIN, "SN-1", code, client="owner").index > 0


def test_the_owners_right_code_passes_once_the_back_off_has_passed(sw: SignalWorld) -> None:
    code = sw.mint("SN-1")
    for i in range(30):  # a vandal with 30 addresses
        with pytest.raises(BadClaimCodeError):
            sw.ledger.claims.claim(GTIN, "SN-1", wrong(code), client=f"vandal-{i}")
    with pytest.raises(ClaimLockedError) as caught:  # the owner waits like everyone
        sw.ledger.claims.claim(GTIN, "SN-1", code, client="owner")
    assert (caught.value.status, caught.value.code, caught.value.retry_after) == (
        423,
        "claim-locked",
        900,
    )
    sw.clock.advance(seconds=899)
    with pytest.raises(ClaimLockedError):
        sw.ledger.claims.claim(GTIN, "SN-1", code, client="owner")
    sw.clock.advance(seconds=1)
    assert sw.ledger.claims.claim(GTIN, "SN-1", code, client="owner").index > 0
    subjects = attempt_subjects(GTIN, "SN-1", "owner")
    assert sw.ledger.claims._signal_store.attempts(sw.ledger.claims._log, subjects) == {}


def test_a_counter_quiet_for_the_forget_period_starts_again(sw: SignalWorld) -> None:
    code = sw.mint("SN-1")
    for _ in range(10):
        with pytest.raises(BadClaimCodeError):
            sw.ledger.claims.claim(GTIN, "SN-1", wrong(code), client="guesser")
    sw.clock.advance(seconds=900)  # the wait ends ...
    sw.clock.advance(hours=24, seconds=1)  # ... and a day passes without an attempt
    for _ in range(9):  # ten free attempts again, not one
        with pytest.raises(BadClaimCodeError):
            sw.ledger.claims.claim(GTIN, "SN-1", wrong(code), client="guesser")
    assert sw.ledger.claims.claim(GTIN, "SN-1", code, client="guesser").index > 0


# --- the counters against a model of the back-off state machine -------------------------

POLICY = ClaimPolicy(
    max_failures=3,
    unit_max_failures=5,
    lockout=timedelta(seconds=10),
    max_lockout=timedelta(seconds=80),
    forget=timedelta(seconds=200),
)


def model_attempt(
    state: dict[tuple[str, str], tuple[int, int]], subjects: list[tuple[str, str]], now: int
) -> bool:
    """The documented machine: a counter ``(failures, allowed_at)`` refuses while
    ``now < allowed_at`` (nothing counted anywhere); else it counts (from 1 again if its
    last wait ended more than ``forget`` ago) and sets ``allowed_at = now + wait``."""
    if any(s in state and state[s][1] > now for s in subjects):
        return False
    for scope, subject in subjects:
        failures, allowed = state.get((scope, subject), (0, now))
        failures = 1 if allowed < now - POLICY.forget.total_seconds() else failures + 1
        wait = POLICY.wait(scope, failures).total_seconds()
        state[(scope, subject)] = (failures, now + int(wait))
    return True


def test_the_counters_follow_the_back_off_state_machine(sw: SignalWorld) -> None:
    service = sw.ledger.claims
    service.policy = POLICY
    store, log, start = service._signal_store, service._log, sw.clock.now
    runs = iter(range(10_000))

    @settings(
        max_examples=examples(60),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        st.lists(
            st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(0, 120)),
            min_size=1,
            max_size=40,
        )
    )
    def run(steps: list[tuple[int, int, int]]) -> None:
        serial = f"M-{next(runs)}"  # fresh counters for every example
        state: dict[tuple[str, str], tuple[int, int]] = {}
        now = 0
        for client, unit, pause in steps:
            now += pause
            subjects = attempt_subjects(GTIN, f"{serial}-{unit}", f"c{client}")
            expected = model_attempt(state, subjects, now)
            sw.clock.now = start + timedelta(seconds=now)
            try:
                service._reserve(subjects, sw.clock.now)
                granted = True
            except ClaimLockedError as e:
                granted = False
                waiting = [state[s][1] - now for s in subjects if s in state and state[s][1] > now]
                assert e.retry_after == waiting[0]
            assert granted == expected, (steps, now)
            stored = store.attempts(log, subjects)
            counted = [s for s in subjects if s in state]  # a refusal counts nothing new
            at = {s: format_time(start + timedelta(seconds=state[s][1])) for s in counted}
            assert stored == {s: (state[s][0], at[s]) for s in counted}

    run()
