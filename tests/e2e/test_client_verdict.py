"""Clients compute the verdict (ledger.verify.recompute), against a real server.

A proxy in front of a real server (uvicorn) rewrites the verdict of the seeded sold unit
to ``genuine`` (and its reasons to ``verified``), leaving every proof and signature as
served: ``provenance verify`` through it still says ``caution (sold)``, computed from the
proven chain, says "server said genuine, the proven chain says caution" and exits 1;
through no proxy it agrees with the server. The offline proof of the same unit carries
the same recomputed verdict.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger import codec, note
from tests.e2e.lying import Proxy
from tests.e2e.server import LiveServer, start
from tests.e2e.test_pinned_keys import cli
from tests.factories import key as factory_key


def _to_genuine(view: dict[str, Any]) -> dict[str, Any]:
    """The lie: a unit view's verdict becomes ``genuine``, every proof left as served."""
    return {
        **view,
        "verdict": "genuine",
        "reasons": [{"code": "verified", "message": "ok", "evidence": {}}],
    }


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """A seeded server of its own."""
    live = start(f"sqlite:///{tmp_path}/verdict.db", tmp_path)
    yield live
    live.stop()


def test_a_server_that_rewrites_a_sold_unit_to_genuine_is_caught(
    server: LiveServer, tmp_path: Path
) -> None:
    key = httpx.get(f"{server.url}/v1/log/key").text.strip()
    gtin, serial = server.units["sold"]
    home = tmp_path / "home"
    honest, _ = cli(
        "--server", server.url, "verify", f"{gtin}/{serial}", "--log-key", key, home=home
    )
    assert (honest["verdict"], honest["served_verdict"], honest["disagreement"]) == (
        "caution",
        "caution",
        None,
    )
    assert [r["code"] for r in honest["reasons"]] == ["sold"]

    proxy = Proxy(server.url, _to_genuine)
    try:
        lied, _ = cli(
            "--server", proxy.url, "verify", f"{gtin}/{serial}", "--log-key", key, home=home, code=1
        )
    finally:
        proxy.stop()
    assert proxy.rewritten == 1
    assert lied["served_verdict"] == "genuine"
    assert lied["verdict"] == "caution" and [r["code"] for r in lied["reasons"]] == ["sold"]
    assert lied["disagreement"] == "server said genuine, the proven chain says caution"

    proof = tmp_path / "sold.unit-proof"
    proof.write_bytes(httpx.get(f"{server.url}/v1/units/{gtin}/{serial}/proof").content)
    offline, _ = cli("verify", "--proof", str(proof), "--log-key", key, home=home)
    assert offline["verdict"] == "caution" and [r["code"] for r in offline["reasons"]] == ["sold"]
    origin = httpx.get(f"{server.url}/v1/checkpoint").text.split("\n", 1)[0]
    other = note.Signer(origin, factory_key(99)).verifier.to_text()
    for how in ({"PROVENANCE_LOG_KEY": other}, {}):  # a pinned key wins over the server's
        extra = () if how else ("--log-key", other)
        wrong, _ = cli(
            "--server", server.url, "verify", f"{gtin}/{serial}", *extra, home=home, code=1, **how
        )
        assert wrong["verdict"] == "invalid"
        assert [r["code"] for r in wrong["reasons"]] == ["checkpoint-invalid"]
    genuine, _ = cli(
        "--server", server.url, "verify", f"{gtin}/SN-0001", "--log-key", key, home=home
    )
    assert genuine["verdict"] == "genuine" and genuine["disagreement"] is None


def test_a_revocation_since_a_later_time_spares_what_was_handled_before(
    server: LiveServer, tmp_path: Path
) -> None:
    key = httpx.get(f"{server.url}/v1/log/key").text.strip()
    w = server.world.world
    unit = {"gtin": server.units["genuine"][0], "serial": "REV-1"}

    def send(kind: str, actor: str, **fields: object) -> str:
        signed = w.sign(kind, actor, **fields)
        response = httpx.post(f"{server.url}/v1/entries", json=signed.to_dict(), timeout=30)
        assert response.status_code == 201, response.text[:300]
        return codec.b64url_encode(signed.hash)

    head = send("commission", "acme", unit=unit, prev=None)
    head = send("handoff", "acme", unit=unit, prev=head, to="ship-co")
    head = send("receive", "ship-co", unit=unit, prev=head)
    head = send("handoff", "ship-co", unit=unit, prev=head, to="acme")
    send("receive", "acme", unit=unit, prev=head)
    # The courier is blacklisted, but only for what it does from 2036 on.
    send(
        "actor.revoke", "operator", subject="ship-co", reason="fraud", since="2036-01-01T00:00:00Z"
    )
    served = httpx.get(f"{server.url}/v1/units/{unit['gtin']}/REV-1").json()
    assert served["verdict"] == "genuine"
    args = ("--server", server.url, "verify", f"{unit['gtin']}/REV-1", "--log-key", key)
    report, _ = cli(*args, home=tmp_path / "home")  # the since is read from the proven entry
    assert report["verdict"] == "genuine" and report["disagreement"] is None
