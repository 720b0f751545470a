"""The export bundle format (ledger.audit.bundle): lines round-trip; every malformation is a
`LedgerError` naming the line or field."""

from __future__ import annotations

import json

import pytest

from ledger.audit import bundle
from ledger.errors import EncodingError, ValidationError


def lines(size: int = 2, leaves: list[tuple[int, bytes]] | None = None) -> list[str]:
    """A small bundle's lines."""
    return list(
        bundle.write_lines(
            "o.example/log",
            "o.example/log+01020304+AAAA",
            ["w+01020304+BBBB"],
            size,
            bytes(32),
            ["note one\n", "note two\n"],
            leaves if leaves is not None else [(i, b"leaf %d" % i) for i in range(size)],
        )
    )


def test_round_trip() -> None:
    parsed = bundle.parse_bundle("".join(lines()).encode())
    assert parsed.size == 2 and parsed.leaves == (b"leaf 0", b"leaf 1")
    assert parsed.checkpoints == ("note one\n", "note two\n")
    assert parsed.chain == bytes(32) and parsed.witness_keys == ("w+01020304+BBBB",)
    assert json.loads(lines()[0])["format"] == bundle.FORMAT


def test_the_writer_refuses_gaps_and_short_logs() -> None:
    with pytest.raises(ValidationError):
        lines(2, [(1, b"x")])
    with pytest.raises(ValidationError):
        lines(3, [(0, b"a"), (1, b"b")])


def edit(number: int, change: dict[str, object] | None = None, raw: str | None = None) -> bytes:
    """The small bundle with line ``number`` changed."""
    out = lines()
    out[number] = (
        raw if raw is not None else json.dumps({**json.loads(out[number]), **(change or {})}) + "\n"
    )
    return "".join(out).encode()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", ValidationError),
        (b"\xff", EncodingError),
        (edit(0, raw="not json\n"), EncodingError),
        (edit(0, raw="[]\n"), ValidationError),
        (edit(0, {"format": "other"}), ValidationError),
        (edit(0, {"size": -1}), ValidationError),
        (edit(0, {"size": 3}), ValidationError),
        (edit(0, {"extra": 1}), ValidationError),
        (edit(0, {"witness_keys": "w"}), ValidationError),
        (edit(1, {"extra": 1}), ValidationError),
        (edit(3, {"index": 1}), ValidationError),
        (edit(3, {"leaf": 7}), ValidationError),
        (edit(3, {"leaf": "a+b"}), EncodingError),
        (edit(4, raw='{"checkpoint":"late\\n"}\n'), ValidationError),
    ],
)
def test_malformed_bundles_are_refused(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        bundle.parse_bundle(data)
