"""The brand monitor's findings on the console's settings page (docs/CONSOLE.md).

The same reader as ``provenance monitor --as BRAND`` (ledger.audit.monitor.scan): every
entry touching the brand that its own keys did not sign, and every entry whose
signature does not verify. Run here, on the server, it reads the server's own store, so
it catches a foreign key change or a look-alike registration but cannot stand in for
an outside monitor against a server that lies: the page says so and names the command.

Read incrementally: each organisation's position, what the monitor knows and its
findings are kept in memory by this process, and one page view reads at most
`MAX_ENTRIES_PER_VIEW` new entries (the page says how far it got), so a first view of a
large log does not hold the request for long.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ledger.audit.monitor import Alert, Brand, Keyring, entry_dict, scan
from ledger.service.ledger import Ledger

MAX_ENTRIES_PER_VIEW = 20_000
_BATCH = 2_000


@dataclass
class _Watch:
    next_index: int = 0
    brand: Brand | None = None
    keyring: Keyring = field(default_factory=Keyring)
    alerts: list[Alert] = field(default_factory=list)


class ConsoleMonitor:
    """The brand monitor over ``ledger`` for the console, one watch per brand."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._watches: dict[str, _Watch] = {}
        self._lock = threading.Lock()

    def findings(self, brand: str) -> dict[str, Any]:
        """Read up to `MAX_ENTRIES_PER_VIEW` entries past where ``brand``'s watch
        stopped; return ``{findings (the alarms, newest first, dicts as the CLI's
        --json), notices (what the brand's scoped keys signed within their scope, such as
        the console's own key: newest first, never an alarm), read (entries read so
        far), size (the log's), complete}``."""
        with self._lock:  # one reader per process: the watch is read and advanced
            watch = self._watches.setdefault(brand, _Watch(brand=Brand(brand)))
            size = self._ledger.head().size
            stop = min(size, watch.next_index + MAX_ENTRIES_PER_VIEW)
            origin = self._ledger.origin
            while watch.next_index < stop:
                end = min(stop, watch.next_index + _BATCH)
                items = [
                    entry_dict(e.index, e.leaf, origin)
                    for e in self._ledger.entries(watch.next_index, end)
                ]
                found, known, keyring = scan(watch.brand or Brand(brand), watch.keyring, items)
                watch.alerts.extend(found)
                watch.brand, watch.keyring, watch.next_index = known, keyring, end
            newest = [a.to_dict() for a in reversed(watch.alerts)]
            return {
                "findings": [a for a in newest if a["severity"] == "alarm"][:200],
                "notices": [a for a in newest if a["severity"] != "alarm"][:200],
                "read": watch.next_index,
                "size": size,
                "complete": watch.next_index >= size,
            }
