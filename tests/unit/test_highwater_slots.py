"""The high-water keeper's slot files as bytes (ledger.service.highwater, .slotformat): one encoding
per write (the body is the checked text plus its check), the old indented form still
read, and the in-memory copy of each slot never hiding what another process (another
`HighWater` on the same files) or a torn write left there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import StorageError
from ledger.service.highwater import HighWater
from ledger.service.publishing import Publishing
from ledger.service.slotformat import body as _body
from ledger.service.slotformat import check as _check
from ledger.service.slotformat import parse as _parse

_TEXT = st.text(max_size=20)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_TEXT, _JSON, max_size=6), st.integers(0, 2**40))
def test_a_body_parses_back_to_its_data(data: dict[str, Any], size: int) -> None:
    data = {k: v for k, v in data.items() if k != "check"} | {"size": size}
    assert _parse(_body(data)) == data


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(_TEXT, _JSON, max_size=6), st.integers(0, 2**40))
def test_a_slot_in_the_old_indented_form_is_still_read(data: dict[str, Any], size: int) -> None:
    data = {k: v for k, v in data.items() if k != "check"} | {"size": size}
    old = json.dumps({**data, "check": _check(data)}, indent=1, sort_keys=True).encode()
    assert _parse(old) == data


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=8), st.integers(0, 10_000))
def test_a_changed_byte_makes_a_body_damaged(flip: bytes, at: int) -> None:
    body = _body({"origin": "o", "size": 7, "checkpoint": "c\n7\n", "incidents": []})
    at %= len(body)
    changed = body[:at] + bytes([body[at] ^ (flip[0] or 1)]) + body[at + 1 :]
    parsed = _parse(changed)
    # a change to JSON whitespace is harmless; any other change is caught
    assert parsed is None or parsed == _parse(body)


def _batch(base: int, size: int) -> Publishing:
    return Publishing(base, size, f"cp\n{size}\n", tuple(b"leaf-%d" % i for i in range(base, size)))


def test_a_mark_another_process_wrote_in_place_is_seen(tmp_path: Path) -> None:
    """Two keepers on one file (two server workers): each slot is rewritten in place,
    padded to its old length, so only its bytes tell that it changed."""
    path = tmp_path / "log.json"
    one, two = HighWater(path, "o"), HighWater(path, "o")
    one.before_commit(_batch(0, 2))
    two.before_commit(_batch(2, 3))
    with pytest.raises(StorageError, match="already holds checkpoint 3"):
        one.before_commit(_batch(2, 3))  # a second checkpoint of size 3: a fork
    one.before_commit(_batch(3, 4))
    lengths = {p: p.stat().st_size for p in one.slots}
    two.before_commit(_batch(4, 5))  # the slot `one` read holds size 3: rewritten
    assert {p: p.stat().st_size for p in one.slots} == lengths  # same length
    with pytest.raises(StorageError, match="already holds checkpoint 5"):
        one.before_commit(_batch(4, 5))
    assert one.pending() == (4, [b"leaf-4"], "cp\n5\n")


def test_a_torn_slot_is_passed_over_though_its_last_bytes_were_remembered(
    tmp_path: Path,
) -> None:
    water = HighWater(tmp_path / "log.json", "o")
    water.before_commit(_batch(0, 1))
    water.before_commit(_batch(1, 2))
    newest = max(water.slots, key=lambda p: json.loads(p.read_bytes())["size"])
    newest.write_bytes(newest.read_bytes()[:-40])  # a torn write (another process)
    assert water.pending() == (0, [b"leaf-0"], "cp\n1\n")
    water.before_commit(_batch(1, 2))  # the torn slot is the one written next
    assert water.pending() == (1, [b"leaf-1"], "cp\n2\n")


def test_an_undo_puts_back_the_exact_bytes(tmp_path: Path) -> None:
    water = HighWater(tmp_path / "log.json", "o")
    water.before_commit(_batch(0, 1))
    water.before_commit(_batch(1, 2))
    before = {p: p.read_bytes() for p in water.slots}
    undo = water.before_commit(_batch(2, 3))
    undo()
    assert {p: p.read_bytes() for p in water.slots} == before
    assert water.pending() == (1, [b"leaf-1"], "cp\n2\n")
    water.before_commit(_batch(2, 3))  # and the next commit is judged on the bytes put back
    assert water.pending() == (2, [b"leaf-2"], "cp\n3\n")


def test_a_short_write_refuses_the_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a full disk takes part of a slot: the keeper must not report the mark durable
    import os

    water = HighWater(tmp_path / "log.json", "o")
    water.before_commit(_batch(0, 3))
    real = os.pwrite
    taken: list[int] = []

    def short(fd: int, data: bytes, offset: int) -> int:
        if taken:
            return 0  # the disk is full after the first part
        taken.append(real(fd, data[: len(data) // 2], offset))
        return taken[0]

    monkeypatch.setattr(os, "pwrite", short)
    with pytest.raises(StorageError, match="took"):
        water.before_commit(_batch(3, 5))
    monkeypatch.setattr(os, "pwrite", real)
    sizes = [d["size"] for _, d in water._load() if d is not None]
    assert sizes == [3]  # the torn slot is passed over: the mark is still the last whole one


def test_the_folder_is_made_private_when_missing_even_after_a_first_write(
    tmp_path: Path,
) -> None:
    """The folder is made only when the lock file cannot be opened (not at every
    commit): first use, and a folder removed while the process runs."""
    import shutil

    folder = tmp_path / "deep" / "highwater"
    water = HighWater(folder / "log.json", "o")
    water.before_commit(_batch(0, 1))
    assert folder.stat().st_mode & 0o777 == 0o700
    shutil.rmtree(folder)
    water.before_commit(_batch(1, 2))  # made again; the mark kept from this process on
    assert folder.stat().st_mode & 0o777 == 0o700
    assert water.pending() == (1, [b"leaf-1"], "cp\n2\n")
    (folder / "log.lock").unlink()
    (folder / "log.lock").mkdir()  # a lock that cannot be opened (even by root): no commit
    with pytest.raises(StorageError, match="cannot lock"):
        water.before_commit(_batch(2, 3))
    assert water.pending() == (1, [b"leaf-1"], "cp\n2\n")
