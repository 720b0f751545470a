"""The brand monitor: every entry that touches a brand's identity and is not the brand's own.

A Certificate Transparency monitor watches a log for certificates of its domains that
it did not ask for; this one watches a provenance log for a brand (``provenance
monitor --as BRAND``). It reads the log in order from where it stopped and reports
(`Alert`, codes in `CODES`):

- ``key-recovery``: a ``key.recover`` naming the brand (the operator's slow path to
  give a brand that lost its keys new ones: the brand must see it while it can cancel);
- ``foreign-key-change``: a ``key.rotate`` of the brand not signed by one of its keys;
- ``foreign-signature``: an entry signed as the brand by a key the brand never had
  (its keys are those of its registration and of the rotations it signed itself);
- ``brand-revoked``: an ``actor.revoke`` of the brand;
- ``overlapping-prefix``: another actor registered with a GS1 company prefix equal to
  one of the brand's, or nested in it, or holding it;
- ``look-alike-name``: another actor registered with a name whose TR39 skeleton
  (ledger.rules.skeleton) is the brand's;
- ``foreign-product``, ``foreign-unit``: a ``product.register`` or a ``commission`` of a
  GTIN under the brand's prefixes by anyone but the brand;
- ``partner-revoked``: an ``authorization.revoke`` of an authorization the brand granted,
  or an ``actor.revoke`` of a partner it authorized, by anyone but the brand;
- ``forged-entry``: an entry (anyone's) whose signature does not verify under a current
  key the log gave its signer: the monitor keeps every actor's public keys (`Keyring`,
  learnt from the registrations, rotations, recoveries and cancellations it verified)
  and checks each entry it reads, so a server that writes entries no one signed is
  caught by any monitor. A forged entry changes nothing the monitor knows;
- ``scoped-key-out-of-scope``: an entry signed by one of the brand's scoped keys (a
  ``key.rotate`` the brand signed with ``scope``, such as the console's key) of a kind
  its scope does not reach (ledger.rules.SCOPE_KINDS), a ``key.*`` above all: an
  honest log refuses it (``key-out-of-scope``), so it is counted as not the brand's.

Those are alarms (`Alert.severity` ``alarm``). A scoped key's entry within its scope is
the brand's, yet the brand should see what a key it lent to a server signs, so each is
listed as a notice (severity ``notice``), never an alarm: ``scoped-key-signature``.

It reads entries as served dicts (`entry_dict` of the leaf bytes: ``index``, ``event``,
``key``, ``hash``, ``sig``, ``v``, ``origin``) and matches on kind strings and fields,
so kinds this client does not know (a newer log's) are still read. The caller proves
each entry in the log's signed checkpoint before it calls `scan`. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ledger import codec, crypto, entry, gs1
from ledger.errors import LedgerError, ValidationError
from ledger.rules.context import SCOPE_KINDS
from ledger.rules.skeleton import look_alike, skeleton

#: v2 kept every actor's public keys (v1 did not: its entries were never verified); v3
#: keeps the brand's scoped keys apart from its full ones (v2 counted them as full)
STATE_FORMAT = "provenance-ledger/monitor-state@v3"
_OLDER = {
    "provenance-ledger/monitor-state@v1": "verified no signature",
    "provenance-ledger/monitor-state@v2": "counted the brand's scoped keys as full keys",
}
CODES = (
    "key-recovery",
    "foreign-key-change",
    "foreign-signature",
    "brand-revoked",
    "overlapping-prefix",
    "look-alike-name",
    "foreign-product",
    "foreign-unit",
    "partner-revoked",
    "forged-entry",
    "scoped-key-out-of-scope",
    "scoped-key-signature",
)
#: codes listed for the brand to read, never an alarm (module docstring)
NOTICES = frozenset({"scoped-key-signature"})


@dataclass(frozen=True)
class Alert:
    """One entry the brand should look at: where, what, who, why."""

    index: int
    code: str
    kind: str
    actor: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> str:
        """``notice`` for a code in `NOTICES` (listed, exit 0), else ``alarm``."""
        return "notice" if self.code in NOTICES else "alarm"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (docs/AUDIT.md, "The brand monitor")."""
        return {
            "index": self.index,
            "code": self.code,
            "severity": self.severity,
            "kind": self.kind,
            "actor": self.actor,
            "message": self.message,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class Brand:
    """What the monitor knows of the brand, learnt from the log itself.

    ``keys``: the full key ids the brand registered or rotated in itself; ``scoped``:
    key id -> scope of the scoped keys it rotated in; ``partners``: authorization id ->
    partner, for every authorization the brand granted.
    """

    id: str
    name: str | None = None
    prefixes: tuple[str, ...] = ()
    keys: frozenset[str] = frozenset()
    partners: Mapping[str, str] = field(default_factory=dict)
    scoped: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form kept in the monitor's state file."""
        return {
            "id": self.id,
            "name": self.name,
            "prefixes": list(self.prefixes),
            "keys": sorted(self.keys),
            "partners": dict(sorted(self.partners.items())),
            "scoped": {k: list(v) for k, v in sorted(self.scoped.items())},
        }

    @classmethod
    def from_dict(cls, data: Any) -> Brand:
        """Parse the JSON form.

        Raises:
            ValidationError: a field is missing or of the wrong type.
        """
        try:
            name = data["name"]
            prefixes = tuple(str(p) for p in data["prefixes"])
            keys = frozenset(str(k) for k in data["keys"])
            partners = {str(a): str(p) for a, p in dict(data["partners"]).items()}
            scoped = {str(k): tuple(str(x) for x in v) for k, v in dict(data["scoped"]).items()}
            brand = str(data["id"])
        except (KeyError, TypeError, ValueError) as e:
            raise ValidationError(f"malformed monitor state: {e!r}", field="brand") from e
        if name is not None and not isinstance(name, str):
            raise ValidationError("name must be text", field="brand.name")
        return cls(brand, name, prefixes, keys, partners, scoped)


@dataclass(frozen=True)
class Keyring:
    """Every actor's current public keys, as the log gave them: key id -> (actor,
    base64url public key)."""

    keys: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, list[str]]:
        """The JSON form kept in the monitor's state file."""
        return {k: [a, p] for k, (a, p) in sorted(self.keys.items())}

    @classmethod
    def from_dict(cls, data: Any) -> Keyring:
        """Parse the JSON form.

        Raises:
            ValidationError: not a mapping of key id to [actor, public key].
        """
        try:
            keys = {str(k): (str(v[0]), str(v[1])) for k, v in dict(data).items() if len(v) == 2}
        except (TypeError, ValueError, KeyError, IndexError) as e:
            raise ValidationError(f"malformed monitor keys: {e!r}", field="keys") from e
        if len(keys) != len(dict(data)):
            raise ValidationError("each key is [actor, public key]", field="keys")
        return cls(keys)

    def forged(self, item: Mapping[str, Any]) -> str | None:
        """Why ``item``'s signature is not its signer's (None: it verifies under a current
        key the log gave the actor it names)."""
        event, key = item.get("event"), str(item.get("key", ""))
        actor = str(event.get("actor", "")) if isinstance(event, Mapping) else ""
        owner, public = self.keys.get(key, (None, ""))
        if owner is None:
            return f"signed by key {key}, which is no current key of anyone in the log"
        if owner != actor:
            return f"signed as {actor} by {owner}'s key {key}"
        v = item.get("v", entry.FORMAT_1)
        try:
            message = entry.signed_message(codec.canonical(event), v, item.get("origin"))
            domain = crypto.DOMAIN_EVENT if v == entry.FORMAT_1 else crypto.DOMAIN_EVENT_V2
            sig = codec.b64url_decode(str(item.get("sig", "")), field="sig")
            crypto.verify(codec.b64url_decode(public), domain, message[len(domain) :], sig)
        except LedgerError as e:
            return f"its signature does not verify under {actor}'s key {key}: {e.message}"
        return None

    def learn(self, item: Mapping[str, Any]) -> Keyring:
        """The keyring after a verified entry (or the genesis, which brings its own keys):
        keys registered, rotated in or recovered are added, keys rotated out or whose
        recovery was cancelled dropped."""
        event = item.get("event")
        if not isinstance(event, Mapping):
            return self
        kind, subject = str(event.get("kind", "")), str(event.get("subject", ""))
        keys = dict(self.keys)
        added: Iterable[Any] = ()
        if kind == "actor.register":
            added = event.get("keys") or ()
        elif kind == "key.rotate":
            added = event.get("add") or ()
            for key_id in event.get("remove") or ():
                if keys.get(str(key_id), ("",))[0] == subject:
                    del keys[str(key_id)]
        elif kind == "key.recover":
            added = (event.get("key"),)
        elif kind == "key.recover.cancel" and keys.get(str(event.get("key")), ("",))[0] == subject:
            del keys[str(event.get("key"))]
        for public in added:
            key_id = next(iter(_key_ids((public,))), None)
            if key_id is not None:
                keys[key_id] = (subject, str(public))
        return Keyring(keys)


def entry_dict(index: int, leaf: bytes, origin: str | None = None) -> dict[str, Any]:
    """A served entry read from its leaf bytes: ``index``, ``event`` (as signed), ``key``
    (the signing key id), ``sig``, ``v``, ``origin`` (what `Keyring.forged` checks) and
    ``hash`` (the event hash: an authorization's id; a format-2 leaf's names the log
    ``origin``, the checkpoint's first line).

    Reads the canonical JSON without interpreting the event, so a kind this client does
    not know is read all the same.

    Raises:
        EncodingError, ValidationError: the leaf is not a canonical envelope.
    """
    value = codec.parse_canonical(leaf)
    if not isinstance(value, dict) or not isinstance(value.get("event"), dict):
        raise ValidationError("expected a leaf with an event", field="leaf")
    event = value["event"]
    v = value.get("v", entry.FORMAT_1)
    if type(v) is not int:
        raise ValidationError("v is 2 (format 2) or absent (format 1)", field="v")
    return {
        "index": index,
        "event": event,
        "key": str(value.get("key", "")),
        "sig": str(value.get("sig", "")),
        "v": v,
        "origin": origin,
        "hash": codec.b64url_encode(entry.event_hash(codec.canonical(event), v, origin)),
    }


def scan(
    brand: Brand, keyring: Keyring, entries: Iterable[Mapping[str, Any]]
) -> tuple[list[Alert], Brand, Keyring]:
    """Read ``entries`` (served dicts, in log order) for ``brand``, verifying each one's
    signature against ``keyring``; return the alerts and what the monitor knows of the
    brand and of every actor's keys afterwards (module docstring)."""
    alerts: list[Alert] = []
    for item in entries:
        event = item.get("event")
        genesis = (
            item.get("index") == 0
            and isinstance(event, Mapping)
            and event.get("kind") == "actor.register"
            and event.get("actor") == event.get("subject")
        )
        if genesis and not keyring.keys:  # entry 0 is signed by a key it introduces
            keyring = keyring.learn(item)
        why = keyring.forged(item)
        if why is not None:
            alerts.append(_forged(item, why))
            continue  # a forged entry teaches the monitor nothing
        keyring = keyring.learn(item)
        found, brand = _one(brand, item)
        alerts.extend(found)
    return alerts, brand, keyring


def _forged(item: Mapping[str, Any], why: str) -> Alert:
    event = item.get("event")
    event = event if isinstance(event, Mapping) else {}
    return Alert(
        int(item.get("index", -1)),
        "forged-entry",
        str(event.get("kind", "")),
        str(event.get("actor", "")),
        f"an entry not signed by its actor: {why}",
        {"key": str(item.get("key", "")), "sig": str(item.get("sig", ""))},
    )


def _one(brand: Brand, item: Mapping[str, Any]) -> tuple[list[Alert], Brand]:
    event = item.get("event")
    if not isinstance(event, Mapping):
        return [], brand
    index, kind = int(item.get("index", -1)), str(event.get("kind", ""))
    actor, key = str(event.get("actor", "")), str(item.get("key", ""))
    scope = brand.scoped.get(key) if actor == brand.id else None
    # a scoped key's entry is the brand's within its scope; key.* lies outside every scope
    in_scope = scope is not None and any(kind in SCOPE_KINDS.get(s, ()) for s in scope)
    own = actor == brand.id and (key in brand.keys or in_scope)

    def alert(code: str, message: str, **evidence: Any) -> Alert:
        return Alert(index, code, kind, actor, message, {"key": key, **evidence})

    alerts: list[Alert] = []
    if scope is not None:
        what = ", ".join(scope)
        alerts.append(
            alert("scoped-key-signature", f"{kind} signed by {brand.id}'s key scoped to {what}")
            if in_scope
            else alert(
                "scoped-key-out-of-scope",
                f"{kind} signed by {brand.id}'s key scoped to {what}, which may not sign it",
                scope=list(scope),
            )
        )
    elif actor == brand.id and not own and brand.keys:
        alerts.append(alert("foreign-signature", f"signed as {brand.id} by a key it never had"))
    subject = event.get("subject")
    if kind == "actor.register":
        if subject == brand.id:
            return alerts, _registered(brand, event)
        alerts.extend(_newcomer(brand, event, alert))
    elif kind == "key.rotate" and subject == brand.id:
        if own:
            return alerts, _rotated(brand, event)
        alerts.append(alert("foreign-key-change", f"{actor} changed {brand.id}'s keys"))
    elif kind == "key.recover" and subject == brand.id:
        alerts.append(alert("key-recovery", f"{actor} started a key recovery of {brand.id}"))
    elif kind == "actor.revoke" and subject == brand.id and not own:
        alerts.append(alert("brand-revoked", f"{actor} revoked {brand.id}"))
    elif kind == "actor.revoke" and subject in brand.partners.values() and not own:
        alerts.append(alert("partner-revoked", f"{actor} revoked partner {subject}"))
    elif kind == "authorization.revoke" and not own:
        partner = brand.partners.get(str(event.get("authorization")))
        if partner is not None:
            alerts.append(
                alert("partner-revoked", f"{actor} revoked {brand.id}'s authorization of {partner}")
            )
    elif kind == "authorize" and own:
        partners = {**brand.partners, str(item.get("hash")): str(event.get("partner"))}
        return alerts, replace(brand, partners=partners)
    elif kind == "product.register" and not own:
        alerts.extend(_under(brand, str(event.get("gtin", "")), "foreign-product", alert))
    elif kind == "commission" and not own:
        unit = event.get("unit")
        gtin = str(unit.get("gtin", "")) if isinstance(unit, Mapping) else ""
        alerts.extend(_under(brand, gtin, "foreign-unit", alert))
    return alerts, brand


def _registered(brand: Brand, event: Mapping[str, Any]) -> Brand:
    """The brand's own registration: its name, prefixes and first keys."""
    return replace(
        brand,
        name=str(event.get("name", "")),
        prefixes=tuple(str(p) for p in event.get("prefixes") or ()),
        keys=brand.keys | _key_ids(event.get("keys") or ()),
    )


def _rotated(brand: Brand, event: Mapping[str, Any]) -> Brand:
    """A rotation the brand signed itself: its full and scoped keys from now on (a
    ``scope`` applies to every key the rotation adds)."""
    removed = {str(k) for k in event.get("remove") or ()}
    added = _key_ids(event.get("add") or ())
    scope = tuple(str(s) for s in event.get("scope") or ())
    keys, scoped = brand.keys, dict(brand.scoped)
    if scope:
        scoped.update(dict.fromkeys(added, scope))
    else:
        keys = keys | added
    scoped = {k: v for k, v in scoped.items() if k not in removed}
    return replace(brand, keys=keys - removed, scoped=scoped)


def _key_ids(keys: Iterable[Any]) -> frozenset[str]:
    out = set()
    for text in keys:
        try:
            out.add(crypto.key_id(codec.b64url_decode(str(text))))
        except LedgerError:
            continue  # a malformed key was refused by the log; nothing to trust
    return frozenset(out)


def _newcomer(brand: Brand, event: Mapping[str, Any], alert: Any) -> list[Alert]:
    """Another actor's registration: a prefix overlapping the brand's, a look-alike name."""
    out = []
    subject = str(event.get("subject", ""))
    theirs = [str(p) for p in event.get("prefixes") or ()]
    overlap = sorted(
        {t for t in theirs for p in brand.prefixes if t.startswith(p) or p.startswith(t)}
    )
    if overlap:
        out.append(
            alert(
                "overlapping-prefix",
                f"{subject} registered with GS1 prefixes overlapping {brand.id}'s",
                subject=subject,
                prefixes=overlap,
            )
        )
    name = event.get("name")
    if brand.name and isinstance(name, str) and look_alike(name, brand.name):
        out.append(
            alert(
                "look-alike-name",
                f"{subject} registered a name that looks like {brand.id}'s",
                subject=subject,
                name=name,
                skeleton=skeleton(name),
            )
        )
    return out


def _under(brand: Brand, gtin: str, code: str, alert: Any) -> list[Alert]:
    """An alert when ``gtin`` falls under one of the brand's GS1 prefixes."""
    try:
        matched = [p for p in brand.prefixes if gs1.company_prefix_matches(gtin, p)]
    except LedgerError:
        return []
    if not matched:
        return []
    what = "a product" if code == "foreign-product" else "a unit"
    return [alert(code, f"{what} of GTIN {gtin} under {brand.id}'s prefix", gtin=gtin)]


@dataclass(frozen=True)
class MonitorState:
    """What the monitor remembers between runs: the log's key, the last checkpoint it
    proved entries in (ledger.audit.witness.Seen JSON), the next index to read, the
    brand, and every actor's keys."""

    log_key: str
    checkpoint: dict[str, Any] | None
    next_index: int
    brand: Brand
    keyring: Keyring = field(default_factory=Keyring)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the state file."""
        return {
            "format": STATE_FORMAT,
            "log_key": self.log_key,
            "seen": self.checkpoint,
            "next_index": self.next_index,
            "brand": self.brand.to_dict(),
            "keys": self.keyring.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any, brand: str, log_key: str | None) -> MonitorState:
        """Load a state file kept for ``brand`` (and ``log_key`` when pinned).

        Raises:
            ValidationError: not a monitor state, or kept for another brand or key.
        """
        older = _OLDER.get(str(data.get("format"))) if isinstance(data, dict) else None
        if older is not None:
            raise ValidationError(
                f"the state file was kept by an older monitor that {older}: "
                "remove it to read the log again from its start",
                field="state",
            )
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise ValidationError(f"not a {STATE_FORMAT} file", field="state")
        kept = Brand.from_dict(data.get("brand"))
        if kept.id != brand:
            raise ValidationError(f"the state file was kept for {kept.id}", field="state")
        key = data.get("log_key")
        if not isinstance(key, str) or (log_key is not None and key != log_key):
            raise ValidationError("the state file was kept for another log key", field="state")
        index = data.get("next_index")
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValidationError("next_index must be a count", field="state")
        seen = data.get("seen")
        keyring = Keyring.from_dict(data.get("keys"))
        return cls(key, seen if isinstance(seen, dict) else None, index, kept, keyring)
