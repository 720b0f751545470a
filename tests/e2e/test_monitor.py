"""``provenance monitor --as BRAND`` against a real server (uvicorn), through the CLI.

The operator mounts the attacks of issue 17 on the seeded brand ``acme`` (prefix
9506000): a second brand named "ACME" with a prefix nested in acme's, a product and a
unit under that prefix, then a key of its own rotated into acme and a unit minted as acme
with it, and a key recovery of acme. Each attack either is refused by the log (then there
is nothing to see; an honest log refuses all but the recovery) or is reported by acme's
monitor, exit 1 with a JSON report; the monitor's state then moves on, so the next run is
clean. What a dishonest log lets through (the refused ones) is written past the rules
into a log of its own, served by the real server, and caught there too; and what a
scoped key of acme signs is listed, without an alarm.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from ledger import gs1, note
from ledger.audit.witness import verify_evidence
from ledger.events import format_time
from ledger.rules import registry
from tests.e2e.server import LiveServer, start
from tests.e2e.test_pinned_keys import cli, one_error
from tests.factories import key as factory_key
from tests.factories import public_b64
from tests.integration.world import LedgerWorld

NESTED = "95060009"
FOREIGN_GTIN = "0" + NESTED + "0001" + str(gs1.gtin_check_digit("0" + NESTED + "0001"))


@pytest.fixture
def servers() -> Iterator[list[LiveServer]]:
    """Servers a test starts; all stopped at the end."""
    started: list[LiveServer] = []
    yield started
    for live in started:
        live.stop()


@pytest.fixture
def server(tmp_path: Path, servers: list[LiveServer]) -> LiveServer:
    """A seeded server of its own."""
    live = start(f"sqlite:///{tmp_path}/monitor.db", tmp_path)
    servers.append(live)
    return live


def post(
    server: LiveServer, kind: str, actor: str, seed: int | None = None, **fields: object
) -> bool:
    """Sign and post one event; True when the log accepted it, False when it refused it
    (a 4xx problem, the log unchanged)."""
    signed = server.world.world.sign(kind, actor, seed, **fields)
    response = httpx.post(f"{server.url}/v1/entries", json=signed.to_dict(), timeout=30)
    assert response.status_code in (201, 400, 403, 409, 422), response.text[:300]
    return response.status_code == 201


def test_the_brand_monitor_catches_what_touches_the_brand(
    server: LiveServer, servers: list[LiveServer], tmp_path: Path
) -> None:
    key = httpx.get(f"{server.url}/v1/log/key").text.strip()
    home, state = tmp_path / "home", tmp_path / "acme.monitor.json"
    args = ("monitor", "--as", "acme", "--server", server.url, "--state", str(state))
    first, _ = cli(*args, "--log-key", key, home=home)
    assert first["ok"] and first["alerts"] == [] and first["from"] == 0
    size = first["to"]

    expected: list[str] = []
    nested = post(
        server,
        "actor.register",
        "operator",
        subject="acme-cn",
        role="brand",
        name="ACME",
        keys=[public_b64(40)],
        prefixes=[NESTED],
    )
    if nested:
        server.world.world.seeds["acme-cn"] = 40
        expected += ["overlapping-prefix", "look-alike-name"]
        if post(server, "product.register", "acme-cn", gtin=FOREIGN_GTIN, name="Sneaker"):
            expected.append("foreign-product")
            unit = {"gtin": FOREIGN_GTIN, "serial": "CN-1"}
            if post(server, "commission", "acme-cn", unit=unit, prev=None):
                expected.append("foreign-unit")
    rotated = post(
        server, "key.rotate", "operator", subject="acme", add=[public_b64(41)], remove=[]
    )
    if rotated:
        expected.append("foreign-key-change")
        unit = {"gtin": "09506000134352", "serial": "OP-MINTED-1"}
        if post(server, "commission", "acme", 41, unit=unit, prev=None):
            expected += ["foreign-signature", "foreign-unit"]

    # A key recovery is within the operator's rights, so the log accepts it (it takes
    # effect only after the log's wait); the brand's monitor must say so at once.
    effective = format_time(datetime.now(UTC) + timedelta(days=8))
    recovered = post(
        server, "key.recover", "operator", subject="acme", key=public_b64(42), effective=effective
    )
    assert recovered
    expected.append("key-recovery")

    code = 1 if expected else 0
    second, _ = cli(*args, home=home, code=code)  # the state remembers the pinned key
    assert second["from"] == size and second["ok"] == (not expected)
    assert [a["code"] for a in second["alerts"]] == expected
    if nested:
        assert second["alerts"][0]["evidence"]["prefixes"] == [NESTED]
    kept = json.loads(state.read_text())
    assert kept["next_index"] == second["to"]

    third, _ = cli(*args, home=home)  # reported once: the state moved on
    assert third["ok"] and third["from"] == second["to"]

    origin = httpx.get(f"{server.url}/v1/checkpoint").text.split("\n", 1)[0]
    other = note.Signer(origin, factory_key(99)).verifier.to_text()
    wrong, err = cli(*args, home=home, code=1, PROVENANCE_LOG_KEY=other)
    assert wrong is None and one_error(err)  # a pinned key that differs: refused

    # The same log served again from its seed only (same key and origin, fewer entries):
    # the monitor refuses to go back, writes the evidence, and keeps its state.
    server.stop()
    behind = start(f"sqlite:///{tmp_path}/behind.db", tmp_path, name=server.env["PROVENANCE_LOG"])
    servers.append(behind)
    moved = [a for a in args if a != server.url]
    moved.insert(moved.index("--server") + 1, behind.url)
    refused, err = cli(*moved, home=home, code=1)
    assert refused is None and "rollback" in err and len(err.strip().splitlines()) == 1
    evidence = json.loads(Path(f"{state}.evidence.json").read_text())
    assert evidence["kind"] == "rollback"
    verify_evidence(evidence, key)
    assert json.loads(state.read_text()) == kept


def _overlapping_brand(world: LedgerWorld) -> None:
    """The dishonest operator's entries, written with the prefix and name rules patched
    out (an honest log refuses the registration, ``prefix-taken``): a brand "ACME" whose
    prefix is nested in acme's, a product and a unit under it, each signed by its key."""
    w = world.world
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(registry, "_check_prefixes_free", lambda *args: None)
        patch.setattr(registry, "_check_name_free", lambda *args: None)
        cn = {"subject": "acme-cn", "role": "brand", "name": "ACME", "prefixes": [NESTED]}
        world.append(w.sign("actor.register", "operator", keys=[public_b64(40)], **cn))
    w.seeds["acme-cn"] = 40
    world.append(w.sign("product.register", "acme-cn", gtin=FOREIGN_GTIN, name="Sneaker"))
    unit = {"gtin": FOREIGN_GTIN, "serial": "CN-1"}
    world.append(w.sign("commission", "acme-cn", unit=unit, prev=None))


def test_the_monitor_catches_a_dishonest_logs_overlapping_prefix_and_its_unit(
    tmp_path: Path, servers: list[LiveServer]
) -> None:
    live = start(f"sqlite:///{tmp_path}/dishonest.db", tmp_path, then=_overlapping_brand)
    servers.append(live)
    # the same server's rules refuse another such registration: only a log written past
    # them holds one
    again = {"subject": "acme-hk", "role": "brand", "name": "Acme HK", "prefixes": [NESTED + "1"]}
    assert not post(live, "actor.register", "operator", keys=[public_b64(44)], **again)
    key = httpx.get(f"{live.url}/v1/log/key").text.strip()
    state = tmp_path / "acme.json"
    args = ("monitor", "--as", "acme", "--server", live.url, "--state", str(state))
    report, _ = cli(*args, "--log-key", key, home=tmp_path / "home", code=1)
    assert report["ok"] is False and report["from"] == 0 and report["notices"] == []
    found = [(a["code"], a["actor"], a["kind"]) for a in report["alerts"]]
    assert found == [
        ("overlapping-prefix", "operator", "actor.register"),
        ("look-alike-name", "operator", "actor.register"),
        ("foreign-product", "acme-cn", "product.register"),
        ("foreign-unit", "acme-cn", "commission"),
    ]
    registered, _, _, minted = report["alerts"]
    assert registered["evidence"]["subject"] == "acme-cn"
    assert registered["evidence"]["prefixes"] == [NESTED]
    assert minted["evidence"]["gtin"] == FOREIGN_GTIN and minted["index"] == report["to"] - 1


def test_what_a_scoped_key_of_the_brand_signs_is_listed_without_an_alarm(
    server: LiveServer, tmp_path: Path
) -> None:
    """acme lends a console-scoped key: the product it registers is listed as a notice
    (exit 0); a unit it tries to mint is refused by the log, so nothing more is listed."""
    key = httpx.get(f"{server.url}/v1/log/key").text.strip()
    state, home = tmp_path / "acme.json", tmp_path / "home"
    args = ("monitor", "--as", "acme", "--server", server.url, "--state", str(state))
    first, _ = cli(*args, "--log-key", key, home=home)
    assert first["ok"] and first["notices"] == []
    lent = public_b64(43)
    assert post(
        server, "key.rotate", "acme", subject="acme", add=[lent], remove=[], scope=["console"]
    )
    gtin = "0950600077777"
    gtin += str(gs1.gtin_check_digit(gtin))
    assert post(server, "product.register", "acme", 43, gtin=gtin, name="Console product")
    unit = {"gtin": gtin, "serial": "SCOPED-1"}
    assert not post(server, "commission", "acme", 43, unit=unit, prev=None)  # out of scope
    second, _ = cli(*args, home=home)
    assert second["ok"] and second["alerts"] == []
    (notice,) = second["notices"]
    assert notice["code"] == "scoped-key-signature" and notice["severity"] == "notice"
    assert notice["kind"] == "product.register" and "console" in notice["message"]
    assert notice["index"] == second["to"] - 1
