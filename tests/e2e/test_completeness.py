"""Completeness proofs against a real server that lies (issue 18; docs/FORMAT.md 14).

A proxy in front of a real server (uvicorn) plays the dishonest server: it cuts the
sold unit's last entries and says ``genuine``, or answers ``unknown`` for a unit the log
holds (with or without the map proof). ``provenance verify`` checks the view's map proof
under the map root the checkpoint signs and says ``invalid`` (``chain-incomplete``),
exit 1. An honest ``unknown`` for a serial never minted verifies with an absence proof.
The offline proof with its last entry cut, or with its map line removed, is refused by
``provenance verify --proof``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger import codec
from ledger.events import format_time
from tests.e2e.lying import Proxy, Rewrite
from tests.e2e.server import LiveServer, start
from tests.e2e.test_pinned_keys import cli
from tests.factories import public_b64


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A seeded server of this module's own."""
    tmp = tmp_path_factory.mktemp("complete")
    live = start(f"sqlite:///{tmp}/complete.db", tmp)
    yield live
    live.stop()


def _verify_through(
    server: LiveServer,
    rewrite: Rewrite,
    unit: tuple[str, str],
    home: Path,
    code: int = 1,
    others: dict[str, Rewrite] | None = None,
) -> dict[str, Any]:
    key = httpx.get(f"{server.url}/v1/log/key").text.strip()
    proxy = Proxy(server.url, rewrite, others)
    try:
        report, _ = cli(
            "--server", proxy.url, "verify", "/".join(unit), "--log-key", key, home=home, code=code
        )
    finally:
        proxy.stop()
    assert proxy.rewritten == 1
    assert isinstance(report, dict)
    return report


def _cut_to_genuine(view: dict[str, Any]) -> dict[str, Any]:
    """Drop the sale (the last entry) and say genuine: every remaining proof still holds."""
    return {
        **view,
        "entries": view["entries"][:-1],
        "verdict": "genuine",
        "reasons": [{"code": "verified", "message": "ok", "evidence": {}}],
    }


def _unknown(keep_proof: bool) -> Rewrite:
    def rewrite(view: dict[str, Any]) -> dict[str, Any]:
        return {
            **view,
            "verdict": "unknown",
            "reasons": [{"code": "not-found", "message": "no such unit", "evidence": {}}],
            "unit": None,
            "entries": [],
            "map_proof": view["map_proof"] if keep_proof else None,
        }

    return rewrite


def test_a_view_with_its_last_entry_cut_is_refused(server: LiveServer, tmp_path: Path) -> None:
    report = _verify_through(server, _cut_to_genuine, server.units["sold"], tmp_path)
    assert report["verdict"] == "invalid" and report["served_verdict"] == "genuine"
    assert [r["code"] for r in report["reasons"]] == ["chain-incomplete"]
    assert "left out" in report["reasons"][0]["message"]


@pytest.mark.parametrize("keep_proof", [True, False], ids=["with-proof", "without-proof"])
def test_unknown_for_a_unit_the_log_holds_is_caught(
    server: LiveServer, tmp_path: Path, keep_proof: bool
) -> None:
    report = _verify_through(server, _unknown(keep_proof), server.units["recalled"], tmp_path)
    assert report["verdict"] == "invalid"
    assert [r["code"] for r in report["reasons"]] == ["chain-incomplete"]


def test_an_honest_unknown_is_proven_absent(server: LiveServer, tmp_path: Path) -> None:
    key = httpx.get(f"{server.url}/v1/log/key").text.strip()
    unit = "/".join(server.units["unknown"])
    report, _ = cli("--server", server.url, "verify", unit, "--log-key", key, home=tmp_path, code=1)
    assert report["verdict"] == "unknown" and report["disagreement"] is None
    size = int(httpx.get(f"{server.url}/v1/checkpoint").text.split("\n")[1])
    assert report["complete_at"] == size
    assert [r["code"] for r in report["reasons"]] == ["not-found"]


def test_an_offline_proof_cut_short_or_without_its_map_line_is_refused(
    server: LiveServer, tmp_path: Path
) -> None:
    key = httpx.get(f"{server.url}/v1/log/key").text.strip()
    gtin, serial = server.units["sold"]
    text = httpx.get(f"{server.url}/v1/units/{gtin}/{serial}/proof").text
    whole = tmp_path / "whole.unit-proof"
    whole.write_text(text)
    proven, _ = cli("verify", "--proof", str(whole), "--log-key", key, home=tmp_path)
    assert proven["verdict"] == "caution" and proven["complete"] is True
    header, _, rest = text.partition("\n\n")
    sections = rest.split("c2sp.org/tlog-proof@v1\n")[1:]
    cut = tmp_path / "cut.unit-proof"
    cut.write_text(header + "\n\n" + "".join("c2sp.org/tlog-proof@v1\n" + s for s in sections[:-1]))
    _, why = cli("verify", "--proof", str(cut), "--log-key", key, home=tmp_path, code=1)
    assert "left out" in why
    unmapped = tmp_path / "unmapped.unit-proof"
    lines = header.split("\n")
    assert lines[2].startswith("map ")
    unmapped.write_text("\n".join(lines[:2]) + "\n\n" + rest)
    _, why = cli("verify", "--proof", str(unmapped), "--log-key", key, home=tmp_path, code=1)
    assert "map line" in why


def _send(server: LiveServer, kind: str, actor: str, **fields: object) -> str:
    signed = server.world.world.sign(kind, actor, **fields)
    response = httpx.post(f"{server.url}/v1/entries", json=signed.to_dict(), timeout=30)
    assert response.status_code == 201, response.text[:300]
    return codec.b64url_encode(signed.hash)


def _to_genuine(view: dict[str, Any]) -> dict[str, Any]:
    return {**view, "verdict": "genuine", "reasons": [{"code": "verified", "message": "ok"}]}


def _hide_revocation(drop_entry: bool) -> Rewrite:
    def rewrite(actor: dict[str, Any]) -> dict[str, Any]:
        registry = actor["registry"]
        entries = [
            e for e in registry["entries"] if not drop_entry or e["index"] != actor["revoked_index"]
        ]
        return {**actor, "revoked_index": None, "registry": {**registry, "entries": entries}}

    return rewrite


def _hide_key_removal(actor: dict[str, Any]) -> dict[str, Any]:
    removed = {k["removed_index"] for k in actor["keys"] if k["removed_index"] is not None}
    registry = actor["registry"]
    entries = [e for e in registry["entries"] if e["index"] not in removed]
    keys = [{**k, "removed_index": None} for k in actor["keys"]]
    return {**actor, "keys": keys, "registry": {**registry, "entries": entries}}


def _add_forged_key(actor: dict[str, Any]) -> dict[str, Any]:
    """A key the server made up, served as the actor's: nothing in its registry adds it."""
    forged = {
        "key_id": "F" * 22,
        "public_key": public_b64(99),
        "added_index": actor["registered_index"],
        "removed_index": None,
        "scope": [],
        "recovered_index": None,
        "effective": None,
        "compromised_since": None,
    }
    return {**actor, "keys": [*actor["keys"], forged]}


def _hide_compromise(actor: dict[str, Any]) -> dict[str, Any]:
    keys = [{**k, "compromised_since": None} for k in actor["keys"]]
    return {**actor, "keys": keys}


def _premap_registry(actor: dict[str, Any]) -> dict[str, Any]:
    """The registry at the log's first checkpoint (size 1: the genesis), with no map line
    and no entries: a stale, unmapped proof that would turn the registry check off."""
    first = httpx.get(f"{_UPSTREAM[0]}/v1/checkpoint?size=1").text
    registry = {"checkpoint": first, "map_proof": None, "entries": []}
    return {**_hide_revocation(True)(actor), "registry": registry}


_UPSTREAM: list[str] = []  # the module's server URL, for the rewrites that read from it


@pytest.mark.parametrize(
    "hide",
    [
        _hide_revocation(True),
        _hide_revocation(False),
        _hide_key_removal,
        _add_forged_key,
        _hide_compromise,
        _premap_registry,
    ],
    ids=[
        "revocation",
        "revocation-hint-only",
        "key-removal",
        "forged-key",
        "compromise",
        "stale-registry",
    ],
)
def test_a_hidden_revocation_key_removal_or_invented_key_is_caught(
    server: LiveServer, tmp_path: Path, hide: Rewrite, request: pytest.FixtureRequest
) -> None:
    _UPSTREAM[:] = [server.url]
    gtin = server.units["genuine"][0]
    serial = f"REG-{request.node.callspec.id}"[:20]
    unit = {"gtin": gtin, "serial": serial}
    courier = f"c-{request.node.callspec.id}"[:20]
    seeds = {"revocation": 70, "revocation-hint-only": 72, "key-removal": 74, "forged-key": 76}
    seed = {**seeds, "compromise": 78, "stale-registry": 80}[request.node.callspec.id]
    register = server.world.world.sign(
        "actor.register",
        "operator",
        subject=courier,
        role="courier",
        name=courier,
        keys=[public_b64(seed)],
    )
    assert httpx.post(f"{server.url}/v1/entries", json=register.to_dict()).status_code == 201
    _send(
        server,
        "authorize",
        "acme",
        partner=courier,
        role="courier",
        gtins=[gtin],
        prefixes=[],
        not_before="2026-01-01T00:00:00Z",
        not_after="2036-01-01T00:00:00Z",
    )
    head = _send(server, "commission", "acme", unit=unit, prev=None)
    head = _send(server, "handoff", "acme", unit=unit, prev=head, to=courier)
    head = _send(server, "receive", courier, unit=unit, prev=head, seed=seed)
    head = _send(server, "handoff", courier, unit=unit, prev=head, to="acme", seed=seed)
    _send(server, "receive", "acme", unit=unit, prev=head)
    old = httpx.get(f"{server.url}/v1/actors/{courier}").json()["keys"][0]["key_id"]
    _send(
        server,
        "key.rotate",
        courier,
        subject=courier,
        add=[public_b64(seed + 1)],
        remove=[old],
        seed=seed,
        compromised_since=format_time(datetime.now(UTC) - timedelta(hours=1)),
    )
    _send(server, "actor.revoke", "operator", subject=courier, reason="fraud")
    report = _verify_through(
        server, _to_genuine, (gtin, serial), tmp_path, others={f"/v1/actors/{courier}": hide}
    )
    assert report["verdict"] == "invalid"
    assert "chain-incomplete" in [r["code"] for r in report["reasons"]]
    assert any(courier in r["message"] for r in report["reasons"])
