"""Pure functions of a request's short strings, kept per argument values.

A resolver hit works out a few things from what the client sent: the Digital Link's
parse, the language choice, the language switch's link, the user agent's class. A crowd
of phones sends few distinct values, so each is kept in an LRU; a stranger can send
values as long as he likes, so only calls whose strings are short in all are kept (a
longer one is worked out anew and never fills the memory).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, wraps
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def kept_when_short(most: int, entries: int) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Keep ``function``'s answers in an LRU of ``entries`` for calls whose arguments
    (strings, None, and tuples of those) hold at most ``most`` characters in all;
    ``function`` must be pure, its arguments hashable."""

    def keep(function: Callable[P, R]) -> Callable[P, R]:
        kept = lru_cache(maxsize=entries)(function)

        @wraps(function)
        def answer(*args: P.args, **kwargs: P.kwargs) -> R:
            if kwargs:
                return function(*args, **kwargs)
            size = 0
            for arg in args:  # strings, the common case, without a call each
                size += len(arg) if arg.__class__ is str else _size(arg)
            if size > most:
                return function(*args, **kwargs)
            return kept(*args)

        return answer

    return keep


def _size(value: object) -> int:
    """Characters of the strings in ``value`` (a tuple's items each count one more);
    anything else counts as too long to keep."""
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value)
    if isinstance(value, tuple):
        size = len(value)
        for item in value:
            size += _size(item)
        return size
    return 2**31
