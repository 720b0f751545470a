"""Print batches: a brand's mint runs, read from the log, reprinted and voided
(docs/CONSOLE.md).

**What a batch is.** ``provenance mint`` and the demo sign one ``commission`` per unit
and print the labels on the brand's machine; the log records no batch. So the batches
are derived from the ``commission`` entries, in log order: a batch is the units of one
brand, GTIN, lot and expiry whose commissions were each received within `BATCH_GAP` of
the previous one of that batch. A mint of 5,000 units (appended 1,000 at a time) is one
batch; the same GTIN and lot minted again an hour later is another. Two runs of one
GTIN, lot and expiry less than `BATCH_GAP` apart are one batch: mint them with distinct
lots to keep them apart. Batches are console data (``print_batches``), caught up from
the log (`PrintBatches.refresh`) whenever a page asks, never part of it.

**Reprint.** Outer labels carry the brand's signature, which only the brand's own key
makes: the server holds no key that signs labels, so it cannot print them. The
console gives the batch's unit list (``GTIN/SERIAL`` lines) and the command that prints
its outer-label sheets with the brand's key (``provenance label --units-file``).

**Void.** Voiding a batch appends one ``recall`` per unit of it not yet recalled or
decommissioned, signed by the brand's console key with the reason `VOID_REASON`, in
batches of at most 1,000 entries (each all or none; voiding again finishes a void that
stopped half-way), and records who voided it and why in the console's audit trail. The
shopper's page of each unit then says the brand recalled it because its label's print
batch was voided.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ledger.entry import Leaf
from ledger.errors import ConflictError, NotFoundError, ValidationError
from ledger.events import Commission, format_time, parse_time
from ledger.reqsig import ForbiddenError
from ledger.service.append import MAX_BATCH
from ledger.service.console import ConsoleService
from ledger.service.console_auth import Staff
from ledger.service.ledger import Ledger
from ledger.store import CatalogStore

#: the longest pause between two commissions of one batch (log receive times)
BATCH_GAP = timedelta(minutes=10)
#: the reason of every recall a void appends, exactly (the shopper's page words it)
VOID_REASON = "voided print batch"
#: commission entries read per transaction while catching up
READ_CHUNK = 5000
MAX_NOTE = 500


class PrintBatches:
    """The print batches of ``ledger``'s default log, for the console's staff."""

    def __init__(
        self,
        ledger: Ledger,
        console: ConsoleService,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._ledger = ledger
        self._console = console
        self._clock = clock or ledger.now
        self._store = CatalogStore(ledger.store.engines)

    def refresh(self) -> None:
        """Read the log's commissions received since the last refresh into batches.
        Another process doing the same at once is left to finish it."""
        log = self._ledger.log
        size = self._ledger.primary_size()
        mark = self._store.batch_mark(log)
        while mark < size:
            found = self._store.commissions(log, mark, size, READ_CHUNK)
            upto = found[-1][0] + 1 if len(found) == READ_CHUNK else size
            rows = self._group(found)
            if not self._store.save_batches(log, mark, upto, rows):
                return
            mark = upto

    def _group(self, found: list[tuple[int, bytes]]) -> list[dict[str, Any]]:
        """The batch rows ``found`` commissions create or extend."""
        if not found:
            return []
        leaves = [(index, Leaf.from_bytes(data)) for index, data in found]
        since = format_time(leaves[0][1].received_at - BATCH_GAP)
        open_: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in self._store.open_batches(self._ledger.log, since):
            key = (row["brand"], row["gtin"], row["lot"], row["expiry"])
            if key not in open_ or row["last_index"] > open_[key]["last_index"]:
                open_[key] = row
        changed: dict[int, dict[str, Any]] = {}  # by id() of the row
        for index, leaf in leaves:
            event = leaf.signed.event
            if not isinstance(event, Commission):  # pragma: no cover - kind is indexed
                continue
            key = (event.actor, event.unit.gtin, event.lot, event.expiry)
            at = leaf.received_at
            current = open_.get(key)
            if current is not None and parse_time(current["ended_at"], "ended") >= at - BATCH_GAP:
                row = current
                row.update(
                    last_index=index,
                    count=row["count"] + 1,
                    first_serial=min(row["first_serial"], event.unit.serial),
                    last_serial=max(row["last_serial"], event.unit.serial),
                    ended_at=leaf.received,
                )
            else:
                row = {
                    "id": None,
                    "log": self._ledger.log,
                    "brand": event.actor,
                    "gtin": event.unit.gtin,
                    "lot": event.lot,
                    "expiry": event.expiry,
                    "first_index": index,
                    "last_index": index,
                    "count": 1,
                    "first_serial": event.unit.serial,
                    "last_serial": event.unit.serial,
                    "started_at": leaf.received,
                    "ended_at": leaf.received,
                }
                open_[key] = row
            changed[id(row)] = row
        return list(changed.values())

    def batches(self, staff: Staff) -> list[dict[str, Any]]:
        """The print batches of ``staff``'s brands, newest first, each with its
        ``state``: ``active``, ``voided``, or ``recalled`` (every unit recalled)."""
        self.refresh()
        brands = self._console.brands_of(staff)
        rows = self._store.batches(self._ledger.log, brands) if brands else []
        return [_with_state(r) for r in rows]

    def batch(self, staff: Staff, batch_id: int) -> dict[str, Any]:
        """One print batch of ``staff``'s brands with its state.

        Raises:
            NotFoundError: no such batch.
            ForbiddenError: another brand's batch.
        """
        self.refresh()
        row = self._store.batch(batch_id)
        if row is None or row["log"] != self._ledger.log:
            raise NotFoundError(f"no print batch {batch_id}", field="batch")
        self._console.check_brand(staff, row["brand"])
        units = self._store.batch_units(row)
        return _with_state({**row, "recalled": sum(1 for u in units if u["recalled"])})

    def unit_lines(self, staff: Staff, batch_id: int) -> str:
        """The batch's units as ``GTIN/SERIAL`` lines: what ``provenance label
        --units-file`` reprints.

        Raises:
            NotFoundError: no such batch.
            ForbiddenError: another brand's batch.
        """
        row = self.batch(staff, batch_id)
        units = self._store.batch_units(row)
        return "".join(f"{row['gtin']}/{u['serial']}\n" for u in units)

    def void(self, staff: Staff, batch_id: int, note: str) -> int:
        """Void a print batch: recall each of its units not yet recalled or
        decommissioned, signed by the brand's console key with the reason
        `VOID_REASON`; record the void; return how many recalls were appended.

        Raises:
            ForbiddenError: the role may not (brand admins only), or another brand's.
            NotFoundError: no such batch, or no console key.
            ValidationError: no note of why, or one too long.
            ConflictError: the batch was voided already and every unit is recalled.
            RuleError: the log refuses a recall (that chunk of 1,000 is not appended).
        """
        self._console.require(staff, "catalog")
        note = (note or "").strip()
        if not note or len(note) > MAX_NOTE:
            raise ValidationError(f"say why, in 1-{MAX_NOTE} characters", field="note")
        row = self.batch(staff, batch_id)
        if staff.kind != "brand" or row["brand"] != staff.org:
            raise ForbiddenError("only the batch's own brand voids it")
        units = self._store.batch_units(row)
        todo = [u for u in units if not u["recalled"] and not u["decommissioned"]]
        if row["voided_at"] is not None and not todo:
            raise ConflictError(f"print batch {batch_id} is voided already")
        events = [
            self._console.keys.console_sign(
                row["brand"],
                "recall",
                unit={"gtin": row["gtin"], "serial": u["serial"]},
                prev=u["head"],
                reason=VOID_REASON,
            )
            for u in todo
        ]
        for start in range(0, len(events), MAX_BATCH):
            self._ledger.append_batch(events[start : start + MAX_BATCH])
        now = format_time(self._clock())
        self._store.void_batch(batch_id, now, staff.username, note)
        self._console.staff.audit(
            staff.org, staff.username, "void-batch", f"batch {batch_id}", f"{len(todo)}: {note}"
        )
        return len(todo)


def _with_state(row: dict[str, Any]) -> dict[str, Any]:
    recalled = int(row.get("recalled") or 0)
    state = (
        "voided"
        if row["voided_at"] is not None
        else "recalled"
        if recalled >= row["count"]
        else "active"
    )
    return {**row, "recalled": recalled, "state": state}
