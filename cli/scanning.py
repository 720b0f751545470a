"""Handoffs and receipts at warehouse speed: one unit or a scan list, re-scans answered
as duplicates.

A scan list is what a handheld scanner writes: one label per line (a scanned Digital
Link URL, ``GTIN/SERIAL``, or a carton's or pallet's SSCC, which stands for every unit
in it and goes whole or not at all: cli.scangroups); blank lines and ``#`` comments
are skipped. `run` reads where every unit stands in one request per 1,000 units, signs
an event for each unit that needs one (the key is loaded once), and appends them in
atomic batches of 1,000 with a progress bar. Each line gets an outcome:

- ``appended``, with the new entry's index;
- ``duplicate``: the scan is already in the log (`rescan`: a
  ``receive`` of what the actor holds, a ``handoff`` already on its way to the same
  recipient, the same unit twice in the list), with the index of the unit's latest
  entry; success, so a list run twice is all duplicates with exit 0;
- ``refused``: a line that is not a label, a unit not in the log, one the actor may
  not hand off or receive; nothing is appended for it, the other lines are.

A batch the log refuses (a rule this module does not check ahead, such as an expired
authorization) is sent again without the refused event, so one bad unit costs only its
own line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cli import scangroups
from cli.backends import Backend, connect
from cli.common import OPTIONS, errors, load_actor_key, parse_unit
from ledger.errors import LedgerError, NotFoundError

if TYPE_CHECKING:
    from ledger import gs1
    from ledger.crypto import Ed25519PrivateKey

Kind = Literal["handoff", "receive"]
Outcome = Literal["appended", "duplicate", "refused"]

_BATCH = 1000
_EVENT_FIELD = re.compile(r"^events\[(\d+)\]")


@dataclass
class Line:
    """One scanned line and what became of it."""

    number: int
    text: str
    unit: gs1.UnitId | None = None
    outcome: Outcome | None = None
    index: int | None = None
    code: str | None = None
    message: str | None = None
    #: the unit's head when planned: the ``prev`` of the event signed for this line
    head: str | None = None
    #: the receipt of the entry the line appended, or (`run` with ``receipts``) of the
    #: entry a re-scan duplicates
    receipt: dict[str, Any] | None = None
    #: the SSCC of the container the line scanned (cli.scangroups), else None
    group: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The line as ``--json`` reports it."""
        unit = None if self.unit is None else f"{self.unit.gtin}/{self.unit.serial}"
        out: dict[str, Any] = {"line": self.number, "text": self.text, "unit": unit}
        out.update(outcome=self.outcome, index=self.index)
        if self.outcome == "refused":
            out.update(code=self.code, message=self.message)
        return out

    def refuse(self, code: str, message: str) -> None:
        """Mark the line refused with ``code`` and a readable ``message``."""
        self.outcome, self.code, self.message = "refused", code, message


@dataclass
class Summary:
    """Every line's outcome, and the log's size and checkpoint after the last batch."""

    kind: Kind
    actor: str
    to: str | None
    lines: list[Line]
    size: int | None = None
    checkpoint: str | None = None
    receipts: list[dict[str, Any]] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        """How many lines had ``outcome``."""
        return sum(1 for line in self.lines if line.outcome == outcome)

    def to_dict(self) -> dict[str, Any]:
        """The summary as ``--json`` prints it."""
        return {
            "kind": self.kind,
            "actor": self.actor,
            "to": self.to,
            "appended": self.count("appended"),
            "duplicates": self.count("duplicate"),
            "refused": self.count("refused"),
            "lines": [line.to_dict() for line in self.lines],
            "size": self.size,
            "checkpoint": self.checkpoint,
        }


def read_lines(source: str) -> list[Line]:
    """The lines of a scan list file (``-``: standard input), blank lines and ``#``
    comments left out, each parsed or marked refused (code ``bad-line``).

    Raises:
        UsageError: the file cannot be read.
    """
    import sys

    from cli.common import UsageError

    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read scan list {source}: {e}", field="from-file") from e
    return parse_lines(text.splitlines())


def parse_lines(texts: Iterable[str]) -> list[Line]:
    """Each non-blank, non-comment line as a `Line`: its unit, or refused ``bad-line``;
    a container's SSCC (``group``; ``bad-sscc``: a wrong check digit)."""
    from ledger.sscc import looks_like_sscc, parse_sscc

    lines = []
    for number, raw in enumerate(texts, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        line = Line(number, text)
        if looks_like_sscc(text):  # a carton's or pallet's label: its units (cli.scangroups)
            try:
                line.group = parse_sscc(text, "line")
            except LedgerError as e:
                line.group = text
                line.refuse(e.code, f"not an SSCC: {e.message}")
            lines.append(line)
            continue
        try:
            line.unit, _ = parse_unit(text)
        except LedgerError as e:
            line.refuse("bad-line", f"not a label (GTIN/SERIAL or a scanned URL): {e.message}")
        lines.append(line)
    return lines


def run(
    kind: Kind,
    lines: list[Line],
    actor: str,
    key: Path | None,
    *,
    to: str | None = None,
    place: str | None = None,
    progress: bool = False,
    receipts: bool = False,
) -> Summary:
    """Sign and append ``kind`` by ``actor`` for every parsed line; see the module doc.
    ``receipts``: also fetch, for each re-scan, the receipt of the entry it duplicates
    (one request each: for a single scan, not for a list).

    Raises:
        KeyFormatError: the actor's key cannot be loaded.
        LedgerError: the log cannot be reached (no line is appended then).
    """
    summary = Summary(kind, actor, to, lines)
    private = load_actor_key(key, actor)
    store = connect(partner=True)
    try:
        if any(line.group for line in lines):
            summary.lines = lines = scangroups.expand(store, lines, Line)
        todo = scangroups.refuse_groups(lines, _plan(store, kind, actor, to, lines))
        _append(store, summary, todo, private, place, progress)
        if receipts:
            _fetch_receipts(store, summary)
    finally:
        store.close()
    return summary


def rescan(kind: Kind, actor: str, to: str | None, unit: dict[str, Any]) -> bool:
    """True when ``actor``'s ``kind`` of ``unit`` (to ``to``) is already in the log, so a
    scan of it again is a duplicate to answer with success, not a refusal:

    - a ``receive`` by the unit's custodian with no transfer open;
    - a ``handoff`` to ``to`` by the custodian while that very transfer is open.

    Everything else (another recipient, a unit held by someone else) is not a re-scan:
    the rules still refuse it. ``unit`` is a custody answer (`Backend.custody`).
    """
    if kind == "receive":
        return bool(unit["custodian"] == actor and unit["pending"] is None)
    return bool(unit["custodian"] == actor and to is not None and unit["pending"] == to)


def _plan(store: Backend, kind: Kind, actor: str, to: str | None, lines: list[Line]) -> list[Line]:
    """Decide each parsed line from where its unit stands; the lines still to append."""
    wanted = list({(ln.unit.gtin, ln.unit.serial): ln.unit for ln in lines if ln.unit}.values())
    where = {(c["gtin"], c["serial"]): c for c in store.custody(wanted)}
    first: dict[tuple[str, str], Line] = {}
    todo = []
    for line in lines:
        if line.unit is None:
            continue
        ref = (line.unit.gtin, line.unit.serial)
        unit = where.get(ref)
        if ref in first:
            line.outcome = "duplicate"  # settled after the append, from the first line
        elif unit is None:
            line.refuse(NotFoundError.code, f"unit {ref[0]}/{ref[1]} is not in the log")
        elif rescan(kind, actor, to, unit):
            line.outcome, line.index, line.head = "duplicate", unit["head_index"], unit["head"]
        else:
            refusal = _refusal(kind, actor, unit)
            if refusal is not None:
                line.refuse(*refusal)
            else:
                todo.append(line)
            line.head = unit["head"]
        first.setdefault(ref, line)
    return todo


def _ref(line: Line) -> tuple[str, str]:
    assert line.unit is not None  # noqa: S101 - only parsed lines are planned
    return (line.unit.gtin, line.unit.serial)


def _refusal(kind: Kind, actor: str, unit: dict[str, Any]) -> tuple[str, str] | None:
    """The rules' refusal of this scan that is plain from custody alone (so a batch is
    not refused for it), else None; the log's rules still decide everything else."""
    if kind == "receive":
        if unit["pending"] != actor:
            expected = unit["pending"] or "nobody (no transfer is open)"
            return "not-recipient", f"the unit is on its way to {expected}"
        return None
    if unit["custodian"] != actor:
        return "not-custodian", f"the unit is held by {unit['custodian'] or 'nobody'}"
    if unit["pending"] is not None:
        return "transfer-pending", f"the unit is on its way to {unit['pending']}"
    return None


def _append(
    store: Backend,
    summary: Summary,
    todo: list[Line],
    private: Ed25519PrivateKey,
    place: str | None,
    progress: bool,
) -> None:
    """Sign and append ``todo`` in batches of 1,000, with a progress bar on a terminal.

    One batch is signed here while the one before is sent (a second thread, which
    mostly waits for the log's answer): signing and the log's work overlap. Batches hold
    distinct units, so their order does not matter to the rules.
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    from rich.progress import Progress

    from cli.signing import sign_many

    origin = store.origin()
    fields: dict[str, Any] = {"place": place}
    if summary.kind == "handoff":
        fields["to"] = summary.to
    shown = progress and not OPTIONS.json and errors.is_terminal
    with (
        Progress(console=errors, transient=True, disable=not shown) as bar,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="scan-send") as sender,
    ):
        task = bar.add_task(f"{summary.kind}", total=len(todo))
        sending: Future[None] | None = None
        for batch in scangroups.batches(todo, _BATCH):
            chains = [(_unit(line), line.head) for line in batch]
            signed = sign_many(private, summary.actor, summary.kind, chains, log=origin, **fields)
            if sending is not None:
                sending.result()
            sending = sender.submit(_send, store, summary, batch, signed)
            sending.add_done_callback(lambda _, n=len(batch): bar.advance(task, n))
        if sending is not None:
            sending.result()
    _settle_repeats(summary.lines)


def _unit(line: Line) -> gs1.UnitId:
    assert line.unit is not None  # noqa: S101 - only parsed lines are appended
    return line.unit


def _send(store: Backend, summary: Summary, batch: list[Line], signed: Sequence[Any]) -> None:
    """Append one batch; a refused event's line is marked and the rest sent again."""
    lines, events = list(batch), list(signed)
    while lines:
        try:
            receipt = store.append(events)
        except LedgerError as e:
            match = _EVENT_FIELD.match(e.field or "")
            if match is None or int(match[1]) >= len(lines):
                for line in lines:
                    line.refuse(e.code, e.message)
                return
            bad = lines.pop(int(match[1]))
            bad.refuse(e.code, e.message)
            events.pop(int(match[1]))
            scangroups.refuse_siblings(bad, lines, events)  # a container goes whole
            continue
        for line, item in zip(lines, receipt["receipts"], strict=True):
            line.outcome = "duplicate" if item.get("duplicate") else "appended"
            line.index, line.receipt = item["index"], item
        summary.receipts.extend(receipt["receipts"])
        summary.size, summary.checkpoint = receipt["size"], receipt["checkpoint"]
        return


def _fetch_receipts(store: Backend, summary: Summary) -> None:
    """The receipt of the entry each re-scan duplicates: its index, leaf hash and event
    hash (the unit's head, whose entry it is), as a re-sent event's would be."""
    for line in summary.lines:
        if line.outcome != "duplicate" or line.receipt is not None or line.index is None:
            continue
        found = store.entry(line.index)
        line.receipt = {
            "index": line.index,
            "leaf_hash": found["entries"][0]["leaf_hash"],
            "event_hash": line.head,
            "duplicate": True,
        }
        summary.size = summary.size or found["size"]
        summary.checkpoint = summary.checkpoint or found["checkpoint"]


def receipt_of(summary: Summary) -> dict[str, Any]:
    """A single scan's receipt, as any write prints it: ``{receipts, size, checkpoint}``."""
    return {
        "receipts": [line.receipt for line in summary.lines if line.receipt is not None],
        "size": summary.size,
        "checkpoint": summary.checkpoint,
    }


class ScanRefusedError(LedgerError):
    """A single scan refused before it was sent, with the code of the rule or check
    that refuses it (``not-found``, ``not-custodian``, ...): set per instance, as the
    log would have answered."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.code = code


def _settle_repeats(lines: list[Line]) -> None:
    """A unit listed again after its first line: a duplicate of what the first line
    appended (or refused like it)."""
    first: dict[tuple[str, str], Line] = {}
    for line in lines:
        if line.unit is None:
            continue
        earlier = first.setdefault(_ref(line), line)
        if earlier is line:
            continue
        if earlier.outcome == "refused":
            line.refuse(earlier.code or "refused", earlier.message or "")
        else:
            line.outcome, line.index = "duplicate", earlier.index
