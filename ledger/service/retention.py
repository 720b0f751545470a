"""The retention job: shoppers' data deleted once its documented period is over.

`RetentionService.run` deletes, for one log (docs/PRIVACY.md has the table):

- scans (unit, time, coarse place, daily client hash, agent class) older than the scan
  retention (``PROVENANCE_SCAN_RETENTION_DAYS``, 90), with the owners' daily client
  hashes recorded as long ago (the owner-token pseudonyms stay);
- report photos older than ``PROVENANCE_REPORT_PHOTO_DAYS`` (90);
- report texts and client hashes older than ``PROVENANCE_REPORT_CONTACT_DAYS`` (180);
- claim-attempt counters whose wait ended longer ago than the claim policy's
  ``forget`` (they would start again from zero anyway);
- report counters and scan salts of past days.

It never touches the log (entries, leaves, tree nodes, checkpoints, projections): the
log is what the audit replays, and none of it holds a client hash. ``provenance
retention run`` runs it; the server runs it at start and then every
`RETENTION_INTERVAL` (api.context), and purges past salts every minute.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from ledger.events import format_time
from ledger.service.policies import Policies
from ledger.service.salt import ScanSalt, utc_day
from ledger.service.signals import SignalService
from ledger.store import RetentionStore

#: how often the server runs the whole job
RETENTION_INTERVAL = timedelta(hours=1)


@dataclass(frozen=True)
class RetentionReport:
    """How many rows of each kind one run deleted (or emptied, for report fields)."""

    scans: int
    owner_clients: int
    photos: int
    contacts: int
    claim_attempts: int
    report_quotas: int
    salts: int

    def to_dict(self) -> dict[str, int]:
        """The counts by kind."""
        return asdict(self)


class RetentionService:
    """The retention job of one log, under ``policies`` and ``clock``."""

    def __init__(
        self,
        store: RetentionStore,
        log: int,
        signals: SignalService,
        salt: ScanSalt,
        policies: Policies,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._log = log
        self._signals = signals
        self._salt = salt
        self._policies = policies
        self._clock = clock

    def run(self) -> RetentionReport:
        """Delete what is past its period now (the clock's time); return the counts.

        Each kind is deleted in its own transaction: a failure leaves what was deleted
        before it deleted, and the next run finishes the rest.

        Raises:
            StorageError: the database failed.
        """
        now = self._clock()
        log, store = self._log, self._store
        scans_before = format_time(now - self._policies.signals.scan_retention)
        reports = self._policies.reports
        return RetentionReport(
            scans=self._signals.prune_scans(),
            owner_clients=store.delete_owner_clients_before(log, scans_before),
            photos=store.delete_photos_before(log, format_time(now - reports.photo_retention)),
            contacts=store.delete_contacts_before(
                log, format_time(now - reports.contact_retention)
            ),
            claim_attempts=store.delete_attempts_before(
                log, format_time(now - self._policies.claims.forget)
            ),
            report_quotas=store.delete_quotas_before(log, utc_day(now)),
            salts=self._salt.purge(now),
        )
