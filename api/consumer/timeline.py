"""The custody timeline of the consumer page: each entry of a unit view as one step in
words (who did what, when, where), and the names and times the page shows.

Partner names follow the brand's choice: an actor whose ``display`` is ``role`` (in the
unit view's actor objects) is shown by its role ("Courier") instead of its name. Every
text from the view passes through `api.consumer.places.plain`. No I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from api.consumer.i18n import format_moment, text
from api.consumer.places import place_name, plain
from ledger.errors import LedgerError
from ledger.events import parse_time
from ledger.service.batches import VOID_REASON

__all__ = ["ROLES", "Step", "moment", "names_of", "step", "who"]

#: timeline tone per event kind: good (green), bad (red), warn (amber), "" (neutral)
_TONES = {
    "commission": "good",
    "recall": "bad",
    "flag": "bad",
    "decommission": "warn",
    "consume": "bad",
}
ROLES = frozenset("operator brand warehouse courier retailer customs inspector".split())
_VERBS = frozenset(
    "commission handoff receive sell deliver claim return recall decommission flag consume".split()
)


@dataclass(frozen=True)
class Step:
    """One entry of the custody timeline, in words."""

    verb: str
    who: str
    when: str
    iso: str
    where: str = ""
    notes: Sequence[str] = field(default_factory=tuple)
    revoked: str = ""
    entry: str = ""
    tone: str = ""


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _by_role(actor: Mapping[str, Any]) -> bool:
    """Whether the page names ``actor`` by its role: when the brand hides the name, and
    always for the operator, which is this service itself ("Platform" / "平台", never
    the name it was set up with, such as "Platform operator · Platform")."""
    role = str(actor.get("role"))
    return role in ROLES and (actor.get("display") == "role" or role == "operator")


def _display(actor: Mapping[str, Any], lang: str) -> str:
    """An actor's name as the page shows it: its role when `_by_role`."""
    if _by_role(actor):
        return text(lang, "role." + str(actor.get("role")))
    return plain(actor.get("name") or actor.get("id") or "")


def names_of(
    unit: Mapping[str, Any] | None, entries: Sequence[Mapping[str, Any]], lang: str
) -> dict[str, str]:
    """Actor id -> display name, from every actor the view describes."""
    actors = [e.get("signer") for e in entries]
    if unit:
        actors += [unit.get("brand"), unit.get("custodian"), unit.get("pending")]
    return {
        str(a["id"]): _display(a, lang) for a in actors if isinstance(a, Mapping) and a.get("id")
    }


def who(actor: object, lang: str) -> tuple[str, str]:
    """(``Name · Role``, the revoked warning or "") for a view's actor object."""
    if not isinstance(actor, Mapping):
        return "", ""
    name = _display(actor, lang)
    role = str(actor.get("role"))
    shown = role in ROLES and not _by_role(actor)
    label = f"{name} · {text(lang, 'role.' + role)}" if shown else name
    return label, text(lang, "revoked") if actor.get("revoked") else ""


def moment(value: object, lang: str) -> tuple[str, str]:
    """(readable time in the reader's zone, machine time in UTC) of a ledger timestamp;
    the raw text if malformed."""
    try:
        at = parse_time(value)
    except LedgerError:
        return plain(value or ""), ""
    return format_moment(at, lang), at.strftime("%Y-%m-%dT%H:%MZ")


def step(entry: Mapping[str, Any], names: Mapping[str, str], lang: str) -> Step:
    """One view entry as a timeline step."""
    event = _obj(entry.get("event"))
    kind = str(event.get("kind") or "")
    by, revoked = who(entry.get("signer"), lang)
    actor = names.get(str(event.get("actor")), plain(event.get("actor") or "?"))
    to = names.get(str(event.get("to")), plain(event.get("to") or "?"))
    when, iso = moment(event.get("time"), lang)
    verb, tone = _verb(kind, event, actor, to, lang)
    notes = []
    for name, key in (("reason", "reason"), ("note", "note")):
        if kind == "recall" and name == "reason" and event.get(name) == VOID_REASON:
            notes.append(text(lang, "reason.voided"))  # the console voided its print batch
        elif event.get(name):
            notes.append(text(lang, key, text=plain(event[name])))
    if kind == "flag" and event.get("code"):
        notes.insert(0, text(lang, "reason", text=plain(event["code"])))
    index = entry.get("index")
    place = place_name(event.get("place"), lang) if event.get("place") else ""
    return Step(
        verb=verb,
        who=by,
        when=when,
        iso=iso,
        where=text(lang, "where", place=place) if place else "",
        notes=tuple(notes),
        revoked=revoked,
        entry=text(lang, "entry", index=index) if isinstance(index, int) else "",
        tone=tone,
    )


def _verb(kind: str, event: Mapping[str, Any], actor: str, to: str, lang: str) -> tuple[str, str]:
    """(the human verb of an event, its tone)."""
    if kind == "inspect":
        passed = event.get("result") == "pass"
        return text(lang, "v.inspect.pass" if passed else "v.inspect.fail"), (
            "good" if passed else "bad"
        )
    if kind in ("pack", "unpack"):  # cartons and pallets: the container's SSCC
        container = plain(event.get("container") or "?")
        return text(lang, f"v.{kind}", actor=actor, container=container), ""
    if kind in _VERBS:
        return text(lang, f"v.{kind}", actor=actor, to=to), _TONES.get(kind, "")
    return text(lang, "v.other", kind=plain(kind or "?")), ""
