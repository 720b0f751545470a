"""The ``provenance`` CLI: every command against a local SQLite database
and against a real server (``provenance serve``), a whole custody story told only with
the CLI, the audit catching one changed byte, refused keys, exit codes, the ``--json``
schemas of docs/CLI.md (tests/e2e/cli_schemas.py), and the demo's stories checked
through the resolver of a server started on the demo's database.

Every run gets its own ``PROVENANCE_HOME`` under a temporary folder (never
``~/.provenance``); no run may print a traceback. Commands run inside the test process
(tests/cli_runner.py, the console script's own entry point); the usage and unreachable-
server tests also start a real ``python -m cli`` (``slow``) to show exit codes as a shell
sees them.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest

from ledger.store import leafpack
from tests.cli_runner import run_cli
from tests.e2e.cli_schemas import SCHEMAS
from tests.e2e.server import free_port

ROOT = Path(__file__).resolve().parents[2]
GTIN = "09506000134352"
PREFIX = "9506000"
WINDOW = "--from 2020-01-01T00:00:00Z --until 2099-01-01T00:00:00Z"
U1, U2, U3, U4 = (f"{GTIN}/SN-00000{n}" for n in range(1, 5))


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any provenance setting, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PROVENANCE_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    return {**env, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "NO_COLOR": "1", **extra}


@dataclass
class Cli:
    """Runs the CLI with one environment, folder and target (--db or --server): in this
    process (tests/cli_runner.py), or as ``python -m cli`` with ``spawn``."""

    env: dict[str, str]
    cwd: Path
    target: list[str]
    mode: str = "local"
    spawn: bool = False

    def __call__(
        self,
        *args: str,
        code: int = 0,
        schema: str | None = None,
        error: str | None = None,
        target: bool = True,
        stdin: str = "",
    ) -> Any:
        """Run; check the exit code, that no traceback shows, the error line, the JSON.

        Returns the parsed JSON with ``schema``, else the completed process.
        """
        command = [*(self.target if target else []), *(["--json"] if schema else []), *args]
        if self.spawn:
            done = subprocess.run(
                [sys.executable, "-m", "cli", *command],
                cwd=self.cwd,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=120,
                input=stdin,
            )
        else:
            done = run_cli(command, env=self.env, cwd=self.cwd, stdin=stdin)
        shown = f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, shown
        assert done.returncode == code, shown
        if error is not None:
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1, shown
            assert lines[0].startswith(("error: ", "usage error: ")), shown
            assert error in lines[0], shown
        if schema is None:
            return done
        data = json.loads(done.stdout)
        jsonschema_rs.validate(SCHEMAS[schema], data)
        return data

    def sh(self, line: str, **kwargs: Any) -> Any:
        """Run a command given as one shell-quoted line (same keywords as a call)."""
        return self(*shlex.split(line), **kwargs)


def start_serve(
    cli: Cli, db_url: str, port: int, log: Path, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``provenance --db URL serve --port P`` as a subprocess, once it answers /healthz."""
    env = {**cli.env, "PROVENANCE_RATE": "1000", "PROVENANCE_BURST": "5000", **(extra_env or {})}
    command = [sys.executable, "-m", "cli", "--db", db_url, "serve", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=cli.cwd, env=env, stdout=out, stderr=out)
    # generous: under a loaded CI machine a start has taken over 30 s
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 90
    answer = "no answer"
    while time.monotonic() < deadline and process.poll() is None:
        try:
            health = httpx.get(f"{url}/healthz", timeout=5)
            if health.status_code == 200:
                return process
            answer = f"{health.status_code} {health.text[:300]}"
        except httpx.HTTPError as e:
            answer = repr(e)
        time.sleep(0.1)
    stop(process)
    raise AssertionError(f"provenance serve did not start ({answer}):\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started here, by its own handle."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


# --- the custody story, told only with the CLI -----------------------------------------


@dataclass
class Story:
    """What the story wrote: the CLI it used, its files, and every write's receipt."""

    cli: Cli
    tmp: Path
    db_url: str
    url: str | None
    receipts: dict[str, dict[str, Any]] = field(default_factory=dict)
    minted: dict[str, Any] = field(default_factory=dict)

    @property
    def keys(self) -> Path:
        """The folder of key files."""
        return self.tmp / "home" / "keys"

    def manifest(self) -> list[dict[str, str]]:
        """The rows of the claim-code manifest ``mint`` wrote."""
        with (self.tmp / "labels" / "manifest.csv").open(newline="") as f:
            return list(csv.DictReader(f))


def _write(story: Story, name: str, command: str) -> dict[str, Any]:
    """Run a write given as a shell-quoted line; keep its receipt under ``name``."""
    assert name not in story.receipts
    receipt: dict[str, Any] = story.cli(*shlex.split(command), schema="receipt")
    story.receipts[name] = receipt
    return receipt


def _register_actors(story: Story) -> None:
    cli = story.cli
    for actor in ("acme", "swift", "shop", "shady"):
        info = cli("keys", "new", actor, schema="keys")
        assert stat.S_IMODE(Path(info["file"]).stat().st_mode) == 0o600
    assert cli("keys", "show", "acme", schema="keys")["file"] == str(story.keys / "acme.pem")
    exported = cli("keys", "export", "acme", schema="keys export")
    public = {
        a: cli("keys", "export", a).stdout.strip() for a in ("acme", "swift", "shop", "shady")
    }
    assert public["acme"] == exported["public_key"]
    licence = story.tmp / "licence.pdf"
    licence.write_bytes(b"GS1 licence 9506000")
    brand = f"actor register acme --role brand --name 'Acme Footwear' --prefix {PREFIX}"
    _write(story, "acme", f"{brand} --public-key {public['acme']} --documents {licence}")
    for actor, role in (("swift", "courier"), ("shop", "retailer"), ("shady", "courier")):
        register = f"actor register {actor} --role {role} --name {actor.title()}"
        _write(story, actor, f"{register} --public-key {public[actor]} --as operator")
    _write(story, "product", f"product register {GTIN} --name 'Runner 42' --as acme")
    _write(
        story,
        "auth swift",
        f"authorize grant swift --role courier --prefix {PREFIX} {WINDOW} --as acme",
    )
    for actor, role in (("shop", "retailer"), ("shady", "courier")):
        _write(
            story,
            f"auth {actor}",
            f"authorize grant {actor} --role {role} --gtin {GTIN} {WINDOW} --as acme",
        )


def _walk_units(story: Story) -> None:
    mint = f"mint {GTIN} --count 4 --lot L-1 --expiry 271231 --out labels --formats pdf,png,zpl"
    extra = ("--roll", "40x25", "--product-name", "Acme Runner 42")
    story.minted = story.cli(*mint.split(), *extra, "--as", "acme", schema="mint")
    for step in (
        f"handoff {U1} --to swift --place 'Dongguan factory' --as acme",
        f"receive {U1} --place 'Shenzhen DC' --as swift",
        f"inspect {U1} --result pass --note 'seal intact' --as swift",
        f"handoff {U1} --to shop --as swift",
        f"receive {U1} --as shop",
        f"sell {U1} --place Shanghai --as shop",
        f"deliver {U1} --as shop",
        f"handoff {U2} --to shop --as acme",
        f"receive {U2} --as shop",
        f"return {U2} --to acme --reason 'damaged box' --as shop",
        f"receive {U2} --as acme",
        f"recall {U3} --reason 'faulty sole' --as acme",
        f"decommission {U4} --reason 'destroyed in QA' --as acme",
    ):
        words = step.split()
        _write(story, f"{words[0]} {words[1]} by {words[-1]}", step)
    auth = story.receipts["auth shady"]["receipts"][0]["event_hash"]
    _write(story, "auth revoke", f"authorize revoke --id {auth} --reason ended --as acme")
    _write(story, "revoke shady", "actor revoke shady --reason blacklisted")


@pytest.fixture(scope="module", params=["local", "server"])
def story(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Story]:
    """A log set up and walked through with the CLI, against --db or against a server."""
    tmp = tmp_path_factory.mktemp(f"cli-{request.param}")
    db_url = f"sqlite:///{tmp / 'ledger.db'}"
    port = free_port()
    env = clean_env(PROVENANCE_HOME=str(tmp / "home"))
    if request.param == "server":
        env["PROVENANCE_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    cli = Cli(env, tmp, ["--db", db_url], request.param)
    info = cli("init", schema="init")
    assert info["size"] == 1 and info["database"] == db_url
    assert stat.S_IMODE(Path(info["operator_key"]).stat().st_mode) == 0o600
    server = None
    if request.param == "server":
        server = start_serve(cli, db_url, port, tmp / "serve.log")
        cli.target = ["--server", f"http://127.0.0.1:{port}"]
    story = Story(cli, tmp, db_url, f"http://127.0.0.1:{port}" if server else None)
    try:
        _register_actors(story)
        _walk_units(story)
        yield story
    finally:
        if server is not None:
            stop(server)


def test_every_write_is_appended_in_order(story: Story) -> None:
    indexes = [r["receipts"][0]["index"] for r in story.receipts.values()]
    assert indexes == sorted(indexes) and len(set(indexes)) == len(indexes)
    assert indexes[0] == 1  # right after the genesis entry written by `init`
    assert all(not r["receipts"][0]["duplicate"] for r in story.receipts.values())
    last = story.receipts["revoke shady"]
    assert last["size"] == last["receipts"][0]["index"] + 1


def test_mint_writes_labels_and_an_owner_only_manifest(story: Story) -> None:
    assert story.minted["units"] == [U1, U2, U3, U4]
    manifest = story.tmp / "labels" / "manifest.csv"
    assert story.minted["files"][0] == "labels/manifest.csv"
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o600
    rows = story.manifest()
    assert [r["unit"] for r in rows] == [f"/01/{GTIN}/21/SN-00000{n}" for n in range(1, 5)]
    assert all(len(r["claim_code"]) >= 16 for r in rows)
    for name in ("outer-labels.pdf", "claim-labels.pdf", f"{GTIN}-SN-000001.png"):
        assert (story.tmp / "labels" / name).stat().st_size > 1000
    # the claim labels print every claim code in plain text: owner-only too, in every
    # format (sheet and roll PDF, ZPL)
    for name in ("claim-labels.pdf", "claim-labels-40x25.pdf", "claim-labels.zpl"):
        assert stat.S_IMODE((story.tmp / "labels" / name).stat().st_mode) == 0o600
        assert f"labels/{name}" in story.minted["files"]
    for name in ("outer-labels-40x25.pdf", "outer-labels.zpl"):
        assert f"labels/{name}" in story.minted["files"]
    zpl = (story.tmp / "labels" / "outer-labels.zpl").read_text(encoding="ascii")
    assert zpl.count("^XA") == zpl.count("^XZ") == 4 and "^PW320" in zpl  # 40 mm at 203 dpi
    sheet = (story.tmp / "labels" / "outer-labels.pdf").read_bytes()
    assert b"Acme Runner 42" in sheet and b"lot L-1" in sheet  # title in the metadata
    if story.url:  # labels minted through a server point at it (unless PROVENANCE_PUBLIC_URL)
        assert rows[0]["uri"].startswith(f"{story.url}/01/{GTIN}/21/SN-000001?s=")


def test_label_reprints_outer_labels(story: Story) -> None:
    data = story.cli("label", U1, U2, "--out", "reprint", "--as", "acme", schema="label")
    assert data["files"] == ["reprint/outer-labels.pdf"]
    assert [u.split("?")[0].split("/01/")[1] for u in data["uris"]] == [
        f"{GTIN}/21/SN-000001",
        f"{GTIN}/21/SN-000002",
    ]
    manifest = {r["unit"]: r["uri"] for r in story.manifest()}
    assert data["uris"][0] == manifest[f"/01/{GTIN}/21/SN-000001"]  # same key, same signature


def test_actor_show(story: Story) -> None:
    acme = story.cli("actor", "show", "acme", schema="actor show")
    assert (acme["role"], acme["prefixes"], acme["revoked_index"]) == ("brand", [PREFIX], None)
    exported = story.cli("keys", "export", "acme", schema="keys export")
    assert [k["key_id"] for k in acme["keys"]] == [exported["key_id"]]
    shady = story.cli("actor", "show", "shady", schema="actor show")
    assert shady["revoked_index"] == story.receipts["revoke shady"]["receipts"][0]["index"]
    story.cli("actor", "show", "nobody", code=1, error="not-found")


@pytest.mark.parametrize(
    ("unit", "verdict", "reason", "kinds"),
    [
        (U1, "caution", "sold", "commission handoff receive inspect handoff receive sell deliver"),
        (U3, "caution", "recalled", "commission recall"),
        (U4, "caution", "decommissioned", "commission decommission"),
    ],
)
def test_verify_by_gtin_and_serial(
    story: Story, unit: str, verdict: str, reason: str, kinds: str
) -> None:
    report = story.cli("verify", unit, schema="verify")
    assert (report["unit"], report["verdict"]) == (unit, verdict)
    assert reason in [r["code"] for r in report["reasons"]]
    assert [e["kind"] for e in report["entries"]] == kinds.split()
    assert report["checked_locally"] == len(kinds.split())
    human = story.cli("verify", unit).stdout
    assert verdict.upper() in human and "checked on this machine" in human


def test_verify_a_scanned_label_url(story: Story) -> None:
    rows = story.manifest()
    scanned = rows[1]["uri"]  # SN-000002: returned to the brand, back in stock
    report = story.cli("verify", scanned, schema="verify")
    assert (report["unit"], report["verdict"]) == (U2, "genuine")
    assert [e["kind"] for e in report["entries"]][-2:] == ["return", "receive"]
    forged = scanned[: scanned.index("?s=") + 3] + "A" * 86
    report = story.cli("verify", forged, code=1, schema="verify")
    assert report["verdict"] == "invalid"
    assert [r["code"] for r in report["reasons"]] == ["label-invalid"]


def test_verify_a_serial_never_minted(story: Story) -> None:
    report = story.cli("verify", f"{GTIN}/SN-999999", code=1, schema="verify")
    assert (report["verdict"], report["entries"], report["checked_locally"]) == ("unknown", [], 0)


def test_audit_passes_then_fails_on_one_changed_byte(story: Story) -> None:
    report = story.cli("audit", schema="audit")
    assert report["ok"] and report["first_bad_index"] is None and report["findings"] == []
    assert report["entries"] == story.receipts["revoke shady"]["size"]
    assert "audit passed" in story.cli("audit").stdout
    # A copy of the database (consistent even under a live server) with one byte changed.
    copy = story.tmp / "tampered.db"
    with (
        sqlite3.connect(story.db_url.removeprefix("sqlite:///")) as source,
        sqlite3.connect(copy) as target,
    ):
        source.backup(target)
    bad = story.receipts[f"handoff {U1} by acme"]["receipts"][0]["index"]
    with sqlite3.connect(copy) as db:
        (stored,) = db.execute("SELECT leaf FROM entries WHERE idx = ?", (bad,)).fetchone()
        leaf = leafpack.unpack(stored)  # stored packed (0017_storage); raw is read as well
        at = leaf.index(b"Dongguan")
        db.execute(
            "UPDATE entries SET leaf = ? WHERE idx = ?",
            (leafpack.pack(leaf[:at] + b"d" + leaf[at + 1 :]), bad),
        )
    copy_url = f"sqlite:///{copy}"
    if story.url is None:
        report = story.cli("--db", copy_url, "audit", code=1, schema="audit", target=False)
    else:
        port = free_port()
        # with the log's own high-water file the server refuses the rewritten tree...
        with pytest.raises(AssertionError, match="another root"):
            start_serve(story.cli, copy_url, port, story.tmp / "refused.log")
        # ...a dishonest host serving the copy without it is caught by a remote audit
        elsewhere = {"PROVENANCE_HIGHWATER_DIR": str(story.tmp / "no-evidence")}
        server = start_serve(story.cli, copy_url, port, story.tmp / "tampered.log", elsewhere)
        try:
            at_server = ["--server", f"http://127.0.0.1:{port}"]
            report = story.cli(*at_server, "audit", code=1, schema="audit", target=False)
        finally:
            stop(server)
    assert not report["ok"] and report["findings"]
    assert report["first_bad_index"] == bad
    assert bad in [f["index"] for f in report["findings"]]


def test_claim_resale_and_alerts(story: Story) -> None:
    codes = {row["unit"]: row["claim_code"] for row in story.manifest()}
    unit = f"/01/{GTIN}/21/SN-000001"
    # the code on standard input, never on the command line (ps, shell history)
    story.cli("claim", U1, stdin="\n", code=2, error="no claim code")
    first = story.cli("claim", U1, stdin=codes[unit] + "\n", schema="claim")
    assert not first["resale"] and first["unit"] == U1
    story.cli("claim", U1, stdin=codes[unit], code=1, error="already-claimed")
    second = story.cli("claim", U1, stdin=first["transfer_code"] + "\n", schema="claim")
    assert second["resale"]
    # the deprecated positional still works, with a warning line before the answer
    late = story.cli("claim", U1, first["transfer_code"], code=1)
    warning, refused = late.stderr.strip().splitlines()
    assert warning.startswith("warning: a code on the command line is visible in ps")
    assert refused.startswith("error: already-claimed")
    queue = story.cli("alerts", "acme", "--as", "acme", schema="alerts")
    assert queue["brand"] == "acme" and queue["response"]["open"] == len(
        [r for r in queue["reports"] if r["status"] == "open"]
    )
    if story.url is None:
        return
    story.cli("alerts", "acme", "--as", "swift", code=1, error="forbidden")
    sent = httpx.post(
        f"{story.url}/v1/reports",
        json={"gtin": GTIN, "serial": "SN-000003", "reason": "counterfeit", "text": "odd logo"},
    )
    assert sent.status_code == 201, sent.text
    report = str(sent.json()["id"])
    flagged = story.cli(
        "alerts", "acme", "--resolve", report, "--action", "flag", "--as", "acme", schema="report"
    )
    assert flagged["status"] == "flagged" and flagged["flag_index"] is not None
    queue = story.cli("alerts", "acme", "--as", "acme", schema="alerts")
    assert queue["response"]["answered"] >= 1


def test_docs_quote_the_schemas() -> None:
    text = (ROOT / "docs" / "CLI.md").read_text()
    blocks = re.finditer(r"<!-- schema: (.+?) -->\n```json\n(.*?)\n```", text, re.DOTALL)
    assert {m[1]: json.loads(m[2]) for m in blocks} == SCHEMAS


# --- refusals: one readable line, the right exit code ----------------------------------


def test_a_key_file_readable_by_others_is_refused(story: Story) -> None:
    exposed = story.tmp / "exposed.pem"
    shutil.copyfile(story.keys / "acme.pem", exposed)
    exposed.chmod(0o644)
    for command in (
        ("recall", U2, "--reason", "test", "--as", "acme", "--key", str(exposed)),
        ("keys", "show", "acme", "--key", str(exposed)),
    ):
        story.cli(*command, code=1, error="readable by others (mode 0644)")
    assert story.cli("verify", U2, schema="verify")["verdict"] == "genuine"  # nothing appended


def test_a_wrong_key_is_refused(story: Story) -> None:
    recall = f"recall {U2} --reason test --as acme --key"
    story.cli.sh(f"{recall} {story.keys / 'swift.pem'}", code=1, error="belongs to swift")
    stranger = story.tmp / "stranger.pem"
    story.cli("keys", "new", "stranger", "--out", str(stranger), schema="keys")
    story.cli.sh(f"{recall} {stranger}", code=1, error="unknown-key")
    assert story.cli("verify", U2, schema="verify")["verdict"] == "genuine"  # nothing appended


def test_rule_refusals_name_their_rule(story: Story) -> None:
    key_before = (story.keys / "acme.pem").read_bytes()
    chain_before = story.cli("verify", U1, schema="verify")["entries"]
    refused = [
        story.cli.sh(f"sell {U4} --as acme", code=1, error="error: decommissioned: "),
        story.cli.sh(f"handoff {U1} --to swift --as swift", code=1, error="error: not-custodian: "),
        story.cli.sh(f"receive {GTIN}/SN-999999 --as shop", code=1, error="error: not-found: "),
    ]
    codes = [r.stderr.split(":")[1].strip() for r in refused]
    assert codes == ["decommissioned", "not-custodian", "not-found"]
    assert story.cli("verify", U1, schema="verify")["entries"] == chain_before  # nothing appended
    story.cli.sh("keys new acme", code=1, error="refusing to overwrite")
    assert (story.keys / "acme.pem").read_bytes() == key_before  # the key file is untouched


def test_mint_into_a_used_folder_mints_nothing(story: Story) -> None:
    mint = f"mint {GTIN} --count 1 --start 7 --as acme"
    story.cli.sh(f"{mint} --out labels", code=1, error="manifest.csv already exists")
    story.cli.sh(f"{mint} --out other --formats pdf,jpg", code=2, error="formats")
    story.cli.sh(f"{mint} --out other --roll 60x40", code=2, error="roll")
    story.cli("verify", f"{GTIN}/SN-000007", code=1, schema="verify")  # never commissioned
    assert not (story.tmp / "other" / "manifest.csv").exists()


@pytest.fixture(params=["in-process", pytest.param("subprocess", marks=pytest.mark.slow)])
def bare(request: pytest.FixtureRequest, tmp_path: Path) -> Cli:
    """The CLI with an empty home and no target: for what fails before any database.

    In this process, and (``slow``: a dozen interpreter start-ups) as real ``python -m
    cli`` processes, which show the exit codes and one-line errors as a shell sees them."""
    env = clean_env(PROVENANCE_HOME=str(tmp_path / "home"))
    return Cli(env, tmp_path, [], spawn=request.param == "subprocess")


def test_usage_errors_exit_2(bare: Cli) -> None:
    bare("handoff", U1, "--as", "acme", code=2, error="--to")
    bare("mint", GTIN, "--count", "0", "--as", "acme", code=2, error="--count")
    bare("teleport", code=2, error="teleport")
    both = ["--db", "sqlite:///x.db", "--server", "http://x"]
    bare(*both, "audit", code=2, error="either --db or --server")
    for command in ("init", "demo", "serve"):
        bare("--server", "http://127.0.0.1:1", command, code=2, error="--server")
    assert bare(code=2).stdout.count("Commands") == 1  # no command: the help
    assert "Usage" in bare("mint", "--help").stdout
    bare("verify", "not-a-unit", code=1, error="GTIN/SERIAL")  # a refused value, not usage
    assert not (bare.cwd / "home").exists()  # nothing was created on the way


def test_an_unreachable_server_is_one_line(bare: Cli) -> None:
    bare("--server", "http://127.0.0.1:1", "verify", U1, code=1, error="cannot reach")


# --- the demo, checked through the resolver --------------------------------------------

#: reasons that are server hints (signals): `verify` lists them apart from the verdict
HINTS = {"impossible-travel", "many-scanners", "post-claim-scans", "serial-probing"}
EXPECTED = {
    "genuine, in the flagship store": ("genuine", "verified"),
    "genuine, fresh from the factory": ("genuine", "verified"),
    "sold in the shop (a second buyer should beware)": ("caution", "sold"),
    "delivered to an online buyer": ("caution", "sold"),
    "inspected and passed": ("genuine", "verified"),
    # The unit is the brand's own, but its latest inspection failed: a caution, and the
    # page shows the failed inspection in the history.
    "failed its inspection": ("caution", "inspection-failed"),
    "recalled lot L-RECALL": ("caution", "recalled"),
    "handled by a courier later blacklisted": ("caution", "revoked-handler"),
    "a jacket in the warehouse": ("genuine", "verified"),
    "claimed by its buyer (seen by someone else)": ("caution", "claimed"),
    "resold second-hand with its transfer code": ("caution", "claimed"),
    "a cloned code scanned in two countries": ("caution", "impossible-travel"),
    "a label with a forged brand signature": ("invalid", "label-invalid"),
    "a serial that was never minted (counterfeit)": ("unknown", "not-found"),
}


def test_demo_stories_have_their_verdicts(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(PROVENANCE_HOME=str(tmp_path / "unused-home"))
    demo = Cli(env, tmp_path, [])
    printed = demo("demo", "--no-serve", "--port", str(port)).stdout.splitlines()
    base = f"http://127.0.0.1:{port}"
    logins = [line for line in printed if line.startswith("console  ")]
    stories = dict(line.strip().rsplit(" ", 1) for line in printed if base in line)
    stories = {name.strip(): url for name, url in stories.items() if name not in logins}
    stories = {n: u for n, u in stories.items() if not n.startswith("console  ")}
    assert set(stories) == set(EXPECTED)
    assert [line.split()[:4] for line in logins] == [
        ["console", f"{base}/console/", "user", user] for user in ("acme-admin", "operator-admin")
    ]
    assert all(url.startswith(f"{base}/01/") for url in stories.values())
    assert (tmp_path / "labels" / "manifest.csv").exists()
    demo("demo", "--no-serve", code=1, error="delete it for a fresh demo")  # labels are kept

    home = tmp_path / "provenance-demo"
    served = Cli(
        clean_env(
            PROVENANCE_HOME=str(home),
            DATABASE_URL=f"sqlite:///{home / 'ledger.db'}",
            PROVENANCE_PUBLIC_URL=base,
        ),
        tmp_path,
        ["--server", base],
    )
    server = start_serve(served, f"sqlite:///{home / 'ledger.db'}", port, tmp_path / "serve.log")
    try:
        for name, url in stories.items():
            verdict, reason = EXPECTED[name]
            view = httpx.get(url, headers={"Accept": "application/json"}, timeout=30).json()
            assert (view["verdict"], view["reasons"][0]["code"]) == (verdict, reason), name
            report = served(
                "verify", url, code=0 if verdict in ("genuine", "caution") else 1, schema="verify"
            )
            if reason in HINTS:  # a signal: the server's hint, not in the proven chain
                assert report["verdict"] == "genuine" and report["disagreement"] is None, name
                assert [h["code"] for h in report["hints"]] == [reason], name
                continue
            assert report["verdict"] == verdict, name
        failed = stories["failed its inspection"]
        view = httpx.get(failed, headers={"Accept": "application/json"}, timeout=30).json()
        assert [e["event"].get("result") for e in view["entries"]][-1] == "fail"
        page = httpx.get(failed, headers={"Accept": "text/html"}, timeout=30).text
        assert "FAILED" in page and "1 failed" in page
    finally:
        stop(server)


def test_demo_json(tmp_path: Path) -> None:
    demo = Cli(clean_env(PROVENANCE_HOME=str(tmp_path / "unused-home")), tmp_path, [])
    data = demo("demo", "--no-serve", "--port", "8123", schema="demo")
    assert {s["story"] for s in data["stories"]} == set(EXPECTED)
    assert data["database"] == f"sqlite:///{tmp_path / 'provenance-demo' / 'ledger.db'}"
    assert data["labels"] == str(tmp_path / "labels")
    assert all(s["url"].startswith("http://127.0.0.1:8123/01/") for s in data["stories"])
    assert stat.S_IMODE((tmp_path / "labels" / "manifest.csv").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "labels" / "claim-labels.pdf").stat().st_mode) == 0o600


def test_demo_public_url_for_a_phone(tmp_path: Path) -> None:
    demo = Cli(clean_env(PROVENANCE_HOME=str(tmp_path / "unused-home")), tmp_path, [])
    phone = "http://192.168.1.20:8000"
    data = demo("demo", "--no-serve", "--public-url", phone + "/", schema="demo")
    assert all(s["url"].startswith(f"{phone}/01/") for s in data["stories"])
    with (tmp_path / "labels" / "manifest.csv").open(encoding="utf-8") as f:
        row = next(csv.DictReader(f))
    assert row["uri"].startswith(f"{phone}/01/") and "?s=" in row["uri"]
    assert row["claim_uri"] == f"{phone}{row['unit']}?claim={row['claim_code']}"
    other = Cli(clean_env(PROVENANCE_HOME=str(tmp_path / "h2")), tmp_path / "h2", [])
    (tmp_path / "h2").mkdir()
    other("demo", "--no-serve", "--public-url", "ftp://x", code=2, error="--public-url")
