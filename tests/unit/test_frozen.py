"""ledger.frozen: an instance dictionary filled in field order is what ``__init__`` makes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from ledger.frozen import filled
from ledger.map.trie import Head
from ledger.service.append import Receipt


@dataclass(frozen=True)
class Pair:
    left: int
    right: str | None = None


def test_filled_is_the_object_init_makes() -> None:
    made = filled(Pair, left=1, right="x")
    assert made == Pair(1, "x") and repr(made) == repr(Pair(1, "x"))
    assert hash(made) == hash(Pair(1, "x"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.left = 2  # type: ignore[misc]
    assert dataclasses.replace(made, left=3) == Pair(3, "x")


def test_the_callers_classes_hold_their_fields_only() -> None:
    for made, plain in (
        (filled(Head, index=3, entry_hash=b"h" * 32), Head(3, b"h" * 32)),
        (
            filled(Receipt, index=1, leaf_hash=b"l", event_hash=b"e", duplicate=False),
            Receipt(1, b"l", b"e", False),
        ),
    ):
        assert made == plain and vars(made) == vars(plain)
