"""Eight processes race 200 appends each on shared unit heads and on fresh units.

Promises checked: no index is given twice, no unit head gets two successors, every
refused racer got a conflict (409) and nothing else, every acknowledged entry is in the
log with the leaf hash it was acknowledged with, and the audit passes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest

from ledger.entry import Leaf
from ledger.service.audit import audit_log
from ledger.service.ledger import Ledger
from tests.factories import GTIN
from tests.integration.world import LedgerWorld, clock, config

WORKERS = 8
APPENDS = 200
SHARED = 4
ROOT = Path(__file__).resolve().parents[2]


def test_racing_writers_never_fork_or_lose(db_url: str) -> None:
    log = f"race-{uuid.uuid4().hex[:8]}"
    ledger = Ledger.open(db_url, config(log), clock=clock)
    ledger.init(name="Registry")
    world = LedgerWorld.base(ledger)
    for n in range(SHARED):
        world.append(
            world.world.sign(
                "commission", "acme", unit={"gtin": GTIN, "serial": f"SHARED-{n}"}, prev=None
            )
        )
    start = ledger.head().size
    racers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.racer",
                db_url,
                log,
                str(w),
                str(APPENDS),
                str(SHARED),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(WORKERS)
    ]
    results = []
    for racer in racers:
        out, _ = racer.communicate(timeout=600)
        assert racer.returncode == 0
        results.append(json.loads(out))
    assert [r["errors"] for r in results] == [[]] * WORKERS  # refusals were conflicts only
    acked = [tuple(a) for r in results for a in r["acked"]]
    conflicts = sum(r["conflicts"] for r in results)
    assert len(acked) + conflicts == WORKERS * APPENDS
    assert sum(1 for a in acked if a[2] == "commission") == WORKERS * APPENDS // 2
    indices = Counter(a[0] for a in acked)
    assert max(indices.values()) == 1, "an index was acknowledged twice"
    head = ledger.head()
    assert head.size == start + len(acked)
    stored = {e.index: e for e in ledger.entries(0, head.size)}
    for index, leaf_hash, _kind in acked:
        assert stored[index].leaf_hash.hex() == leaf_hash
    successors: Counter[tuple[str, str | None]] = Counter()
    for e in stored.values():
        event = Leaf.from_bytes(e.leaf).signed.event
        if hasattr(event, "unit"):
            successors[(event.unit.serial, event.prev)] += 1
    assert max(successors.values()) == 1, "a unit head has two successors"
    report = audit_log(ledger.store, ledger.log, ledger.verifier_key)
    assert report.ok, report.to_dict()
    print(f"{db_url.split(':')[0]}: {len(acked)} acked, {conflicts} conflicts")
    ledger.close()


pytestmark = pytest.mark.slow
