"""The shopper's pages over HTTP, in the app (in-process): HTML error pages for a browser
and problem+json for an API client, the home page, the claim page of the inner code,
a refused claim answered in the shopper's language with the typed code kept, hostile
input answered in words (never a 5xx, never JSON to a browser), and which requests
count as a check.
"""

# ruff: noqa: RUF001 - Chinese punctuation in the expected words

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from api.scanrecord import owner_cookie
from tests.e2e.forms import origin, page_token
from tests.e2e.server import InProcessServer
from tests.e2e.test_signals_api import mint
from tests.factories import GTIN
from tests.unit.test_consumer_pages import english_in
from tests.unit.test_page import Page

BROWSER = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "zh-CN,zh;q=0.9",
}
pytestmark = pytest.mark.parametrize("asgi_server", ["sqlite"], indirect=True)


def _text(response: httpx.Response) -> str:
    return Page(response.text).text


@pytest.mark.parametrize(
    ("path", "status", "title"),
    [
        (f"/01/{GTIN[:-1]}9/21/SN-0001", 422, "无法识别此码"),  # a wrong check digit
        ("/01/123/21/SN-0001", 422, "无法识别此码"),
        ("/01/" + GTIN, 422, "无法识别此码"),  # no serial
        ("/nowhere", 404, "页面不存在"),
        (f"/01/{GTIN}/21/" + "X" * 5000, 422, "无法识别此码"),
    ],
)
def test_a_browser_gets_an_error_page_in_words(
    asgi_server: InProcessServer, path: str, status: int, title: str
) -> None:
    page = asgi_server.get(path, headers=BROWSER)
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert "".join(Page(page.text).h1) == title
    assert not english_in(_text(page))
    api = asgi_server.get(path, headers={"Accept": "application/json"})
    assert api.status_code == status
    assert api.headers["content-type"] == "application/problem+json"


def test_home_is_the_how_to_check_page_for_browsers_only(asgi_server: InProcessServer) -> None:
    home = asgi_server.get("/", headers=BROWSER)
    assert home.status_code == 200
    assert "".join(Page(home.text).h1) == "如何查验商品"
    english = asgi_server.get("/how-to-check?lang=en")
    assert "".join(Page(english.text).h1) == "How to check a product"
    assert asgi_server.get("/").status_code == 404  # an API client: problem+json


@pytest.mark.parametrize(
    "headers",
    [
        {"Accept-Language": "tlh-KL, ;q=,,;;, *;q=abc"},
        {"Accept-Language": "x" * 5000},
        {"Accept-Language": "zh-TW"},
    ],
)
def test_broken_languages_and_absurd_places_still_answer_a_page(
    asgi_server: InProcessServer, headers: dict[str, str]
) -> None:
    path = f"/01/{GTIN}/21/SN-0001?place=%E2%80%AE" + "Z" * 300 + "&lang=klingon"
    page = asgi_server.get(path, headers={"Accept": "text/html", **headers})
    assert page.status_code == 200
    assert "\u202e" not in page.text


def _count(server: InProcessServer, serial: str) -> int:
    view = server.get(f"/01/{GTIN}/21/{serial}?format=json").json()
    return int(view["scans"]["count"])


def test_only_a_shoppers_check_is_counted(asgi_server: InProcessServer) -> None:
    serial = "SOLD-1"
    before = _count(asgi_server, serial)  # a JSON view: a machine's read, not counted
    path = f"/01/{GTIN}/21/{serial}"
    for query, agent in (
        ("?claim=XY6Y-KD2Y-7B5A-55X1-X", "Mozilla/5.0"),  # the buyer opening the claim page
        ("?lang=zh-CN", "Mozilla/5.0"),  # a language switch
        ("", "Mozilla/5.0 (compatible; Googlebot/2.1)"),
        ("", "facebookexternalhit/1.1"),
    ):
        asgi_server.get(path + query, headers={**BROWSER, "User-Agent": agent})
    asgi_server.get(path, headers={"Accept": "application/json", "User-Agent": "Mozilla/5.0"})
    assert _count(asgi_server, serial) == before  # none of those, nor the JSON views
    asgi_server.get(path, headers={**BROWSER, "User-Agent": "Mozilla/5.0"})
    assert _count(asgi_server, serial) == before + 1  # the shopper's page


def test_the_owners_own_rescans_are_not_counted(asgi_server: InProcessServer) -> None:
    code = mint(asgi_server, "OWNED-RESCAN")
    path = f"/01/{GTIN}/21/OWNED-RESCAN"
    claimed = asgi_server.post(f"/v1/units/{GTIN}/OWNED-RESCAN/claim", json={"code": code})
    assert claimed.status_code == 201, claimed.text
    before = _count(asgi_server, "OWNED-RESCAN")
    with asgi_server.client() as owner:
        owner.cookies.set(owner_cookie(GTIN, "OWNED-RESCAN"), claimed.json()["owner_token"])
        for _ in range(3):
            assert owner.get(path, headers=BROWSER).status_code == 200
    assert _count(asgi_server, "OWNED-RESCAN") == before  # the owner's own checks
    with asgi_server.client() as stranger:  # a cookie that is not the owner's is a check
        stranger.cookies.set(owner_cookie(GTIN, "OWNED-RESCAN"), "not-the-token")
        stranger.get(path, headers=BROWSER)
    asgi_server.get(path, headers=BROWSER)
    assert _count(asgi_server, "OWNED-RESCAN") == before + 2


def test_the_claim_page_of_the_inner_code(asgi_server: InProcessServer) -> None:
    page = asgi_server.get(f"/01/{GTIN}/21/SOLD-1?claim=XY6Y-KD2Y-7B5A-55X1-X", headers=BROWSER)
    assert page.status_code == 200
    html = page.text
    assert 'value="XY6Y-KD2Y-7B5A-55X1-X"' in html
    assert '<meta name="referrer" content="strict-origin">' in html
    assert "<script" not in html
    assert not english_in(_text(page))


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("Z" * 5000, "无法读取表单：填写的内容过长"),  # over the form's 1 KiB a field
        ("XY6Y-KD2Y-7B5A-55X1-Y", "认领码有输入错误"),
        ("\u202eXY6Y", "这不是认领码"),
    ],
)
def test_a_refused_claim_is_answered_in_words_with_the_code_kept(
    asgi_server: InProcessServer, code: str, words: str
) -> None:
    with asgi_server.client() as client:
        token = page_token(client, GTIN, "SOLD-1")
        answer = client.post(
            f"/v1/units/{GTIN}/SOLD-1/claim",
            data={"code": code, "lang": "zh-CN", "csrf": token},
            headers={"Origin": origin(client), **BROWSER},
        )
    assert answer.status_code in (400, 422), answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
    assert words in _text(answer)
    assert not english_in(_text(answer))
    if answer.status_code == 422:
        kept = code.replace("\u202e", "")[:64]
        assert f'value="{kept}"' in answer.text


def test_a_forged_form_gets_a_page_not_json(asgi_server: InProcessServer) -> None:
    with asgi_server.client() as client:
        answer = client.post(
            f"/v1/units/{GTIN}/SOLD-1/claim",
            data={"code": "x", "lang": "zh-CN", "csrf": "forged"},
            headers={"Origin": origin(client), **BROWSER},
        )
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert "表单已过期" in _text(answer)


@pytest.mark.parametrize(
    ("query", "headers", "status", "lang"),
    [
        ("?lang=klingon", {"Accept-Language": "zh-CN"}, 200, "zh-CN"),  # unknown: the header
        ("?lang=%E2%80%AEzh", {"Accept-Language": "zh-CN"}, 200, "zh-CN"),
        ("?lang=" + "z" * 1500, {}, 200, "en"),
        ("", {"Accept-Language": b"zh-CN\xe2\x80\xae;q=\xff, en;q=0.1"}, 200, "en"),
        ("", {"Accept-Language": "zh-Hant-TW;q=0.9, fr;q=1"}, 200, "zh-TW"),
        ("?place=" + "%E2%80%AE%E2%81%A6" * 100, {"Accept-Language": "zh-CN"}, 200, "zh-CN"),
        ("?place=" + "Z" * 3000, {"Accept-Language": "zh-CN"}, 422, "zh-CN"),  # URI too long
        ("?claim=%E2%80%AE" + "Z" * 1500, {"Accept-Language": "zh-CN"}, 200, "zh-CN"),
        ("?claim=" + "Z" * 3000, {"Accept-Language": "zh-CN"}, 422, "zh-CN"),
        ("?claim=%FF%FE", {"Accept-Language": "zh-CN"}, 422, "zh-CN"),  # not UTF-8
        ("?s=%E2%80%AE" + "1" * 154, {"Accept-Language": "zh-CN"}, 200, "zh-CN"),
    ],
)
def test_hostile_input_gets_a_page_in_the_readers_language(
    asgi_server: InProcessServer, query: str, headers: dict[str, Any], status: int, lang: str
) -> None:
    """Unknown or broken languages, absurd places, bidi controls, huge claim codes: a page
    in words (the reader's language where it can be told, else English), never JSON,
    never a 5xx, never a bidi control on the page."""
    page = asgi_server.get(
        f"/01/{GTIN}/21/SOLD-1{query}", headers={"Accept": "text/html", **headers}
    )
    assert page.status_code == status, page.text[:300]
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-language"] == lang
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", page.text)
    if lang == "zh-CN":
        assert not english_in(_text(page))
    if "claim=%E2%80%AE" in query:  # the typed code is kept, cut to the field's size
        assert 'value="' + "Z" * 10 in page.text
    api = asgi_server.get(f"/01/{GTIN}/21/SOLD-1{query}", headers={"Accept": "application/json"})
    assert api.status_code == status
    assert api.headers["content-type"].startswith(
        "application/" if status == 200 else "application/problem+json"
    )


@pytest.mark.parametrize(
    "path",
    [
        f"/01/{GTIN}/21/%E2%80%AESN",  # a bidi control in the serial: not set 82
        f"/01/{GTIN}/21/%C0%AF",  # an overlong UTF-8 slash
        f"/01/{GTIN}/21/SN%",  # a broken percent-escape
        f"/01/{GTIN}/21/$Q$",  # a broken compact serial
    ],
)
def test_a_malformed_path_gets_the_error_page_in_chinese(
    asgi_server: InProcessServer, path: str
) -> None:
    page = asgi_server.get(path, headers=BROWSER)
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "".join(Page(page.text).h1) == "无法识别此码"
    assert not english_in(_text(page))
