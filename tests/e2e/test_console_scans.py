"""The console's scans page and CSV over HTTP (in process): resolver hits from public
addresses are flushed into the aggregates under their region (the address itself is
stored nowhere); a brand sees only its brand's scans, another brand's by URL is 403;
the CSV is UTF-8 with a BOM and its rows add up; the page's CSP allows only this
server's scripts, its static files are cached for good, and it works without JS."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from api.app import create_app
from ledger.service.console import ConsoleService
from ledger.service.settings import Settings
from tests.e2e.inprocess import InProcessApp
from tests.e2e.test_console_access import BASE, login
from tests.factories import GTIN
from tests.integration.scanstats_world import RIVAL_GTIN, build
from tests.integration.signals_world import SignalWorld

#: (address, region): Shanghai Telecom, Beijing, Google's US resolver, a private one
HITS = [("202.96.209.5", "CN-SH"), ("61.135.169.121", "CN-BJ"), ("8.8.8.8", "US"),
        ("10.9.8.7", "unknown")]  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    sw = SignalWorld.open(f"sqlite:///{tmp_path_factory.mktemp('scans')}/ledger.db")
    build(sw)
    console = ConsoleService(sw.ledger)
    passwords = {
        user: console.staff.add_user(org, user, role)
        for org, user, role in [
            ("acme", "acme-analyst", "analyst"),
            ("rival", "rival-admin", "admin"),
            ("operator", "operator-admin", "admin"),
        ]
    }
    settings = Settings.from_env({**os.environ, "PROVENANCE_PUBLIC_URL": BASE})
    app = InProcessApp(create_app(settings, ledger=sw.ledger), BASE).start()
    for address, _ in HITS:
        c = app.client(address)
        for serial in ("A-1", "A-3", "FAKE-9"):
            assert c.get(f"/01/{GTIN}/21/{serial}", headers={"Accept": "text/html"})
        assert c.get(f"/01/{RIVAL_GTIN}/21/R-1", headers={"Accept": "text/html"})
    deadline = time.monotonic() + 10  # the flusher writes every 0.5 s
    while _scans(sw) < 4 * len(HITS) and time.monotonic() < deadline:
        time.sleep(0.2)
    yield {"sw": sw, "app": app, "passwords": passwords}
    app.stop()
    sw.ledger.close()


def _scans(sw: SignalWorld) -> int:
    with sw.ledger.store.engines.reader.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM scans")).scalar_one())


def client(world: dict[str, Any], user: str) -> httpx.Client:
    c = world["app"].client("10.0.1.1", follow_redirects=False)
    assert login(c, user, world["passwords"][user]).status_code == 303
    return c


def test_the_page_shows_scans_per_region_from_the_addresses_and_stores_none(
    world: dict[str, Any],
) -> None:
    page = client(world, "acme-analyst").get("/console/scans?lang=en")
    assert page.status_code == 200, page.text
    html = page.text
    assert '<div class="n" id="total">8</div>' in html  # from four addresses
    for _, region in HITS[:3]:
        assert region in html
    assert "Shanghai CN-SH" in html and "Beijing CN-BJ" in html
    assert "FAKE" not in html and RIVAL_GTIN not in html  # rival's product: not here
    # probing: acme's GTIN, one invented serial scanned four times
    assert (
        f'<td><code>{GTIN}</code></td><td>Acme Sneaker 42</td><td class="num">4</td><td class="num">1</td>'
        in html
    )
    csp = page.headers["content-security-policy"]
    assert (
        "script-src 'self';" in csp
        and "connect-src 'self';" in csp
        and "unsafe-inline" not in csp
        and "unsafe-eval" not in csp
    )
    with world["sw"].ledger.store.engines.reader.connect() as conn:
        dump = " ".join(str(r) for r in conn.execute(text("SELECT * FROM scans")))
    assert not any(address in dump for address, _ in HITS)


def test_the_page_speaks_chinese(world: dict[str, Any]) -> None:
    html = client(world, "acme-analyst").get("/console/scans?lang=zh-CN").text
    assert "扫码分析" in html and "上海 CN-SH" in html and "编造序列号探测" in html


def test_a_brand_never_sees_another_brands_scans(world: dict[str, Any]) -> None:
    acme = client(world, "acme-analyst")
    for path in ["/console/scans?brand=rival", "/console/export/scans.csv?brand=rival"]:
        refused = acme.get(path)
        assert refused.status_code == 403, path
        assert RIVAL_GTIN not in refused.text
    rival = client(world, "rival-admin").get("/console/scans?lang=en").text
    assert '<div class="n" id="total">4</div>' in rival and GTIN not in rival
    operator = client(world, "operator-admin")
    assert '<div class="n" id="total">12</div>' in operator.get("/console/scans").text
    assert '<div class="n" id="total">4</div>' in operator.get("/console/scans?brand=rival").text


def test_without_a_session_the_page_and_csv_go_to_the_login_page(world: dict[str, Any]) -> None:
    c = world["app"].client("10.0.1.2", follow_redirects=False)
    for path in ["/console/scans", "/console/export/scans.csv"]:
        answer = c.get(path)
        assert (answer.status_code, answer.headers["location"]) == (303, "/console/login")


def test_the_csv_is_utf8_with_a_bom_and_its_rows_add_up(world: dict[str, Any]) -> None:
    answer = client(world, "acme-analyst").get("/console/export/scans.csv?days=7")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv; charset=utf-8")
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0] == ["brand", "day", "gtin", "lot", "region", "scans"]
    assert {r[0] for r in rows[1:]} == {"acme"}
    assert sum(int(r[5]) for r in rows[1:]) == 8
    assert {r[4] for r in rows[1:]} == {region for _, region in HITS}
    assert {r[3] for r in rows[1:]} == {"L7", "L8"}


def test_a_bad_window_is_a_clear_refusal(world: dict[str, Any]) -> None:
    c = client(world, "acme-analyst")
    for days in ["0", "9999", "abc"]:
        page = c.get(f"/console/scans?days={days}&lang=en")
        assert page.status_code == 422 and "days must be" in page.text


def test_the_static_files_are_local_and_cached_for_good(world: dict[str, Any]) -> None:
    c = world["app"].client("10.0.1.3")
    html = client(world, "acme-analyst").get("/console/scans").text
    for name in [
        "echarts-6.1.0.min.js",
        "scans.js",
        "scans.css",
        "map-world.json",
        "map-china.json",
    ]:
        assert f"/console/static/{name}?v=" in html
        answer = c.get(f"/console/static/{name}")
        assert answer.status_code == 200 and answer.content
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert "Apache License" in c.get("/console/static/echarts-LICENSE").text
    assert c.get("/console/static/map-world.json").headers["content-type"] == "application/json"
    assert "Natural Earth" in c.get("/console/static/maps-NOTICE").text
    missing = c.get("/console/static/..%2Fscans.py")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_the_maps_fill_countries_and_chinas_provinces(world: dict[str, Any]) -> None:
    html = client(world, "acme-analyst").get("/console/scans?lang=zh-CN").text
    assert 'data-map="world" data-src="/console/static/map-world.json?v=' in html
    block = html.split('<script type="application/json" id="scan-data">', 1)[1]
    data = json.loads(block.split("</script>", 1)[0])
    world_units = {d["name"]: d["value"] for d in data["world"]}
    china_units = {d["name"]: d["value"] for d in data["china"]}
    assert "unknown" not in world_units and "CN-SH" not in world_units
    assert "CN-SH" in china_units and "US" not in china_units  # first scans: Shanghai
    # China's provinces summed into the country (with any scan placed only in "CN")
    provinces = sum(n for r, n in china_units.items() if r.startswith("CN-"))
    assert world_units["CN"] >= provinces > 0
    assert {"name": "CN-SH", "value": china_units["CN-SH"], "label": "上海 CN-SH"} in data["china"]
    assert data["words"]["map.china"] == "首次扫码：中国各省份"  # noqa: RUF001


def test_no_province_no_china_map() -> None:
    from api.console.scans import map_data

    rows = [
        {"region": "US", "country": "US", "units": 3},
        {"region": "TW", "country": "TW", "units": 1},
        {"region": "unknown", "country": "unknown", "units": 9},
    ]
    china = {"value": 1, "label": "China CN"}  # Taiwan counted in China, as on the table
    assert map_data(rows, "en") == {
        "world": [
            {"name": "US", "value": 3, "label": "United States US"},
            {"name": "CN", **china},
            *({"name": code, **china} for code in ("HK", "MO", "TW")),  # China's own fill
        ],
        "china": [],
    }
    rows.append({"region": "CN-GD", "country": "CN", "units": 2})
    found = map_data(rows, "en")
    assert {"name": "CN", "value": 3, "label": "China CN"} in found["world"]
    assert {"name": "TW", "value": 3, "label": "China CN"} in found["world"]
    assert found["china"] == [
        {"name": "TW", "value": 1, "label": "Taiwan TW"},
        {"name": "CN-GD", "value": 2, "label": "Guangdong CN-GD"},
    ]
