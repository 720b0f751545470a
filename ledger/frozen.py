"""Frozen dataclasses made without their ``__init__``, where one is made per entry.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``
(~0.15 us a field); the append, the rules and the audit make several such objects per
entry (a leaf, a signed event, a rules context, a receipt, a stored entry, a map head).
For a class that holds its fields and nothing else (no ``__post_init__``, no slots, no
default factories, no field left out), its instance dictionary filled with every field
in field order is the object ``__init__`` makes: equal to it, alike in every field, with
the same ``repr``. Each caller's tests compare the two.

`cached` is `functools.cached_property` as Python 3.12 has it, for such classes' computed
attributes: Python 3.11's takes a lock (an ``RLock`` per property, held across the
computation) on every first read, ~0.4 us of a first read's ~1.1, and a signed event's
hash and a leaf's hash are read first once per event of every batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


def filled(cls: type[T], **fields: Any) -> T:
    """``cls(**fields)`` for such a class, ``fields`` being every field in field order
    (nothing is checked: a caller that cannot promise it calls ``cls`` itself)."""
    made: T = object.__new__(cls)
    made.__dict__.update(fields)
    return made


V = TypeVar("V")


class cached(Generic[V]):  # noqa: N801 - a decorator, named as functools' is
    """``@cached`` on a method of one argument: its value, computed on the first read
    and kept in the instance's ``__dict__`` under the method's name.

    Like `functools.cached_property` it is a non-data descriptor: once the value is in
    the instance's ``__dict__``, reads find it there without calling anything, and a
    value put there beforehand (`ledger.entry.SignedEvent.message_and_hash`) is the one
    read. Two threads reading it first at once may both compute it (the same value:
    the instances it serves are frozen)."""

    def __init__(self, function: Callable[[Any], V]) -> None:
        self.function = function
        self.name = function.__name__
        self.__doc__ = function.__doc__

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> cached[V]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> V: ...

    def __get__(self, instance: object, owner: type | None = None) -> V | cached[V]:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.function(instance)
        return value
