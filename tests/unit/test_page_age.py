"""The consumer page says how old the log's state it was checked against is (issue 18):
the age of the checkpoint's time line (docs/FORMAT.md 5.2), in English and Chinese;
nothing for a checkpoint without one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger import note
from ledger.note import logtime
from tests.factories import key
from tests.unit.test_page import NOW, seen, story

LOG = note.Signer("test.example/log", key(1))
SIGNED = note.sign_checkpoint(note.Checkpoint("test.example/log", 12, bytes(32)), LOG).decode()


def dated(seconds_before: int) -> dict[str, object]:
    stamp = int((NOW - timedelta(seconds=seconds_before)).timestamp())
    return {**story("sold"), "checkpoint": logtime.stamp(SIGNED, LOG, stamp)}


@pytest.mark.parametrize(
    ("before", "lang", "said"),
    [
        (180, "en", "Checked against the public log as of about 3 min ago."),
        (40, "en", "Checked against the public log as of about 40 s ago."),
        (7200, "en", "Checked against the public log as of about 2 h ago."),
        (180, "zh-CN", "本页依据约 3 分钟前的公开日志核对。"),
        (180, "zh-TW", "本頁依據約 3 分鐘前的公開日誌核對。"),
    ],
)
def test_the_page_says_the_checkpoints_age(before: int, lang: str, said: str) -> None:
    assert said in seen(dated(before), lang).text


def test_no_age_without_a_time_line() -> None:
    page = seen({**story("sold"), "checkpoint": SIGNED}).text
    assert "as of" not in page
