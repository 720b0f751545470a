"""Consumer reports, their triage (ack, close, flag), response times; the blacklist."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta

import pytest
from PIL import Image

from ledger import entry
from ledger.errors import ConflictError, ValidationError
from ledger.events import event_from_dict, format_time
from ledger.reqsig import ForbiddenError
from ledger.rules.state import ActorRecord
from ledger.service.reports import MAX_PHOTO
from tests.factories import GTIN, key, public_b64
from tests.integration.signals_world import SignalWorld


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(out, "PNG")
    return out.getvalue()


PNG = _png()


@pytest.fixture
def sw(db_url: str) -> Iterator[SignalWorld]:
    world = SignalWorld.open(db_url)
    yield world
    world.ledger.close()


def actor(sw: SignalWorld, actor_id: str) -> ActorRecord:
    return sw.ledger.state().actors[actor_id]


def flag_event(sw: SignalWorld, serial: str, seed: int = 2, by: str = "acme") -> entry.SignedEvent:
    head = sw.ledger.state().units[(GTIN, serial)].head
    event = event_from_dict(
        {
            "kind": "flag",
            "actor": by,
            "time": format_time(sw.clock.now),
            "unit": {"gtin": GTIN, "serial": serial},
            "prev": head,
            "code": "counterfeit-reported",
        }
    )
    return entry.sign_event(event, key(seed), log=sw.ledger.origin)


def test_an_open_report_cautions_until_closed_and_the_response_time_is_kept(
    sw: SignalWorld,
) -> None:
    sw.mint("SN-1")
    report = sw.ledger.reports.report(
        GTIN, "SN-1", "counterfeit", text="stitching wrong", client="c", network="n1"
    )
    assert report["brand"] == "acme"
    view = sw.view("SN-1")  # one report alone is a note (ledger.signals.reports)
    assert view["verdict"] == "genuine"
    assert sw.codes_of(view) == ["report-under-review", "verified"]
    sw.clock.advance(days=1)  # independent reporters agree: two more networks, a second day
    for n in (2, 3):
        sw.ledger.reports.report(GTIN, "SN-1", "counterfeit", client=f"c{n}", network=f"n{n}")
    view = sw.view("SN-1")
    assert view["verdict"] == "caution" and sw.codes_of(view) == ["reported"]
    assert view["reasons"][0]["evidence"]["networks"] == 3
    sw.clock.advance(hours=2)
    acked = sw.ledger.reports.resolve_report(report["id"], by=actor(sw, "acme"), action="ack")
    assert acked["status"] == "open" and acked["first_response_at"]
    assert sw.view("SN-1")["verdict"] == "caution"  # acknowledged, still open
    sw.clock.advance(hours=1)
    closed = sw.ledger.reports.resolve_report(report["id"], by=actor(sw, "acme"), action="close")
    assert closed["status"] == "closed"
    assert sw.view("SN-1")["verdict"] == "genuine"  # two open reports left: under review
    alerts = sw.ledger.reports.alerts("acme")
    assert alerts["response"] == {
        "open": 2,
        "answered": 1,
        "median_seconds": 93600,  # filed a day before the other two, acked 2 h after them
        "max_seconds": 93600,
    }
    with pytest.raises(ConflictError):
        sw.ledger.reports.resolve_report(report["id"], by=actor(sw, "acme"), action="close")


def test_flagging_a_report_appends_the_brands_signed_flag(sw: SignalWorld) -> None:
    sw.mint("SN-1")
    report = sw.ledger.reports.report(GTIN, "SN-1", "label-mismatch", photo=PNG, client="c")
    with pytest.raises(ValidationError):
        sw.ledger.reports.resolve_report(report["id"], by=actor(sw, "acme"), action="flag")
    flagged = sw.ledger.reports.resolve_report(
        report["id"], by=actor(sw, "acme"), action="flag", flag=flag_event(sw, "SN-1")
    )
    assert flagged["status"] == "flagged" and flagged["flag_index"] > 0
    view = sw.view("SN-1")
    assert sw.codes_of(view) == ["flagged"]
    assert sw.ledger.reports.alerts("acme")["reports"][0]["photo"] is True


def test_only_the_brand_or_an_operator_answers(sw: SignalWorld) -> None:
    sw.sign(
        1,
        "actor.register",
        "operator",
        subject="rival",
        role="brand",
        name="Rival",
        keys=[public_b64(8)],
        prefixes=["9506001"],
    )
    sw.mint("SN-1")
    report = sw.ledger.reports.report(GTIN, "SN-1", "other", client="c")
    with pytest.raises(ForbiddenError):
        sw.ledger.reports.resolve_report(report["id"], by=actor(sw, "rival"), action="close")
    done = sw.ledger.reports.resolve_report(report["id"], by=actor(sw, "operator"), action="close")
    assert done["resolved_by"] == "operator"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"reason": "because"}, "reason"),
        ({"text": "x" * 2001}, "text"),
        ({"photo": b"GIF89a"}, "photo"),
        ({"photo": b"\xff\xd8\xff" + b"\0" * MAX_PHOTO}, "photo"),
    ],
)
def test_malformed_reports_are_refused(sw: SignalWorld, fields: dict, field: str) -> None:
    args = {"reason": "counterfeit", **fields}
    with pytest.raises(ValidationError) as error:
        sw.ledger.reports.report(GTIN, "SN-1", args.pop("reason"), client="c", **args)
    assert error.value.field == field


def test_the_blacklist_cautions_units_held_or_handled_after_since(sw: SignalWorld) -> None:
    sw.sign(
        1, "actor.register", "operator", subject="ship", role="courier", name="Ship",
        keys=[public_b64(4)],
    )  # fmt: skip
    sw.sign(
        2, "authorize", "acme", partner="ship", role="courier", gtins=[GTIN], prefixes=[],
        not_before="2026-01-01T00:00:00Z", not_after="2036-01-01T00:00:00Z",
    )  # fmt: skip
    since = ""
    for serial in ("EARLY", "HELD", "LATE"):
        if serial == "LATE":
            sw.clock.advance(days=2)
            since = format_time(sw.clock.now - timedelta(days=1))
        sw.mint(serial)
        head = sw.ledger.state().units[(GTIN, serial)].head
        unit = {"gtin": GTIN, "serial": serial}
        sw.sign(2, "handoff", "acme", unit=unit, prev=head, to="ship")
        head = sw.ledger.state().units[(GTIN, serial)].head
        sw.sign(4, "receive", "ship", unit=unit, prev=head)
        if serial != "HELD":
            head = sw.ledger.state().units[(GTIN, serial)].head
            sw.sign(4, "handoff", "ship", unit=unit, prev=head, to="acme")
            head = sw.ledger.state().units[(GTIN, serial)].head
            sw.sign(2, "receive", "acme", unit=unit, prev=head)
    sw.mint("CLEAN")
    sw.clock.advance(days=5)
    sw.sign(1, "actor.revoke", "operator", subject="ship", reason="relabelling", since=since)
    assert sw.view("CLEAN")["verdict"] == "genuine"
    early = sw.view("EARLY")  # handed back before `since`
    assert early["verdict"] == "genuine", early["reasons"]
    held = sw.view("HELD")
    assert held["verdict"] == "caution"
    assert sw.codes_of(held) == ["held-by-revoked"]
    assert held["reasons"][0]["evidence"] == {"actors": ["ship"]}
    late = sw.view("LATE")  # handled after `since`, handed back: still tainted
    assert (late["verdict"], sw.codes_of(late)) == ("caution", ["revoked-handler"])
    assert late["reasons"][0]["evidence"] == {"actors": ["ship"], "since": {"ship": since}}


def test_a_pending_recipient_revoked_before_it_signed_anything_still_holds_the_unit(
    sw: SignalWorld,
) -> None:
    sw.sign(
        1, "actor.register", "operator", subject="ship", role="courier", name="Ship",
        keys=[public_b64(4)],
    )  # fmt: skip
    sw.sign(
        2, "authorize", "acme", partner="ship", role="courier", gtins=[GTIN], prefixes=[],
        not_before="2026-01-01T00:00:00Z", not_after="2036-01-01T00:00:00Z",
    )  # fmt: skip
    sw.mint("PENDING")
    unit = {"gtin": GTIN, "serial": "PENDING"}
    head = sw.ledger.state().units[(GTIN, "PENDING")].head
    sw.sign(2, "handoff", "acme", unit=unit, prev=head, to="ship")  # never received
    sw.sign(1, "actor.revoke", "operator", subject="ship", reason="relabelling")
    view = sw.view("PENDING")
    assert (view["verdict"], sw.codes_of(view)) == ("caution", ["held-by-revoked"])
    assert view["reasons"][0]["evidence"] == {"actors": ["ship"]}


def test_a_revoked_handler_cannot_backdate_its_way_out_of_since(sw: SignalWorld) -> None:
    """``since`` is compared with the log's receive time, which the courier cannot set,
    not with the event's own ``time``, which it signs itself."""
    sw.sign(
        1, "actor.register", "operator", subject="ship", role="courier", name="Ship",
        keys=[public_b64(4)],
    )  # fmt: skip
    sw.sign(
        2, "authorize", "acme", partner="ship", role="courier", gtins=[GTIN], prefixes=[],
        not_before="2026-01-01T00:00:00Z", not_after="2036-01-01T00:00:00Z",
    )  # fmt: skip
    since = format_time(sw.clock.now)
    sw.clock.advance(days=1)
    backdated = format_time(sw.clock.now - timedelta(days=3))  # before `since`
    sw.mint("BACKDATED")
    unit = {"gtin": GTIN, "serial": "BACKDATED"}
    sw.sign(
        2,
        "handoff",
        "acme",
        unit=unit,
        prev=sw.ledger.state().units[(GTIN, "BACKDATED")].head,
        to="ship",
    )
    head = sw.ledger.state().units[(GTIN, "BACKDATED")].head
    sw.sign(4, "receive", "ship", unit=unit, prev=head, time=backdated)
    head = sw.ledger.state().units[(GTIN, "BACKDATED")].head
    sw.sign(4, "handoff", "ship", unit=unit, prev=head, to="acme", time=backdated)
    head = sw.ledger.state().units[(GTIN, "BACKDATED")].head
    sw.sign(2, "receive", "acme", unit=unit, prev=head)
    sw.clock.advance(days=1)
    sw.sign(1, "actor.revoke", "operator", subject="ship", reason="relabelling", since=since)
    view = sw.view("BACKDATED")
    assert (view["verdict"], sw.codes_of(view)) == ("caution", ["revoked-handler"])
