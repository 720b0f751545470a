"""A brand's keys as a Hypothesis state machine, against a model of the rules (issue 17).

The machine drives one brand (``acme``) through rotations (full and scoped keys, some
removed as compromised), operators' recoveries (some sooner than the wait), cancellations
(by full, scoped, pending or removed keys), mints with any key it ever had, and the log's
clock moving on. A small model says, for every step, which refusal the rules must give
(or none); the rules must agree, a refusal must leave the state unchanged, and the
model's view of every key must match the state's records after each step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ledger import crypto
from ledger.entry import SignedEvent, sign_event
from ledger.errors import LedgerError
from ledger.events import event_from_dict, format_time
from ledger.rules.context import RECOVERY_WAIT, SCOPE_KINDS
from tests.factories import GTIN, key, public_b64
from tests.profiles import examples
from tests.rules_factories import NOW, base

SCOPES = sorted(SCOPE_KINDS)


def _kid(seed: int) -> str:
    return crypto.key_id(key(seed).public_key())


@dataclass
class ModelKey:
    """What the model knows of one of acme's keys."""

    scope: tuple[str, ...] = ()
    effective: datetime | None = None
    removed: bool = False
    recovered: bool = False

    def full_at(self, now: datetime) -> bool:
        return (
            not self.removed
            and not self.scope
            and (self.effective is None or self.effective <= now)
        )


@dataclass
class Model:
    keys: dict[int, ModelKey] = field(default_factory=lambda: {2: ModelKey()})
    now: datetime = NOW

    def use(self, seed: int, kind: str) -> str | None:
        """The refusal of signing ``kind`` with acme's key ``seed`` before the kind's rules."""
        k = self.keys.get(seed)
        if k is None:
            return "unknown-key"
        if k.removed:
            return "key-removed"
        if k.scope and not any(kind in SCOPE_KINDS[s] for s in k.scope):
            return "key-out-of-scope"
        if k.effective is not None and self.now < k.effective:
            return "key-not-effective"
        return None


class KeyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = base()
        self.model = Model()
        self.next_seed = 100
        self.serial = 0

    # --- helpers --------------------------------------------------------------------------

    def _sign(self, kind: str, actor: str, seed: int, **fields: Any) -> SignedEvent:
        data = {"kind": kind, "actor": actor, "time": format_time(self.model.now), **fields}
        return sign_event(event_from_dict(data), key(seed), log=self.world.origin)

    def _run(self, signed: SignedEvent, expected: str | None) -> bool:
        before = self.world.state.records()
        try:
            self.world.accept(signed, self.model.now)
        except LedgerError as e:
            assert e.code == expected, (e.code, expected, e.message)
            assert self.world.state.records() == before
            return False
        assert expected is None, expected
        return True

    def _fresh(self) -> int:
        self.next_seed += 1
        return self.next_seed

    def _any_seed(self, data: st.DataObject) -> int:
        return data.draw(st.sampled_from(sorted(self.model.keys)))

    # --- steps ------------------------------------------------------------------------------

    @rule(data=st.data())
    def rotate(self, data: st.DataObject) -> None:
        model = self.model
        signer = self._any_seed(data)
        add = [self._fresh()] if data.draw(st.booleans()) else []
        removable = sorted(model.keys)
        remove = data.draw(st.lists(st.sampled_from(removable), max_size=2, unique=True))
        if not add and not remove:
            add = [self._fresh()]
        scope = data.draw(
            st.none() | st.lists(st.sampled_from(SCOPES), min_size=1, max_size=2, unique=True)
        )
        compromised = bool(remove) and data.draw(st.booleans())
        fields: dict[str, Any] = {
            "subject": "acme",
            "add": [public_b64(s) for s in add],
            "remove": [_kid(s) for s in remove],
        }
        if scope is not None:
            fields["scope"] = scope
        since = model.now - timedelta(hours=1)
        if compromised:
            fields["compromised_since"] = format_time(since)
        expected = model.use(signer, "key.rotate")
        if expected is None and scope is not None and not add:
            expected = "nothing-scoped"
        if expected is None:
            for s in remove:
                if model.keys[s].removed:
                    expected = "key-removed"
                    break
        if expected is None and compromised:
            # a recovered key signed nothing before its effective time (compromise-too-old)
            for s in remove:
                effective = model.keys[s].effective
                if effective is not None and since < effective:
                    expected = "compromise-too-old"
                    break
        if expected is None:
            gone = set(remove)
            full = sum(1 for s, k in model.keys.items() if s not in gone and k.full_at(model.now))
            if full + (len(add) if scope is None else 0) < 1:
                expected = "last-key"
        if self._run(self._sign("key.rotate", "acme", signer, **fields), expected):
            for s in remove:
                model.keys[s].removed = True
            for s in add:
                model.keys[s] = ModelKey(scope=tuple(scope or ()))
            if compromised:
                for s in remove:
                    assert self.world.state.keys[_kid(s)].compromised_since == format_time(since)

    @rule(data=st.data())
    def recover(self, data: st.DataObject) -> None:
        model = self.model
        seed = self._fresh()
        late = data.draw(st.integers(-3600, 3 * 86_400))
        effective = model.now + RECOVERY_WAIT + timedelta(seconds=late)
        signed = self._sign(
            "key.recover",
            "operator",
            1,
            subject="acme",
            key=public_b64(seed),
            effective=format_time(effective),
        )
        expected = "recovery-too-soon" if late < 0 else None
        if self._run(signed, expected):
            model.keys[seed] = ModelKey(effective=effective, recovered=True)

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        model = self.model
        recovered = [s for s, k in model.keys.items() if k.recovered]
        if not recovered:
            return
        target = data.draw(st.sampled_from(sorted(recovered)))
        signer = self._any_seed(data)
        signed = self._sign("key.recover.cancel", "acme", signer, subject="acme", key=_kid(target))
        t = model.keys[target]
        expected = model.use(signer, "key.recover.cancel")
        if expected is None and (
            t.removed or (t.effective is not None and t.effective <= model.now)
        ):
            expected = "recovery-not-pending"
        if self._run(signed, expected):
            t.removed = True

    @rule(data=st.data())
    def mint(self, data: st.DataObject) -> None:
        signer = self._any_seed(data)
        self.serial += 1
        unit = {"gtin": GTIN, "serial": f"M-{self.serial}"}
        signed = self._sign("commission", "acme", signer, unit=unit, prev=None)
        self._run(signed, self.model.use(signer, "commission"))

    @rule(hours=st.integers(1, 24 * 8))
    def wait(self, hours: int) -> None:
        self.model.now += timedelta(hours=hours)

    @invariant()
    def keys_match(self) -> None:
        for seed, k in self.model.keys.items():
            record = self.world.state.keys[_kid(seed)]
            assert record.actor == "acme"
            assert (record.removed_index is not None) == k.removed
            assert record.scope == k.scope
            assert record.effective == (None if k.effective is None else format_time(k.effective))


KeyMachine.TestCase.settings = settings(
    max_examples=examples(40), stateful_step_count=25, deadline=None
)
test_the_rules_follow_the_key_model = KeyMachine.TestCase
