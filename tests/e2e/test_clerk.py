"""A warehouse clerk's day, from the README alone, against a live server.

The operator sets up a log and serves it; the brand mints units and hands six of them
to the courier ``swift-courier``. The clerk then runs the README's "A day at the
warehouse" block exactly as written (the server's address put in for
``https://resolver.example``), each command succeeding on the first try. Around it: what
a clerk is told when something is missing (never ``provenance init``), re-scans as
duplicates, scan lists with garbage lines, ``--json`` errors, and the inbox and holdings
refused to anyone but their actor.
"""

from __future__ import annotations

import csv
import json
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jsonschema_rs
import pytest

from tests.e2e.cli_schemas import SCHEMAS
from tests.e2e.server import free_port
from tests.e2e.test_cli import GTIN, PREFIX, WINDOW, Cli, clean_env, start_serve, stop

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "https://resolver.example"
CLERK = "swift-courier"
SHOP = "shanghai-store"
UNITS = [f"{GTIN}/SN-{n:06d}" for n in range(1, 13)]


def readme_block(title: str) -> list[str]:
    """The command lines of the first ``sh`` block after the README heading ``title``."""
    text = (ROOT / "README.md").read_text("utf-8")
    after = text.split(f"### {title}\n", 1)[1]
    block = after.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


@dataclass
class World:
    """The operator's CLI (through the server), the clerk's (no server, no database:
    only a home folder), the server's URL, and the minted labels' URLs by unit."""

    operator: Cli
    clerk: Cli
    url: str
    labels: dict[str, str]
    db_url: str


def _register(operator: Cli, actor: str, role: str, home: Path) -> None:
    """``keys new`` in ``home`` (the actor's machine), registered by the operator."""
    actor_cli = Cli(clean_env(PROVENANCE_HOME=str(home)), operator.cwd, [])
    if not (home / "keys" / f"{actor}.pem").exists():
        actor_cli("keys", "new", actor)
    public = actor_cli("keys", "export", actor).stdout.strip()
    register = ["actor", "register", actor, "--role", role, "--name", actor.title()]
    operator(*register, "--public-key", public, "--as", "operator")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("clerk")
    db_url, port = f"sqlite:///{tmp / 'ledger.db'}", free_port()
    url = f"http://127.0.0.1:{port}"
    operator = Cli(clean_env(PROVENANCE_HOME=str(tmp / "operator")), tmp, ["--db", db_url])
    operator("init")
    server = start_serve(operator, db_url, port, tmp / "serve.log")
    operator.target = ["--server", url]
    clerk_home = tmp / "clerk"
    (clerk_home / "work").mkdir(parents=True)
    clerk = Cli(clean_env(PROVENANCE_HOME=str(clerk_home)), clerk_home / "work", [])
    try:
        operator("keys", "new", "acme")
        public = operator("keys", "export", "acme").stdout.strip()
        operator(
            *shlex.split(f"actor register acme --role brand --name Acme --prefix {PREFIX}"),
            "--public-key",
            public,
        )
        operator("product", "register", GTIN, "--name", "Runner 42", "--as", "acme")
        _register(operator, SHOP, "retailer", tmp / "shop")
        operator(
            *shlex.split(f"authorize grant {SHOP} --role retailer --gtin {GTIN} {WINDOW}"),
            "--as",
            "acme",
        )
        mint = f"mint {GTIN} --count {len(UNITS)} --lot L7 --out labels --formats pdf --as acme"
        operator(*mint.split())
        with (tmp / "labels" / "manifest.csv").open(newline="") as f:
            rows = list(csv.DictReader(f))
        labels = {r["unit"].replace("/01/", "").replace("/21/", "/"): r["uri"] for r in rows}
        yield World(operator, clerk, url, labels, db_url)
    finally:
        stop(server)


def _run_readme(world: World, lines: list[str]) -> list[str]:
    """Run README lines as the clerk; each must succeed first time. Their stdouts."""
    outputs = []
    for line in lines:
        words = shlex.split(line.replace(EXAMPLE, world.url), comments=True)
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            world.clerk.env[name] = value
            continue
        assert words[0] == "provenance", line
        outputs.append(world.clerk(*words[1:]).stdout)
    return outputs


def test_a_new_clerk_follows_the_readme_and_succeeds_first_time(world: World) -> None:
    lines = readme_block("A day at the warehouse")
    first = next(i for i, line in enumerate(lines) if "keys export" in line) + 1
    _run_readme(world, lines[:first])  # the key, then the operator registers it
    _register(world.operator, CLERK, "courier", Path(world.clerk.env["PROVENANCE_HOME"]))
    grant = f"authorize grant {CLERK} --role courier --prefix {PREFIX} {WINDOW} --as acme"
    world.operator(*shlex.split(grant))
    for unit in UNITS[:6]:
        world.operator("handoff", unit, "--to", CLERK, "--as", "acme")
    work = world.clerk.cwd
    (work / "morning.txt").write_text(
        "\n".join(world.labels[u] for u in UNITS[1:6]) + "\n\n", "utf-8"
    )
    (work / "outgoing.txt").write_text("\n".join(UNITS[:6]) + "\n", "utf-8")
    out = dict(zip(lines[first:], _run_readme(world, lines[first:]), strict=False))
    said = "\n".join(out.values())
    assert SHOP in said  # actor list
    assert f"6 unit(s) on their way to {CLERK}" in said  # inbox
    assert "already received" in said  # the re-scan
    assert "receive by swift-courier: 5 appended, 0 duplicates, 0 refused of 5 lines" in said
    assert f"{CLERK} holds 6 unit(s)" in said
    assert f"handoff to {SHOP} by {CLERK}: 6 appended" in said
    view = world.operator("--json", "inbox", "--as", SHOP, "--key", _shop_key(world))
    jsonschema_rs.validate(SCHEMAS["inbox"], json.loads(view.stdout))
    assert [u["serial"] for u in json.loads(view.stdout)["units"]] == [
        u.split("/")[1] for u in UNITS[:6]
    ]


def _shop_key(world: World) -> str:
    return str(world.operator.cwd / "shop" / "keys" / f"{SHOP}.pem")


def test_a_clerk_without_a_server_is_pointed_at_server_not_init(tmp_path: Path) -> None:
    clerk = Cli(clean_env(PROVENANCE_HOME=str(tmp_path / "home")), tmp_path, [])
    clerk("keys", "new", CLERK)
    done = clerk("receive", UNITS[0], "--as", CLERK, code=1, error="")
    assert "--server" in done.stderr and "PROVENANCE_SERVER" in done.stderr
    assert "init" not in done.stderr


def test_a_missing_key_names_key_home_and_keys_new(world: World, tmp_path: Path) -> None:
    stranger = Cli(clean_env(PROVENANCE_HOME=str(tmp_path)), tmp_path, ["--server", world.url])
    done = stranger("receive", UNITS[0], "--as", "nobody", code=1, error="")
    for hint in ("--key", "PROVENANCE_HOME", "keys new nobody"):
        assert hint in done.stderr, done.stderr


def test_server_after_the_command_and_json_errors(world: World) -> None:
    clerk = Cli(world.clerk.env, world.clerk.cwd, [])
    clerk.env.pop("PROVENANCE_SERVER", None)
    absent = f"{GTIN}/NEVER-MINTED"
    done = clerk("receive", absent, "--as", CLERK, "--server", world.url, "--json", code=1)
    (line,) = done.stderr.strip().splitlines()
    error = json.loads(line)["error"]
    assert error["code"] == "not-found" and absent in error["message"]
    usage = clerk("handoff", UNITS[0], "--as", CLERK, "--json", code=2)
    assert json.loads(usage.stderr)["error"]["code"] == "usage"
    assert "provenance actor list" in clerk("handoff", "--help").stdout  # --to's help


def _clerk(world: World) -> Cli:
    return Cli({**world.clerk.env, "PROVENANCE_SERVER": world.url}, world.clerk.cwd, [])


def test_rescans_are_duplicates_and_other_refusals_stay(world: World) -> None:
    clerk, unit = _clerk(world), UNITS[6]
    world.operator("handoff", unit, "--to", CLERK, "--as", "acme")
    first = json.loads(clerk("--json", "receive", unit, "--as", CLERK).stdout)
    again = json.loads(clerk("--json", "receive", unit, "--as", CLERK).stdout)
    jsonschema_rs.validate(SCHEMAS["receipt"], again)
    assert not first["receipts"][0]["duplicate"] and again["receipts"][0]["duplicate"]
    assert again["receipts"][0]["index"] == first["receipts"][0]["index"]
    assert again["receipts"][0]["event_hash"] == first["receipts"][0]["event_hash"]
    assert again["receipts"][0]["leaf_hash"] == first["receipts"][0]["leaf_hash"]
    handed = clerk("handoff", unit, "--to", SHOP, "--as", CLERK)
    assert f"to {SHOP} by {CLERK}: appended at index" in handed.stdout
    assert "already on its way" in clerk("handoff", unit, "--to", SHOP, "--as", CLERK).stdout
    # not re-scans: another recipient, a receive by someone it is not handed to
    clerk("handoff", unit, "--to", "acme", "--as", CLERK, code=1, error="transfer-pending")
    shop = ["--key", _shop_key(world)]
    world.operator("receive", UNITS[7], "--as", SHOP, *shop, code=1, error="not-recipient")


def test_a_scan_list_with_garbage_appends_the_good_lines_once(world: World) -> None:
    clerk = _clerk(world)
    good = UNITS[8:10]
    for unit in good:
        world.operator("handoff", unit, "--to", CLERK, "--as", "acme")
    scans = clerk.cwd / "mixed.txt"
    scans.write_text(
        "\n".join(
            [
                "# the afternoon's scans",
                world.labels[good[0]],
                "garbage",
                f"{GTIN[:-1]}5/SN-000009",  # a wrong check digit
                good[1],
                good[0],  # scanned twice
                UNITS[11],  # minted, never handed to the clerk
            ]
        ),
        "utf-8",
    )
    done = clerk("--json", "receive", "--from-file", str(scans), "--as", CLERK, code=1)
    summary = json.loads(done.stdout)
    jsonschema_rs.validate(SCHEMAS["scan list"], summary)
    outcomes = [(ln["line"], ln["outcome"], ln.get("code")) for ln in summary["lines"]]
    assert outcomes == [
        (2, "appended", None),
        (3, "refused", "bad-line"),
        (4, "refused", "bad-line"),
        (5, "appended", None),
        (6, "duplicate", None),
        (7, "refused", "not-recipient"),
    ]
    assert (summary["appended"], summary["duplicates"], summary["refused"]) == (2, 1, 3)
    human = clerk("receive", "--list", str(scans), "--as", CLERK, code=1).stdout
    assert "line 3: garbage: bad-line" in human
    assert "0 appended, 3 duplicates, 3 refused of 6 lines" in human
    rerun = clerk("--json", "receive", "--from-file", "-", "--as", CLERK, stdin="\n".join(good))
    assert json.loads(rerun.stdout)["duplicates"] == 2


def test_inbox_and_holdings_are_the_actors_own(world: World) -> None:
    clerk = _clerk(world)
    clerk_key = Path(world.clerk.env["PROVENANCE_HOME"]) / "keys" / f"{CLERK}.pem"
    # the clerk's key signing for the shop: refused; the shop's own key: answered
    clerk("inbox", "--as", SHOP, "--key", str(clerk_key), code=1, error="forbidden")
    held = json.loads(clerk("--json", "holdings", "--as", CLERK).stdout)
    jsonschema_rs.validate(SCHEMAS["holdings"], held)
    mine = held["units"]
    assert {u["serial"] for u in mine} >= {"SN-000009", "SN-000010"}
    assert set(mine[0]) == {"gtin", "serial", "lot", "expiry", "pending", "index", "container"}
    listed = json.loads(clerk("--json", "actor", "list").stdout)
    jsonschema_rs.validate(SCHEMAS["actor list"], listed)
    actors = listed["actors"]
    assert {"acme", CLERK, SHOP} <= {a["id"] for a in actors}
    couriers = json.loads(clerk("--json", "actor", "list", "--role", "courier").stdout)
    assert [a["id"] for a in couriers["actors"]] == [CLERK]


def test_a_scan_list_on_the_operators_own_database(world: World) -> None:
    """The same scan list through --db (the local backend) instead of a server."""
    scans = world.operator.cwd / "local.txt"
    scans.write_text(f"{UNITS[10]}\n{world.labels[UNITS[10]]}\n", "utf-8")
    local = ["--db", world.db_url, "--json", "handoff", "--to", SHOP, "--from-file", str(scans)]
    first = json.loads(world.operator(*local, "--as", "acme", target=False).stdout)
    assert [ln["outcome"] for ln in first["lines"]] == ["appended", "duplicate"]
    again = json.loads(world.operator(*local, "--as", "acme", target=False).stdout)
    assert (again["appended"], again["duplicates"]) == (0, 2)
    inbox = ["--db", world.db_url, "--json", "inbox", "--as", SHOP]
    assert UNITS[10].split("/")[1] in world.operator(*inbox, target=False).stdout


def test_a_marketplace_checks_sellers_offline(world: World, tmp_path: Path) -> None:
    """Any machine with the log's key: authorized, expired, never, revoked (last: it
    revokes the clerk's grant)."""
    key = httpx_get_text(f"{world.url}/v1/log/key").strip()
    market = Cli(
        clean_env(PROVENANCE_HOME=str(tmp_path), PROVENANCE_LOG_KEY=key),
        tmp_path,
        ["--server", world.url],
    )
    ok = market("seller-check", "--brand", "acme", "--seller", SHOP, "--gtin", GTIN)
    assert "authorized from 2020-01-01T00:00:00Z until 2099-01-01T00:00:00Z" in ok.stdout
    answer = json.loads(market("--json", "authorized", "acme", SHOP, "--gtin", GTIN).stdout)
    assert answer["verified"] and answer["status"] == "authorized"
    late = market("authorized", "acme", SHOP, "--at", "2100-01-01T00:00:00Z", code=1)
    assert "expired at 2099-01-01T00:00:00Z" in late.stdout
    never = market("seller-check", "--brand", "acme", "--seller", "nobody", code=1)
    assert "no authorization in the log" in never.stdout
    grant = json.loads(market("--json", "authorized", "acme", CLERK).stdout)["authorization"]
    world.operator("authorize", "revoke", "--id", grant["id"], "--reason", "ended", "--as", "acme")
    revoked = market("seller-check", "--brand", "acme", "--seller", CLERK, code=1)
    assert "not authorized: revoked at" in revoked.stdout
    # a log key that is not this log's: the answer is refused, whatever it says
    stranger = Cli({**market.env, "PROVENANCE_LOG_KEY": _other_log_key(key)}, tmp_path, [])
    stranger(
        "--server",
        world.url,
        "seller-check",
        "--brand",
        "acme",
        "--seller",
        SHOP,
        code=1,
        error="authorization-proof",
    )


def httpx_get_text(url: str) -> str:
    import httpx

    return httpx.get(url, timeout=10).text


def _other_log_key(key: str) -> str:
    from ledger import note
    from tests.factories import key as seed_key

    return note.Signer(key.split("+", 1)[0], seed_key(99)).verifier.to_text()
