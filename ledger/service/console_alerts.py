"""The console's alerts (docs/CONSOLE.md): a clone signal or a consumer
report as one row of the alert queue, with its triage state (console data, not log
entries)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.vocab import ReportStatus


def signal_alert(
    brand: str, signal: dict[str, Any] | Any, triage: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The console's alert of a clone signal of ``brand``'s (its id names the unit and the
    signal's code), with its triage state from ``triage`` (by alert id; none: new)."""
    signal = dict(signal)
    unit = signal.get("unit")
    where = f"{unit['gtin']}/{unit['serial']}" if unit else "-"
    alert_id = f"signal:{where}/{signal['code']}"[:128]
    row = triage.get(alert_id, {})
    status = row.get("status", "new")
    evidence = dict(signal.get("evidence") or {})
    start = evidence.get("from") or evidence.get("first") or ""
    first_seen = str(start.get("at", "") if isinstance(start, dict) else start)
    return {
        "id": alert_id,
        "source": "signal",
        "brand": brand,
        "code": signal["code"],
        "unit": unit,
        "evidence": evidence,
        "status": status,
        "open": status not in ("closed", "confirmed"),
        "assignee": row.get("assignee"),
        "note": row.get("note"),
        "flag_index": row.get("flag_index"),
        "created_at": first_seen,
        "first_action_at": row.get("first_action_at"),
        "response_seconds": None,
        "report_id": None,
        "sort": first_seen,
    }


def report_alert(
    brand: str, report: dict[str, Any], triage: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The console's alert of a consumer report: its status follows the report's own
    (flagged: confirmed; closed: closed), else the triage state in ``triage``; with the
    time from the report to its first response."""
    alert_id = f"report:{report['id']}"
    row = triage.get(alert_id, {})
    stored = report["status"]
    if stored == ReportStatus.FLAGGED:
        status = "confirmed"
    elif stored == ReportStatus.CLOSED:
        status = "closed"
    else:
        status = row.get("status") or ("acknowledged" if report["first_response_at"] else "new")
        if status in ("closed", "confirmed"):  # the report itself is still open
            status = "acknowledged"
    unit = report.get("unit") or {"gtin": report["gtin"], "serial": report["serial"]}
    first = report["first_response_at"]
    seconds = None
    if first:
        seconds = int(
            (
                datetime.fromisoformat(first) - datetime.fromisoformat(report["created_at"])
            ).total_seconds()
        )
    return {
        "id": alert_id,
        "source": "report",
        "brand": report.get("brand") or brand,
        "code": report["reason"],
        "unit": {"gtin": unit["gtin"], "serial": unit["serial"]},
        "evidence": {"text": report.get("text"), "photo": bool(report.get("photo"))},
        "status": status,
        "open": status not in ("closed", "confirmed"),
        "assignee": row.get("assignee"),
        "note": row.get("note") or report.get("note"),
        "flag_index": report.get("flag_index"),
        "created_at": report["created_at"],
        "first_action_at": first,
        "response_seconds": seconds,
        "report_id": int(report["id"]),
        "sort": report["created_at"],
    }
