"""The audit replay's instructions per entry under callgrind: a count the machine's load
does not move.

Figure 5 (bench.audit) is the audit's rate over the all-core verify rate; what limits it
is the replay thread's own Python per entry (the signatures are checked on other
threads or processes). Its CPU time moves by 30-50 % between runs on the shared
machine; callgrind's instruction count moves by ~0.2 %. This tool builds the bench's
custody log once natively (bench.streams.storage_stream on SQLite, as bench.audit
does), then runs one `Ledger.audit` of it in a fresh interpreter under
``valgrind --tool=callgrind --instr-atstart=no``, collection switched on
(``callgrind_control -i on``) around the audit alone, and prints instructions per entry.

The signature check is left out of the count: in the driver only, the verify threads'
entry point (`ledger.audit.sigpipe.start_event_signatures`) is replaced by one that
checks nothing, so every instruction counted is the replay thread's (reading entries,
parsing leaves, hashes, rules, nodes, checkpoints, projections, and building each
signature's message). The log stays below 20,000 entries and no pool is started; at the
default 400 units (2,013 entries) the audit takes the verify threads' path. From
`ledger.audit.sigproc.PROCESS_FROM` entries (``--units 1200``: the figure's 6,013) it
takes the verifier process's path: the process runs outside callgrind, and what is
counted is the replay thread and its hand-offs (pickling, pipe writes); the last
partial batch goes to the process too (`SignaturePipeline.flush`; before session 31
the replay thread verified it, ~125 verifications at 6,013 entries, ~14 k instructions
an entry), and under callgrind's slowdown the process has answered everything by the
end, so nothing is verified on the counted thread. The audit must still come out clean.

    .venv/bin/python -m bench.audit_instructions [--units 400]

Needs ``valgrind`` (Debian: ``apt-get install valgrind``); 400 units (2,013 entries)
take about 2 minutes under callgrind.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import callgrind


def build(url: str, units: int) -> None:
    """Append the bench's custody log of ``units`` units to the new database ``url``."""
    from bench import streams
    from bench.appends import append_all, open_ledger

    ledger = open_ledger(url, streams.base_events(streams.base_world()))
    try:
        append_all(ledger, streams.storage_stream(units), 1000)
    finally:
        ledger.close()


def _no_check(items: Sequence[object], threads: int | None = None) -> Callable[[], list[int]]:
    # stands in for the verify threads in this driver only: nothing is verified
    return lambda: []


def drive(url: str) -> None:
    """Under callgrind: open the log, then count one audit of it (signatures not checked)."""
    from bench.streams import ORIGIN
    from ledger.audit import sigpipe
    from ledger.service.ledger import Ledger, LogConfig
    from tests.factories import LOG_SEED, key
    from tests.rules_factories import NOW

    sigpipe.start_event_signatures = _no_check  # type: ignore[attr-defined]
    config = LogConfig(origin=ORIGIN, operator_key=key(1), log_key=key(LOG_SEED))
    ledger = Ledger.open(url, config, clock=lambda: NOW)
    try:
        callgrind.collect(True)
        report = ledger.audit()
        callgrind.collect(False)
    finally:
        ledger.close()
    if not report:
        raise SystemExit(f"the log did not audit clean: {report.findings[:3]}")
    print(f"entries {report.entries}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> None:
    """Build the log, count one audit under callgrind, print instructions per entry."""
    parser = argparse.ArgumentParser(description="audit replay instructions per entry")
    parser.add_argument("--units", type=int, default=400)
    parser.add_argument("--keep", help="copy the callgrind output file here")
    parser.add_argument("--drive", help=argparse.SUPPRESS)  # the child under callgrind
    args = parser.parse_args(argv)
    if args.drive:
        drive(args.drive)
        return
    callgrind.require()
    with tempfile.TemporaryDirectory(prefix="audit-instr-") as folder:
        url = f"sqlite:///{Path(folder) / 'log.db'}"
        build(url, args.units)
        out = Path(folder) / "callgrind.out"
        run = subprocess.run(
            callgrind.command(out, "bench.audit_instructions", "--drive", url),
            env=callgrind.environment(),
            capture_output=True,
            text=True,
            check=True,
        )
        entries = int(run.stderr.split("entries ", 1)[1].split()[0])
        total = callgrind.total(out)
        if args.keep:
            shutil.copy(out, args.keep)
        print(
            f"audit of {entries:,} entries: {total:,} instructions, {total / entries:,.0f} an entry"
        )


if __name__ == "__main__":
    main()
