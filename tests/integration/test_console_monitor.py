"""The console's brand monitor (ledger.service.console_monitor) over a real store: what
the brand's scoped key (the console's) signs within its scope is a notice beside the
findings, never a finding; what touches the brand from outside is a finding."""

from __future__ import annotations

from pathlib import Path

from ledger import gs1
from ledger.service.console_monitor import ConsoleMonitor
from ledger.service.ledger import Ledger
from tests.factories import public_b64
from tests.integration.world import LedgerWorld, clock, config


def test_scoped_key_entries_are_notices_and_the_rest_findings(tmp_path: Path) -> None:
    ledger = Ledger.open(f"sqlite:///{tmp_path}/console.db", config("console-mon"), clock=clock)
    try:
        ledger.init(name="Registry")
        world = LedgerWorld.base(ledger)
        w = world.world
        monitor = ConsoleMonitor(ledger)
        assert monitor.findings("acme")["findings"] == []
        world.append(
            w.sign(
                "key.rotate",
                "acme",
                subject="acme",
                add=[public_b64(45)],
                remove=[],
                scope=["console"],
            )
        )
        gtin = "0950600066666"
        gtin += str(gs1.gtin_check_digit(gtin))
        world.append(w.sign("product.register", "acme", 45, gtin=gtin, name="From the console"))
        effective = "2030-01-01T00:00:00Z"
        world.append(
            w.sign(
                "key.recover", "operator", subject="acme", key=public_b64(46), effective=effective
            )
        )
        seen = monitor.findings("acme")
        assert [f["code"] for f in seen["findings"]] == ["key-recovery"]
        assert [n["code"] for n in seen["notices"]] == ["scoped-key-signature"]
        assert seen["notices"][0]["kind"] == "product.register" and seen["complete"]
    finally:
        ledger.close()
