"""api.shortmemo: a pure function's answers kept for short arguments only, so a
stranger's long values are worked out every time and never fill the memory."""

from __future__ import annotations

from api.shortmemo import kept_when_short


def test_short_calls_are_kept_and_long_ones_worked_out_each_time() -> None:
    calls: list[tuple[object, ...]] = []

    @kept_when_short(10, 4)
    def joined(a: str, b: tuple[tuple[str, str], ...] | None = None) -> str:
        calls.append((a, b))
        return a + "".join(k + v for k, v in b or ())

    assert joined("ab", (("c", "d"),)) == joined("ab", (("c", "d"),)) == "abcd"
    assert len(calls) == 1  # kept: 2 + (1 + 1 + 1) + 1 + 1 characters, at most 10
    assert joined("x" * 11) == joined("x" * 11)
    assert len(calls) == 3  # too long: worked out both times
    assert joined("a", b=None) == "a" and len(calls) == 4  # keywords: not kept
    for i in range(10):  # an LRU of 4: the first answer is pushed out
        joined(str(i))
    joined("ab", (("c", "d"),))
    assert len(calls) == 4 + 10 + 1
