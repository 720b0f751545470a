"""`BatchReceipt.to_json` is the receipt's JSON exactly as the API's `JSONResponse`
rendered `BatchReceipt.to_dict` before (the batch and single-event answers)."""

from __future__ import annotations

import random

from starlette.responses import JSONResponse

from ledger.service.append import BatchReceipt, Receipt, _new_receipt


def _rendered(receipt: BatchReceipt) -> bytes:
    return bytes(JSONResponse(receipt.to_dict()).body)


def test_the_template_renders_what_json_does() -> None:
    rng = random.Random(29)
    notes = [
        "",
        "log.example/test\n5\nAAAA+/==\n\n\u2014 log.example/test Zm9v\n",
        'quote " backslash \\ tab \t control \x01 \u00e9 \u4e2d \U0001f600',
    ]
    for count in (0, 1, 2, 7, 50):
        receipts = tuple(
            Receipt(
                rng.randrange(2**63),
                rng.randbytes(32),
                rng.randbytes(32),
                duplicate=rng.random() < 0.3,
            )
            for _ in range(count)
        )
        for note in notes:
            receipt = BatchReceipt(receipts, rng.randrange(2**63), note)
            assert receipt.to_json() == _rendered(receipt)


def test_a_new_receipt_is_the_dataclass_s() -> None:
    made = _new_receipt(3, b"l" * 32, b"e" * 32)
    assert made == Receipt(3, b"l" * 32, b"e" * 32)
    assert vars(made) == vars(Receipt(3, b"l" * 32, b"e" * 32))
    assert list(vars(made)) == ["index", "leaf_hash", "event_hash", "duplicate"]
