"""The language switch's link (api.routers.resolver._switch): the scanned path and query
with ``lang`` set to the other language, worked out from the query string as sent (its
parse is the resolver's own), for short and long links alike."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from api.routers.resolver import _parsed, _switch

PATH = "/01/09506000134352/21/SN-0001"


@pytest.mark.parametrize(
    "query",
    [
        "",
        "s=abc",
        "s=abc&lang=en",
        "lang=zh-CN&s=abc&lang=en",
        "17=271231&s=a%2Bb&from=timeline&utm_source=x%20y",
        "place=CN&claim=ABCD-EFGH",
        "s=" + "A" * 400,  # longer than the links kept: worked out all the same
    ],
)
@pytest.mark.parametrize("other", ["en", "zh-CN"])
def test_the_switch_is_the_scanned_link_with_the_other_language(query: str, other: str) -> None:
    pairs = _parsed(f"http://resolver{PATH}" + (f"?{query}" if query else "")).query
    expected = PATH + "?" + urlencode([(k, v) for k, v in pairs if k != "lang"] + [("lang", other)])
    assert _switch(PATH, query, other) == expected
    assert _switch(PATH, query, other) == expected  # kept or not, the same
    assert _switch(PATH, query, other).count("lang=") == 1
