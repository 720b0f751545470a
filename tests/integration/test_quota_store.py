"""The write quota's bucket in the database (ledger.store.quotas.QuotaStore.take), its
statements run on the driver's own cursor (ledger.store.driversql): every decision as
before, on SQLite and PostgreSQL, and a failed take takes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from ledger.errors import StorageError
from ledger.service.ledger import Ledger
from ledger.store.quotas import QuotaStore

RATE = 2.0  # tokens a second
BURST = 5.0


def _tokens(ledger: Ledger, actor: str) -> tuple[float, float]:
    with ledger.store.engines.reader.connect() as conn:
        row = conn.execute(
            text("SELECT tokens, at FROM write_buckets WHERE log = :log AND actor = :actor"),
            {"log": ledger.log, "actor": actor},
        ).one()
    return float(row.tokens), float(row.at)


def test_a_bucket_starts_full_refills_and_refuses_when_spent(ledger: Ledger) -> None:
    take = ledger.take_write_tokens
    assert take("acme", 3, RATE, BURST, 100.0) == 0
    assert _tokens(ledger, "acme") == (2.0, 100.0)
    assert take("acme", 3, RATE, BURST, 100.0) == pytest.approx(0.5)  # 1 short at 2/s
    assert _tokens(ledger, "acme") == (2.0, 100.0)  # a refusal takes nothing
    assert take("acme", 3, RATE, BURST, 100.5) == 0  # refilled by 1
    assert _tokens(ledger, "acme") == (0.0, 100.5)


def test_force_goes_below_zero_and_a_give_back_stops_at_the_burst(ledger: Ledger) -> None:
    take = ledger.take_write_tokens
    assert take("acme", 7, RATE, BURST, 100.0, force=True) == 0
    assert _tokens(ledger, "acme") == (-2.0, 100.0)
    assert take("acme", -10, RATE, BURST, 100.0, force=True) == 0
    assert _tokens(ledger, "acme") == (BURST, 100.0)


def test_a_clock_that_went_back_refills_nothing(ledger: Ledger) -> None:
    take = ledger.take_write_tokens
    assert take("acme", 5, RATE, BURST, 100.0) == 0
    assert take("acme", 1, RATE, BURST, 50.0) == pytest.approx(0.5)
    assert _tokens(ledger, "acme") == (0.0, 100.0)


def test_buckets_are_per_actor(ledger: Ledger) -> None:
    take = ledger.take_write_tokens
    assert take("acme", 5, RATE, BURST, 100.0) == 0
    assert take("ship-co", 5, RATE, BURST, 100.0) == 0
    assert take("acme", 1, RATE, BURST, 100.0) > 0


def test_a_failed_take_is_a_storage_error_and_takes_nothing(ledger: Ledger) -> None:
    store = QuotaStore(ledger.store.engines)
    with pytest.raises(StorageError, match="write quota"):
        store.take(10**9, "acme", 1, RATE, BURST, 100.0)  # no such log: its row is refused
    with ledger.store.engines.reader.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM write_buckets WHERE log = 1000000000"))
        assert count.scalar_one() == 0
    assert ledger.take_write_tokens("acme", 1, RATE, BURST, 100.0) == 0  # the pool still works
