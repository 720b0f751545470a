"""The resolver's consumer page served from the page cache (api.consumer.pagecache):
two units, two label states, two languages asked in turn, each page its own, its
per-request parts (scan count, CSRF token, language switch) fresh; a grown log shows.

On a SQLite file: this is about the server's memory, not the dialect.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.consumer import pagecache
from ledger import codec, label
from ledger.gs1 import UnitId
from ledger.service.settings import Settings
from tests.factories import GTIN, key
from tests.integration.signals_world import SignalWorld


@pytest.fixture
def sw(tmp_path: Path) -> Iterator[SignalWorld]:
    pagecache.clear()
    world = SignalWorld.open(f"sqlite:///{tmp_path}/ledger.db")
    yield world
    world.ledger.close()
    pagecache.clear()


def _verdict(html: str) -> str:
    found = re.search(r'<section class="verdict v-([a-z]+)"', html)
    assert found is not None
    return found.group(1)


def _lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', html)
    assert found is not None
    return found.group(1)


def _csrf(html: str) -> set[str]:
    return set(re.findall(r'name="csrf" value="([^"]*)"', html))


def test_pages_never_cross_units_labels_or_languages(sw: SignalWorld) -> None:
    for serial in ("SN-1", "SN-2"):
        sw.mint(serial)
    app = create_app(
        Settings.from_env({"PROVENANCE_RATE": "100000", "PROVENANCE_BURST": "100000"}),
        ledger=sw.ledger,
    )
    forged = codec.b64url_encode(bytes(64))

    def url(serial: str, valid: bool) -> str:
        signed = label.sign_label(UnitId(gtin=GTIN, serial=serial), key(2))
        return f"/01/{GTIN}/21/{serial}?s={signed if valid else forged}"

    asked = [
        (serial, valid, lang)
        for serial in ("SN-1", "SN-2")
        for valid in (True, False)
        for lang in ("en", "zh-CN")
    ]

    async def main() -> None:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            seen: dict[tuple[str, bool, str], str] = {}
            for round_ in range(3):
                for serial, valid, lang in asked:
                    answer = await client.get(
                        url(serial, valid),
                        headers={"Accept": "text/html", "Accept-Language": lang},
                    )
                    assert answer.status_code == 200
                    html = answer.text
                    assert _lang(html) == lang
                    assert _verdict(html) == ("genuine" if valid else "invalid")
                    assert f"/01/{GTIN}/21/{serial}?format=json" in html
                    assert f"/21/{'SN-2' if serial == 'SN-1' else 'SN-1'}" not in html
                    if valid:
                        assert len(_csrf(html)) == 1  # this request's token, every form
                    key_ = (serial, valid, lang)
                    if round_:
                        # the scan sentence moved on (a counted check each time), the
                        # rest is the page kept: at most the scan and footer lines differ
                        before = seen[key_].splitlines()
                        now = html.splitlines()
                        assert len(before) == len(now)
                        differ = [
                            i for i, (a, b) in enumerate(zip(before, now, strict=True)) if a != b
                        ]
                        assert all(
                            "csrf" in now[i] or "<p" in now[i] or 'class="lang"' in now[i]
                            for i in differ
                        ), [now[i] for i in differ]
                    seen[key_] = html
            assert pagecache.kept()[0] >= len(asked)
            assert len({seen[k] for k in asked}) == len(asked)

    asyncio.run(main())


def _nonce(answer: httpx.Response) -> str | None:
    found = re.match(r"pl_csrf=([A-Za-z0-9_-]{43});", answer.headers.get("set-cookie", ""))
    return found.group(1) if found else None


def test_a_recall_shows_on_the_next_page_and_every_page_has_its_own_nonce(
    sw: SignalWorld,
) -> None:
    """Freshness through the kept page: a recall appended after the page was kept is
    on the very next page view, in both languages (the log grew: a new base, a new key).
    And each browser without a cookie gets a nonce of its own and a token bound to it;
    a browser with one keeps it."""
    sw.mint("SN-1")
    app = create_app(
        Settings.from_env({"PROVENANCE_RATE": "100000", "PROVENANCE_BURST": "100000"}),
        ledger=sw.ledger,
    )
    signed = label.sign_label(UnitId(gtin=GTIN, serial="SN-1"), key(2))
    page = f"/01/{GTIN}/21/SN-1?s={signed}"
    words = {"en": "Recalled by the brand", "zh-CN": "品牌方已召回"}

    async def main() -> None:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

            async def get(lang: str, nonce: str | None = None) -> httpx.Response:
                client.cookies.clear()
                if nonce is not None:
                    client.cookies.set("pl_csrf", nonce)
                answer = await client.get(
                    page, headers={"Accept": "text/html", "Accept-Language": lang}
                )
                assert answer.status_code == 200
                return answer

            nonces, tokens = set(), set()
            for lang in ("en", "zh-CN", "en", "zh-CN"):  # kept, then from the kept pages
                answer = await get(lang)
                assert _verdict(answer.text) == "genuine"
                assert words[lang] not in answer.text
                nonce = _nonce(answer)
                assert nonce is not None and nonce not in nonces
                nonces.add(nonce)
                (token,) = _csrf(answer.text)
                assert token not in tokens
                tokens.add(token)
                # the token is this browser's: the guard takes it with this nonce only
                guard = app.state.csrf
                issued = int(token.split(".")[0])
                assert token == guard.token(nonce, GTIN, "SN-1", now=issued)
            kept = pagecache.kept()[0]
            returning = await get("en", next(iter(nonces)))
            assert _nonce(returning) is None  # a returning browser keeps its nonce

            sw.recall("SN-1")
            for lang in ("en", "zh-CN"):
                answer = await get(lang)
                assert _verdict(answer.text) != "genuine"  # a recall's page: stop using it
                assert words[lang] in answer.text
                if lang == "en":
                    assert pagecache.kept()[0] == kept + 1  # kept afresh at the new size
                pagecache.clear()  # and it is the page rendered whole
                assert (await get(lang)).text.count(words[lang]) == answer.text.count(words[lang])

    asyncio.run(main())
