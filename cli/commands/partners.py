"""A partner's view of its own goods: ``inbox`` (what is on its way to me), ``holdings``
(what I hold, by product and lot), and ``actor list`` (who the others are, to find a
recipient's id); composed by cli.main (``actor list`` joins the ``actor`` group).

On a server the inbox and holdings are signed requests with the actor's key (only it or
an operator may see them); on the operator's own database they are read directly.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import typer

from cli.backends import KeyLoader, connect
from cli.common import OPTIONS, emit, load_actor_key, safe

app = typer.Typer()

_AS = typer.Option(..., "--as", help="your actor id (requests to a server are signed as it)")
_KEY = typer.Option(None, "--key", help="key file (default: $PROVENANCE_HOME/keys/<actor>.pem)")


def _signer(actor: str, key: Path | None) -> KeyLoader:
    return lambda: load_actor_key(key, actor)


@app.command()
def inbox(as_: str = _AS, key: Path = _KEY) -> None:
    """What is handed or returned to you and not yet received, with its sender."""
    store = connect(partner=True)
    try:
        units = store.inbox(as_, _signer(as_, key))
    finally:
        store.close()
    lines = [
        safe(f"{u['gtin']}/{u['serial']}  lot {u['lot'] or '-'}  from {u['counterpart']}")
        for u in units
    ]
    total = f"{len(units)} unit(s) on their way to {as_}" + (
        ": receive them with `provenance receive`" if units else ""
    )
    emit({"actor": as_, "units": units}, *lines, safe(total))


@app.command()
def holdings(as_: str = _AS, key: Path = _KEY) -> None:
    """What you hold, by product and lot (``--json``: one item per unit)."""
    store = connect(partner=True)
    try:
        units = store.holdings(as_, _signer(as_, key))
    finally:
        store.close()
    by_lot = Counter((u["gtin"], u["lot"] or "-") for u in units)
    outgoing = [u for u in units if u["counterpart"]]
    lines = [safe(f"{gtin}  lot {lot}  {n} unit(s)") for (gtin, lot), n in sorted(by_lot.items())]
    lines += [
        safe(f"{u['gtin']}/{u['serial']}  on its way to {u['counterpart']}") for u in outgoing
    ]
    emit(
        {"actor": as_, "units": [_holding(u) for u in units]},
        *lines,
        safe(f"{as_} holds {len(units)} unit(s)"),
    )


def _holding(unit: dict[str, Any]) -> dict[str, Any]:
    """A unit of ``holdings --json``: gtin, serial, lot, expiry, the recipient of an open
    transfer (``pending``), its latest index and the container it is packed in."""
    return {
        "gtin": unit["gtin"],
        "serial": unit["serial"],
        "lot": unit["lot"],
        "expiry": unit["expiry"],
        "pending": unit["counterpart"],
        "index": unit["index"],
        "container": unit.get("container"),  # a server from before cartons: absent
    }


def actor_list(
    role: str = typer.Option(
        None, "--role", help="only this role: brand, warehouse, courier, retailer, ..."
    ),
) -> None:
    """The registered actors, to find a recipient's id for ``handoff --to``."""
    store = connect(partner=True)
    try:
        actors = store.actors(role)
    finally:
        store.close()
    if OPTIONS.json:
        emit({"actors": actors})
        return
    from rich.table import Table

    table = Table("id", "role", "name", "revoked", box=None, pad_edge=False)
    for a in actors:
        table.add_row(
            safe(a["id"]), safe(a["role"]), safe(a["name"]), "yes" if a["revoked"] else ""
        )
    emit({"actors": actors}, table)


_LOG_KEY = typer.Option(
    None,
    "--log-key",
    help="the log's verifier key to pin (default: PROVENANCE_LOG_KEY, else ask the log)",
)


@app.command()
def authorized(
    brand: str = typer.Argument(..., help="the brand's actor id"),
    partner: str = typer.Argument(..., help="the partner (seller) id"),
    gtin: str = typer.Option(None, "--gtin", help="the GTIN to be sold (default: any)"),
    at: str = typer.Option(None, "--at", help="RFC 3339 UTC time (default: now)"),
    log_key: str = _LOG_KEY,
) -> None:
    """Is PARTNER authorized by BRAND (for a GTIN, at a time)? Checked here, offline,
    from the grant's entries and proofs; exit 0 only when authorized."""
    _check(brand, partner, gtin, at, log_key)


@app.command("seller-check")
def seller_check(
    brand: str = typer.Option(..., "--brand", help="the brand's actor id"),
    seller: str = typer.Option(..., "--seller", help="the seller's actor id"),
    gtin: str = typer.Option(None, "--gtin", help="the GTIN to be listed (default: any)"),
    log_key: str = _LOG_KEY,
) -> None:
    """A marketplace's onboarding check: authorized, not authorized (expired, not yet
    valid, never) or revoked, with dates; exit 0 only when authorized."""
    _check(brand, seller, gtin, None, log_key)


def _check(brand: str, partner: str, gtin: str | None, at: str | None, log_key: str | None) -> None:
    """Fetch the answer, verify it offline, print the proven status."""
    import os

    from ledger.verify.authorization import verify_answer

    store = connect(partner=True)
    try:
        answer = store.authorization(brand, partner, gtin, at)
        pinned = (log_key or os.environ.get("PROVENANCE_LOG_KEY") or "").strip()
        check = verify_answer(answer, pinned or store.verifier_key())
    finally:
        store.close()
    scope = f" for GTIN {gtin}" if gtin else ""
    words = {
        "authorized": f"authorized from {check.not_before} until {check.not_after}",
        "expired": f"not authorized: the authorization expired at {check.not_after}",
        "not-yet-valid": f"not authorized yet: valid from {check.not_before}",
        "revoked": f"not authorized: revoked at {check.revoked_at}",
        "never-authorized": "not authorized: no authorization in the log",
    }
    line = f"{partner} by {brand}{scope} at {answer['at']}: {words[check.status]}"
    proof = f"(proven in the checkpoint of size {check.size})" if check.authorization else ""
    emit({**answer, "verified": True}, safe(f"{line} {proof}".strip()))
    if not check.authorized:
        raise typer.Exit(1)
