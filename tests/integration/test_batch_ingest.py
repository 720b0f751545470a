"""``POST /v1/entries:batch`` at the new speed (issue 20): each signature verified once
although the write quota and the append both check it; a batch with one bad event still
refused whole, with that event's position, leaving the log byte for byte as it was; a
malformed body refused for the cost of its parse (no signature verified)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from ledger import codec, crypto, entry
from ledger.errors import SignatureError
from ledger.service import sigpool
from ledger.service.settings import Settings
from tests.factories import GTIN, key
from tests.integration.world import LedgerWorld, dump

#: more than batchverify.PARALLEL_FROM: the batch is verified on the verify threads
COUNT = 80
#: sigpool.PROCESS_FROM or more: verified in the verifier children (ledger.service.sigpool)
LARGE = 300


def _app(world: LedgerWorld) -> FastAPI:
    env = {"PROVENANCE_RATE": "100000", "PROVENANCE_BURST": "100000"}
    return create_app(Settings.from_env(env), ledger=world.ledger)


def _post(app: FastAPI, body: dict[str, Any]) -> httpx.Response:
    async def main() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/v1/entries:batch", json=body)

    return asyncio.run(main())


def _events(world: LedgerWorld, tag: str, count: int = COUNT) -> list[dict[str, Any]]:
    return [
        world.world.sign(
            "commission", "acme", unit={"gtin": GTIN, "serial": f"{tag}-{n}"}, prev=None
        ).to_dict()
        for n in range(count)
    ]


@pytest.fixture
def verifies(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The signatures `crypto.verify` is asked to check (it still checks them)."""
    calls: list[bytes] = []
    real = crypto.verify

    def counting(key: Any, domain: bytes, message: bytes, signature: bytes) -> None:
        calls.append(bytes(signature))
        real(key, domain, message, signature)

    monkeypatch.setattr(crypto, "verify", counting)
    return calls


def test_each_signature_of_a_batch_is_verified_once(
    world: LedgerWorld, verifies: list[bytes]
) -> None:
    events = _events(world, "ONCE")
    answer = _post(_app(world), {"events": events})
    assert answer.status_code == 201, answer.text
    assert len(answer.json()["receipts"]) == COUNT
    signatures = sorted(codec.b64url_decode(e["sig"]) for e in events)
    assert sorted(verifies) == signatures  # each once: the quota's check served the append


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: no verifier children")
def test_a_large_batch_is_verified_once_in_the_verifier_children(
    world: LedgerWorld, verifies: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[bytes] = []
    real = sigpool._Child.send

    def send(self: sigpool._Child, items: list[Any], deadline: float) -> None:
        sent.extend(item[4] for item in items)  # (index, key, domain, message, signature)
        real(self, items, deadline)

    monkeypatch.setattr(sigpool._Child, "send", send)
    events = _events(world, "KIDS", LARGE)
    answer = _post(_app(world), {"events": events})
    assert answer.status_code == 201, answer.text
    assert len(answer.json()["receipts"]) == LARGE
    signatures = sorted(codec.b64url_decode(e["sig"]) for e in events)
    assert sorted(sent) == signatures  # each once, off this process
    assert verifies == []


@pytest.mark.parametrize(
    ("count", "position"),
    [(COUNT, 0), (COUNT, COUNT // 2), (COUNT, COUNT - 1), (LARGE, 0), (LARGE, LARGE - 1)],
)
def test_one_forged_event_refuses_the_batch_whole_at_its_position(
    world: LedgerWorld, count: int, position: int
) -> None:
    events = _events(world, f"BAD{position}", count)
    sig = bytearray(codec.b64url_decode(events[position]["sig"]))
    sig[0] ^= 1
    events[position] = {**events[position], "sig": codec.b64url_encode(bytes(sig))}
    before = dump(world.ledger)
    answer = _post(_app(world), {"events": events})
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["field"] == f"events[{position}]"
    assert dump(world.ledger) == before
    good = _post(_app(world), {"events": events[:position] + events[position + 1 :]})
    assert good.status_code == 201, good.text  # the others were never the problem


def test_a_malformed_event_costs_its_parse_and_no_verify(
    world: LedgerWorld, verifies: list[bytes]
) -> None:
    events = _events(world, "MAL")
    events[-1] = {**events[-1], "key": "not-a-key"}
    before = dump(world.ledger)
    answer = _post(_app(world), {"events": events})
    assert answer.status_code in (400, 422), answer.text
    assert answer.json()["field"].startswith(f"events[{COUNT - 1}].key")
    assert verifies == []
    assert dump(world.ledger) == before


def test_the_append_skips_only_what_was_verified_under_the_logs_key_bytes(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Appender._verify_known` leaves out an event verified before (the write quota's
    check) under the very key bytes the log holds for its key id; under other bytes it
    is verified again, and refused if they are not its signer's."""
    signed = world.world.sign(
        "commission", "acme", unit={"gtin": GTIN, "serial": "SKIP-1"}, prev=None
    )
    appender = world.ledger.appender
    raw = codec.b64url_decode(appender._public_keys({signed.key})[signed.key])
    entry.verify_event(signed, raw)  # as the write quota does
    jobs: list[list[Any]] = []
    real = sigpool.first_bad_signature

    def recording(batch: Any) -> Any:
        jobs.append(list(batch))
        return real(batch)

    monkeypatch.setattr(sigpool, "first_bad_signature", recording)
    appender._verify_known([signed])
    assert jobs == [[]]  # remembered under these bytes: no verify again
    other = codec.b64url_encode(crypto.public_key_to_raw(key(7).public_key()))
    monkeypatch.setattr(appender, "_public_keys", lambda _ids: {signed.key: other})
    with pytest.raises(SignatureError):
        appender._verify_known([signed])
    assert [len(batch) for batch in jobs] == [0, 1]
