"""A writer killed with SIGKILL mid-batch, 20 times: nothing acknowledged is lost, no
batch is half-written, and the audit passes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from ledger.entry import Leaf
from ledger.service.audit import audit_log
from ledger.service.ledger import Ledger
from tests.integration.crasher import BATCH
from tests.integration.world import LedgerWorld, clock, config

KILLS = 20
ROOT = Path(__file__).resolve().parents[2]


def _run_and_kill(db_url: str, log: str, run: int, rng: random.Random) -> list[dict[str, object]]:
    """Start a writer, SIGKILL it at a random moment after it is ready; return its acks."""
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.crasher", db_url, log, str(run)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert writer.stdout is not None
        for line in writer.stdout:
            lines.append(line)
            ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert ready.wait(60), "the writer did not start"
    time.sleep(rng.uniform(0.0, 0.6))
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(30)
    reader.join(30)
    writer.stdout.close()
    return [json.loads(x) for x in lines if x.strip().endswith("}") and "acked" in x]


@pytest.mark.slow
def test_sigkill_mid_batch_loses_nothing_acknowledged(db_url: str) -> None:
    rng = random.Random(20261128)
    log = f"crash-{uuid.uuid4().hex[:8]}"
    ledger = Ledger.open(db_url, config(log), clock=clock)
    ledger.init(name="Registry")
    LedgerWorld.base(ledger)
    acked: dict[int, str] = {}
    for run in range(KILLS):
        for batch in _run_and_kill(db_url, log, run, rng):
            acked.update({int(i): str(h) for i, h in batch["acked"]})  # type: ignore[union-attr]
        head = ledger.head()
        entries = {e.index: e for e in ledger.entries(0, head.size)}
        assert sorted(entries) == list(range(head.size)), "a hole in the log"
        for index, leaf_hash in acked.items():
            assert entries[index].leaf_hash.hex() == leaf_hash, f"acknowledged entry {index} lost"
        batches = Counter(
            Leaf.from_bytes(e.leaf).signed.event.unit.serial.rsplit("-", 1)[0]  # type: ignore[attr-defined]
            for e in entries.values()
            if e.kind == "commission"
            and e.gtin
            and Leaf.from_bytes(e.leaf).signed.event.unit.serial.startswith("C")  # type: ignore[attr-defined]
        )
        assert set(batches.values()) <= {BATCH}, f"a partial batch after kill {run}: {batches}"
    report = audit_log(ledger.store, ledger.log, ledger.verifier_key)
    assert report.ok, report.to_dict()
    assert len(acked) >= BATCH, "the writers never got to commit; the test proved nothing"
    print(
        f"{db_url.split(':')[0]}: {KILLS} kills, {len(acked)} acknowledged entries, size {ledger.head().size}"
    )
    ledger.close()
