"""The checkpoint's age against a real server that lies (issue 18; docs/FORMAT.md 5.2).

A proxy in front of a real server (uvicorn) replays a unit view it saved earlier:
complete at its checkpoint, and stale. ``provenance verify`` passes the live view (the
log dated its checkpoint when it signed it) and refuses the replay (``checkpoint-stale``);
a trusted witness's newer cosignature on the old checkpoint rescues it; a forged time
line (``bad-cosignature``) and a fresh cosignature by an untrusted witness
(``unknown-witness``) do not. An old offline proof is stale now and verifies ``--at`` the
time it was made.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger import note
from ledger.audit import witness
from ledger.note import logtime
from tests.e2e.lying import Proxy
from tests.e2e.server import LiveServer, start
from tests.e2e.test_pinned_keys import cli
from tests.factories import key, public_b64

MAX_AGE = 20  # seconds: the replay is made older than this, the live view is not
WITNESS = note.Signer("witness.example/w1", key(40), note.ALG_COSIGNATURE_V1)
STRANGER = note.Signer("witness.example/w9", key(49), note.ALG_COSIGNATURE_V1)


class Old:
    """What the test saved before the log moved on: a unit's view and offline proof."""

    def __init__(self, server: LiveServer) -> None:
        self.key = httpx.get(f"{server.url}/v1/log/key").text.strip()
        self.gtin, self.serial = server.units["sold"]
        path = f"{server.url}/v1/units/{self.gtin}/{self.serial}"
        self.view: dict[str, Any] = httpx.get(path, headers={"Accept": "application/json"}).json()
        self.proof = httpx.get(f"{path}/proof").text
        dated = logtime.stamped_at(self.view["checkpoint"], self.key)
        assert dated is not None
        self.dated = dated


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Old]]:
    """A seeded server, the view and proof saved from it, then (once they are older than
    MAX_AGE) one more entry, so the live checkpoint is a newer one."""
    tmp = tmp_path_factory.mktemp("fresh")
    witnesses = {"PROVENANCE_WITNESSES": WITNESS.verifier.to_text()}
    live = start(f"sqlite:///{tmp}/fresh.db", tmp, extra_env=witnesses)
    try:
        old = Old(live)
        time.sleep(max(0.0, old.dated + MAX_AGE + 1 - time.time()))
        signed = live.world.world.sign(
            "actor.register",
            "operator",
            subject="fresh-co",
            role="courier",
            name="Fresh Co",
            keys=[public_b64(60)],
        )
        sent = httpx.post(f"{live.url}/v1/entries", json=signed.to_dict(), timeout=30)
        assert sent.status_code == 201, sent.text[:300]
        yield live, old
    finally:
        live.stop()


def _replay(view: dict[str, Any], change: Callable[[str], str] = lambda t: t) -> Any:
    """A rewrite that serves the saved ``view`` (its checkpoint through ``change``)."""

    def rewrite(_: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(view)
        out["checkpoint"] = change(out["checkpoint"])
        return out

    return rewrite


def _cosigned(signer: note.Signer, at: int) -> Callable[[str], str]:
    def change(text: str) -> str:
        checkpoint = note.Checkpoint.from_body(note.Note.from_bytes(text).text)
        return note.with_cosignatures(text, [note.cosign_checkpoint(checkpoint, signer, at)])

    return change


def _forged_time(text: str) -> str:
    """The log's time line moved to now, its signature kept."""
    parsed = note.Note.from_bytes(text)
    now = int(time.time()).to_bytes(8, "big")
    lines = [
        note.NoteSignature(s.name, s.key_hash, now + s.signature[8:])
        if len(s.signature) == 72
        else s
        for s in parsed.signatures
    ]
    return note.Note(parsed.text, lines).to_bytes().decode()


def _verify(
    served: tuple[LiveServer, Old], home: Path, rewrite: Any, *extra: str, code: int = 1
) -> dict[str, Any]:
    server, old = served
    proxy = Proxy(server.url, rewrite) if rewrite is not None else None
    url = proxy.url if proxy is not None else server.url
    unit = f"{old.gtin}/{old.serial}"
    try:
        args = ["--server", url, "verify", unit, "--log-key", old.key, "--max-age", f"{MAX_AGE}s"]
        report, _ = cli(*args, *extra, home=home, code=code)
    finally:
        if proxy is not None:
            proxy.stop()
    assert isinstance(report, dict)
    return report


def test_the_live_view_is_fresh_and_says_its_age(
    served: tuple[LiveServer, Old], tmp_path: Path
) -> None:
    report = _verify(served, tmp_path, None, code=0)
    assert report["verdict"] == "caution" and report["checkpoint_age"] < MAX_AGE
    assert report["dated_by"] == served[1].view["checkpoint"].split("\n", 1)[0]


def test_a_replayed_old_view_is_refused(served: tuple[LiveServer, Old], tmp_path: Path) -> None:
    report = _verify(served, tmp_path, _replay(served[1].view))
    assert report["verdict"] == "invalid"
    assert [r["code"] for r in report["reasons"]] == ["checkpoint-stale"]
    assert report["complete_at"] is None and report["checkpoint_age"] is None


def test_a_trusted_witness_newer_cosignature_rescues_it(
    served: tuple[LiveServer, Old], tmp_path: Path
) -> None:
    rewrite = _replay(served[1].view, _cosigned(WITNESS, int(time.time())))
    trusted = ("--witness", WITNESS.verifier.to_text())
    report = _verify(served, tmp_path, rewrite, *trusted, code=0)
    assert report["verdict"] == "caution" and report["dated_by"] == WITNESS.name


@pytest.mark.parametrize(
    ("change", "trusted", "code"),
    [
        (_forged_time, False, "bad-cosignature"),
        # the time taken when the test runs, not when it is collected (minutes earlier)
        (lambda text: _cosigned(STRANGER, int(time.time()) + 30)(text), True, "unknown-witness"),
    ],
    ids=["forged-time-line", "untrusted-witness"],
)
def test_forged_or_untrusted_times_do_not_rescue_it(
    served: tuple[LiveServer, Old],
    tmp_path: Path,
    change: Callable[[str], str],
    trusted: bool,
    code: str,
) -> None:
    extra = ("--witness", WITNESS.verifier.to_text()) if trusted else ()
    report = _verify(served, tmp_path, _replay(served[1].view, change), *extra)
    assert report["verdict"] == "invalid"
    assert [r["code"] for r in report["reasons"]] == [code]


def test_an_old_offline_proof_is_stale_now_and_fresh_at_its_time(
    served: tuple[LiveServer, Old], tmp_path: Path
) -> None:
    _, old = served
    path = tmp_path / "old.unit-proof"
    path.write_text(old.proof)
    base = ("verify", "--proof", str(path), "--log-key", old.key, "--max-age", f"{MAX_AGE}s")
    _, why = cli(*base, home=tmp_path, code=1)
    assert "checkpoint-stale" in why
    then = datetime.fromtimestamp(old.dated + 5, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    report, _ = cli(*base, "--at", then, home=tmp_path)
    assert report["verified"] is True and report["checkpoint_age"] == 5


def test_a_witness_cosignature_is_served_with_the_view_at_once(
    served: tuple[LiveServer, Old], tmp_path: Path
) -> None:
    """The honest path: the configured witness cosigns the live checkpoint; the very next
    view carries it, and a client that trusts only that witness accepts the view."""
    server, old = served
    text = httpx.get(f"{server.url}/v1/checkpoint").text
    checkpoint = note.verify_checkpoint(text, old.key)
    line = note.cosign_checkpoint(checkpoint, WITNESS, int(time.time()))
    body = witness.submission(0, [], witness.log_only(text, old.key), line)
    posted = httpx.post(f"{server.url}/v1/checkpoint/cosignatures", content=body)
    assert posted.status_code == 200, posted.text
    report = _verify(served, tmp_path, None, "--witness", WITNESS.verifier.to_text(), code=0)
    assert report["dated_by"] == WITNESS.name and report["verdict"] == "caution"
