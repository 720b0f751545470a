"""The map child's loop (ledger.service.mapchild.serve) run in this process, its pipes
replaced by buffers: a request whose rows it keeps is answered once, with the root
bucket only, before its rows are made; if making them fails after that answer, the
request's write is answered with that failure (the parent logs it and catches the map
up), never a second answer and never `WROTE`."""

from __future__ import annotations

import hashlib
import io
import sys
from pathlib import Path
from typing import Any, cast

import pytest

from ledger.map.bucketmap import BucketMap
from ledger.map.heads import unit_heads_of
from ledger.map.update import ROOT
from ledger.service import mapchild
from ledger.service.mapworker import CODE_ID, STALE, WRITE, WROTE, receive, send
from ledger.store.repository import Store
from tests.factories import GTIN


def _serve(messages: list[Any], monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Run the child's loop over ``messages`` (then the end of its input); its answers."""
    given = io.BytesIO()
    for message in messages:
        send(given, message)
    given.seek(0)
    said = io.BytesIO()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(given))
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(said))
    mapchild.serve()
    said.seek(0)
    answers = []
    while (got := receive(said)) is not None:
        answers.append(got[0])
    return answers


def _units(count: int) -> list[tuple[int, bytes, str, str]]:
    return [(i, hashlib.sha256(b"%d" % i).digest(), GTIN, f"C-{i}") for i in range(count)]


@pytest.fixture
def url(tmp_path: Path) -> str:
    address = f"sqlite:///{tmp_path / 'ledger.db'}"
    Store.open(address).close()  # migrated: the child reads and writes its tables
    return address


def test_a_kept_request_is_answered_with_the_root_bucket_before_its_rows(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    units = _units(40)
    answers = _serve([(url, 1), (1, None, units, True)], monkeypatch)
    assert answers[0] == (0, CODE_ID, None, "ready")
    expected = BucketMap()
    root = expected.update(unit_heads_of(units))
    number, _digest, answered_root, rows = answers[1]
    assert (number, answered_root, rows) == (1, root, [(ROOT, expected.root_row())])
    assert len(answers) == 2


def test_rows_that_fail_after_the_answer_make_the_write_say_so(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(_self: BucketMap) -> list[tuple[bytes, bytes]]:
        raise RuntimeError("rows lost")

    monkeypatch.setattr(BucketMap, "rows", failing)
    answers = _serve([(url, 1), (1, None, _units(40), True), (WRITE, 1, 0)], monkeypatch)
    assert [a[0] for a in answers] == [0, 1, 1]  # ready, one answer, the write's
    assert answers[1][2] is not None  # the root was answered
    outcome = answers[2][3]
    assert outcome not in (WROTE, STALE) and "rows lost" in outcome


def test_a_write_that_lands_has_the_wal_flushed_after_its_answer(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(url)
    try:
        log = store.ensure_log("child-wal", "test.example/child").id
        with store.engines.writer.begin() as conn:  # the stored map: that of 0 entries
            conn.exec_driver_sql("UPDATE logs SET map_size = 0 WHERE id = ?", (log,))
    finally:
        store.close()
    calls: list[str] = []

    class Spy:
        def __init__(self, path: Path) -> None:
            calls.append(f"made for {Path(path).name}")

        def sync(self) -> None:  # the write's answer is out by then
            written = cast(io.BytesIO, sys.stdout.buffer).getvalue()
            calls.append("sync after the answer" if WROTE.encode() in written else "sync")

        def close(self) -> None:
            calls.append("close")

    monkeypatch.setattr(mapchild, "WalSyncer", Spy)
    answers = _serve([(url, log), (1, None, _units(300), True), (WRITE, 1, 0)], monkeypatch)
    assert answers[2][3] == WROTE
    assert calls == ["made for ledger.db", "sync after the answer", "close"]
