"""A reference verifier written from docs/FORMAT.md, docs/API.md and the rules of
docs/ARCHITECTURE.md sections 4-6 alone (docs/AUDIT.md, "A verifier from the docs alone").

    verify_min.py --log-key KEY [--server URL] (RESOLVER-URL | GTIN/SERIAL)
    verify_min.py --log-key KEY --proof FILE

Prints one line, ``<verdict>: <reason codes> (...)`` (exit 0 for genuine and caution,
1 for unknown and invalid) or ``refused: <reason>`` (exit 1). Standard library and
`cryptography` only; it never imports the package.
"""

from __future__ import annotations

import http.client
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import vmcore as c
from vmcore import Leaf, RefusedError

CUSTODY = "handoff receive inspect sell deliver return decommission pack unpack"
SCOPES = {
    "mint": {"product.register", "commission"},
    "custody": set(CUSTODY.split()),
    "flag": {"flag"},
    "recall": {"recall"},
    "authorize": {"authorize", "authorization.revoke"},
    "console": {"product.register", "authorize", "authorization.revoke", "flag", "recall"},
}
OPERATOR_KINDS = set("actor.register actor.revoke key.recover log.upgrade claim consume".split())
SELF_KINDS = {"key.rotate", "key.recover.cancel"}
REGISTRY_KINDS = set(
    "actor.register actor.revoke key.rotate key.recover key.recover.cancel".split()
)
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?Z")


def when(text: Any) -> datetime:
    """An RFC 3339 UTC time of FORMAT section 1."""
    if not isinstance(text, str) or not TIME.fullmatch(text):
        raise RefusedError(f"validation: {text!r} is not an RFC 3339 UTC time")
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Keys:
    """What the registry entries say, replayed in index order (FORMAT sections 2, 3.1, 7
    and 11 step 4): actors, their keys, revocations, and the log's format switch."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.actors: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, dict[str, Any]] = {}  # key id -> record
        self.format_from: int | None = None
        self.rules_from: int | None = None
        self.wait = timedelta(seconds=604800)
        self.brand_keys: dict[str, list[bytes]] = {}

    def check(self, leaf: Leaf) -> dict[str, Any]:
        """Verify the leaf's signature under a key its signer held at that index; the
        key record used."""
        ev, i = leaf.event, leaf.index
        rec = self.keys.get(leaf.key)
        if i == 0:  # genesis: signed by one of the keys it introduces
            if (
                ev["kind"] != "actor.register"
                or ev.get("subject") != ev["actor"]
                or ev.get("role") != "operator"
            ):
                raise RefusedError("genesis: entry 0 is not the operator registering itself")
            raws = [c.unb64url(k, 32, "genesis key") for k in ev.get("keys", [])]
            raw = next((r for r in raws if c.key_id(r) == leaf.key), None)
            rec = {"actor": ev["actor"], "raw": raw, "scope": [], "added": 0, "removed": None}
            if raw is None:
                raise RefusedError("signature-invalid: entry 0 is not signed by a key it lists")
        elif rec is None or rec["actor"] != ev["actor"]:
            raise RefusedError(
                f"signature-invalid: entry {i}: key {leaf.key} is not {ev['actor']}'s before it"
            )
        actor = self.actors.get(ev["actor"])
        if i and (actor is None or (actor["revoked"] is not None and actor["revoked"] < i)):
            raise RefusedError(
                f"signature-invalid: entry {i}: signer {ev['actor']} unknown or revoked"
            )
        if rec["removed"] is not None and rec["removed"] < i:
            raise RefusedError(
                f"signature-invalid: entry {i}: key removed at entry {rec['removed']}"
            )
        if rec.get("effective") and when(leaf.received) < rec["effective"]:
            raise RefusedError(
                f"signature-invalid: entry {i}: recovered key used before its effective time"
            )
        if rec["scope"] and (
            ev["kind"].startswith("key.") or not any(ev["kind"] in SCOPES[s] for s in rec["scope"])
        ):
            raise RefusedError(f"signature-invalid: entry {i}: scoped key signed {ev['kind']}")
        if leaf.fmt == 1 and self.format_from is not None and i >= self.format_from:
            raise RefusedError(f"signature-invalid: entry {i}: format 1 after the log's switch")
        if not c.ed25519_ok(rec["raw"], leaf.sig, c.event_message(ev, leaf.fmt, self.origin)):
            raise RefusedError(f"signature-invalid: entry {i} ({ev['kind']}) does not verify")
        role = (self.actors.get(ev["actor"]) or {}).get("role", "operator" if i == 0 else None)
        if ev["kind"] in OPERATOR_KINDS and role != "operator":
            raise RefusedError(f"not-operator: entry {i} ({ev['kind']}) signed by a {role}")
        if ev["kind"] in SELF_KINDS and ev.get("subject") != ev["actor"]:
            raise RefusedError(f"not-subject: entry {i} ({ev['kind']}) signed for another actor")
        return rec

    def apply(self, leaf: Leaf) -> None:
        """Take in what a registry (or log) entry says."""
        ev, i, kind = leaf.event, leaf.index, leaf.event["kind"]
        subject = ev.get("subject", "")
        if kind in REGISTRY_KINDS and not isinstance(subject, str):
            raise RefusedError(f"validation: entry {i}: subject is not an actor id")
        if kind == "actor.register":
            if subject in self.actors:
                raise RefusedError(f"actor-exists: entry {i} registers {subject} again")
            self.actors[subject] = {
                "role": ev.get("role"),
                "prefixes": ev.get("prefixes", []),
                "revoked": None,
                "since": None,
            }
            for k in ev.get("keys", []):
                self._add(k, subject, i, [])
            if i == 0:
                self.format_from = 0 if ev.get("format") == 2 else None
                self.rules_from = 0 if ev.get("rules") == 2 else None
                self.wait = timedelta(seconds=ev.get("recovery_wait", 604800))
        elif kind == "log.upgrade":
            self.format_from = i + 1 if self.format_from is None else self.format_from
            self.rules_from = i + 1 if self.rules_from is None else self.rules_from
        elif kind == "actor.revoke" and subject in self.actors:
            self.actors[subject].update(revoked=i, since=ev.get("since"))
        elif kind == "key.rotate":
            for k in ev.get("add", []):
                self._add(k, subject, i, ev.get("scope", []))
            for kid in ev.get("remove", []):
                if kid not in self.keys or self.keys[kid]["actor"] != subject:
                    raise RefusedError(
                        f"validation: entry {i} removes a key {subject} does not hold"
                    )
                self.keys[kid]["removed"] = i
                if "compromised_since" in ev:
                    self.keys[kid]["compromised"] = when(ev["compromised_since"])
                    labels = self.brand_keys.get(subject, [])
                    if self.keys[kid]["raw"] in labels:  # a label carries no time
                        labels.remove(self.keys[kid]["raw"])
        elif kind == "key.recover":
            effective = when(ev.get("effective"))
            if effective < when(leaf.received) + self.wait:
                raise RefusedError(f"recovery-too-soon: entry {i}")
            self._add(ev["key"], subject, i, [], recovered=False)["effective"] = effective
        elif kind == "key.recover.cancel" and ev.get("key") in self.keys:
            self.keys[ev["key"]]["removed"] = i

    def _add(
        self, key: str, actor: str, index: int, scope: list[str], recovered: bool = True
    ) -> dict[str, Any]:
        raw = c.unb64url(key, 32, f"entry {index} key")
        kid = c.key_id(raw)
        if kid in self.keys:
            raise RefusedError(f"key-in-use: entry {index} registers a key again")
        # a brand's label keys: registered or rotated in, never recovered; full or
        # scoped `mint`, never a console key (FORMAT 8.2); compromised ones drop out later
        if recovered and (not scope or "mint" in scope):
            self.brand_keys.setdefault(actor, []).append(raw)
        self.keys[kid] = {
            "actor": actor,
            "raw": raw,
            "scope": scope,
            "added": index,
            "removed": None,
        }
        return self.keys[kid]


def check_all(leaves: Iterable[Leaf], keys: Keys) -> dict[int, dict[str, Any]]:
    """Verify every leaf's signature in index order, applying registry entries as they
    come; the key record each entry was signed with."""
    used = {}
    for leaf in sorted(leaves, key=lambda lf: lf.index):
        used[leaf.index] = keys.check(leaf)
        keys.apply(leaf)
    return used


def chain_of(unit: tuple[str, str], leaves: list[Leaf], origin: str) -> None:
    """The unit's chain (FORMAT 3, 7 step 5): a commission with prev null, then each prev
    the previous event's hash, every event about this unit."""
    prev: str | None = None
    for n, leaf in enumerate(leaves):
        ev = leaf.event
        if ev.get("unit") != {"gtin": unit[0], "serial": unit[1]}:
            raise RefusedError(f"chain-broken: entry {leaf.index} is not about {unit[0]}/{unit[1]}")
        if (n == 0) != (ev["kind"] == "commission") or ev.get("prev") != prev:
            raise RefusedError(f"chain-broken: entry {leaf.index} does not link to the one before")
        prev = c.b64url(leaf.event_hash(origin))


def judge(
    leaves: list[Leaf], keys: Keys, used: dict[int, dict[str, Any]]
) -> tuple[list[str], dict[str, Any]]:
    """Replay the chain (ARCHITECTURE section 5) and name its reasons (section 6, 'From
    the log', in that order; ['verified'] when none), with the replayed unit."""
    u: dict[str, Any] = {
        "sales": 0,
        "pending": None,
        "sold": False,
        "delivered": False,
        "flags": 0,
        "claimed": False,
        "recalled": False,
        "decommissioned": False,
        "consumed": False,
        "inspection": None,
    }
    signers, found = set(), []
    for leaf in leaves:
        ev, k = leaf.event, leaf.event["kind"]
        signers.add((ev["actor"], leaf.received))  # every signer, by the log's receive time
        if k == "commission":
            brand = keys.actors.get(ev["actor"], {})
            gtin13 = ev["unit"]["gtin"][1:]  # under a prefix: without the indicator digit
            if brand.get("role") != "brand" or not any(
                gtin13.startswith(p) for p in brand.get("prefixes", [])
            ):
                raise RefusedError(
                    f"not-brand: entry {leaf.index} commissions outside its signer's prefixes"
                )
            u.update(
                brand=ev["actor"], custodian=ev["actor"], lot=ev.get("lot"), expiry=ev.get("expiry")
            )
        elif k in ("handoff", "return"):
            u["pending"] = ev.get("to")
            if k == "return":
                u.update(sold=False, delivered=False)
        elif k == "receive":
            u.update(custodian=ev["actor"], pending=None)
        elif k == "sell":
            u.update(sold=True, sales=u["sales"] + 1)
        elif k == "deliver":
            u.update(delivered=True, custodian=None)
        elif k == "claim":
            u["claimed"] = True
        elif k == "recall":
            u["recalled"] = True
        elif k == "decommission":
            u.update(decommissioned=True, pending=None)
        elif k == "flag":
            u["flags"] += 1
        elif k == "inspect":
            u["inspection"] = ev.get("result")
        elif k == "consume":
            u["consumed"] = True
        rec = used[leaf.index]
        received = when(leaf.received)
        if rec.get("compromised") and received >= rec["compromised"]:
            found.append("key-compromised")
        if rec.get("effective") and received < rec["effective"] + timedelta(days=30):
            found.append("recovered-key")
    reasons = [
        r
        for r, on in (
            ("recalled", u["recalled"]),
            ("decommissioned", u["decommissioned"]),
            ("consumed", u["consumed"]),
        )
        if on
    ]
    if u["claimed"]:
        reasons.append("claimed")
    elif u["sold"] or u["delivered"]:
        reasons += ["sold", "resold"] if u["sales"] > 1 else ["sold"]
    elif u["sales"]:
        reasons.append("returned-after-sale")
    if u["flags"]:
        reasons.append("flagged")

    def revoked(actor: str | None) -> dict[str, Any] | None:
        a = keys.actors.get(actor or "")
        return a if a and a["revoked"] is not None else None

    if any(
        (a := revoked(s)) and (a["since"] is None or when(t) >= when(a["since"]))
        for s, t in signers
    ):
        reasons.append("revoked-handler")
    held = {u.get("custodian"), u.get("pending")} - {None}
    if any(revoked(a) for a in held):  # signed for it or not (ARCHITECTURE 6)
        reasons.append("held-by-revoked")
    reasons += [r for r in ("key-compromised", "recovered-key") if r in found]
    if u["inspection"] == "fail":
        reasons.append("inspection-failed")
    return reasons or ["verified"], u


# --- labels (FORMAT 8.1, 8.2) ---------------------------------------------------------


def parse_target(target: str) -> tuple[str, str, str, dict[str, Any]]:
    """A resolver URL or GTIN/SERIAL: (base, gtin14, serial, label facts)."""
    if "://" not in target:
        gtin, sep, serial = target.partition("/")
        if not sep:
            raise RefusedError("usage: give a resolver URL or GTIN/SERIAL")
        return "", norm_gtin(gtin), check_serial(serial), {}
    url = urllib.parse.urlsplit(target)
    m = re.fullmatch(r"(.*?)/01/([0-9]+)(?:/10/([^/]+))?/21/([^/]+)", url.path)
    if url.scheme not in ("http", "https") or not m:
        raise RefusedError("gs1: not a Digital Link /01/{gtin}[/10/{lot}]/21/{serial} (no /22/)")
    query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    if len(query.get("s", [])) > 1 or len(query.get("17", [])) > 1:
        raise RefusedError("gs1: s or 17 given twice")
    lot = urllib.parse.unquote(m.group(3)) if m.group(3) else None
    if lot is not None and not re.fullmatch(r"[!\"%-?A-Z_a-z]{1,20}", lot):
        raise RefusedError("bad-lot: the lot is not 1-20 characters of GS1 set 82")
    label = {"s": query.get("s", [None])[0], "lot": lot, "expiry": query.get("17", [None])[0]}
    base = f"{url.scheme}://{url.netloc}{m.group(1)}"
    return base, norm_gtin(m.group(2)), check_serial(urllib.parse.unquote(m.group(4))), label


def norm_gtin(g: str) -> str:
    """GTIN-8/12/13/14 as 14 digits with a valid check digit."""
    if not re.fullmatch(r"[0-9]{8}|[0-9]{12,14}", g):
        raise RefusedError(f"gs1: {g!r} is not a GTIN")
    g = g.zfill(14)
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(g[:13]))
    if (10 - total % 10) % 10 != int(g[13]):
        raise RefusedError(f"gs1: GTIN {g} has a wrong check digit")
    return g


def check_serial(s: str) -> str:
    """An AI 21 serial: 1-20 characters of GS1 set 82."""
    if not re.fullmatch(r"[!\"%-?A-Z_a-z]{1,20}", s):
        raise RefusedError("gs1: the serial is not 1-20 characters of GS1 set 82")
    return s


def label_reason(
    label: dict[str, Any], gtin: str, serial: str, unit: dict[str, Any], brand_keys: list[bytes]
) -> str | None:
    """The label's reason (FORMAT 8.2): label-mismatch, label-invalid, label-unsigned or None."""
    for field in ("lot", "expiry"):
        if label.get(field) is not None and label[field] != unit.get(field):
            return "label-mismatch"
    s = label.get("s")
    if s is None:
        return "label-unsigned"
    if re.fullmatch(r"[0-9]{155}", s) and int(s) < 2**512:
        sig = int(s).to_bytes(64, "big")
    else:
        try:
            sig = c.unb64url(s, 64, "label signature")
        except RefusedError:
            return "label-invalid"
    msg = b"provenance-ledger/v1 label\n" + f"{gtin}\n{serial}\n".encode()
    return None if any(c.ed25519_ok(k, sig, msg) for k in brand_keys) else "label-invalid"


# --- the unit view (API.md, "The unit view"; FORMAT 14.3) -----------------------------


def fetch(url: str) -> Any:
    """GET ``url`` as JSON (refused on an HTTP error or a malformed body)."""
    if not url.startswith(("http://", "https://")):
        raise RefusedError(f"usage: {url} is not an http(s) URL")
    req = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 (http(s) only)
            return c.parse_json(resp.read(8 << 20))
    except urllib.error.HTTPError as e:
        raise RefusedError(f"http: {url} answered {e.code}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        raise RefusedError(f"http: {url}: {e}") from None


def proven(items: Any, cp: c.Checkpoint, what: str) -> list[Leaf]:
    """Entries ``{index, leaf, leaf_hash, proof}`` re-hashed and proven in ``cp``."""
    if not isinstance(items, list):
        raise RefusedError(f"proof-invalid: {what} entries are not a list")
    out = []
    for e in items:
        if (
            not isinstance(e, dict)
            or not isinstance(e.get("index"), int)
            or not isinstance(e.get("proof"), list)
        ):
            raise RefusedError(f"proof-invalid: a {what} entry is malformed")
        leaf = c.parse_leaf(e["index"], c.unb64url(e.get("leaf"), what=f"{what} leaf"))
        if c.unb64url(e.get("leaf_hash"), 32, "leaf_hash") != leaf.hash:
            raise RefusedError(f"leaf-hash-invalid: {what} entry {leaf.index}")
        proof = [c.unb64url(p, 32, "proof hash") for p in e["proof"]]
        if not c.verify_inclusion(leaf.index, cp.size, leaf.hash, proof, cp.root):
            raise RefusedError(
                f"proof-invalid: {what} entry {leaf.index} is not in the tree of size {cp.size}"
            )
        out.append(leaf)
    if [lf.index for lf in out] != sorted({lf.index for lf in out}):
        raise RefusedError(f"proof-invalid: {what} entries not in strictly increasing index order")
    return out


def about(leaf: Leaf, actor: str, granted: set[str], origin: str) -> bool:
    """Whether a registry entry moves ``actor``'s head (FORMAT 14.1)."""
    ev = leaf.event
    if ev["kind"] in REGISTRY_KINDS:
        return bool(ev.get("subject") == actor)
    if ev["kind"] == "authorize" and ev.get("partner") == actor:
        granted.add(c.b64url(leaf.event_hash(origin)))
        return True
    return ev["kind"] == "authorization.revoke" and ev.get("authorization") in granted


def registry(server: str, actor: str, key: c.LogKey) -> list[Leaf]:
    """The actor's registry entries, proven complete (API.md `GET /v1/actors/{id}`)."""
    if not re.fullmatch(r"[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?", actor):
        raise RefusedError(f"validation: {actor!r} is not an actor id")
    view = fetch(f"{server}/v1/actors/{actor}")
    reg = view.get("registry") if isinstance(view, dict) else None
    if not isinstance(reg, dict):
        raise RefusedError(f"chain-incomplete: actor {actor} has no registry proof")
    cp = c.verify_checkpoint(reg.get("checkpoint"), key)
    leaves = proven(reg.get("entries"), cp, f"{actor}'s registry")
    granted: set[str] = set()
    chain = bytes(32)
    for leaf in leaves:
        if not about(leaf, actor, granted, cp.origin):
            raise RefusedError(f"chain-incomplete: entry {leaf.index} is not about {actor}")
        chain = c.actor_chain(chain, leaf.hash)
    if cp.map_root is not None:
        head = c.verify_map_proof(
            c.unb64url(reg.get("map_proof"), what="map_proof"), c.actor_map_key(actor), cp.map_root
        )
        if head != ((leaves[-1].index, chain) if leaves else None):
            raise RefusedError(
                f"chain-incomplete: actor {actor}'s registry entries are not its whole chain"
            )
    revokes = [lf.index for lf in leaves if lf.event["kind"] == "actor.revoke"]
    removed = {k: lf.index for lf in leaves for k in lf.event.get("remove", [])} | {
        lf.event["key"]: lf.index for lf in leaves if lf.event["kind"] == "key.recover.cancel"
    }
    served = {k.get("key_id"): k.get("removed_index") for k in view.get("keys", [])}
    if any(served.get(k, i) != i for k, i in removed.items()):
        raise RefusedError(
            f"chain-incomplete: actor {actor}'s keys hide a removal its entries show"
        )
    if view.get("revoked_index") != (revokes[0] if revokes else None):
        raise RefusedError(
            f"chain-incomplete: actor {actor}'s revoked_index is not what its entries say"
        )
    return leaves


def verify_view(server: str, target: str, key: c.LogKey) -> tuple[list[str], str]:
    """Fetch and check a unit view with every signer's registry; (reasons, summary)."""
    base, gtin, serial, label = parse_target(target)
    server = (server or base).rstrip("/")
    if not server:
        raise RefusedError("usage: --server is needed with GTIN/SERIAL")
    view = fetch(f"{server}/v1/units/{gtin}/{urllib.parse.quote(serial, safe='')}")
    if not isinstance(view, dict):
        raise RefusedError("validation: the unit view is not an object")
    cp = c.verify_checkpoint(view.get("checkpoint"), key)
    entries = proven(view.get("entries"), cp, "unit")
    versions = view.get("versions")
    if cp.map_root is not None:
        head = c.verify_map_proof(
            c.unb64url(view.get("map_proof"), what="map_proof"),
            c.unit_map_key(gtin, serial),
            cp.map_root,
        )
        if head != ((entries[-1].index, entries[-1].hash) if entries else None):
            raise RefusedError("chain-incomplete: the entries shown are not the unit's whole chain")
    if not entries:
        return ["not-found"], f"proven absent at size {cp.size}"
    if not isinstance(versions, dict):
        raise RefusedError("proof-invalid: the view has entries but no versions")
    switch = proven(versions.get("entries"), cp, "versions")
    if (
        not switch
        or switch[0].index != 0
        or any(lf.event["kind"] != "log.upgrade" for lf in switch[1:])
    ):
        raise RefusedError("proof-invalid: versions are not the genesis and log.upgrade entries")
    chain_of((gtin, serial), entries, cp.origin)
    leaves = {lf.index: lf for lf in entries + switch}
    wanted = {lf.event["actor"] for lf in entries} | {
        str(lf.event["to"]) for lf in entries if "to" in lf.event
    }
    done: set[str] = set()
    while wanted - done:
        actor = sorted(wanted - done)[0]
        done.add(actor)
        for lf in registry(server, actor, key):
            if leaves.setdefault(lf.index, lf).raw != lf.raw:
                raise RefusedError(
                    f"proof-invalid: two different leaves served at index {lf.index}"
                )
            wanted |= {lf.event["actor"]}
        if len(done) > 200:
            raise RefusedError("validation: more than 200 actors to fetch")
    keys = Keys(cp.origin)
    used = check_all(leaves.values(), keys)
    if (versions.get("format_from"), versions.get("rules_from")) != (
        keys.format_from,
        keys.rules_from,
    ):
        raise RefusedError(
            "proof-invalid: versions.format_from/rules_from are not what the entries give"
        )
    reasons, unit = judge(entries, keys, used)
    brand = entries[0].event["actor"]
    if label:
        lr = label_reason(label, gtin, serial, unit, keys.brand_keys.get(brand, []))
        if lr in ("label-mismatch", "label-invalid"):
            reasons = [lr]
        elif lr:
            reasons = [r for r in reasons if r != "verified"] + [lr]
    return reasons, f"{len(entries)} entries proven at size {cp.size}, chain complete"


# --- the offline proof (FORMAT 11) ----------------------------------------------------


def verify_proof(text: str, key: c.LogKey) -> tuple[list[str], str]:
    """Check an offline unit proof with no network; (reasons, summary)."""
    lines = text.split("\n")
    if (
        len(lines) < 4
        or lines[-1] != ""
        or lines[0] != "provenance-ledger/unit-proof@v1"
        or not lines[1].startswith("unit ")
    ):
        raise RefusedError("bad-proof: not a provenance-ledger/unit-proof@v1 file")
    gtin, _, serial = lines[1][5:].partition("/")
    gtin, serial = norm_gtin(gtin), check_serial(serial)
    pos, map_proof = 2, None
    if lines[2].startswith("map "):
        map_proof, pos = c.unb64url(lines[2][4:], what="map line"), 3
    actors: dict[str, bytes] = {}  # FORMAT 11: one line per needed actor, by id
    while map_proof is not None and lines[pos].startswith("actor "):
        parts = lines[pos].split(" ")
        if len(parts) != 3 or not re.fullmatch(r"[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?", parts[1]):
            raise RefusedError(f"bad-proof: line {pos + 1} is not an actor line")
        if actors and parts[1] <= max(actors):
            raise RefusedError("bad-proof: actor lines not in strictly increasing id order")
        actors[parts[1]] = c.unb64url(parts[2], what="actor line")
        pos += 1
    if lines[pos] != "":
        raise RefusedError("bad-proof: no blank line after the header")
    pos += 1
    sections: list[tuple[bytes, int, list[bytes]]] = []
    note = None
    while pos < len(lines) - 1:
        if (
            lines[pos] != "c2sp.org/tlog-proof@v1"
            or not lines[pos + 1].startswith("extra ")
            or not re.fullmatch(r"index (0|[1-9][0-9]*)", lines[pos + 2])
        ):
            raise RefusedError(f"bad-proof: line {pos + 1} does not start a tlog-proof section")
        extra, index, pos = (
            c.unb64(lines[pos + 1][6:], what="extra"),
            int(lines[pos + 2][6:]),
            pos + 3,
        )
        hashes = []
        while lines[pos] != "":
            hashes.append(c.unb64(lines[pos], 32, "proof hash"))
            pos += 1
        end = lines.index("", pos + 1)  # the checkpoint's own blank line
        end += 1
        while end < len(lines) - 1 and lines[end].startswith("\u2014 "):
            end += 1
        this = "\n".join(lines[pos + 1 : end]) + "\n"
        if note is not None and this != note:
            raise RefusedError("bad-proof: sections carry different checkpoints")
        note, pos = this, end
        sections.append((extra, index, hashes))
    if note is None:
        raise RefusedError("bad-proof: no entries")
    cp = c.verify_checkpoint(note, key)
    leaves = []
    for extra, index, hashes in sections:
        leaf = c.parse_leaf(index, extra)
        if not c.verify_inclusion(index, cp.size, leaf.hash, hashes, cp.root):
            raise RefusedError(
                f"proof-invalid: entry {index} is not in the checkpoint of size {cp.size}"
            )
        leaves.append(leaf)
    if [lf.index for lf in leaves] != sorted({lf.index for lf in leaves}) or leaves[0].index != 0:
        raise RefusedError("bad-proof: indices not strictly increasing from the genesis entry 0")
    keys = Keys(cp.origin)
    used = check_all(leaves, keys)
    unit = [lf for lf in leaves if "unit" in lf.event]
    rest = {lf.event["kind"] for lf in leaves if "unit" not in lf.event}
    if not unit or rest - {*REGISTRY_KINDS, "authorize", "authorization.revoke", "log.upgrade"}:
        raise RefusedError("bad-proof: entries other than the unit's chain and registries")
    chain_of((gtin, serial), unit, cp.origin)
    if cp.map_root is not None:
        if map_proof is None:
            raise RefusedError("bad-map-proof: the checkpoint has a map line and the proof none")
        head = c.verify_map_proof(map_proof, c.unit_map_key(gtin, serial), cp.map_root)
        if head != (unit[-1].index, unit[-1].hash):
            raise RefusedError("bad-map-proof: the chain does not end at the unit's head")
        registries_whole(leaves, unit, actors, cp)
    return judge(unit, keys, used)[0], f"{len(leaves)} entries proven at size {cp.size}, offline"


def registries_whole(
    leaves: list[Leaf], unit: list[Leaf], actors: dict[str, bytes], cp: c.Checkpoint
) -> None:
    """FORMAT 11: an actor line for exactly every signer and every recipient, and each
    actor's chain over the proof's entries about it is the head its map proof shows (a
    rotation or revocation cut from the proof changes the chain)."""
    if cp.map_root is None:
        raise RefusedError("bad-map-proof: actor lines without a map root")
    needed = {lf.event["actor"] for lf in leaves} | {
        str(lf.event["to"]) for lf in unit if "to" in lf.event
    }
    if set(actors) != needed:
        raise RefusedError("bad-map-proof: the actor lines are not exactly the needed actors")
    for actor, proof in actors.items():
        granted: set[str] = set()
        chain, last = bytes(32), None
        for leaf in leaves:
            if about(leaf, actor, granted, cp.origin):
                chain, last = c.actor_chain(chain, leaf.hash), leaf.index
        head = c.verify_map_proof(proof, c.actor_map_key(actor), cp.map_root)
        if head != ((last, chain) if last is not None else None):
            raise RefusedError(f"bad-map-proof: actor {actor}'s registry in the proof is not whole")


def main(argv: list[str]) -> int:
    """Parse the arguments, verify, print one line; the exit code."""
    args, opts = [], {"--log-key": None, "--server": "", "--proof": None}
    it = iter(argv)
    for a in it:
        if a in opts:
            opts[a] = next(it, None)
        else:
            args.append(a)
    try:
        if not opts["--log-key"] or len(args) != (0 if opts["--proof"] else 1):
            raise RefusedError(
                "usage: verify_min.py --log-key KEY (--proof FILE | [--server URL] URL|GTIN/SERIAL)"
            )
        key = c.parse_log_key(opts["--log-key"])
        if opts["--proof"]:
            try:
                with open(opts["--proof"], "rb") as f:
                    text = f.read(16 << 20).decode("utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise RefusedError(f"bad-proof: cannot read {opts['--proof']}: {e}") from None
            reasons, summary = verify_proof(text, key)
        else:
            reasons, summary = verify_view(opts["--server"] or "", args[0], key)
    except RefusedError as e:
        print(f"refused: {e}")
        return 1
    except Exception as e:  # anything else is malformed input too: one line, no traceback
        print(f"refused: malformed input ({type(e).__name__}: {str(e)[:80]})")
        return 1
    verdict = (
        "unknown"
        if reasons == ["not-found"]
        else "invalid"
        if reasons[0].startswith("label-") and reasons[0] != "label-unsigned"
        else "genuine"
        if reasons == ["verified"]
        else "caution"
    )
    print(f"{verdict}: {', '.join(reasons)} ({summary})")
    return 0 if verdict in ("genuine", "caution") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
