"""The audit's event signatures, verified on helper processes while the replay goes on.

The replay (ledger.audit.replay) names, entry by entry, the key that must have signed
each event (the rules decide it) and hands the pipeline one item per entry: (index, raw
public key, signing domain, message after it, signature), plain bytes. Every `BATCH`
items go to the shared worker pool (ledger.audit.workers) as one task; the worker runs
`ledger.verify.rawsig.bad_raw` on them and sends back the indices that do not
verify. `SignaturePipeline.bad` waits for every task, in the order they were sent, and
returns all those indices, ascending: the same list as verifying everything in order on
this thread.

Why processes: on threads each verification must take the GIL back from the replay,
which holds it almost all the time (switch interval 5 ms), and on a loaded machine the
verify threads and the replay share one process's scheduling; a worker process verifies
at the full rate of the core it gets (the bench's verify baseline does the same). What
crosses is a few hundred bytes per entry (pickled bytes), a small fraction of the cost
of a verification.

Nothing is lost on the way: until the pool is up (`ledger.audit.workers.ready`), and
for an audit that does not use the pool, items are verified on the verify threads at
each chunk's end (`flush`), as before, or on one verifier process (logs of
`ledger.audit.sigproc.PROCESS_FROM` entries or more, `ledger.audit.sigproc`); a task
whose worker died is verified again on this process (`ledger.audit.workers` falls
back). Every item is verified by some path, and one bad signature among N is reported with its index
(tests/unit/test_sigpipe.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial

from ledger.audit import workers
from ledger.audit.sigproc import VerifierProcess
from ledger.verify.batchverify import start_event_signatures
from ledger.verify.rawsig import Raw, bad_raw

#: items per task: about 40 ms of one core's verifying, so the replay rarely waits at
#: the end for more than one batch, and the hand-off (one pickle, one pipe write,
#: ~0.1 ms) stays well under 1 % of the work
BATCH = 256

#: items per batch for the one verifier process (ledger.audit.sigproc): ~5 ms of its
#: verifying, so the audit's end waits for little more than that; a hand-off (one
#: `ledger.verify.rawsig.frame` and one pipe write) costs ~0.2 % of the replay's time per item
PROCESS_BATCH = 128

#: logs from this many entries up start the worker processes for their signatures; a
#: smaller log uses them only if they are up already: starting two processes in the
#: middle of a 6,000-entry audit made it 2-3 x slower on a loaded machine
#: (docs/PERFORMANCE.md, "Audit, session 20")
PROCESSES_FROM = workers.PROCESSES_FROM


def signature_processes(total: int, requested: int | None = None) -> int:
    """How many worker processes verify the signatures of an audit of ``total``
    entries (0: the verify threads). ``requested`` wins when given; by default, on a
    machine with 2+ cores, one per core (at most 8) from `PROCESSES_FROM` entries on, or
    for any log while that many are up already (an earlier audit started them). Unlike
    the leaf parsing (`ledger.audit.workers.process_count`) there is no idle-core
    condition: the work is one verification per entry on whichever path, and on
    processes it takes no GIL from the replay."""
    if requested is not None:
        return max(0, requested)
    cores = os.cpu_count() or 1
    wanted = min(8, cores)
    if cores < 2 or not (total >= PROCESSES_FROM or workers.ready(wanted)):
        return 0
    return wanted


class SignaturePipeline:
    """Collects the audit's signature items and verifies them behind the replay.

    ``processes``: the worker processes to use once they are up (0: never);
    ``threads``: the verify threads for what is not sent to a process (None: one per
    core, `ledger.verify.batchverify.start_event_signatures`); ``process``: without
    worker processes, verify on one `ledger.audit.sigproc.VerifierProcess` (started
    now) instead of the threads, which the replay's GIL starves
    (`ledger.audit.sigproc.wanted`).
    """

    def __init__(
        self,
        processes: int = 0,
        threads: int | None = None,
        batch: int = BATCH,
        *,
        process: bool = False,
    ) -> None:
        self.processes = processes
        self.threads = threads
        self._process = VerifierProcess() if process and not processes else None
        self.batch = batch if self._process is None else min(batch, PROCESS_BATCH)
        self._items: list[Raw] = []
        #: one per batch sent or chunk handed to the threads, in order: each returns
        #: the bad indices of its items
        self._waiting: list[Callable[[], list[int]]] = []

    def add(self, item: Raw) -> None:
        """Queue one (index, raw public key, domain, message, signature) for checking;
        a full batch goes to a worker process at once when the pool is up."""
        items = self._items
        items.append(item)
        if len(items) >= self.batch:
            if self._process is not None:
                self._process.send(items)
                self._items = []
            elif self.processes and workers.ready(self.processes):
                self._send(items)
                self._items = []

    def flush(self) -> None:
        """Start checking everything queued (the replay calls it at each chunk's end
        and once more at its end, so the audit's last reads go on while the last
        partial batch is checked; `bad` takes back what is still unanswered then):
        on the verifier process (the chunk's partial batch too: it is checked while the
        next chunk is read and parsed, docs/PERFORMANCE.md "audit43"), else on the
        worker processes when they are up, else on the verify threads."""
        if not self._items:
            return
        if self._process is not None:
            self._process.send(self._items)
            self._items = []
            return
        if self.processes and workers.ready(self.processes):
            # the tail split over every process: the replay waits for it at the end
            size = -(-len(self._items) // self.processes)
            for at in range(0, len(self._items), size):
                self._send(self._items[at : at + size])
        else:
            self._waiting.append(start_event_signatures(self._items, self.threads))
        self._items = []

    def bad(self) -> list[int]:
        """Check what is still queued, wait for everything sent, and return the index
        of every item whose signature does not verify, ascending."""
        if self._process is not None:
            found = bad_raw(self._items)  # a partial batch no `flush` sent
            self._items = []
            found.extend(self._process.bad())
            return sorted(found)
        self.flush()
        waiting, self._waiting = self._waiting, []
        return sorted(i for wait in waiting for i in wait())

    def close(self) -> None:
        """End the verifier process, if any, without its answers (a failed audit)."""
        if self._process is not None:
            self._process.close()

    def _send(self, items: list[Raw]) -> None:
        futures = workers.submit(bad_raw, [(items,)])
        if futures is None:  # the pool cannot take work: the threads do it
            self._waiting.append(start_event_signatures(items, self.threads))
            return
        future = futures[0]
        self._waiting.append(lambda: workers.result(future, partial(bad_raw, items)))
