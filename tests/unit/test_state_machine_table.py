"""The unit state machine of docs/ARCHITECTURE.md section 5, tested against its one table.

The test reads the table from the document (so the document and the code cannot drift
apart), keeps a *model* of every unit that evolves only by the table's "changes" column,
and drives random custody events by random signers through the real rules
(`ledger.rules.check`). At every step the first matching row must predict the outcome:
the exact refusal code (and nothing written), or acceptance with the row's next state,
and the unit's real record must equal the model, field by field.

Signers are drawn from a cast with every role: the brand ``acme``, the ``operator``,
authorized partners (``ship-co`` courier, ``shop`` and ``shop-2`` retailers, ``insp``
inspector, ``customs``), a retailer with no authorization (``rogue``) and another brand;
authorizations are revoked and granted again on the way, so custodians and sellers
become outsiders too.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ledger import gs1
from ledger.codec import b64url_encode
from ledger.errors import RuleError
from ledger.events import parse_time
from ledger.rules.state import UnitRecord
from ledger.service.claims import owner_hash
from ledger.sscc import sscc_check_digit
from tests.profiles import examples
from tests.rules_factories import CLAIM_CODE, World, base, claim_commitment, event_hash

DOC = Path(__file__).resolve().parents[2] / "docs" / "ARCHITECTURE.md"
HEADER = "| # | state | kind | signer | to | result | changes |"

# --- the table, parsed from the document --------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One entry of the "changes" column: ``field op value`` (op is ``=`` or ``+=``)."""

    field: str
    op: str
    value: str


@dataclass(frozen=True)
class Row:
    """One row of the table: patterns per column, then the refusal or the next state."""

    number: int
    states: tuple[str, ...]
    kinds: tuple[str, ...]
    signers: tuple[str, ...]
    tos: tuple[str, ...]
    refusal: str | None
    next: str | None
    changes: tuple[Change, ...]

    def matches(self, state: str, kind: str, signer: str, to: str) -> bool:
        """Whether every column has a pattern matching the situation."""
        columns = [(self.states, state), (self.kinds, kind), (self.signers, signer), (self.tos, to)]
        return all(any(fnmatchcase(value, p) for p in pats) for pats, value in columns)


_CHANGE = re.compile(r"([a-z_]+) (=|\+=) ([a-z0-9_]+)")


def _patterns(cell: str) -> tuple[str, ...]:
    return tuple(re.findall(r"`([^`]*)`", cell)) or ("*",)


def parse_table(text: str) -> list[Row]:
    """The rows of the state machine table in ``text`` (docs/ARCHITECTURE.md), in order."""
    lines = text.splitlines()
    start = lines.index(HEADER) + 2  # the header, then the |---| line
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        number, state, kind, signer, to, result, changes = (
            c.strip() for c in line.strip().strip("|").split("|")
        )
        outcome = _patterns(result)[0]
        parsed = tuple(
            Change(*_CHANGE.fullmatch(c.strip()).groups())  # type: ignore[union-attr]
            for c in changes.split(",")
            if c.strip()
        )
        rows.append(
            Row(
                number=int(number),
                states=_patterns(state),
                kinds=_patterns(kind),
                signers=_patterns(signer),
                tos=_patterns(to),
                refusal=outcome if result.startswith("✗") else None,
                next=outcome if result.startswith("→") else None,
                changes=parsed,
            )
        )
    return rows


TABLE = parse_table(DOC.read_text(encoding="utf-8"))


def decide(state: str, kind: str, signer: str, to: str) -> Row:
    """The first row that matches: the table's verdict on this situation."""
    for row in TABLE:
        if row.matches(state, kind, signer, to):
            return row
    raise AssertionError(f"no row of the table matches {(state, kind, signer, to)}")


# --- describing a situation in the table's words ----------------------------------------------


def phase(unit: UnitRecord) -> str:
    """The state column's word for a unit, without ``+claimed``."""
    if unit.decommissioned:
        return "decommissioned"
    if unit.consumed_at is not None:
        return "consumed"
    if unit.delivered:
        return "delivered"
    if unit.pending is not None:
        return "sold_in_transit" if unit.sold else "in_transit"
    return "sold" if unit.sold else "in_stock"


def state_word(unit: UnitRecord) -> str:
    """The state column's word for a unit: its phase, ``+claimed`` when claimed,
    ``+claimed+code`` when its owner left a transfer code to open."""
    if not unit.claimed:
        return phase(unit)
    return phase(unit) + ("+claimed+code" if unit.claim_hash is not None else "+claimed")


def _authorized(world: World, actor: str, unit: UnitRecord, time: str) -> bool:
    """Section 4: an unrevoked authorization of the unit's brand covering it, in its window."""
    at = parse_time(time)
    return any(
        a.brand == unit.brand
        and a.revoked_index is None
        and (
            unit.gtin in a.gtins
            or any(gs1.company_prefix_matches(unit.gtin, p) for p in a.prefixes)
        )
        and parse_time(a.not_before) <= at <= parse_time(a.not_after)
        for a in world.state.authorizations_of(actor)
    )


def signer_word(world: World, actor: str, unit: UnitRecord, time: str) -> str:
    """The signer column's ``ties:role`` for ``actor`` on ``unit`` (the model's record)."""
    ties = []
    if actor != unit.brand and not _authorized(world, actor, unit, time):
        ties.append("outsider")
    if unit.custodian == actor:
        ties.append("custodian")
    if unit.pending == actor:
        ties.append("recipient")
    if (unit.sold or unit.delivered) and unit.seller == actor:
        ties.append("seller")
    return f"{'+'.join(ties) or 'none'}:{world.state.actors[actor].role}"


def to_word(world: World, to: str | None, actor: str, unit: UnitRecord) -> str:
    """The to column's word (``-`` for kinds without a ``to``)."""
    if to is None:
        return "-"
    if to == actor:
        return "self"
    if to in unit.holders:
        return "holder"
    return "unknown" if to not in world.state.actors else "stranger"


def apply_changes(model: UnitRecord, row: Row, actor: str, event: Any) -> UnitRecord:
    """The model's next record: ``row``'s changes, nothing else (head moves separately)."""
    values: dict[str, Any] = {
        "to": getattr(event, "to", None),
        "signer": actor,
        "none": None,
        "yes": True,
        "no": False,
        "time": event.time,
        "owner": getattr(event, "owner", None),
        "1": 1,
    }
    for change in row.changes:
        if change.field == "containers":  # packed: a container around it; unpacked: off
            around = (event.container, *model.containers)
            inside = around if change.value == "packed" else model.containers[1:]
            model = replace(model, containers=inside, container=inside[0] if inside else None)
            continue
        if change.field == "claim_hash":  # the claim's transfer commitment replaces it
            transfer = event.transfer
            model = replace(
                model,
                claim_salt=transfer.salt if transfer else None,
                claim_hash=transfer.hash if transfer else None,
            )
            continue
        current = getattr(model, change.field)
        value = values[change.value]
        if change.op == "=":
            new = value
        elif isinstance(current, tuple):
            new = current if value in current else (*current, value)
        else:
            new = current + value
        model = replace(model, **{change.field: new})
    return model


# --- the walk: shared by the Hypothesis machine and the coverage test -------------------------

SERIALS = ("SN-0001", "SN-2")
CAST = ("acme", "operator", "ship-co", "shop", "shop-2", "insp", "customs", "rogue", "other-brand")
PARTNERS = {"ship-co": "courier", "shop": "retailer", "shop-2": "retailer", "insp": "inspector"}
#: whose authorization a step revokes or grants again: a partner, or the unit's own ties
TOGGLED = (*sorted(PARTNERS), "<seller>", "<custodian>")
#: placeholders resolved against the unit, so that deep states are reached often
LIKELY = ("<custodian>", "<recipient>", "<seller>", "<holder>")
SIGNERS = (*CAST, "operator", *LIKELY, *LIKELY)
TOS = (*CAST, "nobody", "<holder>", "<holder>", "<signer>")
#: the custody path is drawn often, decommission (the end) rarely
KINDS = (
    *["handoff", "receive", "sell", "deliver", "return"] * 4,
    *["inspect", "claim", "claim", "recall", "flag"],
    "decommission",
    "consume",
    *["pack", "unpack"] * 2,
)
FIELDS: dict[str, dict[str, Any]] = {
    "inspect": {"result": "pass"},
    "recall": {"reason": "battery"},
    "flag": {"code": "seen-twice"},
    "decommission": {"reason": "destroyed"},
    "return": {"reason": "wrong size"},
}


def start() -> World:
    """The base world, another authorized retailer, an unauthorized one, a second unit."""
    world = base()
    world.register("shop-2", "retailer", 20)
    world.authorize("shop-2", "retailer")
    world.register("rogue", "retailer", 21)
    world.commission("SN-2", claim=claim_commitment())
    return world


START = start()


def token_of(n: int) -> str:
    """The owner token the ``n``-th entry's claim hands out (16 bytes, base64url)."""
    return b64url_encode(hashlib.sha256(str(n).encode()).digest()[:16])


class Walk:
    """The real rules and the table's model, stepped together."""

    def __init__(self) -> None:
        self.world = START.copy()
        self.models = {s: self.world.unit(s) for s in SERIALS}
        self.grants = 0
        self.rows: set[int] = set()
        #: the code each unit's current claim commitment opens
        self.codes = dict.fromkeys(SERIALS, CLAIM_CODE)
        #: the owner token of each claimed unit's latest claim
        self.tokens: dict[str, str] = {}
        for model in self.models.values():  # commission: section 5, before the table
            assert model.custodian == model.brand and model.holders == (model.brand,)
            assert (model.sales, model.seller, model.pending) == (0, None, None)

    def _resolve(self, choice: str, unit: UnitRecord, signer: str | None = None) -> str:
        picked = {
            "<custodian>": unit.custodian,
            "<recipient>": unit.pending,
            "<seller>": unit.seller,
            "<holder>": unit.holders[-1],
            "<signer>": signer,
        }.get(choice, choice)
        return picked or unit.brand

    def step(self, serial: str, kind: str, signer: str, to: str, transfer: bool = False) -> Row:
        """Sign one event, check it against the table's row; return the row.

        A claim carries the code the unit's commitment opens and, with ``transfer``, a
        new transfer code for a resale."""
        world, model = self.world, self.models[serial]
        actor = self._resolve(signer, model)
        fields = dict(FIELDS.get(kind, {}))
        if kind == "unpack" and model.container is None:
            kind = "pack"  # the nesting refusals are tests/unit/test_containers.py's
        if kind == "pack":  # a new container around whatever the unit is in
            body = f"0{len(world.log):016d}"
            fields["container"] = body + str(sscc_check_digit(body))
            if model.container is not None:
                fields["inner"] = model.container
        elif kind == "unpack":
            fields["container"] = model.container
        if kind in ("handoff", "return"):
            fields["to"] = self._resolve(to, model, actor)
        code = f"RESALE-{len(world.log):06d}-CODE"
        if kind == "claim":
            fields["code"] = self.codes[serial]
            fields["owner"] = owner_hash(token_of(len(world.log)))
            if transfer:
                fields["transfer"] = claim_commitment(code)
        if kind == "consume":  # the current owner's token (the rules check it)
            fields["owner_token"] = self.tokens.get(serial, "AAAAAAAAAAAAAAAAAAAAAA")
        signed = world.on_unit(kind, actor, serial, **fields)
        event = signed.event
        row = decide(
            state_word(model),
            kind,
            signer_word(world, actor, model, event.time),
            to_word(world, fields.get("to"), actor, model),
        )
        self.rows.add(row.number)
        before = world.state.records()
        where = f"row {row.number}: {kind} by {actor} on {state_word(model)}"
        try:
            records = world.check(signed)
        except RuleError as refused:
            assert row.refusal == refused.code, f"{where}: refused {refused.code}"
            assert world.state.records() == before, f"{where}: a refusal changed the state"
            return row
        assert row.refusal is None, f"{where}: accepted, the table says {row.refusal}"
        assert [type(r) for r in records] == [UnitRecord], where
        index = world.index
        world.state.apply(records)
        world.log.append(signed)
        nxt = apply_changes(model, row, actor, event)
        nxt = replace(nxt, head=event_hash(signed), head_index=index, length=model.length + 1)
        assert row.next in ("=", phase(nxt)), f"{where}: the table's own changes give {phase(nxt)}"
        if row.next == "=":
            assert phase(nxt) == phase(model), f"{where}: '=' but the phase moved"
        assert world.unit(serial) == nxt, f"{where}: the record is not the table's"
        self.models[serial] = nxt
        if kind == "claim" and transfer:
            self.codes[serial] = code
        if kind == "claim":
            self.tokens[serial] = token_of(len(world.log) - 1)
        return row

    def toggle(self, partner: str, serial: str = SERIALS[0]) -> None:
        """Revoke the partner's authorization, or grant it a new one if it has none live.

        ``<seller>`` and ``<custodian>`` name the unit's own; a tie that is no partner
        (the brand, nobody) is left alone."""
        partner = self._resolve(partner, self.models[serial])
        if partner not in PARTNERS:
            return
        auth_id = self.world.auths[partner]
        if self.world.state.authorizations[auth_id].revoked_index is None:
            self.world.do("authorization.revoke", "acme", authorization=auth_id)
        else:
            self.grants += 1  # a new window each time: a new authorization id
            not_after = f"2035-01-01T00:00:{self.grants % 60:02d}Z"
            self.world.authorize(partner, PARTNERS[partner], not_after=not_after)

    def check_models(self) -> None:
        """Every unit's record is its model, and its history fields keep their promises."""
        for serial, model in self.models.items():
            unit = self.world.unit(serial)
            assert unit == model
            assert unit.custodian is None or unit.custodian in unit.holders
            assert not unit.sold_before or unit.last_sold is not None


# --- the tests ----------------------------------------------------------------------------------


def test_the_table_parses_and_names_only_real_codes_and_kinds() -> None:
    from ledger import rules
    from ledger.events import KINDS as EVENT_KINDS
    from ledger.events import UnitEvent

    codes = {
        c.code for c in vars(rules).values() if isinstance(c, type) and issubclass(c, RuleError)
    }
    assert [r.number for r in TABLE] == list(range(1, len(TABLE) + 1))
    assert {r.refusal for r in TABLE} - {None} <= codes
    unit_kinds = {k for k, c in EVENT_KINDS.items() if issubclass(c, UnitEvent)}
    assert {p for r in TABLE for p in r.kinds} - {"*"} == unit_kinds - {"commission"}
    assert all((r.refusal is None) != (r.next is None) for r in TABLE)
    assert all(not r.changes for r in TABLE if r.refusal), "a refusal changes nothing"


def test_every_kind_ends_in_a_catch_all_so_no_situation_is_undecided() -> None:
    """The last row naming a kind matches every state, signer and ``to``: whatever the
    situation, the table decides it (and a catch-all is always a refusal)."""
    kinds = {p for r in TABLE for p in r.kinds} - {"*"}
    for kind in sorted(kinds):
        last = [r for r in TABLE if kind in r.kinds][-1]
        assert (last.states, last.signers, last.tos) == (("*",), ("*",), ("*",)), kind
        assert last.refusal is not None, kind


@pytest.mark.parametrize(
    ("state", "kind", "signer", "to", "row"),
    [
        # the laundering attack of issue 17: another retailer returns a delivered unit
        ("delivered", "return", "none:retailer", "self", 36),
        # the retailer of record takes it back, to itself: accepted
        ("delivered", "return", "seller:retailer", "self", 35),
        # a return over an open handoff
        ("in_transit", "return", "custodian:retailer", "holder", 38),
        # a return naming a party that never held the unit
        ("in_stock", "return", "custodian:courier", "stranger", 39),
        # a used-up unit sold again, or claimed again
        ("consumed+claimed", "sell", "custodian:retailer", "-", 2),
        ("consumed+claimed", "claim", "none:operator", "-", 2),
        # the operator marking an unclaimed unit used up, or a stranger trying
        ("in_stock", "consume", "none:operator", "-", 56),
        ("sold+claimed", "consume", "custodian:retailer", "-", 57),
    ],
)
def test_the_attacks_fall_on_their_rows(
    state: str, kind: str, signer: str, to: str, row: int
) -> None:
    assert decide(state, kind, signer, to).number == row


#: rows a random walk reaches rarely, told as stories: (serial, kind, signer, to), or
#: ("toggle", partner) to revoke (or grant again) the partner's authorization
STORIES: tuple[tuple[str, ...], ...] = (
    ("SN-2", "claim", "operator", "-"),  # claimed in the shop, before any sale
    ("SN-2", "sell", "acme", "-"),  # row 20: already claimed
    ("SN-2", "claim", "operator", "-"),  # row 28: a code opens once
    ("SN-0001", "handoff", "acme", "shop"),
    ("SN-0001", "receive", "shop", "-"),
    ("SN-0001", "sell", "shop", "-"),
    ("SN-0001", "handoff", "shop", "ship-co"),  # sold, on its way to the buyer
    ("SN-0001", "receive", "ship-co", "-"),  # row 12
    ("toggle", "shop"),  # the retailer of record loses its authorization
    ("SN-0001", "return", "shop", "shop"),  # row 31
    ("SN-2", "consume", "operator", "-"),  # row 55: the owner marks it used up
    ("SN-2", "sell", "acme", "-"),  # row 2: nothing but a recall, a flag, an end
    ("SN-2", "recall", "acme", "-"),  # row 43: still possible
)


def test_a_long_walk_and_the_stories_meet_every_row_and_agree_with_each() -> None:
    """A seeded walk (many restarts) and a few stories through the real rules reach
    every row of the table, so no row is dead text, and each step agrees with its row."""
    story = Walk()
    for step in STORIES:
        if step[0] == "toggle":
            story.toggle(step[1])
        else:
            story.step(*step)
    story.check_models()
    assert {2, 12, 20, 28, 31, 43, 55} <= story.rows
    resale = Walk()  # a claim leaving a transfer code, then the resale's claim
    resale.step("SN-0001", "claim", "operator", "-", transfer=True)
    assert state_word(resale.models["SN-0001"]) == "in_stock+claimed+code"
    assert resale.step("SN-0001", "claim", "operator", "-").number == 29
    assert resale.step("SN-0001", "claim", "operator", "-").number == 28
    resale.check_models()
    rng = random.Random(17)
    seen = set(story.rows)
    for _ in range(40):
        walk = Walk()
        for _ in range(60):
            if rng.random() < 0.1:
                walk.toggle(rng.choice(TOGGLED), rng.choice(SERIALS))
            kind, transfer = rng.choice(KINDS), rng.random() < 0.5
            walk.step(rng.choice(SERIALS), kind, rng.choice(SIGNERS), rng.choice(TOS), transfer)
        walk.check_models()
        seen |= walk.rows
    assert sorted(set(range(1, len(TABLE) + 1)) - seen) == []


class TableMachine(RuleBasedStateMachine):
    """Random custody events by random signers, each checked against the table."""

    def __init__(self) -> None:
        super().__init__()
        self.walk = Walk()

    @rule(
        serial=st.sampled_from(SERIALS),
        kind=st.sampled_from(KINDS),
        signer=st.sampled_from(SIGNERS),
        to=st.sampled_from(TOS),
        transfer=st.booleans(),
    )
    def act(self, serial: str, kind: str, signer: str, to: str, transfer: bool) -> None:
        self.walk.step(serial, kind, signer, to, transfer)

    @precondition(lambda self: self.walk.grants < 50)
    @rule(partner=st.sampled_from(TOGGLED), serial=st.sampled_from(SERIALS))
    def toggle_authorization(self, partner: str, serial: str) -> None:
        self.walk.toggle(partner, serial)

    @invariant()
    def records_are_the_models(self) -> None:
        self.walk.check_models()


TableMachine.TestCase.settings = settings(
    max_examples=examples(200), stateful_step_count=40, deadline=None
)
test_the_rules_follow_the_table = TableMachine.TestCase


def test_only_receive_extends_the_holders_and_never_held_is_about_return() -> None:
    """`never-held` is decided by the model's holders, and only ``receive`` adds to them."""
    assert {r.kinds for r in TABLE if r.refusal == "never-held"} == {("return",)}
    extends = {r.kinds for r in TABLE if any(c.field == "holders" for c in r.changes)}
    assert extends == {("receive",)}
