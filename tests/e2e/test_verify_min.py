"""The reference verifier written from the docs alone (tools/verify-min/, docs/AUDIT.md "A
verifier from the docs alone"), run as a subprocess (outside the package's import graph)
against a served demo world.

On every demo story it gives the verdict and reasons that ``provenance verify`` gives,
for the unit view (with completeness and every signer's registry proof) and for the
offline proof file; and it refuses, with one line and exit 1, a flipped byte in a proof,
a dropped entry, a hidden revocation, a wrong log key, truncated JSON and garbage. A doc
change the server does not follow (or the reverse) fails here.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli.hammer.server import ServerProcess, free_port
from ledger import note
from tests.e2e.lying import Proxy
from tests.e2e.test_pinned_keys import cli
from tests.factories import key as factory_key

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "verify-min" / "verify_min.py"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``provenance demo --no-serve`` in a fresh folder, then its server on a free port."""
    folder = tmp_path_factory.mktemp("vmin")
    port = free_port()
    home = folder / "home"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")},
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("provenance")),
            "--json",
            "demo",
            "--no-serve",
            "--port",
            str(port),
            "--home",
            str(home),
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        timeout=300,
        check=True,
    )
    built = json.loads(done.stdout)
    server = ServerProcess(
        {
            **env,
            "PROVENANCE_HOME": str(home),
            "PROVENANCE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "DATABASE_URL": built["database"],
            "PROVENANCE_RATE": "1000",
            "PROVENANCE_BURST": "5000",
        },
        port=port,
    )
    server.start()
    try:
        server.wait_ready()
        key = httpx.get(f"{server.url}/v1/log/key").text.strip()
        yield {"url": server.url, "stories": built["stories"], "key": key, "home": folder / "cli"}
    finally:
        server.kill()


def vmin(*args: str) -> tuple[int, str]:
    """Run the reference verifier; its exit code and its one line (nothing on stderr)."""
    done = subprocess.run(
        [sys.executable, str(TOOL), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": ""},
    )
    assert done.stderr == "", done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    return done.returncode, lines[0]


def verdict_of(line: str) -> tuple[str, list[str]]:
    """``genuine: verified (...)`` -> ("genuine", ["verified"])."""
    m = re.fullmatch(r"(genuine|caution|unknown|invalid): ([a-z, -]+) \(.*\)", line)
    assert m, line
    return m.group(1), m.group(2).split(", ")


def refused(code: int, line: str) -> bool:
    """A refusal: exit 1 and one ``refused: <reason>`` line."""
    return code == 1 and line.startswith("refused: ") and len(line) > 12


def unit_path(url: str) -> str:
    """``/01/{gtin}/21/{serial}`` of a story URL, as ``gtin/serial`` for the API."""
    m = re.search(r"/01/([0-9]+)/21/([^?]+)", url)
    assert m
    return f"{m.group(1)}/{m.group(2)}"


def test_every_demo_story_gets_the_cli_verdict(demo: dict[str, Any]) -> None:
    seen = set()
    for story in demo["stories"]:
        code, line = vmin("--log-key", demo["key"], story["url"])
        ours = verdict_of(line)
        theirs, _ = cli(
            "--server", demo["url"], "verify", story["url"], "--log-key", demo["key"],
            home=demo["home"], code=code,
        )  # fmt: skip
        assert ours == (theirs["verdict"], [r["code"] for r in theirs["reasons"]]), story
        assert code == (0 if ours[0] in ("genuine", "caution") else 1)
        seen.add(ours[0])
    assert seen == {"genuine", "caution", "invalid", "unknown"}
    # GTIN/SERIAL with --server: a query, no label
    gtin_serial = unit_path(demo["stories"][2]["url"])
    code, line = vmin("--log-key", demo["key"], "--server", demo["url"], gtin_serial)
    assert (code, verdict_of(line)) == (0, ("caution", ["sold"]))


def test_every_offline_proof_gets_the_cli_verdict(demo: dict[str, Any], tmp_path: Path) -> None:
    for n, story in enumerate(demo["stories"]):
        answer = httpx.get(f"{demo['url']}/v1/units/{unit_path(story['url'])}/proof")
        if answer.status_code == 404:
            assert "SN-999999" in story["url"]
            continue
        proof = tmp_path / f"{n}.unit-proof"
        proof.write_bytes(answer.content)
        code, line = vmin("--log-key", demo["key"], "--proof", str(proof))
        theirs, _ = cli(
            "verify", "--proof", str(proof), "--log-key", demo["key"], home=demo["home"], code=code
        )
        assert verdict_of(line) == (theirs["verdict"], [r["code"] for r in theirs["reasons"]])


def _impostor(demo: dict[str, Any]) -> str:
    """A well-formed verifier key with the log's name, of a key that never signed it."""
    return note.Signer(demo["key"].split("+")[0], factory_key(99)).verifier.to_text()


def _proof(demo: dict[str, Any]) -> bytes:
    return httpx.get(f"{demo['url']}/v1/units/{unit_path(demo['stories'][2]['url'])}/proof").content


def test_tampered_proof_files_are_refused(demo: dict[str, Any], tmp_path: Path) -> None:
    good = _proof(demo)
    path = tmp_path / "t.unit-proof"
    # a flipped byte anywhere (30 positions spread over the file)
    for pos in sorted({i * len(good) // 30 for i in range(30)}):
        bad = bytearray(good)
        bad[pos] ^= 0x01 if bad[pos] != ord("\n") else 0x20
        path.write_bytes(bytes(bad))
        code, line = vmin("--log-key", demo["key"], "--proof", str(path))
        assert refused(code, line), (pos, line)
    sections = good.decode().split("c2sp.org/tlog-proof@v1\n")
    cases = {
        "a dropped entry": "c2sp.org/tlog-proof@v1\n".join(sections[:3] + sections[4:]),
        "the unit's last entry dropped": "c2sp.org/tlog-proof@v1\n".join(sections[:-1]),
        "truncated": good.decode()[: len(good) // 2],
        "garbage": "\x00\xff not a proof",
        "empty": "",
    }
    for name, text in cases.items():
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        code, line = vmin("--log-key", demo["key"], "--proof", str(path))
        assert refused(code, line), (name, line)
    path.write_bytes(good)
    for key in (_impostor(demo), demo["key"][:-4] + "AAAA", "garbage", ""):
        assert refused(*vmin("--log-key", key, "--proof", str(path))), key
    assert refused(*vmin("--log-key", demo["key"], "--proof", str(tmp_path / "missing")))


class _Static:
    """A server answering fixed bytes for some paths and forwarding the rest."""

    def __init__(self, upstream: str, bodies: dict[str, bytes]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = bodies.get(self.path)
                if body is None:
                    body = httpx.get(upstream + self.path).content
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _flip_proof(view: dict[str, Any]) -> dict[str, Any]:
    entry = view["entries"][0]
    first = entry["proof"][0]
    entry["proof"][0] = ("B" if first[0] == "A" else "A") + first[1:]
    return view


def _flip_map(view: dict[str, Any]) -> dict[str, Any]:
    proof = view["map_proof"]
    view["map_proof"] = proof[:40] + ("B" if proof[40] == "A" else "A") + proof[41:]
    return view


def _drop(at: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def rewrite(view: dict[str, Any]) -> dict[str, Any]:
        del view["entries"][at]
        return view

    return rewrite


def _hide_all(view: dict[str, Any]) -> dict[str, Any]:
    return {**view, "entries": [], "versions": None, "verdict": "unknown"}


def _hide_revocation(actor: dict[str, Any]) -> dict[str, Any]:
    reg = actor["registry"]
    reg["entries"] = [e for e in reg["entries"] if e["event"]["kind"] != "actor.revoke"]
    return {**actor, "revoked_index": None}


def test_tampered_views_are_refused(demo: dict[str, Any]) -> None:
    stories = {s["story"]: s["url"] for s in demo["stories"]}
    sold = stories["sold in the shop (a second buyer should beware)"]
    for rewrite, why in (
        (_flip_proof, "proof-invalid"),
        (_flip_map, "bad-map-proof"),
        (_drop(-1), "chain-incomplete"),
        (_drop(1), "chain-broken"),
        (_hide_all, "chain-incomplete"),
    ):
        proxy = Proxy(demo["url"], rewrite)
        try:
            code, line = vmin("--log-key", demo["key"], "--server", proxy.url, sold)
        finally:
            proxy.stop()
        assert refused(code, line) and why in line, line
    blacklisted = stories["handled by a courier later blacklisted"]
    for path, rewrite, why in (
        ("/v1/actors/shady-courier", _hide_revocation, "chain-incomplete"),
        ("/v1/actors/acme", lambda a: {**a, "registry": _flip_map(a["registry"])}, "bad-map-proof"),
    ):
        proxy = Proxy(demo["url"], lambda v: v, {path: rewrite})
        try:
            code, line = vmin("--log-key", demo["key"], "--server", proxy.url, blacklisted)
        finally:
            proxy.stop()
        assert refused(code, line) and why in line, line
    # a lying verdict is not believed: recomputed from the proven chain
    proxy = Proxy(demo["url"], lambda v: {**v, "verdict": "genuine", "reasons": []})
    try:
        assert (
            verdict_of(vmin("--log-key", demo["key"], "--server", proxy.url, sold)[1])[0]
            == "caution"
        )
    finally:
        proxy.stop()
    path = "/v1/units/" + unit_path(sold)
    view = httpx.get(demo["url"] + path).content
    for body in (view[: len(view) // 2], b"\xff\xfe garbage", b"[]", b'{"checkpoint": 1.5}'):
        static = _Static(demo["url"], {path: body})
        try:
            code, line = vmin("--log-key", demo["key"], "--server", static.url, sold)
        finally:
            static.stop()
        assert refused(code, line), (body[:20], line)
    for args in (
        ("--log-key", _impostor(demo), sold),
        ("--log-key", demo["key"], "http://127.0.0.1:1/01/09506000134352/21/SN-1"),
        ("--log-key", demo["key"], "not a url"),
        ("--log-key", demo["key"], sold.replace("/21/", "/22/")),
        ("--log-key", demo["key"], sold + "&s=x"),
        ("--log-key", demo["key"], "--server", demo["url"], "09506000134353/SN-1"),
        ("--log-key", demo["key"]),
    ):
        code, line = vmin(*args)
        assert refused(code, line), (args, line)


#: reasons from outside the log (docs/API.md, "Signed fields and hints")
HINTS = {"post-claim-scans", "impossible-travel", "many-scanners", "serial-probing", "reported"}


def test_labels_are_judged_as_the_resolver_judges(demo: dict[str, Any]) -> None:
    """Lot and expiry binding, an unsigned link, the compact signature and ignored
    parameters (FORMAT 8.1, 8.2): the verdict the resolver gives (run last: it scans)."""
    sold = next(s["url"] for s in demo["stories"] if s["story"].startswith("sold in the shop"))
    plain, sig = sold.split("?s=")
    compact = str(int.from_bytes(base64.urlsafe_b64decode(sig + "=="), "big")).zfill(155)
    wrong_lot = plain.replace("/21/", "/10/WRONG/21/")
    cases = {
        plain: ("caution", ["sold", "label-unsigned"]),
        f"{plain}?s={compact}": ("caution", ["sold"]),
        f"{wrong_lot}?s={sig}": ("invalid", ["label-mismatch"]),
        f"{sold}&17=991231": ("invalid", ["label-mismatch"]),
        f"{sold}&from=singlemessage&isappinstalled=0&lang=zh-CN": ("caution", ["sold"]),
    }
    for url, expected in cases.items():
        code, line = vmin("--log-key", demo["key"], url)
        assert verdict_of(line) == expected and code == (expected[0] == "invalid"), line
        served = httpx.get(url, headers={"Accept": "application/json"}).json()
        codes = [r["code"] for r in served["reasons"] if r["code"] not in HINTS]
        assert (served["verdict"], codes) == expected, url
        theirs, _ = cli(
            "--server", demo["url"], "verify", url, "--log-key", demo["key"],
            home=demo["home"], code=1 if expected[0] == "invalid" else 0,
        )  # fmt: skip
        assert (theirs["verdict"], [r["code"] for r in theirs["reasons"]]) == expected, url
