"""``provenance verify``: one unit, every proof and signature checked locally and its
verdict computed again from the proven chain (ledger.verify.unitview.verify_unit_view,
ledger.verify.recompute), or an offline proof file (cli.verify_proof).

The server's verdict is a claim: when the proven chain says otherwise, one line says
"server said X, the proven chain says Y". Signals (scans, reports) are the server's
hints, shown apart and labelled as such. Each entry is replayed under the rule set of
its index as the log's genesis and ``log.upgrade`` entries, proven in the view
(``versions``), say: never an assumed one.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cli.backends import Backend, connect
from cli.common import UsageError, emit, parse_unit, safe

if TYPE_CHECKING:  # the rules load with the command, not with every `provenance` call
    from ledger.label import ScannedLabel
    from ledger.rules.state import ActorRecord, KeyRecord
    from ledger.verify.recompute import Switch

app = typer.Typer()

_COLOURS = {"genuine": "green", "caution": "yellow", "unknown": "red", "invalid": "red"}


def _label_key(key: dict[str, Any]) -> bool:
    """Whether a brand's key (as ``GET /v1/actors/{id}`` lists it) may sign its labels:
    a full key or one scoped ``mint``, never a console key, one an operator recovered, or
    one reported compromised (docs/FORMAT.md section 8.2; the resolver's rule)."""
    scope = key.get("scope") or []
    return (
        (not scope or "mint" in scope)
        and key.get("recovered_index") is None
        and key.get("compromised_since") is None
    )


def _scanned(text: str) -> ScannedLabel | None:
    """The label of a scanned URL (its ``s``, lot and expiry), judged as the resolver
    judges it; None for ``GTIN/SERIAL``, a query about the unit with no label.

    Raises:
        GS1Error: ``s`` appears twice.
    """
    if "://" not in text:
        return None
    from ledger import gs1, label

    return label.ScannedLabel.from_link(gs1.parse_digital_link(text))


def _facts(
    store: Backend, view: dict[str, Any], pinned: str, refused: list[dict[str, Any]]
) -> tuple[dict[str, str], dict[str, ActorRecord], dict[str, list[str]], dict[str, KeyRecord]]:
    """What the client fetches to judge the view: key id -> public key of every actor
    that signed or received the unit, those actors' facts (role, prefixes, revocation),
    each one's public keys (the brand's check the label), and their key records (a key
    reported compromised or recently recovered calls for a caution). Each actor's facts
    are checked against its proven registry (ledger.verify.registry); the reasons of
    those that do not check are added to ``refused``."""
    from ledger.errors import NotFoundError
    from ledger.verify.recompute import actor_record, key_records
    from ledger.verify.registry import check_registry
    from ledger.verify.unitview import signers_of

    keys: dict[str, str] = {}
    facts: dict[str, ActorRecord] = {}
    owned: dict[str, list[str]] = {}
    records: dict[str, KeyRecord] = {}
    # the unit view's checkpoint (verify_unit_view verifies it): registries proven at an
    # older size, or without a map where the view has one, are refused
    size, mapped = _checkpoint_facts(view.get("checkpoint"))
    for actor_id in sorted(signers_of(view) | _recipients(view)):
        try:
            data = store.actor(actor_id)
            registry = check_registry(actor_id, data, pinned, size, mapped)
            if registry.failure is not None:
                refused.append(registry.failure.to_dict())
            facts[actor_id] = _revocation(store, actor_record(data), pinned)
            served = {str(k["key_id"]): str(k["public_key"]) for k in data["keys"]}
        except NotFoundError:
            continue  # judged without facts (an actor the log does not know)
        except (KeyError, TypeError, ValueError, ArithmeticError):
            continue  # a malformed answer: no facts, no keys (its entries fail to verify)
        keys.update(served)
        owned[actor_id] = [str(k["public_key"]) for k in data["keys"] if _label_key(k)]
        records.update(key_records(actor_id, data))
    return keys, facts, owned, records


def _checkpoint_facts(text: object) -> tuple[int, bool]:
    """The served checkpoint's size and whether it signs a map root (0, False when it does
    not parse: verify_unit_view then refuses the view)."""
    from ledger.errors import LedgerError
    from ledger.map.commit import root_of
    from ledger.note.checkpoint import Checkpoint
    from ledger.note.signednote import Note

    try:
        checkpoint = Checkpoint.from_body(Note.from_bytes(str(text)).text)
        return checkpoint.size, root_of(checkpoint.extensions) is not None
    except (LedgerError, ValueError):
        return 0, False


def _recipients(view: dict[str, Any]) -> set[str]:
    """The actors the unit was handed or returned to (``to``), read from the leaves."""
    out = set()
    for item in view.get("entries") or []:
        event = _leaf_event(item)
        if event is not None and getattr(event, "to", None):
            out.add(str(event.to))
    return out


def _leaf_event(item: dict[str, Any]) -> Any:
    """The event in a served entry's leaf, or None when the leaf does not decode."""
    from ledger import codec
    from ledger import entry as ledger_entry
    from ledger.errors import LedgerError

    try:
        return ledger_entry.Leaf.from_bytes(codec.b64url_decode(item["leaf"])).signed.event
    except (LedgerError, KeyError, TypeError, ValueError, ArithmeticError):
        return None


def _shown(entry: dict[str, Any]) -> dict[str, Any]:
    """What to show of a served entry: read from its leaf, the bytes that were checked.

    The served ``event`` object is a convenience copy that no proof covers: a server
    could put any place or actor there beside an honest leaf. When the leaf does not
    decode, the verdict is already ``invalid`` and the served copy is shown (escaped).
    """
    from ledger import codec
    from ledger import entry as ledger_entry
    from ledger.errors import LedgerError

    try:
        event = ledger_entry.Leaf.from_bytes(codec.b64url_decode(entry["leaf"])).signed.event
    except (LedgerError, KeyError, TypeError, ValueError, ArithmeticError):
        served = entry.get("event") or {}
        return {k: served.get(k) for k in ("kind", "actor", "time", "place")}
    return {
        "kind": event.kind,
        "actor": event.actor,
        "time": event.time,
        "place": getattr(event, "place", None),
    }


@app.command()
def verify(
    unit: str = typer.Argument(None, help="GTIN/SERIAL or a scanned label URL"),
    log_key: str = typer.Option(
        None,
        "--log-key",
        help="the log's verifier key to pin (default: PROVENANCE_LOG_KEY, else ask the log)",
    ),
    proof: Path = typer.Option(
        None, "--proof", help="check a downloaded offline proof file, with no network"
    ),
    witness: list[str] = typer.Option(
        None,
        "--witness",
        help="a witness verifier key to trust (repeatable); then only its cosignatures "
        "date the checkpoint",
    ),
    min_witnesses: int = typer.Option(
        0, "--min-witnesses", min=0, help="with --proof: cosignatures required"
    ),
    max_age: str = typer.Option(
        "10m", "--max-age", help="refuse a checkpoint dated longer ago than this (s, m, h)"
    ),
    at: str = typer.Option(
        None, "--at", help="judge the checkpoint's age as of this RFC 3339 UTC time, not now"
    ),
) -> None:
    """Show a unit's verdict and chain, checking every proof and signature locally."""
    # The verifier (events, rules, notes, cryptography: ~0.1 s of imports) loads once the
    # view has arrived: an unreachable server or an unknown unit is said at once.
    from ledger.verify.maxage import parse_max_age

    limit = parse_max_age(max_age)
    if at is None:
        now = int(time.time())
    else:
        from ledger.verify.freshness import parse_at

        now = parse_at(at)
    if proof is not None:
        from cli.verify_proof import verify_proof_file

        verify_proof_file(proof, log_key, witness or [], min_witnesses, now, limit)
        return
    if unit is None:
        raise UsageError("name a unit (GTIN/SERIAL or a URL), or give --proof FILE")
    unit_id, signature = parse_unit(unit)
    scanned = _scanned(unit)
    store = connect()
    try:
        view = store.unit(unit_id.gtin, unit_id.serial, signature)
        from ledger.verify.unitview import verify_unit_view

        pinned = (log_key or os.environ.get("PROVENANCE_LOG_KEY") or "").strip()
        pinned = pinned or store.verifier_key()
        refused: list[dict[str, Any]] = []
        keys, facts, owned, records = _facts(store, view, pinned, refused)
        brand = _brand(view)
        checked = verify_unit_view(
            view,
            pinned,
            keys,
            facts,
            signature,
            owned.get(brand, []) if brand else [],
            records,
            unit=unit_id,
            scanned=scanned,
            now=now,
            max_age=limit,
            witness_keys=witness or [],
        )
    finally:
        store.close()
    verdict, reasons = checked.verdict, checked.reasons
    if refused and not checked.failures:  # an actor's facts are not its whole registry
        verdict, reasons = "invalid", refused
    shown = [(e["index"], _shown(e)) for e in view["entries"]]
    report = {
        "unit": f"{unit_id.gtin}/{unit_id.serial}",
        "verdict": verdict,
        "reasons": reasons,
        "checked_locally": checked.checked,
        "complete_at": checked.complete_at,
        "checkpoint_time": None if checked.fresh is None else checked.fresh.time,
        "checkpoint_age": None if checked.fresh is None else checked.fresh.age,
        "dated_by": None if checked.fresh is None else checked.fresh.source,
        "self_dated": None if checked.fresh is None else checked.fresh.self_dated,
        "served_verdict": checked.served_verdict,
        "disagreement": checked.disagreement,
        "hints": list(checked.hints),
        "versions": None
        if checked.switch is None
        else {"format_from": checked.switch.format_from, "rules_from": checked.switch.rules_from},
        "entries": [
            {"index": index, "kind": e["kind"], "actor": e["actor"], "time": e["time"]}
            for index, e in shown
        ],
    }
    from rich.table import Table

    from cli.verify_proof import dated_line

    table = Table(title=safe(f"{unit_id.gtin}/{unit_id.serial}"))
    for column in ("index", "event", "by", "time", "place"):
        table.add_column(column)
    for index, e in shown:
        table.add_row(
            str(index),
            safe(e["kind"]),
            safe(e["actor"]),
            safe(e["time"]),
            safe(e["place"] or ""),
        )
    headline = f"[bold {_COLOURS[verdict]}]{verdict.upper()}[/] " + "; ".join(
        safe(r["message"]) for r in reasons
    )
    said = [f"[bold red]{safe(checked.disagreement)}[/]"] if checked.disagreement else []
    hinted = [
        safe(f"hint from the server (not in the log): {h['code']}: {h['message']}")
        for h in checked.hints
    ]
    emit(
        report,
        headline,
        *said,
        table,
        f"{checked.checked} entries: every proof and signature checked on this machine; "
        "the verdict computed here from the proven chain",
        f"the log's map of heads proves this is the whole chain at size {checked.complete_at}"
        if checked.complete_at is not None
        else "completeness not proven: the log's checkpoint commits to no map of heads",
        *dated_line(checked.fresh),
        *_rule_sets(checked.switch),
        *hinted,
    )
    if verdict in ("unknown", "invalid") or checked.disagreement:
        raise typer.Exit(1)


def _rule_sets(switch: Switch | None) -> list[str]:
    """One line: which rule set judged which entries, as the log's proven entries say."""
    if switch is None:
        return []
    since = switch.rules_from
    said = (
        "rule set 1 throughout"
        if since is None
        else "rule set 2 throughout"
        if since == 0
        else f"rule set 1 before index {since}, rule set 2 from it"
    )
    return [f"{said} (the log's genesis and log.upgrade entries, proven)"]


def _brand(view: dict[str, Any]) -> str | None:
    """The unit's brand: the signer of its first entry (the commission), from the leaf."""
    entries = view.get("entries") or []
    event = _leaf_event(entries[0]) if entries else None
    return None if event is None else str(event.actor)


def _revocation(store: Backend, record: ActorRecord, pinned: str) -> ActorRecord:
    """``record`` with its revocation's ``since`` read from the proven ``actor.revoke``
    entry at its ``revoked_index`` (the served actor JSON does not carry it). A revocation
    that does not prove out keeps ``since`` unknown: every handling is then distrusted."""
    from dataclasses import replace

    from ledger import codec, merkle, note
    from ledger.entry import Leaf
    from ledger.errors import LedgerError
    from ledger.events import ActorRevoke

    if record.revoked_index is None:
        return record
    try:
        data = store.entry(record.revoked_index)
        checkpoint = note.verify_checkpoint(str(data["checkpoint"]), pinned)
        (item,) = data["entries"]
        leaf = codec.b64url_decode(str(item["leaf"]), field="leaf")
        proof = [codec.b64url_decode(str(h), field="proof") for h in item["proof"]]
        merkle.verify_inclusion(
            merkle.leaf_hash(leaf), record.revoked_index, checkpoint.size, proof, checkpoint.root
        )
        event = Leaf.from_bytes(leaf).signed.event
    except (LedgerError, KeyError, TypeError, ValueError, ArithmeticError):
        return replace(record, revoked_since=None)
    if not isinstance(event, ActorRevoke) or event.subject != record.id:
        return replace(record, revoked_since=None)
    return replace(record, revoked_since=event.since)
