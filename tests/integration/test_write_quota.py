"""Write quotas per actor (api.quota): a partner over its burst gets 429 ``write-quota``
with ``Retry-After`` and the log is byte-for-byte unchanged; another partner is not
affected; the bucket refills as the injected clock advances; a batch costs its events
and is refused whole; only verified signatures spend a partner's budget; concurrent
writers cannot take more than the burst, in memory and through Redis (two "workers").
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.quota import WriteQuota
from api.ratelimit import MemoryLimiter, RedisLimiter
from ledger import codec, entry, gs1
from ledger.entry import Leaf, SignedEvent
from ledger.epcis.sign import sign_document
from ledger.service.settings import Settings
from tests.factories import GTIN, key, public_b64
from tests.integration.test_ratelimit import REDIS_URL, _redis_or_skip
from tests.integration.world import LedgerWorld, dump

QUOTA = "urn:provenance-ledger:problem:write-quota"


class FakeClock:
    """Seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _app(world: LedgerWorld, quota: WriteQuota) -> FastAPI:
    env = {"PROVENANCE_RATE": "1000", "PROVENANCE_BAD_SIGNATURES": "1000"}  # junk by design
    app = create_app(Settings.from_env(env), ledger=world.ledger)
    app.state.write_quota = quota
    return app


def _quota(per_minute: float, burst: int, clock: FakeClock) -> WriteQuota:
    """The quota as configured by default: its buckets in the log's database."""
    settings = Settings.from_env(
        {"PROVENANCE_WRITE_RATE": str(per_minute), "PROVENANCE_WRITE_BURST": str(burst)}
    )
    return WriteQuota.from_settings(settings, clock=clock)


def _run(app: FastAPI, story: Callable[[httpx.AsyncClient], Awaitable[None]]) -> None:
    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await story(client)

    asyncio.run(main())


def _commission(world: LedgerWorld, serial: str, seed: int | None = None) -> SignedEvent:
    unit = {"gtin": GTIN, "serial": serial}
    return world.world.sign("commission", "acme", seed, unit=unit, prev=None)


def _product(world: LedgerWorld, n: int) -> SignedEvent:
    """``other-brand`` registers a product of its own prefix (another partner's write)."""
    body = f"09506001{n:05d}"
    gtin = body + str(gs1.gtin_check_digit(body))
    return world.world.sign("product.register", "other-brand", gtin=gtin, name=f"P{n}")


def _body(signed: SignedEvent) -> dict[str, Any]:
    return signed.to_dict()


def _batch(events: list[SignedEvent]) -> dict[str, Any]:
    return {"events": [s.to_dict() for s in events]}


def _assert_quota(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == QUOTA and problem["status"] == 429
    retry = response.headers["retry-after"]
    assert retry.isdigit() and int(retry) >= 1  # whole seconds
    return int(retry)


def test_partner_over_its_burst_gets_429_and_the_log_is_unchanged(world: LedgerWorld) -> None:
    clock = FakeClock()
    app = _app(world, _quota(60, 3, clock))  # one event per second, three at once

    async def story(client: httpx.AsyncClient) -> None:
        for n in range(3):
            ok = await client.post("/v1/entries", json=_body(_commission(world, f"Q-{n}")))
            assert ok.status_code == 201, ok.text
        before = dump(world.ledger)
        refused = await client.post("/v1/entries", json=_body(_commission(world, "Q-3")))
        assert _assert_quota(refused) == 1
        batch = [_commission(world, "Q-4"), _commission(world, "Q-5")]
        assert _assert_quota(await client.post("/v1/entries:batch", json=_batch(batch))) == 2
        assert dump(world.ledger) == before  # nothing written, byte for byte
        # another partner spends its own budget
        other = await client.post("/v1/entries", json=_body(_product(world, 1)))
        assert other.status_code == 201, other.text
        # the same partner in another log would be another bucket; here: refill
        clock.now += 1
        again = await client.post("/v1/entries", json=_body(_commission(world, "Q-3")))
        assert again.status_code == 201, again.text
        assert _assert_quota(
            await client.post("/v1/entries", json=_body(_commission(world, "Q-6")))
        )

    _run(app, story)


def test_the_bucket_refills_as_the_clock_advances(world: LedgerWorld) -> None:
    clock = FakeClock()
    app = _app(world, _quota(30, 4, clock))  # one event per two seconds

    async def story(client: httpx.AsyncClient) -> None:
        four = [_commission(world, f"R-{n}") for n in range(4)]
        assert (await client.post("/v1/entries:batch", json=_batch(four))).status_code == 201
        two = _batch([_commission(world, "R-4"), _commission(world, "R-5")])
        assert _assert_quota(await client.post("/v1/entries:batch", json=two)) == 4
        clock.now += 3.9  # not yet two tokens
        assert _assert_quota(await client.post("/v1/entries:batch", json=two)) == 1
        clock.now += 0.1
        assert (await client.post("/v1/entries:batch", json=two)).status_code == 201
        clock.now += 3600  # a long pause refills to the burst, never beyond
        full = _batch([_commission(world, f"R-{n}") for n in range(6, 10)])
        assert (await client.post("/v1/entries:batch", json=full)).status_code == 201
        one = _body(_commission(world, "R-10"))
        assert _assert_quota(await client.post("/v1/entries", json=one)) == 2

    _run(app, story)


def test_a_batch_costs_its_events_and_is_refused_whole(world: LedgerWorld) -> None:
    clock = FakeClock()
    app = _app(world, _quota(60, 5, clock))

    async def story(client: httpx.AsyncClient) -> None:
        first = [_commission(world, f"B-{n}") for n in range(3)]
        assert (await client.post("/v1/entries:batch", json=_batch(first))).status_code == 201
        before = dump(world.ledger)
        second = [_commission(world, f"B-{n}") for n in range(3, 6)]  # 3 > 2 left
        assert _assert_quota(await client.post("/v1/entries:batch", json=_batch(second))) == 1
        assert dump(world.ledger) == before
        size = world.ledger.head().size
        ok = await client.post("/v1/entries:batch", json=_batch(second[:2]))
        assert ok.status_code == 201 and world.ledger.head().size == size + 2
        # more than the burst in one batch could never pass: a 422 saying so, not a 429
        clock.now += 600
        big = [_commission(world, f"B-{n}") for n in range(10, 16)]
        too_big = await client.post("/v1/entries:batch", json=_batch(big))
        assert too_big.status_code == 422 and "split" in too_big.json()["detail"]
        assert (await client.post("/v1/entries:batch", json=_batch(big[:5]))).status_code == 201

    _run(app, story)


def _forged(signed: SignedEvent) -> dict[str, Any]:
    body = signed.to_dict()
    sig = bytearray(signed.sig)
    sig[0] ^= 1
    body["sig"] = codec.b64url_encode(bytes(sig))
    return body


def test_a_stranger_cannot_spend_a_partners_quota(world: LedgerWorld) -> None:
    """Forged, unknown-key and foreign-key events naming acme cost acme nothing."""
    clock = FakeClock()
    app = _app(world, _quota(1, 2, clock))  # two events, then one a minute

    async def story(client: httpx.AsyncClient) -> None:
        before = dump(world.ledger)
        for n in range(10):
            junk = [
                _forged(_commission(world, f"J-{n}")),  # acme's key, a broken signature
                _body(_commission(world, f"K-{n}", seed=99)),  # a key the log never saw
                _body(_commission(world, f"F-{n}", seed=4)),  # ship-co's key, acme's name
            ]
            for body in junk:
                refused = await client.post("/v1/entries", json=body)
                assert refused.status_code in (400, 403, 422), refused.text
            batch = await client.post("/v1/entries:batch", json={"events": junk})
            assert batch.status_code in (400, 403, 422), batch.text
        assert dump(world.ledger) == before
        for n in range(2):  # acme's whole burst is still there
            ok = await client.post("/v1/entries", json=_body(_commission(world, f"A-{n}")))
            assert ok.status_code == 201, ok.text
        _assert_quota(await client.post("/v1/entries", json=_body(_commission(world, "A-2"))))

    _run(app, story)


def test_replays_and_refused_appends_cost_the_signer_nothing(world: LedgerWorld) -> None:
    """A stranger re-posting acme's public events (duplicates), or acme's own events
    the rules refuse, spend nothing of acme's quota: only what the log newly holds."""
    clock = FakeClock()
    app = _app(world, _quota(1, 2, clock))  # two events, then one a minute

    async def story(client: httpx.AsyncClient) -> None:
        first = _commission(world, "R-1")
        ok = await client.post("/v1/entries", json=_body(first))
        assert ok.status_code == 201, ok.text  # one token spent, one left
        for _ in range(10):  # replays of a public event: duplicates, free
            again = await client.post("/v1/entries", json=_body(first))
            assert again.status_code in (200, 201), again.text
            batch = await client.post("/v1/entries:batch", json=_batch([first]))
            assert batch.status_code in (200, 201), batch.text
        unit = {"gtin": GTIN, "serial": "R-1"}
        for n in range(5):  # refused by the rules (the unit exists): nothing written, free
            twice = world.world.sign("commission", "acme", unit=unit, prev=None, lot=f"L{n}")
            refused = await client.post("/v1/entries", json=_body(twice))
            assert refused.status_code in (409, 422), refused.text
        ok = await client.post("/v1/entries", json=_body(_commission(world, "R-2")))
        assert ok.status_code == 201, ok.text  # the second token was still there
        _assert_quota(await client.post("/v1/entries", json=_body(_commission(world, "R-3"))))

    _run(app, story)


def test_events_under_a_key_rotated_in_by_the_batch_are_charged_after(
    world: LedgerWorld,
) -> None:
    """A batch cannot smuggle events past the quota under a key it adds itself."""
    clock = FakeClock()
    app = _app(world, _quota(1, 5, clock))

    async def story(client: httpx.AsyncClient) -> None:
        rotate = world.world.sign(
            "key.rotate", "acme", subject="acme", add=[public_b64(30)], remove=[]
        )
        new_key = [_commission(world, f"N-{n}", seed=30) for n in range(3)]
        ok = await client.post("/v1/entries:batch", json=_batch([rotate, *new_key]))
        assert ok.status_code == 201, ok.text
        # 1 checked before + 3 charged after: one of five left
        single = await client.post("/v1/entries", json=_body(_commission(world, "N-3", 30)))
        assert single.status_code == 201, single.text
        _assert_quota(await client.post("/v1/entries", json=_body(_commission(world, "N-4"))))

    _run(app, story)


def test_a_batch_cannot_pass_the_burst_under_a_key_it_adds(world: LedgerWorld) -> None:
    """Events under a key the same batch adds count against the burst as well: a batch
    that adds a key and then signs more than the burst with it is refused whole."""
    clock = FakeClock()
    app = _app(world, _quota(1, 5, clock))

    async def story(client: httpx.AsyncClient) -> None:
        before = dump(world.ledger)
        rotate = world.world.sign(
            "key.rotate", "acme", subject="acme", add=[public_b64(31)], remove=[]
        )
        new_key = [_commission(world, f"B-{n}", seed=31) for n in range(5)]
        refused = await client.post("/v1/entries:batch", json=_batch([rotate, *new_key]))
        assert refused.status_code == 422 and "split the batch" in refused.text
        assert dump(world.ledger) == before
        # nothing was charged: acme's whole burst is still there
        for n in range(5):
            ok = await client.post("/v1/entries", json=_body(_commission(world, f"C-{n}")))
            assert ok.status_code == 201, ok.text

    _run(app, story)


def test_the_operators_own_writes_are_not_throttled(world: LedgerWorld) -> None:
    clock = FakeClock()
    app = _app(world, _quota(1, 1, clock))

    async def story(client: httpx.AsyncClient) -> None:
        for n in range(4):
            register = world.world.sign(
                "actor.register",
                "operator",
                subject=f"courier-{n}",
                role="courier",
                name=f"Courier {n}",
                keys=[public_b64(40 + n)],
            )
            ok = await client.post("/v1/entries", json=_body(register))
            assert ok.status_code == 201, ok.text

    _run(app, story)


def test_epcis_capture_spends_the_partners_quota(world: LedgerWorld) -> None:
    clock = FakeClock()
    app = _app(world, _quota(1, 1, clock))
    link = f"https://id.gs1.org/01/{GTIN}/21/SN-0001"

    def recall(reason: str) -> dict[str, Any]:
        event = {
            "type": "ObjectEvent",
            "action": "OBSERVE",
            "bizStep": "holding",
            "disposition": "recalled",
            "epcList": [link],
            "eventTime": "2026-11-28T12:00:00Z",
            "eventTimeZoneOffset": "+00:00",
            "pl:reason": reason,
        }
        head = world.ledger.unit_entries(GTIN, "SN-0001")[-1]
        origin = world.ledger.origin
        prev = codec.b64url_encode(Leaf.from_bytes(head.leaf, origin).signed.hash)
        document = {"type": "EPCISDocument", "epcisBody": {"eventList": [event]}}
        return sign_document(document, "acme", key(2), lambda _unit: prev, origin)

    async def story(client: httpx.AsyncClient) -> None:
        ok = await client.post("/v1/epcis/capture", json=recall("battery fault"))
        assert ok.status_code == 201, ok.text
        before = dump(world.ledger)
        _assert_quota(await client.post("/v1/epcis/capture", json=recall("second thought")))
        assert dump(world.ledger) == before

    _run(app, story)


@pytest.mark.parametrize("where", ["database", "memory"])
def test_concurrent_writers_cannot_exceed_the_burst(world: LedgerWorld, where: str) -> None:
    clock = FakeClock()
    quota = _quota(1, 5, clock)
    if where == "memory":
        quota = WriteQuota(MemoryLimiter(1 / 60, 5, clock=clock), 1, 5)
    app = _app(world, quota)

    async def story(client: httpx.AsyncClient) -> None:
        events = [_commission(world, f"C-{n}") for n in range(20)]
        answers = await asyncio.gather(*(client.post("/v1/entries", json=_body(s)) for s in events))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201] * 5 + [429] * 15, statuses

    size = world.ledger.head().size
    _run(app, story)
    assert world.ledger.head().size == size + 5


def test_memory_bucket_takes_all_or_nothing_and_spends_into_debt() -> None:
    clock = FakeClock()

    async def run() -> list[int | None]:
        limiter = MemoryLimiter(rate=1.0, burst=5, clock=clock)
        out = [await limiter.acquire("a", 3), await limiter.acquire("a", 3)]
        await limiter.spend("a", 4)  # 2 - 4: a debt of 2
        out.append(await limiter.acquire("a", 1))
        await limiter.spend("a", -10)  # given back, never above the burst
        out += [await limiter.acquire("a", 5), await limiter.acquire("a", 1)]
        return out

    assert asyncio.run(run()) == [None, 1, 3, None, 1]


@pytest.fixture
def redis_prefix() -> str:
    _redis_or_skip()
    return f"test-wq-{uuid.uuid4().hex}"


def test_redis_bucket_is_shared_atomic_and_refills(redis_prefix: str) -> None:
    """Two workers' limiters, 40 concurrent requests: exactly the burst gets through."""
    clock = FakeClock()

    async def run() -> tuple[list[int | None], list[int | None], int | None]:
        workers = [
            RedisLimiter(REDIS_URL, rate=0.5, burst=10, prefix=redis_prefix, clock=clock)
            for _ in range(2)
        ]
        try:
            answers = await asyncio.gather(*(workers[n % 2].acquire("acme", 1) for n in range(40)))
            other = [await workers[0].acquire("shop", 10), await workers[1].acquire("shop", 1)]
            clock.now += 4  # two tokens back
            refilled = await workers[1].acquire("acme", 2)
            return list(answers), other, refilled
        finally:
            for limiter in workers:
                await limiter.close()

    answers, other, refilled = asyncio.run(run())
    assert answers.count(None) == 10
    assert all(a is not None and a >= 1 for a in answers if a is not None)
    assert other == [None, 2]
    assert refilled is None


def test_redis_quota_through_the_api(world: LedgerWorld, redis_prefix: str) -> None:
    """The app's quota in Redis: 429 past the burst, refill with the clock."""
    clock = FakeClock()
    limiter = RedisLimiter(REDIS_URL, rate=1.0, burst=2, prefix=redis_prefix, clock=clock)
    app = _app(world, WriteQuota(limiter, 60, 2))

    async def story(client: httpx.AsyncClient) -> None:
        events = [_commission(world, f"D-{n}") for n in range(4)]
        answers = await asyncio.gather(*(client.post("/v1/entries", json=_body(s)) for s in events))
        assert sorted(a.status_code for a in answers) == [201, 201, 429, 429]
        clock.now += 1
        late = next(s for s, a in zip(events, answers, strict=True) if a.status_code == 429)
        assert (await client.post("/v1/entries", json=_body(late))).status_code == 201
        await limiter.close()

    _run(app, story)


def test_settings_refuse_a_useless_quota() -> None:
    with pytest.raises(Exception, match="PROVENANCE_WRITE_RATE"):
        WriteQuota.from_settings(Settings.from_env({"PROVENANCE_WRITE_RATE": "0"}))
    with pytest.raises(Exception, match="PROVENANCE_WRITE_BURST"):
        WriteQuota.from_settings(Settings.from_env({"PROVENANCE_WRITE_BURST": "0"}))


@pytest.mark.postgres
@pytest.mark.parametrize("shared", ["database", "redis"])
def test_two_workers_share_one_quota(
    pg_url: str, tmp_path_factory: pytest.TempPathFactory, shared: str
) -> None:
    """The real server, two uvicorn workers on PostgreSQL, the buckets in the database
    (the default) or in Redis: 20 events by one partner sent at once over 20
    connections; exactly the burst is appended."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.e2e.server import start

    env = {"PROVENANCE_WRITE_RATE": "1", "PROVENANCE_WRITE_BURST": "5", "REDIS_URL": ""}
    if shared == "redis":
        _redis_or_skip()
        env["REDIS_URL"] = REDIS_URL
    server = start(pg_url, tmp_path_factory.mktemp("quota"), workers=2, extra_env=env)
    try:
        world = server.world.world
        unit = {"gtin": GTIN}
        events = [
            world.sign("commission", "acme", unit={**unit, "serial": f"W-{n}"}, prev=None)
            for n in range(20)
        ]
        size = int(httpx.get(f"{server.url}/v1/checkpoint").text.splitlines()[1])

        def post(signed: SignedEvent) -> httpx.Response:
            return httpx.post(f"{server.url}/v1/entries", json=signed.to_dict(), timeout=60)

        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(post, events))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201] * 5 + [429] * 15, statuses
        for refused in (a for a in answers if a.status_code == 429):
            _assert_quota(refused)
        after = int(httpx.get(f"{server.url}/v1/checkpoint").text.splitlines()[1])
        assert after == size + 5
    finally:
        server.stop()


def _verify_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads `entry.verify_event` runs on from now on, in order."""
    where: list[str] = []
    real = entry.verify_event

    def spy(signed: SignedEvent, public: Any) -> None:
        where.append(threading.current_thread().name)
        real(signed, public)

    monkeypatch.setattr(entry, "verify_event", spy)
    return where


def test_the_who_pays_check_runs_off_the_event_loop(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the key owners in memory, `WriteQuota.admit` of a few events not grouped
    checks the signatures on a quick verify thread (not the event loop's) and waits for
    it; the decision is the loop's was: a good signature is charged, a forged one not
    (the append refuses it), and only a signature that verified is remembered."""
    quota = _quota(60, 5, FakeClock())
    where = _verify_threads(monkeypatch)
    good = _commission(world, "Q-1").for_log(world.ledger.origin)
    forged = SignedEvent.from_json(_forged(_commission(world, "Q-2"))).for_log(world.ledger.origin)

    async def admit(signed: SignedEvent) -> tuple[Any, str]:
        world.ledger.key_owners({signed.key})  # in memory for the next second
        assert world.ledger.cached_key_owners({signed.key}) is not None
        admission = await quota.admit(world.ledger, [signed])
        return admission, threading.current_thread().name

    admitted, loop_thread = asyncio.run(admit(good))
    assert admitted.charge is None and admitted.charged == {good.hash: "acme"}
    assert where and all(name.startswith("verify-quick") for name in where)
    assert loop_thread not in where
    public = codec.b64url_decode(world.ledger.key_owners({good.key})[good.key][1].public_key)
    assert entry.verified_under(good, public)
    where.clear()
    refused, _ = asyncio.run(admit(forged))
    assert refused.charge is None and not refused.charged and not refused.deferred
    assert where and all(name.startswith("verify-quick") for name in where)
    assert not entry.verified_under(forged, public)


def test_a_grouped_single_events_signature_is_checked_once_by_its_group(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A single event for group commit, its key owners in memory: `WriteQuota.admit`
    verifies nothing and hops to no thread; its charge is due only if the signature
    verifies under the actor's current key (`Charge.due`, asked by the group right
    before the take, after the group's own verify). A forged signature is never due; an
    unknown key, another actor's key, or owners not in memory take the other ways
    (no charge of this kind)."""
    quota = _quota(60, 5, FakeClock())
    where = _verify_threads(monkeypatch)
    origin = world.ledger.origin
    good = _commission(world, "G-1").for_log(origin)
    forged = SignedEvent.from_json(_forged(_commission(world, "G-2"))).for_log(origin)
    unknown = _commission(world, "G-3", seed=99).for_log(origin)  # a key the log never saw
    foreign = _commission(world, "G-4", seed=4).for_log(origin)  # ship-co's key, acme's name

    async def admit(signed: SignedEvent, in_memory: bool = True) -> Any:
        if in_memory:
            world.ledger.key_owners({signed.key})  # in memory for the next second
        return await quota.admit(world.ledger, [signed], grouped=True)

    admitted = asyncio.run(admit(good))
    assert where == []  # nothing verified at admission
    charge = admitted.charge
    assert charge is not None and charge.bucket[1] == "acme" and charge.due is not None
    assert charge.take_in is not None and not admitted.charged and not admitted.deferred
    public = codec.b64url_decode(world.ledger.key_owners({good.key})[good.key][1].public_key)
    assert not entry.verified_under(good, public)
    assert charge.due() and entry.verified_under(good, public)  # verified, remembered
    refused = asyncio.run(admit(forged))
    assert refused.charge is not None and refused.charge.due is not None
    assert not refused.charge.due() and not entry.verified_under(forged, public)
    for other in (unknown, foreign):
        other_admission = asyncio.run(admit(other))
        assert other_admission.charge is None
    world.ledger._owners.forget()  # not in memory any more
    where.clear()
    fresh = _commission(world, "G-5").for_log(origin)
    slow = asyncio.run(admit(fresh, in_memory=False))
    assert slow.charge is not None and slow.charge.due is None  # checked at admission
    assert where  # (on anyio's thread, with the owners' read)


@pytest.mark.parametrize("where", ["database", "memory"])
@pytest.mark.parametrize("cached", [True, False])
def test_a_replay_in_flight_holds_none_of_the_actors_tokens(
    world: LedgerWorld, where: str, cached: bool
) -> None:
    """A stranger's re-post of an actor's logged event is admitted without a charge (it
    is a duplicate): while it is being answered (admitted, not yet settled) the actor's
    own new event still gets its token. Before, the replay took one and gave it back
    only after its append, so enough replays in flight kept the bucket empty. Both the
    inline check (owners in memory) and the read one (owners read first)."""
    clock = FakeClock()
    quota = _quota(1, 1, clock)  # one event, then one a minute
    if where == "memory":
        quota = WriteQuota(MemoryLimiter(1 / 60, 1, clock=clock), 1, 1)
    ledger = world.ledger
    logged = _commission(world, "F-1")
    ledger.append(logged)
    fresh = _commission(world, "F-2")

    async def story() -> None:
        if cached:
            ledger.key_owners({logged.key})  # in memory: the inline check
        else:
            ledger._owners.forget()  # read first
        replay = await quota.admit(ledger, [logged, logged])
        assert replay.charged == {}
        own = await quota.admit(ledger, [fresh])  # the token is still there
        assert set(own.charged) == {fresh.for_log(ledger.origin).hash}
        with pytest.raises(Exception) as refused:  # and now it is spent
            await quota.admit(ledger, [_commission(world, "F-3")])
        assert getattr(refused.value, "code", None) == "write-quota"
        await replay.settle([logged.for_log(ledger.origin).hash])

    asyncio.run(story())


def test_a_batchs_signers_keys_are_decoded_once_and_each_event_verified(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`WriteQuota.admit` of a batch decodes each signer's key once, not once an event,
    and still checks every event under it: the genuine ones are charged and remembered
    as verified under those bytes; one forged event among them charges nothing."""
    quota = _quota(60, 100, FakeClock())
    origin = world.ledger.origin
    events = [_commission(world, f"K-{i}").for_log(origin) for i in range(70)]
    forged = SignedEvent.from_json(_forged(_commission(world, "K-x"))).for_log(origin)
    more = [_commission(world, f"L-{i}").for_log(origin) for i in range(69)]
    public_b64url = world.ledger.key_owners({events[0].key})[events[0].key][1].public_key
    public = codec.b64url_decode(public_b64url)
    decoded: list[object] = []
    real = codec.b64url_decode

    def counted(value: Any, *args: Any, **kwargs: Any) -> bytes:
        decoded.append(value)
        return real(value, *args, **kwargs)

    monkeypatch.setattr(codec, "b64url_decode", counted)
    admitted = asyncio.run(quota.admit(world.ledger, events))
    assert admitted.charged == {s.hash: "acme" for s in events}
    assert decoded == [public_b64url]  # one signer, one key, decoded once
    assert all(entry.verified_under(s, public) for s in events)
    decoded.clear()
    refused = asyncio.run(quota.admit(world.ledger, [*more[:30], forged, *more[30:]]))
    assert not refused.charged and not refused.deferred
    assert decoded == [public_b64url]
    assert not entry.verified_under(forged, public)
