"""api.consumer.page_signals.localise: a kept reasons list is worded once, and only
the very list (identity, never equality) gets those words again."""

from __future__ import annotations

from typing import Any

from api.consumer.page import reason_words
from api.consumer.page_signals import localise


def test_the_same_list_reuses_its_words_and_another_is_worded_afresh() -> None:
    reasons: list[dict[str, Any]] = [{"code": "sold", "message": "m", "evidence": {}}]
    first = localise({"verdict": "caution", "reasons": reasons}, reason_words)
    again = localise({"verdict": "caution", "reasons": reasons, "owner": False}, reason_words)
    assert again["reasons"] is first["reasons"]
    assert again["owner"] is False and again["verdict"] == "caution"
    assert first["reasons"][0]["text"]["en"]["title"] == reason_words(reasons[0], "en")[0]
    # an equal list in another object, and another reason: worded anew, never shared
    equal = localise({"reasons": [dict(reasons[0])]}, reason_words)
    assert equal["reasons"] is not first["reasons"] and equal["reasons"] == first["reasons"]
    other = localise({"reasons": [{"code": "recalled", "message": "r"}]}, reason_words)
    assert other["reasons"][0]["text"]["en"]["title"] != first["reasons"][0]["text"]["en"]["title"]
    # another wording function: its own words
    plain = localise({"reasons": reasons}, lambda r, lang: (lang, r["code"]))
    assert plain["reasons"][0]["text"]["en"] == {"title": "en", "text": "sold"}
    assert localise({"verdict": "genuine"}, reason_words)["reasons"] == []
