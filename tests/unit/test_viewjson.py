"""api.viewjson: the cached encoding of a view's static part is the view's own."""

from __future__ import annotations

import json
from typing import Any

from api import viewjson


def view(entries: list[dict[str, Any]], verdict: str = "genuine") -> dict[str, Any]:
    return {
        "verdict": verdict,
        "reasons": [{"code": "x", "message": "m"}],
        "entries": entries,
        "checkpoint": "origin\n3\nroot\n",
        "map_proof": None,
        "versions": None,
        "scans": {"count": 2, "first": None},
    }


def test_render_is_the_views_json_and_reuses_only_the_same_objects() -> None:
    entries = [{"index": 0, "leaf": "AA"}]
    first = view(entries)
    assert json.loads(viewjson.render(first)) == first
    again = view(entries, verdict="caution")  # same entries object: its bytes reused
    assert json.loads(viewjson.render(again)) == again
    # equal content in another object, or the same list with another checkpoint:
    # encoded afresh, never another view's bytes
    other = view([{"index": 0, "leaf": "BB"}])
    assert json.loads(viewjson.render(other)) == other
    moved = {**view(entries), "checkpoint": "origin\n4\nroot2\n"}
    assert json.loads(viewjson.render(moved)) == moved
    assert json.loads(viewjson.render(view([]))) == view([])  # no entries: plain
