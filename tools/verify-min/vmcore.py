"""The bytes of docs/FORMAT.md, from that document alone: strict JSON and JCS (section 1),
base64 forms, event messages and leaves (sections 3, 4), RFC 9162 inclusion proofs,
C2SP signed notes and checkpoints (section 5), and map-of-heads proofs (section 14).

Only the standard library and `cryptography`; nothing of the package is imported, so
this file is a second, independent reading of the format. Every failure raises
`RefusedError` with a one-line reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MAX_INT = 2**53 - 1
EMPTY = bytes(32)


class RefusedError(Exception):
    """Input that does not check: the message is the one-line reason."""


def sha256(*parts: bytes) -> bytes:
    """SHA-256 of the concatenation of ``parts``."""
    return hashlib.sha256(b"".join(parts)).digest()


# --- section 1: encodings -------------------------------------------------------------


def _no_float(text: str) -> Any:
    raise RefusedError(f"encoding: a float ({text}) in JSON")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise RefusedError(f"encoding: duplicate key {k!r} in JSON")
        out[k] = v
    return out


def _check_ints(value: Any) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_INT:
            raise RefusedError("encoding: an integer outside +-(2^53 - 1)")
    elif isinstance(value, list):
        for v in value:
            _check_ints(v)
    elif isinstance(value, dict):
        for v in value.values():
            _check_ints(v)


def parse_json(data: bytes | str) -> Any:
    """Strict JSON of section 1: UTF-8, no duplicate keys, no floats, safe integers."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(
            text, object_pairs_hook=_pairs, parse_float=_no_float, parse_constant=_no_float
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise RefusedError(f"encoding: not JSON ({str(e).splitlines()[0][:80]})") from None
    _check_ints(value)
    return value


def jcs(value: Any) -> bytes:
    """RFC 8785 canonical bytes of a float-free JSON value (keys by UTF-16 code units)."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        body = ",".join(f"{_str(k)}:{jcs(v).decode()}" for k, v in items)
        return ("{" + body + "}").encode()
    if isinstance(value, list):
        return ("[" + ",".join(jcs(v).decode() for v in value) + "]").encode()
    if isinstance(value, str):
        return _str(value).encode()
    if value is True or value is False or value is None or isinstance(value, int):
        return json.dumps(value).encode()
    raise RefusedError(f"encoding: {type(value).__name__} has no JCS form")


def _str(s: str) -> str:
    out = json.dumps(s, ensure_ascii=False)
    try:
        out.encode("utf-8")
    except UnicodeEncodeError:
        raise RefusedError("encoding: a lone surrogate in a string") from None
    return out


def b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: Any, size: int | None = None, what: str = "value") -> bytes:
    """Canonical unpadded base64url (no padding, no trailing bits), of ``size`` bytes."""
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise RefusedError(f"{what}: not unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise RefusedError(f"{what}: not base64url") from None
    if b64url(raw) != text or (size is not None and len(raw) != size):
        raise RefusedError(
            f"{what}: not canonical base64url" + (f" of {size} bytes" if size else "")
        )
    return raw


def unb64(text: str, size: int | None = None, what: str = "value") -> bytes:
    """Canonical standard padded base64 (C2SP notes, offline proofs)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RefusedError(f"{what}: not standard base64") from None
    if base64.b64encode(raw).decode() != text or (size is not None and len(raw) != size):
        raise RefusedError(f"{what}: not canonical base64" + (f" of {size} bytes" if size else ""))
    return raw


def key_id(raw: bytes) -> str:
    """Key id: base64url(SHA-256(raw public key)[0:16])."""
    return b64url(sha256(raw)[:16])


def ed25519_ok(raw_key: bytes, sig: bytes, message: bytes) -> bool:
    """Whether ``sig`` is a valid Ed25519 signature of ``message`` under ``raw_key``."""
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(sig, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- sections 3 and 4: events and leaves ----------------------------------------------


def event_message(event: dict[str, Any], fmt: int, origin: str) -> bytes:
    """The signed message of section 3 (format 2 names the origin)."""
    if fmt == 2:
        return b"provenance-ledger/v2 event\n" + origin.encode() + b"\n" + jcs(event)
    return b"provenance-ledger/v1 event\n" + jcs(event)


@dataclass(frozen=True)
class Leaf:
    """A parsed leaf (section 4): what the tree commits to."""

    index: int
    raw: bytes
    event: dict[str, Any]
    key: str
    received: str
    sig: bytes
    fmt: int

    @property
    def hash(self) -> bytes:
        """RFC 9162 leaf hash."""
        return sha256(b"\x00", self.raw)

    def event_hash(self, origin: str) -> bytes:
        """``event_hash`` = SHA-256 of the signed message."""
        return sha256(event_message(self.event, self.fmt, origin))


def parse_leaf(index: int, raw: bytes) -> Leaf:
    """Parse leaf bytes; refuse non-canonical JCS or a malformed envelope."""
    obj = parse_json(raw)
    if not isinstance(obj, dict) or jcs(obj) != raw:
        raise RefusedError(f"leaf {index}: not canonical JCS")
    keys = set(obj)
    if keys not in ({"event", "key", "received", "sig"}, {"event", "key", "received", "sig", "v"}):
        raise RefusedError(f"leaf {index}: wrong members {sorted(keys)}")
    if "v" in obj and (obj["v"] != 2 or isinstance(obj["v"], bool)):
        raise RefusedError(f"leaf {index}: v is not 2")
    event = obj["event"]
    if not isinstance(event, dict) or not all(
        isinstance(event.get(k), str) for k in ("kind", "actor", "time")
    ):
        raise RefusedError(f"leaf {index}: event lacks kind, actor or time")
    if not isinstance(obj["received"], str):
        raise RefusedError(f"leaf {index}: received is not a time")
    unb64url(obj["key"], 16, f"leaf {index} key")
    sig = unb64url(obj["sig"], 64, f"leaf {index} sig")
    return Leaf(index, raw, event, obj["key"], obj["received"], sig, 2 if "v" in obj else 1)


# --- section 4: RFC 9162 inclusion ----------------------------------------------------


def node(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash."""
    return sha256(b"\x01", left, right)


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: list[bytes], root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size or any(len(p) != 32 for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


# --- section 5: C2SP notes and checkpoints --------------------------------------------


@dataclass(frozen=True)
class LogKey:
    """A C2SP Ed25519 verifier key ``name+hash+base64(0x01 || key)``."""

    name: str
    key_hash: bytes
    raw: bytes


def parse_log_key(text: str) -> LogKey:
    """Parse and self-check a verifier key (its hash must match its name and key)."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise RefusedError("log key: not a C2SP verifier key name+hash+key")
    blob = unb64(parts[2], 33, "log key")
    if blob[0] != 1 or sha256(parts[0].encode(), b"\n", blob)[:4] != bytes.fromhex(parts[1]):
        raise RefusedError("log key: its key hash does not match")
    return LogKey(parts[0], bytes.fromhex(parts[1]), blob[1:])


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint: origin, size, root, map root (None: no map line)."""

    text: str
    origin: str
    size: int
    root: bytes
    map_root: bytes | None


def split_note(note: Any) -> tuple[str, list[str]]:
    """A signed note's text (with its final newline) and its signature lines."""
    if not isinstance(note, str) or "\n\n" not in note or not note.endswith("\n"):
        raise RefusedError("bad-note: not a signed note")
    text, _, sigs = note.partition("\n\n")
    lines = sigs[:-1].split("\n")
    if not lines or not all(line.startswith("\u2014 ") for line in lines):
        raise RefusedError("bad-note: malformed signature lines")
    return text + "\n", lines


def verify_checkpoint(note: Any, key: LogKey) -> Checkpoint:
    """Verify a checkpoint note under the pinned log key and parse its body."""
    text, lines = split_note(note)
    ok = False
    for line in lines:
        parts = line.split(" ")
        if len(parts) != 3:
            raise RefusedError("bad-note: malformed signature line")
        blob = unb64(parts[2], what="note signature")
        if parts[1] == key.name and blob[:4] == key.key_hash:
            if len(blob) != 68 or not ed25519_ok(key.raw, blob[4:], text.encode()):
                raise RefusedError("checkpoint-invalid: the log key's signature does not verify")
            ok = True
    if not ok:
        raise RefusedError("checkpoint-invalid: no signature by the pinned log key")
    body = text[:-1].split("\n")
    if len(body) < 3 or body[0] != key.name or not re.fullmatch(r"0|[1-9][0-9]*", body[1]):
        raise RefusedError("bad-note: checkpoint body malformed or not this log's origin")
    root = unb64(body[2], 32, "checkpoint root")
    maps = [b for b in body[3:] if b.startswith("map/v1 ")]
    if len(maps) > 1:
        raise RefusedError("bad-map-proof: two map/v1 lines")
    map_root = unb64(maps[0][7:], 32, "map root") if maps else None
    return Checkpoint(text, body[0], int(body[1]), root, map_root)


# --- section 14: the map of heads -----------------------------------------------------


def unit_map_key(gtin: str, serial: str) -> bytes:
    """Map key of a unit."""
    return sha256(b"provenance-ledger/map/unit/v1\x00", gtin.encode(), b"\x00", serial.encode())


def actor_map_key(actor: str) -> bytes:
    """Map key of an actor."""
    return sha256(b"provenance-ledger/map/actor/v1\x00", actor.encode())


def actor_chain(previous: bytes, leaf_hash: bytes) -> bytes:
    """One step of an actor's chain over its registry entries (section 14.1)."""
    return sha256(b"provenance-ledger/map/actor-chain/v1\x00", previous, leaf_hash)


def _bit(key: bytes, i: int) -> int:
    return (key[i // 8] >> (7 - i % 8)) & 1


def verify_map_proof(proof: bytes, key: bytes, root: bytes) -> tuple[int, bytes] | None:
    """Check a map proof for ``key`` against ``root``: its head (index, entry hash), or
    None when the key is proven absent."""
    if len(proof) < 4 or proof[0] != 1 or proof[1] not in (0, 1):
        raise RefusedError("bad-map-proof: version or terminal byte")
    n = int.from_bytes(proof[2:4], "big")
    if n > 256:
        raise RefusedError("bad-map-proof: depth over 256")
    nb = (n + 7) // 8
    bitmap = proof[4 : 4 + nb]
    if len(bitmap) != nb or (n % 8 and bitmap[-1] & ((1 << (8 - n % 8)) - 1)):
        raise RefusedError("bad-map-proof: bitmap padding")
    set_bits = [_bit(bitmap, i) for i in range(n)]
    pos, siblings = 4 + nb, []
    for i in range(n):
        if set_bits[i]:
            sib = proof[pos : pos + 32]
            if len(sib) != 32 or sib == EMPTY:
                raise RefusedError("bad-map-proof: sibling missing or EMPTY under a set bit")
            siblings.append(sib)
            pos += 32
        else:
            siblings.append(EMPTY)
    tail = proof[pos:]
    if len(tail) != (72 if proof[1] else 0):
        raise RefusedError("bad-map-proof: length does not match the bitmap")
    h = sha256(b"\x00", tail) if proof[1] else EMPTY
    for i in range(n - 1, -1, -1):
        h = node(siblings[i], h) if _bit(key, i) else node(h, siblings[i])
    if h != root:
        raise RefusedError("bad-map-proof: the proof does not reach the signed map root")
    if not proof[1]:
        return None
    leaf_key, index, entry = tail[:32], int.from_bytes(tail[32:40], "big"), tail[40:]
    if leaf_key == key:
        return index, entry
    if any(_bit(leaf_key, i) != _bit(key, i) for i in range(n)):
        raise RefusedError("bad-map-proof: another key's leaf off the asked key's path")
    return None
