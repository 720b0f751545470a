"""/console/products, /console/batches and the product picture over HTTP (in process):
sign-in and CSRF on every form, roles and brands, bad uploads refused with nothing
stored; the picture reaches the shopper's page only once the brand signs its hash, and
only while the stored bytes are what it signed; a voided batch's units read as voided
on the shopper's page, in English and Chinese."""

from __future__ import annotations

import io
import itertools
import os
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import text

from api.app import create_app
from ledger import entry
from ledger.service.batches import VOID_REASON
from ledger.service.console import ConsoleService
from ledger.service.settings import Settings
from tests.e2e.inprocess import InProcessApp
from tests.factories import GTIN, key, public_b64, tampered
from tests.integration.signals_world import SignalWorld

BASE = "http://console.test"
ORIGIN = {"Origin": BASE}
HTML = {"Accept": "text/html", "User-Agent": "Mozilla/5.0 (iPhone)"}
_ADDRESSES = itertools.count(1)
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    sw = SignalWorld.open(f"sqlite:///{tmp_path_factory.mktemp('catalog')}/ledger.db")
    sw.sign(
        1, "actor.register", "operator", subject="rival", role="brand", name="Rival",
        keys=[public_b64(8)], prefixes=["9506001"],
    )  # fmt: skip
    for n in range(1, 4):
        sw.sign(
            2, "commission", "acme", unit={"gtin": GTIN, "serial": f"L-{n}"}, prev=None, lot="L7"
        )
    console = ConsoleService(sw.ledger)
    console.keys.delegate_key("acme", key(2))
    passwords = {
        user: console.staff.add_user(org, user, role)
        for org, user, role in [
            ("acme", "acme-admin", "admin"),
            ("acme", "acme-analyst", "analyst"),
            ("rival", "rival-admin", "admin"),
            ("operator", "operator-admin", "admin"),
        ]
    }
    settings = Settings.from_env({**os.environ, "PROVENANCE_PUBLIC_URL": BASE})
    app = InProcessApp(create_app(settings, ledger=sw.ledger), BASE).start()
    yield {"sw": sw, "app": app, "passwords": passwords}
    app.stop()
    sw.ledger.close()


def client(world: dict[str, Any], user: str | None = None) -> httpx.Client:
    c = world["app"].client(f"10.1.0.{next(_ADDRESSES)}", follow_redirects=False)
    if user is not None:
        form = {"username": user, "password": world["passwords"][user], "csrf_token": token(c)}
        assert c.post("/console/login", data=form, headers=ORIGIN).status_code == 303
    return c


def token(c: httpx.Client, path: str = "/console/login") -> str:
    found = _TOKEN.search(c.get(path).text)
    assert found
    return found.group(1)


def picture(color: tuple[int, int, int] = (200, 60, 30), fmt: str = "JPEG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), color).save(out, fmt)
    return out.getvalue()


def stored_rows(world: dict[str, Any]) -> int:
    with world["sw"].ledger.store.engines.writer.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM product_images")).scalar_one())


def upload(c: httpx.Client, data: bytes, csrf: str | None, gtin: str = GTIN) -> httpx.Response:
    form = {"gtin": gtin, **({"csrf_token": csrf} if csrf is not None else {})}
    files = {"image": ("p.jpg", data, "image/jpeg")}
    return c.post("/console/products/image", data=form, files=files, headers=ORIGIN)


def test_without_a_session_the_pages_go_to_the_login_page(world: dict[str, Any]) -> None:
    c = client(world)
    for path in ["/console/products", "/console/batches", "/console/batches/1/units.txt",
                 f"/console/products/{GTIN}/image", "/console/images/x"]:  # fmt: skip
        answer = c.get(path)
        assert (answer.status_code, answer.headers["location"]) == (303, "/console/login"), path
    assert upload(c, picture(), None).status_code == 303
    assert c.post("/console/batches/1/void", data={"note": "x"}).status_code == 303
    assert stored_rows(world) == 0


def test_uploads_need_an_admin_a_csrf_token_and_a_real_picture(world: dict[str, Any]) -> None:
    admin, analyst = client(world, "acme-admin"), client(world, "acme-analyst")
    good = token(admin, "/console/products")
    assert upload(admin, picture(), None).status_code == 403
    assert upload(admin, picture(), tampered(good)).status_code == 403
    other = {"Origin": "http://evil.example"}
    files = {"image": ("p.jpg", picture(), "image/jpeg")}
    form = {"gtin": GTIN, "csrf_token": good}
    assert (
        admin.post("/console/products/image", data=form, files=files, headers=other).status_code
        == 403
    )
    assert upload(analyst, picture(), token(analyst, "/console/products")).status_code == 403
    assert 'enctype="multipart/form-data"' not in analyst.get("/console/products").text
    for bad in [b"<svg onload=alert(1)>", picture()[:300]]:
        refused = upload(admin, bad, good)
        assert refused.status_code == 400 and 'role="alert"' in refused.text
    assert upload(admin, picture(), good, gtin="09506001000014").status_code == 404
    huge = upload(admin, b"\xff" * (11 * 1024 * 1024), good)
    assert huge.status_code == 413
    rival = client(world, "rival-admin")
    assert upload(rival, picture(), token(rival, "/console/products")).status_code == 404
    assert stored_rows(world) == 0


def test_the_picture_reaches_the_shoppers_page_once_signed_and_only_unchanged(
    world: dict[str, Any],
) -> None:
    sw, admin = world["sw"], client(world, "acme-admin")
    page = upload(admin, picture(), token(admin, "/console/products"))
    assert page.status_code == 200, page.text
    image_hash = re.search(r'id="image-hash">([A-Za-z0-9_-]{43})<', page.text).group(1)  # type: ignore[union-attr]
    assert f"--image {image_hash} --as acme" in page.text
    assert (
        "provenance product register 09506000134352 --name &#39;Acme Sneaker 42&#39;" in page.text
    )
    assert admin.get(f"/console/images/{image_hash}").headers["content-type"] == "image/jpeg"
    shop = world["app"].client("10.2.0.1", follow_redirects=False)
    unit_page = f"/01/{GTIN}/21/L-1"
    assert "<img" not in shop.get(unit_page, headers=HTML).text  # not signed yet
    assert shop.get(f"/v1/products/{GTIN}/image").status_code == 404

    sw.sign(2, "product.register", "acme", gtin=GTIN, name="Acme Sneaker 42", image=image_hash)
    html = shop.get(unit_page, headers=HTML).text
    src = f"/v1/products/{GTIN}/image/{image_hash}"
    assert f'<img class="product" src="{src}" width="320" height="240"' in html
    assert len(html.encode()) < 50_000
    served = shop.get(src)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert "immutable" in served.headers["cache-control"]
    assert served.headers["x-content-type-options"] == "nosniff"
    current = shop.get(f"/v1/products/{GTIN}/image")
    assert current.content == served.content and current.headers["etag"] == f'"{image_hash}"'
    again = shop.get(f"/v1/products/{GTIN}/image", headers={"If-None-Match": f'"{image_hash}"'})
    assert again.status_code == 304
    catalogue = admin.get("/console/products").text
    assert f'src="/console/products/{GTIN}/image"' in catalogue

    # the database's administrator swaps the stored picture under the signed hash
    with sw.ledger.store.engines.writer.begin() as conn:
        conn.execute(text("UPDATE product_images SET data = :d"), {"d": picture((0, 0, 0))})
    refused = shop.get(src)
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"
    assert shop.get(f"/v1/products/{GTIN}/image").status_code == 404
    assert "<img" not in shop.get(unit_page, headers=HTML).text
    assert "not the one your brand signed" in admin.get("/console/products").text


def test_a_brand_uploads_over_the_api_with_a_signed_request(world: dict[str, Any]) -> None:
    from ledger import codec, reqsig

    shop = world["app"].client("10.2.0.2", follow_redirects=False)
    path = f"/v1/products/{GTIN}/image"
    body = picture((10, 120, 10), "PNG")

    def post(seed: int, data: bytes) -> httpx.Response:
        auth = reqsig.sign_request(key(seed), "POST", path, data, world["sw"].clock.now)
        return shop.post(path, content=data, headers={"Authorization": auth})

    answer = post(2, body)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    import hashlib

    stored = codec.b64url_decode(found["data"])
    assert codec.b64url_encode(hashlib.sha256(stored).digest()) == found["hash"]
    assert post(8, body).status_code == 404  # rival: not its product
    assert shop.post(path, content=body).status_code == 401  # unsigned
    assert post(2, b"not an image").status_code == 400


def test_print_batches_list_reprint_and_void(world: dict[str, Any]) -> None:
    sw = world["sw"]
    admin, analyst, rival = (
        client(world, u) for u in ("acme-admin", "acme-analyst", "rival-admin")
    )
    page = admin.get("/console/batches")
    assert page.status_code == 200 and 'id="batches"' in page.text
    batch = int(
        re.search(
            r'<tr id="batch-(\d+)"><td>\d+</td><td><code>' + GTIN + r"</code></td><td><code>L7<",
            page.text,
        ).group(1)
    )  # type: ignore[union-attr]
    lines = admin.get(f"/console/batches/{batch}/units.txt")
    assert lines.text.splitlines() == [f"{GTIN}/L-{n}" for n in range(1, 4)]
    assert "provenance label --units-file" in page.text
    assert rival.get(f"/console/batches/{batch}/units.txt").status_code == 403
    assert f'id="batch-{batch}"' not in rival.get("/console/batches").text
    assert "作废批次" in admin.get("/console/batches?lang=zh-CN").text

    size = sw.ledger.head().size
    path = f"/console/batches/{batch}/void"
    good = token(admin, "/console/batches")
    assert admin.post(path, data={"note": "misprint"}, headers=ORIGIN).status_code == 403
    assert admin.post(path, data={"note": "misprint", "csrf_token": good},
                      headers={"Origin": "http://evil.example"}).status_code == 403  # fmt: skip
    form = {"note": "misprint", "csrf_token": token(analyst, "/console/batches")}
    assert analyst.post(path, data=form, headers=ORIGIN).status_code == 403
    form = {"note": "misprint", "csrf_token": token(rival, "/console/batches")}
    assert rival.post(path, data=form, headers=ORIGIN).status_code == 403
    assert (
        admin.post(path, data={"note": "", "csrf_token": good}, headers=ORIGIN).status_code == 422
    )
    assert sw.ledger.head().size == size

    done = admin.post(path, data={"note": "<b>misprint</b>", "csrf_token": good}, headers=ORIGIN)
    assert done.status_code == 303 and "done=void&n=3" in done.headers["location"]
    assert sw.ledger.head().size == size + 3
    console_key = ConsoleService(sw.ledger).keys.key_id("acme")
    last = entry.Leaf.from_bytes(sw.ledger.entry(size).leaf).signed
    assert (last.event.kind, last.key, last.event.reason) == ("recall", console_key, VOID_REASON)
    listed = admin.get(done.headers["location"]).text
    assert "Voided: 3 units recalled." in listed and "&lt;b&gt;" not in listed
    assert "&lt;b&gt;misprint&lt;/b&gt;" in admin.get("/console/audit").text
    assert (
        admin.post(path, data={"note": "again", "csrf_token": good}, headers=ORIGIN).status_code
        == 409
    )

    shop = world["app"].client("10.2.0.3", follow_redirects=False)
    en = shop.get(f"/01/{GTIN}/21/L-2", headers=HTML).text
    assert "The brand voided the print batch of this label" in en
    zh = shop.get(f"/01/{GTIN}/21/L-2?lang=zh-CN", headers=HTML).text
    assert "品牌方已作废该标签所属的印刷批次" in zh and VOID_REASON not in zh
