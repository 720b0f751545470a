"""The console's service: staff accounts and the login lockout, sessions, roles, the
console key (its scope enforced by the rules), confirming a report, a lot recall."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from ledger import crypto, entry
from ledger.errors import ConflictError, LedgerError, NotFoundError, ValidationError
from ledger.events import event_from_dict, format_time
from ledger.reqsig import ForbiddenError
from ledger.rules.errors import KeyOutOfScopeError
from ledger.service.console import ConsoleService
from ledger.service.console_auth import MAX_FAILURES, AccountLockedError, LoginError
from ledger.service.console_keys import CONSOLE_SCOPE
from tests.factories import GTIN, key, public_b64
from tests.integration.signals_world import SignalWorld


@pytest.fixture
def sw(db_url: str) -> Iterator[SignalWorld]:
    world = SignalWorld.open(db_url)
    # the console's tables are per database, and a PostgreSQL schema serves the session
    with world.ledger.store.engines.writer.begin() as conn:
        for table in ("console_users", "console_sessions", "console_triage", "console_keys"):
            conn.execute(text(f"DELETE FROM {table}"))
    world.sign(
        1, "actor.register", "operator", subject="rival", role="brand", name="Rival",
        keys=[public_b64(8)], prefixes=["9506001"],
    )  # fmt: skip
    for n in range(1, 4):
        world.sign(
            2, "commission", "acme", unit={"gtin": GTIN, "serial": f"L-{n}"}, prev=None, lot="L7"
        )
    world.mint("SN-1")
    yield world
    world.ledger.close()


@pytest.fixture
def console(sw: SignalWorld) -> ConsoleService:
    return ConsoleService(sw.ledger)


def login(console: ConsoleService, org: str, user: str, role: str):  # type: ignore[no-untyped-def]
    password = console.staff.add_user(org, user, role)
    return console.staff.login(user, password)[0]


def test_users_are_checked_hashed_and_sign_in_with_a_session(console: ConsoleService) -> None:
    # the session's PostgreSQL schema holds other tests' "acme" staff rows: read only newer
    before = max((int(r["id"]) for r in console.staff.audit_trail("acme")), default=0)
    password = console.staff.add_user("acme", "acme-admin", "admin")
    assert len(password) >= 16
    stored = console.staff.users("acme")[0]
    assert "password_hash" not in stored and stored["role"] == "admin"
    for org, user, role, field in [
        ("acme", "x-1", "onboarding", "role"),  # an operator's role, not a brand's
        ("nobody", "x-2", "admin", "org"),
        ("acme", "Bad Name", "admin", "username"),
    ]:
        with pytest.raises(ValidationError) as refused:
            console.staff.add_user(org, user, role)
        assert refused.value.field == field
    with pytest.raises(ConflictError):
        console.staff.add_user("acme", "acme-admin", "analyst")
    staff, token = console.staff.login("acme-admin", password)
    assert (staff.org, staff.kind, staff.role) == ("acme", "brand", "admin")
    assert console.staff.staff(token) == staff
    assert console.staff.staff(token + "x") is None
    console.staff.logout(staff)
    assert console.staff.staff(token) is None
    actions = [r["action"] for r in console.staff.audit_trail("acme") if int(r["id"]) > before]
    assert actions == ["logout", "login"]


def test_ten_wrong_passwords_lock_the_account_even_against_the_right_one(
    sw: SignalWorld, console: ConsoleService
) -> None:
    password = console.staff.add_user("acme", "acme-triager", "triager")
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(LoginError):
            console.staff.login("acme-triager", "wrong")
    with pytest.raises(AccountLockedError):
        console.staff.login("acme-triager", "wrong")
    with pytest.raises(AccountLockedError) as locked:
        console.staff.login("acme-triager", password)
    assert locked.value.retry_after > 0
    sw.clock.advance(minutes=16)
    assert console.staff.login("acme-triager", password)[0].username == "acme-triager"
    with pytest.raises(LoginError):  # an unknown user: the same answer
        console.staff.login("nobody", "x")


def test_a_session_expires(sw: SignalWorld, console: ConsoleService) -> None:
    password = console.staff.add_user("operator", "operator-admin", "admin")
    staff, token = console.staff.login("operator-admin", password)
    assert staff.operator and console.brands_of(staff) == ["acme", "rival"]
    sw.clock.advance(hours=8, seconds=1)
    assert console.staff.staff(token) is None


def test_the_console_key_flags_and_recalls_a_lot_but_cannot_mint_or_rotate(
    sw: SignalWorld, console: ConsoleService
) -> None:
    admin = login(console, "acme", "acme-admin", "admin")
    with pytest.raises(NotFoundError):  # no key delegated yet
        console.flag_unit(admin, GTIN, "SN-1", None)
    key_id = console.keys.delegate_key("acme", key(2))
    view = sw.ledger.actor_view("acme")
    scoped = [k for k in view["keys"] if k["key_id"] == key_id]
    assert scoped and tuple(scoped[0]["scope"]) == CONSOLE_SCOPE

    index = console.flag_unit(admin, GTIN, "SN-1", "seen on a market stall")
    flagged = entry.Leaf.from_bytes(sw.ledger.entry(index).leaf).signed
    assert flagged.key == key_id and flagged.event.actor == "acme"

    recalled = console.recall_lot(admin, GTIN, "L7", "faulty adhesive")
    assert recalled == ["L-1", "L-2", "L-3"]
    assert all(sw.ledger.state().units[(GTIN, s)].recalled for s in recalled)
    with pytest.raises(NotFoundError):  # nothing left to recall in that lot
        console.recall_lot(admin, GTIN, "L7", "again")

    # The same key, used directly: the rules refuse a commission and a key rotation.
    signer = console.keys.signer("acme")
    size = sw.ledger.head().size
    for kind, fields in [
        ("commission", {"unit": {"gtin": GTIN, "serial": "FAKE-1"}, "prev": None}),
        ("key.rotate", {"subject": "acme", "add": [public_b64(9)], "remove": []}),
        ("product.register", {"gtin": "09506000134369", "name": "Fake"}),
    ]:
        event = event_from_dict(
            {"kind": kind, "actor": "acme", "time": format_time(sw.clock.now), **fields}
        )
        with pytest.raises(KeyOutOfScopeError):
            sw.ledger.append(entry.sign_event(event, signer, log=sw.ledger.origin))
    assert sw.ledger.head().size == size
    assert crypto.key_id(signer.public_key()) == key_id


def test_roles_and_brands_are_enforced(sw: SignalWorld, console: ConsoleService) -> None:
    console.keys.delegate_key("acme", key(2))
    analyst = login(console, "acme", "acme-analyst", "analyst")
    rival = login(console, "rival", "rival-admin", "admin")
    size = sw.ledger.head().size
    with pytest.raises(ForbiddenError):
        console.recall_lot(analyst, GTIN, "L7", "no")
    with pytest.raises(ForbiddenError):
        console.flag_unit(analyst, GTIN, "SN-1", None)
    with pytest.raises(ForbiddenError):  # another brand's unit
        console.unit(rival, GTIN, "SN-1")
    with pytest.raises(ForbiddenError):
        console.flag_unit(rival, GTIN, "SN-1", None)
    assert console.search_units(rival, "SN-1") == []
    assert [u["serial"] for u in console.search_units(analyst, "L7")] == ["L-1", "L-2", "L-3"]
    assert sw.ledger.head().size == size


def test_a_report_is_triaged_to_confirmed_with_a_flag_by_the_console_key(
    sw: SignalWorld, console: ConsoleService
) -> None:
    key_id = console.keys.delegate_key("acme", key(2))
    filed = sw.ledger.reports.report(GTIN, "SN-1", "counterfeit", text="<b>x</b>", client="c1")
    triager = login(console, "acme", "acme-triager", "triager")
    rival = login(console, "rival", "rival-admin", "admin")
    alert_id = f"report:{filed['id']}"
    assert console.alert(triager, alert_id)["status"] == "new"
    with pytest.raises(NotFoundError):
        console.alert(rival, alert_id)
    with pytest.raises(ForbiddenError):
        console.report(rival, int(filed["id"]))
    sw.clock.advance(minutes=5)
    acked = console.triage(triager, alert_id, "acknowledge", note="looking")
    assert acked["status"] == "acknowledged" and acked["response_seconds"] == 300
    assigned = console.triage(triager, alert_id, "assign", assignee="acme-triager")
    assert (assigned["status"], assigned["assignee"]) == ("assigned", "acme-triager")
    with pytest.raises(ValidationError):
        console.triage(triager, alert_id, "assign", assignee="rival-admin")
    confirmed = console.triage(triager, alert_id, "confirm", note="fake sole")
    assert confirmed["status"] == "confirmed" and not confirmed["open"]
    flag = entry.Leaf.from_bytes(sw.ledger.entry(confirmed["flag_index"]).leaf).signed
    assert (flag.event.kind, flag.key) == ("flag", key_id)
    with pytest.raises(ConflictError):
        console.triage(triager, alert_id, "close")
    assert console.overview(triager)["open_reports"] == 0


def test_a_clone_signal_is_an_alert_with_its_evidence(
    sw: SignalWorld, console: ConsoleService
) -> None:
    sw.scan("SN-1", "CN-SH", "a")
    sw.clock.advance(minutes=60)
    sw.scan("SN-1", "US", "b")
    admin = login(console, "acme", "acme-admin", "admin")
    alerts = [a for a in console.alerts(admin) if a["source"] == "signal"]
    assert alerts and alerts[0]["code"] == "impossible-travel"
    assert alerts[0]["evidence"]["km"] > 1000 and alerts[0]["status"] == "new"
    closed = console.triage(admin, alerts[0]["id"], "close", note="our own test scans")
    assert closed["status"] == "closed"
    assert console.overview(admin)["open_alerts"] == 0


def test_the_brand_revokes_its_console_key_and_the_console_can_sign_nothing(
    sw: SignalWorld, console: ConsoleService
) -> None:
    admin = login(console, "acme", "acme-admin", "admin")
    key_id = console.keys.delegate_key("acme", key(2))
    head = sw.ledger.state().units[(GTIN, "SN-1")].head
    removal = event_from_dict(
        {"kind": "key.rotate", "actor": "acme", "time": format_time(sw.clock.now),
         "subject": "acme", "add": [], "remove": [key_id]}
    )  # fmt: skip
    sw.ledger.append(entry.sign_event(removal, key(2), log=sw.ledger.origin))
    size = sw.ledger.head().size
    with pytest.raises(LedgerError):
        console.flag_unit(admin, GTIN, "SN-1", None)
    assert sw.ledger.head().size == size
    assert sw.ledger.state().units[(GTIN, "SN-1")].head == head


def test_a_confirmed_clone_signal_is_a_flag_and_the_audit_trail_keeps_it(
    sw: SignalWorld, console: ConsoleService
) -> None:
    key_id = console.keys.delegate_key("acme", key(2))
    sw.scan("SN-1", "CN-SH", "a")
    sw.clock.advance(minutes=60)
    sw.scan("SN-1", "US", "b")
    admin = login(console, "acme", "acme-admin", "admin")
    analyst = login(console, "acme", "acme-analyst", "analyst")
    alert = next(a for a in console.alerts(admin) if a["source"] == "signal")
    with pytest.raises(ForbiddenError):
        console.triage(analyst, alert["id"], "acknowledge")
    done = console.triage(admin, alert["id"], "confirm", note="two countries")
    assert done["status"] == "confirmed"
    flag = entry.Leaf.from_bytes(sw.ledger.entry(done["flag_index"]).leaf).signed
    assert (flag.event.kind, flag.key) == ("flag", key_id)
    assert console.alerts(admin, status="confirmed")[0]["id"] == alert["id"]
    trail = console.audit_trail(admin)
    assert trail[0]["action"] == "confirm" and trail[0]["detail"] == "two countries"
    with pytest.raises(ForbiddenError):
        console.audit_trail(analyst)


def test_partners_are_the_brands_authorizations(sw: SignalWorld, console: ConsoleService) -> None:
    sw.sign(
        1, "actor.register", "operator", subject="ship-co", role="courier", name="Ship Co",
        keys=[public_b64(3)],
    )  # fmt: skip
    sw.sign(
        2, "authorize", "acme", partner="ship-co", role="courier", gtins=[], prefixes=["9506000"],
        not_before="2026-01-01T00:00:00Z", not_after="2099-01-01T00:00:00Z",
    )  # fmt: skip
    admin = login(console, "acme", "acme-admin", "admin")
    rival = login(console, "rival", "rival-admin", "admin")
    [found] = console.partners(admin)
    assert (found["partner"], found["scope"], found["state"]) == ("ship-co", "9506000", "active")
    assert console.partners(rival) == []
