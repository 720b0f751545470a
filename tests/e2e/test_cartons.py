"""Cartons and pallets end to end, with the CLI alone, on SQLite and on PostgreSQL (and
once through a real server): 10 units packed into 2 cartons, the cartons onto a pallet,
the pallet handed to a courier and received, handed to a retailer, received and
unpacked; every unit's own page (``verify``, with its proofs) shows each hop. Around it,
the refusals: bad SSCC check digits, a carton packed into itself or into the pallet it
is on, a unit in two containers, a container with a unit the sender does not hold; each
refuses the whole operation and appends nothing.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ledger.sscc import sscc_check_digit
from tests.e2e.server import free_port
from tests.e2e.test_cli import GTIN, PREFIX, WINDOW, Cli, clean_env, start_serve, stop
from tests.epcis_support import assert_valid


def _sscc(n: int) -> str:
    body = f"0{PREFIX}{n:09d}"
    return body + str(sscc_check_digit(body))


CARTON_A, CARTON_B, PALLET, SPARE = _sscc(1), _sscc(2), _sscc(3), _sscc(4)
UNITS = [f"{GTIN}/SN-{n:06d}" for n in range(1, 25)]  # 10 packed, the rest for refusals
BAD = CARTON_A[:-1] + str((int(CARTON_A[-1]) + 1) % 10)
HOPS = [
    "commission",
    "pack",  # into its carton
    "pack",  # the carton onto the pallet
    "handoff",
    "receive",
    "handoff",
    "receive",
    "inspect",  # the pallet checked at the retailer
    "unpack",  # the pallet opened
    "unpack",  # the carton opened
]


@dataclass
class Dock:
    """The CLI (every actor's key in one home), and the server's URL when there is one."""

    cli: Cli
    url: str | None = None

    def size(self) -> int:
        """The log's size now: a re-scan's receipt (a receive of a unit the brand holds
        and never moves) appends nothing and names the size."""
        receipt = self.json(f"receive {UNITS[-1]} --as acme")
        assert receipt["receipts"][0]["duplicate"] is True
        return int(receipt["size"])

    def json(self, line: str, **kwargs: Any) -> Any:
        """Run a shell-quoted line with ``--json``; its parsed output."""
        done = self.cli("--json", *shlex.split(line), **kwargs)
        import json

        return json.loads(done.stdout) if done.stdout.strip() else None


def _setup(cli: Cli) -> None:
    cli("init")
    public = {}
    for actor in ("acme", "swift", "shop"):
        cli("keys", "new", actor)
        public[actor] = cli("keys", "export", actor).stdout.strip()
    brand = f"actor register acme --role brand --name Acme --prefix {PREFIX}"
    cli(*shlex.split(brand), "--public-key", public["acme"])
    for actor, role in (("swift", "courier"), ("shop", "retailer")):
        register = f"actor register {actor} --role {role} --name {actor.title()}"
        cli(*shlex.split(register), "--public-key", public[actor], "--as", "operator")
    cli("product", "register", GTIN, "--name", "Runner 42", "--as", "acme")
    for actor, role in (("swift", "courier"), ("shop", "retailer")):
        grant = f"authorize grant {actor} --role {role} --gtin {GTIN} {WINDOW} --as acme"
        cli(*shlex.split(grant))
    cli(
        "mint",
        GTIN,
        "--count",
        str(len(UNITS)),
        "--out",
        "labels",
        "--formats",
        "pdf",
        "--as",
        "acme",
    )


def _params() -> list[Any]:
    return [
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("server", marks=pytest.mark.slow),
    ]


@pytest.fixture(scope="module", params=_params())
def dock(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dock]:
    tmp = tmp_path_factory.mktemp(f"cartons-{request.param}")
    db_url = f"sqlite:///{tmp / 'ledger.db'}"
    if request.param == "postgres":
        db_url = str(request.getfixturevalue("pg_url"))
    cli = Cli(clean_env(PROVENANCE_HOME=str(tmp / "home")), tmp, ["--db", db_url])
    _setup(cli)
    server = None
    if request.param == "server":
        port = free_port()
        server = start_serve(cli, db_url, port, tmp / "serve.log")
        cli.target = ["--server", f"http://127.0.0.1:{port}"]
    try:
        yield Dock(cli, f"http://127.0.0.1:{port}" if server else None)
    finally:
        if server is not None:
            stop(server)


def test_units_to_cartons_to_a_pallet_to_a_courier_to_a_retailer(dock: Dock) -> None:
    cli = dock.cli
    first, second = UNITS[:5], UNITS[5:10]
    packed = cli(*shlex.split(f"pack {CARTON_A} {' '.join(first)} --as acme"), schema="container")
    assert (packed["appended"], packed["container"]) == (5, CARTON_A)
    dock.json(f"pack (00){CARTON_B} {' '.join(second)} --as acme")
    pallet = dock.json(
        f"pack {PALLET} {CARTON_A} urn:epc:id:sscc:{PREFIX}.0{CARTON_B[8:17]} --as acme"
    )
    assert pallet["appended"] == 10
    # a re-scan of the pack is a duplicate, nothing appended
    again = dock.json(f"pack {CARTON_A} {first[0]} --as acme", code=1)
    assert again is None  # the unit is on the pallet now: refused, named
    handed = cli(
        *f"handoff https://id.gs1.org/00/{PALLET} --to swift --as acme".split(), schema="container"
    )
    assert (handed["appended"], handed["to"]) == (10, "swift")
    assert dock.json(f"handoff {PALLET} --to swift --as acme")["duplicate"] is True
    assert dock.json(f"receive {PALLET} --as swift")["appended"] == 10
    again = cli("receive", PALLET, "--as", "swift", schema="container")
    assert (again["duplicate"], again["appended"], again["size"]) == (True, 0, None)
    dock.json(f"handoff {PALLET} --to shop --as swift")
    inbox = cli("inbox", "--as", "shop", schema="inbox")["units"]
    assert sorted((u["serial"], u["container"]) for u in inbox) == [
        (unit.split("/")[1], PALLET) for unit in UNITS[:10]
    ]
    dock.json(f"receive {PALLET} --as shop")
    checked = cli("inspect", PALLET, "--as", "shop", schema="container")
    assert checked["appended"] == 10
    opened = dock.json(f"unpack {PALLET} --as shop")
    assert opened["appended"] == 10
    held = cli("holdings", "--as", "shop", schema="holdings")["units"]
    assert {u["container"] for u in held} == {CARTON_A, CARTON_B}
    dock.json(f"unpack {CARTON_A} --as shop")
    dock.json(f"unpack {CARTON_B} {' '.join(second)} --as shop")
    for unit in UNITS[:10]:
        report = cli("verify", unit, schema="verify")
        assert report["verdict"] == "genuine", unit
        assert [e["kind"] for e in report["entries"]] == HOPS, unit
        assert report["checked_locally"] == len(HOPS)
        assert report["complete_at"] is not None  # the map proves no entry was left out
    _epcis_export_validates(dock)
    if dock.url:  # the consumer page of a unit tells every hop in words
        page = httpx.get(f"{dock.url}/01/{GTIN}/21/SN-000001", timeout=30).text
        for words in (f"into container {CARTON_A}", f"into container {PALLET}", "Handed to"):
            assert words in page
        assert f"from container {PALLET}" in page and f"from container {CARTON_A}" in page
    loose = cli("verify", UNITS[-1], schema="verify")
    assert [e["kind"] for e in loose["entries"]] == ["commission"]


def _epcis_export_validates(dock: Dock) -> None:
    """The unit's EPCIS export holds its packing as AggregationEvents, schema-valid."""
    document = dock.json(f"export epcis --unit {UNITS[0]}")
    assert_valid(document)
    events = document["epcisBody"]["eventList"]
    aggregations = [e for e in events if e["type"] == "AggregationEvent"]
    assert [(e["action"], e["parentID"].rsplit("/", 1)[1]) for e in aggregations] == [
        ("ADD", CARTON_A),
        ("ADD", PALLET),
        ("DELETE", PALLET),
        ("DELETE", CARTON_A),
    ]
    assert aggregations[1]["pl:inner"] == CARTON_A


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (f"pack {BAD} {UNITS[10]} --as acme", "bad-sscc"),
        (f"pack {CARTON_A} {UNITS[10]} {UNITS[11]} {UNITS[10]} --as acme", "usage"),
        (f"handoff {BAD} --to swift --as acme", "bad-sscc"),
        (f"pack {SPARE} {UNITS[10]} not-a-label --as acme", "gs1"),
        (f"pack {SPARE} {GTIN}/NEVER-MINTED --as acme", "not-found"),
        (f"handoff {SPARE} --to swift --as acme", "not-found"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_appended(dock: Dock, line: str, code: str) -> None:
    before = dock.size()
    done = dock.cli("--json", *shlex.split(line), code=2 if code == "usage" else 1)
    assert f'"code": "{code}"' in done.stderr.replace('":"', '": "')
    assert dock.size() == before


def test_the_api_answers_a_container_and_refuses_a_bad_sscc(dock: Dock) -> None:
    if dock.url is None:
        pytest.skip("the API: the server run")
    bad = httpx.get(f"{dock.url}/v1/partners/containers/{BAD}", timeout=30)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["type"] == "urn:provenance-ledger:problem:bad-sscc"
    empty = httpx.get(f"{dock.url}/v1/partners/containers/{SPARE}", timeout=30)
    assert (empty.status_code, empty.json()) == (200, {"units": []})


def test_cycles_and_a_unit_in_two_containers_refuse_the_whole_pack(dock: Dock) -> None:
    a, b = UNITS[10], UNITS[11]
    spare_2, spare_3 = _sscc(5), _sscc(6)
    dock.json(f"pack {spare_2} {a} --as acme")
    before = dock.size()
    # b is fine, a is already in spare_2: the whole pack is refused, b stays loose
    dock.cli("pack", SPARE, b, a, "--as", "acme", code=1, error="already-packed")
    dock.cli("pack", spare_2, spare_2, "--as", "acme", code=1, error="container-cycle")
    dock.json(f"pack {spare_3} {spare_2} --as acme")
    after_nest = dock.size()
    assert after_nest == before + 1
    dock.cli("pack", spare_2, spare_3, "--as", "acme", code=1, error="container-cycle")
    dock.cli("unpack", spare_2, "--as", "acme", code=1, error="not-found")
    dock.cli("unpack", spare_3, b, "--as", "acme", code=1, error="not-inside")
    assert dock.size() == after_nest
    view = dock.cli("verify", b, schema="verify")
    assert [e["kind"] for e in view["entries"]] == ["commission"]


def test_a_container_with_a_unit_the_sender_does_not_hold_is_refused_whole(dock: Dock) -> None:
    a, b = UNITS[12], UNITS[13]
    box = _sscc(7)
    dock.json(f"pack {box} {a} {b} --as acme")
    dock.json(f"handoff {a} --to swift --as acme")  # one unit of the box leaves alone
    before = dock.size()
    done = dock.cli(
        "handoff", box, "--to", "shop", "--as", "acme", code=1, error="transfer-pending"
    )
    assert a in done.stderr and "nothing was appended" in done.stderr
    assert dock.size() == before
    assert dock.cli("verify", b, schema="verify")["entries"][-1]["kind"] == "pack"


def test_a_scan_list_of_containers_appends_each_whole_or_not_at_all(dock: Dock) -> None:
    box_x, box_y = _sscc(8), _sscc(9)
    x, y, loose = UNITS[14:17], UNITS[17:19], UNITS[19]
    dock.json(f"pack {box_x} {' '.join(x)} --as acme")
    dock.json(f"pack {box_y} {' '.join(y)} --as acme")
    dock.json(f"handoff {y[1]} --to swift --as acme")  # one unit of box y leaves alone
    scans = dock.cli.cwd / "outgoing.txt"
    scans.write_text(f"{box_x}\n(00){box_y}\n{loose}\ngarbage\n{BAD}\n", "utf-8")
    before = dock.size()
    summary = dock.cli(
        "handoff",
        "--to",
        "shop",
        "--from-file",
        str(scans),
        "--as",
        "acme",
        code=1,
        schema="scan list",
    )
    outcome = {(ln["line"], ln["unit"]): (ln["outcome"], ln.get("code")) for ln in summary["lines"]}
    for unit in x:
        assert outcome[(1, unit)] == ("appended", None)
    assert outcome[(2, y[1])] == ("refused", "transfer-pending")
    assert outcome[(2, y[0])] == ("refused", "transfer-pending")  # its box is refused whole
    assert outcome[(3, loose)] == ("appended", None)
    assert outcome[(4, None)] == ("refused", "bad-line")
    assert outcome[(5, None)] == ("refused", "bad-sscc")
    assert dock.size() == before + 4
    view = dock.cli("verify", y[0], schema="verify")
    assert [e["kind"] for e in view["entries"]] == ["commission", "pack"]
    # the good lines again: all duplicates, exit 0
    scans.write_text(f"{box_x}\n{loose}\n", "utf-8")
    again = dock.cli(
        "handoff", "--to", "shop", "--from-file", str(scans), "--as", "acme", schema="scan list"
    )
    assert (again["appended"], again["duplicates"], again["refused"]) == (0, 4, 0)
    assert dock.size() == before + 4


def test_container_labels_carry_the_digital_link_of_the_sscc(dock: Dock) -> None:
    made = dock.cli(
        "sscc-label", PALLET, f"(00){CARTON_A}", "--base-url", "https://r.example/", schema="label"
    )
    assert made["uris"] == [f"https://r.example/00/{PALLET}", f"https://r.example/00/{CARTON_A}"]
    assert (dock.cli.cwd / made["files"][0]).stat().st_size > 1000
    dock.cli("sscc-label", BAD, code=1, error="bad-sscc")


def test_the_audit_replays_the_packing_and_finds_the_projections_right(dock: Dock) -> None:
    # after the other tests: packed, nested, unpacked and refused containers in the log
    report = dock.cli("audit", schema="audit")
    assert report["ok"] and report["findings"] == []
