"""Clone signals computed from scan facts: pure functions over rows, no I/O.

- ledger.signals.compute: the signals (scans after a claim, impossible travel, many
  scanners, probing of unregistered serials) and the reasons they raise;
- ledger.signals.places: coarse places (country codes) and distances between them, and
  where a scan's place came from (a trusted header, or the client's hint);
- ledger.signals.reports: when a unit's open reports count against it (independent
  reporters over several days).
"""
