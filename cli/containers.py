"""Cartons and pallets on the command line: ``pack``, ``unpack``, and a ``handoff``,
``receive`` or ``inspect`` of a container (an SSCC) instead of a unit.

Every container operation is one event per unit, on each unit's own chain
(docs/FORMAT.md, "Containers"), all signed here and appended as one atomic batch: one
unit the rules refuse (not the signer's, on its way elsewhere, already in another
container, a cycle) refuses the whole operation and nothing is appended. A container is
found by its SSCC through ``contents`` (every unit whose outermost container it is), so
a pallet's handoff hands on every unit in every carton on it.

Re-scans succeed: a ``pack`` of a unit already directly in the container, a ``handoff``
of a container already on its way to the same recipient, a ``receive`` of a container
the signer already holds are duplicates (exit 0, nothing appended).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.backends import Backend, connect
from cli.common import UsageError, load_actor_key, parse_unit
from cli.scangroups import empty_message
from cli.scanning import ScanRefusedError, rescan
from cli.signing import sign_with
from ledger.errors import LedgerError, NotFoundError

#: the most units one container operation appends: one batch, so it stays atomic
MAX_UNITS = 1000


@dataclass
class Outcome:
    """What a container operation did: the units it appended events for, the ones it
    found already done (duplicates), and the batch's receipt."""

    kind: str
    sscc: str
    actor: str
    to: str | None = None
    appended: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    receipt: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The outcome as ``--json`` prints it."""
        receipt = self.receipt or {}
        return {
            "kind": self.kind,
            "container": self.sscc,
            "actor": self.actor,
            "to": self.to,
            "appended": len(self.appended),
            "duplicates": len(self.duplicates),
            "duplicate": not self.appended,
            "units": [
                {"unit": f"{u['gtin']}/{u['serial']}", "index": r.get("index"), **extra}
                for u, r, extra in self._rows()
            ],
            "receipts": receipt.get("receipts", []),
            "size": receipt.get("size"),
            "checkpoint": receipt.get("checkpoint"),
        }

    def _rows(self) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
        receipts = (self.receipt or {}).get("receipts", [])
        rows = [(u, r, {"duplicate": False}) for u, r in zip(self.appended, receipts, strict=False)]
        rows += [(u, {"index": u["head_index"]}, {"duplicate": True}) for u in self.duplicates]
        return rows

    def line(self) -> str:
        """One readable line: what happened to how many units of the container."""
        to = f" to {self.to}" if self.to else ""
        what = f"{self.kind} of container {self.sscc}{to} by {self.actor}"
        if not self.appended:
            return f"{what}: already done for its {len(self.duplicates)} units; nothing appended"
        indices = [r["index"] for r in (self.receipt or {}).get("receipts", [])]
        span = (
            f"index {indices[0]}" if len(indices) == 1 else f"indices {min(indices)}-{max(indices)}"
        )
        done = f", {len(self.duplicates)} already done" if self.duplicates else ""
        return f"{what}: {len(self.appended)} units appended at {span}{done}"


def pack(
    sscc_text: str, items: Sequence[str], actor: str, key: Path | None, place: str | None
) -> Outcome:
    """Pack ``items`` (units as ``GTIN/SERIAL`` or label URLs, or inner containers'
    SSCCs) into the container ``sscc_text``, as ``actor``.

    Raises:
        BadSsccError: a malformed SSCC or wrong check digit.
        UsageError: no items, or an item listed twice.
        LedgerError: a unit is not in the log, or the rules refuse one (nothing appended).
    """
    from ledger.sscc import looks_like_sscc, parse_sscc

    sscc = parse_sscc(sscc_text, "sscc")
    if not items:
        raise UsageError("name the units or containers to pack", field="item")
    outcome = Outcome("pack", sscc, actor)
    store = connect(partner=True)
    try:
        plan: list[tuple[dict[str, Any], str | None]] = []
        units = []
        for text in items:
            if looks_like_sscc(text):
                inner = parse_sscc(text, "item")
                inside = store.contents(inner)
                if not inside:
                    raise NotFoundError(empty_message(inner), field="item")
                plan += [(u, inner) for u in inside]
            else:
                units.append(parse_unit(text)[0])
        found = {(c["gtin"], c["serial"]): c for c in store.custody(units)}
        for unit in units:
            where = found.get((unit.gtin, unit.serial))
            if where is None:
                raise NotFoundError(
                    f"unit {unit.gtin}/{unit.serial} is not in the log", field="item"
                )
            plan.append((where, None))
        _no_repeats([u for u, _ in plan])
        todo = []
        for unit, inner in plan:
            if inner is None and unit["containers"] == [sscc]:
                outcome.duplicates.append(unit)
            else:
                todo.append((unit, {"container": sscc, "inner": inner, "place": place}))
        _append(store, outcome, todo, actor, key)
    finally:
        store.close()
    return outcome


def unpack(
    sscc_text: str, items: Sequence[str], actor: str, key: Path | None, place: str | None
) -> Outcome:
    """Take ``items`` (all, when empty) out of the container ``sscc_text``, which must be
    their outermost container: units directly in it, or inner containers' SSCCs.

    Raises:
        BadSsccError: a malformed SSCC or wrong check digit.
        LedgerError: an item is not directly in the container, or the rules refuse one.
    """
    from ledger.sscc import looks_like_sscc, parse_sscc

    sscc = parse_sscc(sscc_text, "sscc")
    outcome = Outcome("unpack", sscc, actor)
    store = connect(partner=True)
    try:
        inside = store.contents(sscc)
        chosen = inside
        if items:
            chosen = []
            for text in items:
                if looks_like_sscc(text):
                    inner = parse_sscc(text, "item")
                    part = [u for u in inside if u["containers"][1:2] == [inner]]
                    what = f"container {inner}"
                else:
                    unit = parse_unit(text)[0]
                    part = [
                        u
                        for u in inside
                        if (u["gtin"], u["serial"]) == (unit.gtin, unit.serial)
                        and len(u["containers"]) == 1
                    ]
                    what = f"unit {unit.gtin}/{unit.serial}"
                if not part:
                    raise ScanRefusedError(
                        "not-inside", f"{what} is not directly in container {sscc}", "item"
                    )
                chosen += part
        elif not inside:
            raise NotFoundError(empty_message(sscc), field="sscc")
        _no_repeats(chosen)
        todo = [(u, {"container": sscc, "place": place}) for u in chosen]
        _append(store, outcome, todo, actor, key)
    finally:
        store.close()
    return outcome


def handle(
    kind: str,
    sscc_text: str,
    actor: str,
    key: Path | None,
    *,
    to: str | None = None,
    **fields: Any,
) -> Outcome:
    """A ``handoff`` (to ``to``), ``receive`` or ``inspect`` of every unit in the
    container ``sscc_text`` (its outermost), as one atomic batch.

    Raises:
        BadSsccError: a malformed SSCC or wrong check digit.
        NotFoundError: nothing is packed in the container.
        LedgerError: the rules refuse one unit (nothing appended; the unit is named).
    """
    from ledger.sscc import parse_sscc

    sscc = parse_sscc(sscc_text, "sscc")
    outcome = Outcome(kind, sscc, actor, to)
    store = connect(partner=True)
    try:
        inside = store.contents(sscc)
        if not inside:
            raise NotFoundError(empty_message(sscc), field="sscc")
        todo = []
        for unit in inside:
            if kind in ("handoff", "receive") and rescan(kind, actor, to, unit):  # type: ignore[arg-type]
                outcome.duplicates.append(unit)
            else:
                todo.append((unit, {"to": to, **fields}))
        _append(store, outcome, todo, actor, key)
    finally:
        store.close()
    return outcome


def _no_repeats(units: Sequence[dict[str, Any]]) -> None:
    seen: set[tuple[str, str]] = set()
    for unit in units:
        ref = (unit["gtin"], unit["serial"])
        if ref in seen:
            raise UsageError(f"unit {ref[0]}/{ref[1]} is named twice", field="item")
        seen.add(ref)


def _append(
    store: Backend,
    outcome: Outcome,
    todo: list[tuple[dict[str, Any], dict[str, Any]]],
    actor: str,
    key: Path | None,
) -> None:
    """Sign one ``outcome.kind`` event per unit of ``todo`` and append them as one
    batch; a refusal names the unit it is about and appends nothing.

    Raises:
        UsageError: more than `MAX_UNITS` units.
        ScanRefusedError: the log refused an event (its rule's code).
    """
    if not todo:
        return
    if len(todo) > MAX_UNITS:
        raise UsageError(
            f"{len(todo)} units: one container operation takes at most {MAX_UNITS}",
            field="sscc",
        )
    private = load_actor_key(key, actor)
    origin = store.origin()
    signed = [
        sign_with(
            private,
            actor,
            outcome.kind,
            unit={"gtin": u["gtin"], "serial": u["serial"]},
            prev=u["head"],
            log=origin,
            **{k: v for k, v in extra.items() if v is not None},
        )
        for u, extra in todo
    ]
    try:
        outcome.receipt = store.append(signed)
    except LedgerError as e:
        raise _named(e, [u for u, _ in todo]) from e
    outcome.appended = [u for u, _ in todo]


def _named(error: LedgerError, units: Sequence[dict[str, Any]]) -> LedgerError:
    """The log's refusal, naming the unit of the refused event (``events[i]``)."""
    import re

    match = re.match(r"^events\[(\d+)\]", error.field or "")
    if match is None or int(match[1]) >= len(units):
        return error
    unit = units[int(match[1])]
    message = f"unit {unit['gtin']}/{unit['serial']}: {error.message}; nothing was appended"
    return ScanRefusedError(error.code, message, field="unit")
