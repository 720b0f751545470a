"""A writer for test_crash: appends batches of commissions until it is killed.

Run as ``python -m tests.integration.crasher URL LOG RUN``. After each committed batch
it prints ``{"batch": ..., "acked": [[index, leaf_hash_hex], ...]}`` and flushes, so
the parent knows exactly what was acknowledged before the SIGKILL.
"""

from __future__ import annotations

import json
import sys

from ledger.service.ledger import Ledger
from tests.factories import GTIN
from tests.integration.world import clock, config
from tests.rules_factories import World

BATCH = 50


def main(url: str, log: str, run: int) -> None:
    """Append batches forever (the parent kills this process)."""
    ledger = Ledger.open(url, config(log), clock=clock)
    signer = World.base(ledger.origin)
    batch = 0
    print(json.dumps({"ready": True}), flush=True)
    while True:
        events = [
            signer.sign(
                "commission",
                "acme",
                unit={"gtin": GTIN, "serial": f"C{run}-{batch}-{k}"},
                prev=None,
            )
            for k in range(BATCH)
        ]
        receipt = ledger.append_batch(events)
        acked = [[r.index, r.leaf_hash.hex()] for r in receipt.receipts]
        print(json.dumps({"batch": f"C{run}-{batch}", "acked": acked}), flush=True)
        batch += 1


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
