"""Frozen dataclasses made without their ``__init__``, where one is made per entry.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``
(~0.15 us a field); the append, the rules and the audit make several such objects per
entry (a leaf, a signed event, a rules context, a receipt, a stored entry, a map head).
For a class that holds its fields and nothing else (no ``__post_init__``, no slots, no
default factories, no field left out), its instance dictionary filled with every field
in field order is the object ``__init__`` makes: equal to it, alike in every field, with
the same ``repr``. Each caller's tests compare the two.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def filled(cls: type[T], **fields: Any) -> T:
    """``cls(**fields)`` for such a class, ``fields`` being every field in field order
    (nothing is checked: a caller that cannot promise it calls ``cls`` itself)."""
    made: T = object.__new__(cls)
    made.__dict__.update(fields)
    return made
