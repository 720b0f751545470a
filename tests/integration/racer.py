"""A racing writer process for test_races: appends to shared and fresh units.

Run as ``python -m tests.integration.racer URL LOG WORKER COUNT SHARED``; prints one
JSON line: the receipts it got and how every refusal was typed.
"""

from __future__ import annotations

import json
import sys

from ledger import codec
from ledger.errors import ConflictError, LedgerError
from ledger.service.ledger import Ledger
from tests.factories import GTIN
from tests.integration.world import clock, config
from tests.rules_factories import TIME, World


def race(url: str, log: str, worker: int, count: int, shared: int) -> dict[str, object]:
    """Append ``count`` events: even steps inspect a shared unit, odd ones commission."""
    ledger = Ledger.open(url, config(log), clock=clock)
    signer = World.base(ledger.origin)  # only for its keys and signing helpers
    acked, conflicts, errors = [], 0, []
    for step in range(count):
        if step % 2 == 0:
            serial = f"SHARED-{step // 2 % shared}"
            head = ledger.unit_entries(GTIN, serial)[-1].event_hash
            signed = signer.sign(
                "inspect",
                "insp",
                unit={"gtin": GTIN, "serial": serial},
                prev=codec.b64url_encode(head),
                result="pass",
                note=f"w{worker}-{step}",
            )
        else:
            unit = {"gtin": GTIN, "serial": f"R{worker}-{step}"}
            signed = signer.sign("commission", "acme", unit=unit, prev=None, time=TIME)
        try:
            receipt = ledger.append(signed).receipts[0]
            acked.append([receipt.index, receipt.leaf_hash.hex(), signed.event.kind])
        except ConflictError:
            conflicts += 1
        except LedgerError as e:
            errors.append(f"{type(e).__name__}: {e}")
    ledger.close()
    return {"acked": acked, "conflicts": conflicts, "errors": errors}


if __name__ == "__main__":
    url, log, worker, count, shared = sys.argv[1:6]
    print(json.dumps(race(url, log, int(worker), int(count), int(shared))))
