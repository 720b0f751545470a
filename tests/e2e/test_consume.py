"""The owner marks its unit used up (issue 22, the refilled-bottle problem), over HTTP on
SQLite and PostgreSQL: only the owner's token does it (the owner's browser through the
page's form, or a client holding the token); the operator, a stranger's browser, a wrong
token or a second try change nothing; afterwards every view says ``consumed`` and the
page says "Used up" in red, the chain itself proves it (the token hashes to the claim's
owner) and nothing but a recall, a flag or a decommission may follow."""

from __future__ import annotations

import hashlib

import pytest

from api.context import owner_cookie
from ledger import codec
from ledger.entry import Leaf
from tests.e2e.forms import post_form
from tests.e2e.server import Served
from tests.e2e.test_signals_api import mint
from tests.factories import GTIN

pytestmark = pytest.mark.e2e
HTML = {"Accept": "text/html"}


def chain_length(server: Served, serial: str) -> int:
    return len(server.get(f"/v1/units/{GTIN}/{serial}").json()["entries"])


def test_only_the_owner_marks_a_unit_used_up_and_every_reader_is_told(
    asgi_server: Served,
) -> None:
    server = asgi_server
    code = mint(server, "USED-1")
    path = f"/v1/units/{GTIN}/USED-1/consume"
    with server.client() as owner, server.client("127.0.0.9") as stranger:
        claimed = post_form(owner, f"/v1/units/{GTIN}/USED-1/claim", GTIN, "USED-1", {"code": code})
        assert claimed.status_code == 201
        page = owner.get(f"/01/{GTIN}/21/USED-1", headers=HTML).text
        assert f'action="{path}"' in page  # the owner is offered the button
        assert 'id="consume"' not in stranger.get(f"/01/{GTIN}/21/USED-1", headers=HTML).text
        before = chain_length(server, "USED-1")
        refused = post_form(stranger, path, GTIN, "USED-1", {})  # no owner cookie here
        assert refused.status_code == 403 and "Only the owner" in refused.text
        wrong = server.post(path, json={"owner_token": codec.b64url_encode(bytes(16))})
        assert wrong.status_code == 422 and wrong.json()["type"].endswith(":not-owner")
        assert chain_length(server, "USED-1") == before  # nothing written
        done = post_form(owner, path, GTIN, "USED-1", {})
        assert done.status_code == 201 and "Marked as used up" in done.text
        again = post_form(owner, path, GTIN, "USED-1", {})
        assert again.status_code == 422 and "already marked used up" in again.text
        seen = stranger.get(f"/01/{GTIN}/21/USED-1", headers=HTML).text
        assert "Used up on" in seen and "v-invalid" in seen and 'id="consume"' not in seen
        chinese = stranger.get(f"/01/{GTIN}/21/USED-1?lang=zh-CN", headers=HTML).text
        assert "用完" in chinese
    # the token is public now: holding it as the owner cookie makes no one the owner
    revealed = server.get(f"/v1/units/{GTIN}/USED-1").json()["entries"][-1]
    token_text = Leaf.from_bytes(codec.b64url_decode(revealed["leaf"])).signed.event.owner_token  # type: ignore[attr-defined]
    with server.client("127.0.0.7") as anyone:
        anyone.cookies.set(owner_cookie(GTIN, "USED-1"), token_text)
        assert anyone.get(f"/v1/units/{GTIN}/USED-1").json()["owner"] is False
    view = server.get(f"/v1/units/{GTIN}/USED-1").json()
    assert view["verdict"] == "caution" and "consumed" in [r["code"] for r in view["reasons"]]
    assert view["unit"]["consumed_at"] is not None
    # the chain proves it: the revealed token hashes to the claim's owner
    events = [Leaf.from_bytes(codec.b64url_decode(e["leaf"])).signed.event for e in view["entries"]]
    claim, consume = events[-2], events[-1]
    assert consume.kind == "consume" and claim.kind == "claim"
    token = consume.owner_token.encode("ascii")  # type: ignore[attr-defined]
    assert codec.b64url_encode(hashlib.sha256(token).digest()) == claim.owner  # type: ignore[attr-defined]


def test_a_client_that_makes_its_own_token_alone_can_mark_the_unit_used_up(
    asgi_server: Served,
) -> None:
    """The claim takes the hash of a token the client made: the server never sees the
    token, so only its holder can later mark the unit used up."""
    server = asgi_server
    code = mint(server, "USED-2")
    token = codec.b64url_encode(bytes(range(100, 116)))
    owner = codec.b64url_encode(hashlib.sha256(token.encode()).digest())
    path = f"/v1/units/{GTIN}/USED-2"
    bad = server.post(f"{path}/claim", json={"code": code, "owner": "not-a-hash"})
    assert bad.status_code == 422  # nothing counted against the code, nothing written
    claimed = server.post(f"{path}/claim", json={"code": code, "owner": owner})
    assert claimed.status_code == 201 and claimed.json()["owner_token"] is None
    claim = server.get(path).json()["entries"][-1]
    assert Leaf.from_bytes(codec.b64url_decode(claim["leaf"])).signed.event.owner == owner  # type: ignore[attr-defined]
    assert server.post(f"{path}/consume", json={"owner_token": token}).status_code == 201
    assert "consumed" in [r["code"] for r in server.get(path).json()["reasons"]]
