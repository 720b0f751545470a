"""ledger.frozen.cached: computed once, kept in the instance, a value put there first wins."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.entry import Leaf, SignedEvent
from ledger.frozen import cached


@dataclass(frozen=True)
class _Box:
    data: bytes

    @cached
    def length(self) -> int:
        """The data's length (counted)."""
        _CALLS.append(self.data)
        return len(self.data)


_CALLS: list[bytes] = []


def test_computed_on_the_first_read_only_and_kept_in_the_instance() -> None:
    _CALLS.clear()
    box = _Box(b"abc")
    assert box.length == 3 and box.length == 3
    assert _CALLS == [b"abc"] and vars(box) == {"data": b"abc", "length": 3}
    assert _Box(b"abc") == box  # not a field: equality and repr as before
    assert repr(box) == "_Box(data=b'abc')"


def test_a_value_in_the_instance_first_is_the_one_read() -> None:
    _CALLS.clear()
    box = _Box(b"abc")
    box.__dict__["length"] = 7
    assert box.length == 7 and _CALLS == []


def test_the_class_attribute_is_the_descriptor_with_the_method_s_doc() -> None:
    assert isinstance(_Box.length, cached)
    assert _Box.length.__doc__ == "The data's length (counted)."
    assert isinstance(SignedEvent.hash, cached) and isinstance(Leaf.hash, cached)
