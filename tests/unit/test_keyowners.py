"""ledger.service.keyowners: answers kept for the TTL and no longer, absent keys kept as
absent, `forget` drops everything, and a read that a `forget` overtook stores nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ledger.service.keyowners import KeyOwners, Owner, changes_owners
from tests.rules_factories import World


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


OWNER: Any = ("acme-record", "key-record")


class Loads:
    """A fake database read: counts its calls; ``during`` runs inside the read."""

    def __init__(self, answers: Mapping[str, Owner]) -> None:
        self.answers = dict(answers)
        self.calls = 0
        self.during: Any = None

    def __call__(self, key_ids: Iterable[str]) -> dict[str, Owner]:
        self.calls += 1
        if self.during is not None:
            self.during()
        return {k: v for k, v in self.answers.items() if k in set(key_ids)}


def test_answers_and_absences_are_kept_for_the_ttl_only() -> None:
    clock = Clock()
    owners, load = KeyOwners(ttl=1.0, clock=clock), Loads({"k1": OWNER})
    assert owners.cached({"k1"}) is None
    assert owners.owners({"k1", "k2"}, load) == {"k1": OWNER}
    assert owners.cached({"k1", "k2"}) == {"k1": OWNER}  # k2 known to have no owner
    assert owners.owners({"k2"}, load) == {} and load.calls == 1
    assert owners.cached({"k1", "k3"}) is None  # one unknown key: ask the database
    clock.now += 1.0
    assert owners.cached({"k1"}) is None  # expired
    owners.owners({"k1"}, load)
    assert load.calls == 2


def test_forget_drops_every_answer() -> None:
    owners, load = KeyOwners(clock=Clock()), Loads({"k1": OWNER})
    owners.owners({"k1"}, load)
    owners.forget()
    assert owners.cached({"k1"}) is None
    load.answers = {}  # the key was rotated out
    assert owners.owners({"k1"}, load) == {}


def test_a_read_overtaken_by_forget_stores_nothing() -> None:
    owners, load = KeyOwners(clock=Clock()), Loads({"k1": OWNER})
    load.during = owners.forget  # a key change commits while the read is under way
    assert owners.owners({"k1"}, load) == {"k1": OWNER}  # this caller's answer ...
    assert owners.cached({"k1"}) is None  # ... is not kept for the next one


def test_which_appends_change_owners() -> None:
    world = World.base()
    rotate = world.sign("key.rotate", "acme", subject="acme", add=[], remove=[])
    product = world.sign("product.register", "acme", gtin="09506000134352", name="x")
    assert changes_owners([product, rotate]) and not changes_owners([product])


def _concurrently(owners: KeyOwners, load: Any, callers: int) -> list[Any]:
    """``callers`` threads asking for k1 at once while the first read is held open."""
    results: list[Any] = [None] * callers

    def ask(i: int) -> None:
        try:
            results[i] = owners.owners({"k1"}, load)
        except Exception as e:  # the test looks at it
            results[i] = e

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


class HeldLoads(Loads):
    """A read whose first call is held open a while (the other callers meanwhile find
    it under way), then runs ``during`` or fails, as told."""

    def __init__(self, answers: Mapping[str, Owner]) -> None:
        super().__init__(answers)
        self.fail_first = False

    def __call__(self, key_ids: Iterable[str]) -> dict[str, Owner]:
        self.calls += 1
        if self.calls == 1:
            time.sleep(0.3)
            if self.during is not None:
                self.during()
            if self.fail_first:
                raise RuntimeError("the database went away")
        return {k: v for k, v in self.answers.items() if k in set(key_ids)}


def test_callers_missing_the_same_keys_at_once_share_one_read() -> None:
    owners = KeyOwners(clock=Clock())
    load = HeldLoads({"k1": OWNER})
    results = _concurrently(owners, load, 8)
    assert results == [{"k1": OWNER}] * 8
    assert load.calls == 1  # (without the single flight: up to 8)
    assert owners._flights == {}


def test_a_failed_or_overtaken_shared_read_is_not_believed_by_the_others() -> None:
    owners = KeyOwners(clock=Clock())
    load = HeldLoads({"k1": OWNER})
    load.fail_first = True  # the first read fails: the others read anew
    results = _concurrently(owners, load, 4)
    assert sum(isinstance(r, RuntimeError) for r in results) == 1
    assert [r for r in results if not isinstance(r, RuntimeError)] == [{"k1": OWNER}] * 3
    assert load.calls >= 2 and owners._flights == {}
    owners.forget()
    load = HeldLoads({"k1": OWNER})
    load.during = owners.forget  # a key change commits while the shared read is under way
    results = _concurrently(owners, load, 4)
    assert results == [{"k1": OWNER}] * 4
    assert load.calls >= 2  # the waiters did not take the overtaken read's answers
