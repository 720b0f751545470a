"""The offline unit proof: a unit's chain, proven in a cosigned checkpoint, in one text file.

Format (docs/FORMAT.md, "Offline unit proof"), UTF-8, lines ending in ``\\n``:

    provenance-ledger/unit-proof@v1
    unit <gtin14>/<serial>
    map <the unit's map proof, unpadded base64url>    (when the checkpoint has a map root)
    actor <actor id> <its map proof>                  (with a map: one per needed actor, by id)
    <blank line>
    then one C2SP tlog-proof (c2sp.org/tlog-proof@v1) per entry, by increasing index:
    c2sp.org/tlog-proof@v1
    extra <standard base64 of the entry's leaf bytes>
    index <decimal index>
    <inclusion proof, one standard base64 hash per line>
    <blank line>
    <the checkpoint note, with witness cosignatures; byte-identical in every section>

The entries are the unit's whole chain plus, for every key that signed one of them,
the entry that registered that key (``actor.register``, ``key.rotate`` or
``key.recover``), transitively up to the genesis entry: so every signature is checked
against a key the log itself recorded, with nothing but the log's key (and the
witnesses' keys) pinned. Those entries are held to the log's key rules, as the server
applied them: a ``key.rotate`` counts only if its subject signed it (rule set 2: never an
operator for another), a ``key.recover`` only if an operator signed it with an
``effective`` time at least the log's recovery wait after its log time, and its key
signs nothing before then, nor after a ``key.recover.cancel`` the proof holds; a scoped
key signs only its scope's kinds (ledger.rules.context.SCOPE_KINDS). Each section is a
standard tlog-proof whose ``extra`` is the record (the leaf hash is
``SHA-256(0x00 || extra)``, RFC 9162 2.1.1).

When the checkpoint signs a map of heads (docs/FORMAT.md section 14), the ``map`` line
proves the unit's latest entry at the checkpoint's size, and `verify` refuses a chain that
does not end there: nothing was cut from the end. The ``actor`` lines do the same for the
whole registry of every signer and recipient, which the proof then holds (every
rotation, any revocation: ledger.verify.proofregistry). The proof cannot show that no entry
came after the checkpoint (no offline proof can), nor a revocation that the log's rules
applied between a key's registration and its use (the audit replays the rules).

`verify` also computes the unit's verdict from the proven chain alone
(ledger.verify.recompute), with the actor facts the proof's own ``actor.register``
entries prove: no server's verdict is involved.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ledger import codec, entry, merkle
from ledger.errors import NoteError, ProofError, SignatureError
from ledger.events import (
    ActorRegister,
    ActorRevoke,
    AuthorizationRevoke,
    Authorize,
    KeyRecover,
    KeyRecoverCancel,
    KeyRotate,
    LogUpgrade,
)
from ledger.map import commit as map_commit
from ledger.map import proof as map_proof
from ledger.map.proof import MapProofError
from ledger.map.trie import unit_key
from ledger.note.checkpoint import Checkpoint, verify_checkpoint
from ledger.note.cosignature import cosigners, parse_witness_keys
from ledger.note.signednote import Note, Verifier
from ledger.verify.freshness import DEFAULT_MAX_AGE, Freshness, check_fresh
from ledger.verify.proofkeys import check_signatures
from ledger.verify.proofregistry import check_registries, proven_actors
from ledger.verify.recompute import Switch, recompute
from ledger.verify.verdict import Reason

HEADER = "provenance-ledger/unit-proof@v1"
TLOG_PROOF = "c2sp.org/tlog-proof@v1"
_UNIT = re.compile(r"unit ([0-9]{14})/([!-~]{1,20})")
_INDEX = re.compile(r"index (0|[1-9][0-9]{0,19})")
_ACTOR = re.compile(r"actor ([a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?) ([A-Za-z0-9_-]+)")


@dataclass(frozen=True)
class ProvenEntry:
    """One entry of a proof: its index, leaf bytes and inclusion proof."""

    index: int
    leaf: bytes
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class UnitProof:
    """A parsed (unverified) unit proof."""

    gtin: str
    serial: str
    entries: tuple[ProvenEntry, ...]
    checkpoint: str
    map_proof: bytes | None = None
    #: (actor id, its map proof), by id: the actors whose whole registries the proof holds
    actor_proofs: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class VerifiedUnit:
    """What a verified proof establishes: the unit's chain in a checkpoint of ``size``,
    and the verdict and reasons computed from that chain alone."""

    gtin: str
    serial: str
    size: int
    chain: tuple[entry.Leaf, ...]
    chain_indices: tuple[int, ...]
    witnesses: tuple[str, ...]
    verdict: str = ""
    reasons: tuple[Reason, ...] = ()
    #: the checkpoint's map of heads proved the chain ends at the unit's latest entry
    complete: bool = False
    #: the checkpoint's trusted time and age at ``now`` (None: its age was not checked)
    fresh: Freshness | None = None


def encode(
    gtin: str,
    serial: str,
    entries: Iterable[ProvenEntry],
    checkpoint: str,
    map_proof: bytes | None = None,
    actors: Mapping[str, bytes] | None = None,
) -> str:
    """Return the proof text (module docstring) for entries in any order; ``actors``: each
    actor's map proof, whose whole registry the entries hold (with ``map_proof`` only)."""
    mapped = "" if map_proof is None else f"map {codec.b64url_encode(map_proof)}\n"
    mapped += "".join(
        f"actor {a} {codec.b64url_encode(p)}\n" for a, p in sorted((actors or {}).items())
    )
    parts = [f"{HEADER}\nunit {gtin}/{serial}\n{mapped}\n"]
    for item in sorted(entries, key=lambda e: e.index):
        lines = [TLOG_PROOF, f"extra {codec.b64_encode(item.leaf)}", f"index {item.index}"]
        lines += [codec.b64_encode(h) for h in item.proof]
        parts.append("\n".join(lines) + "\n\n" + checkpoint)
    return "".join(parts)


def parse(data: bytes | str) -> UnitProof:
    """Parse a proof strictly (syntax only; see `verify`).

    Raises:
        NoteError: not UTF-8, a missing or malformed line, a section without ``extra``,
            indices not strictly increasing, or checkpoints that differ between sections.
    """
    text = _text(data)
    head, sep, rest = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or len(lines) < 2 or lines[0] != HEADER:
        raise NoteError(
            f"expected '{HEADER}', a unit line, a map line and actor lines if any, and a "
            "blank line",
            field="header",
        )
    unit = _UNIT.fullmatch(lines[1])
    if unit is None:
        raise NoteError("expected 'unit <gtin14>/<serial>'", field="unit")
    mapped = None
    if len(lines) >= 3:
        if not lines[2].startswith("map "):
            raise NoteError("expected 'map <base64url map proof>'", field="map")
        mapped = codec.b64url_decode(lines[2][len("map ") :], field="map")
    actors = []
    for number, line in enumerate(lines[3:]):
        found = _ACTOR.fullmatch(line)
        if found is None:
            raise NoteError("expected 'actor <actor id> <base64url map proof>'", field="actors")
        proof = codec.b64url_decode(found.group(2), field=f"actors[{number}]")
        actors.append((found.group(1), proof))
    if [a for a, _ in actors] != sorted({a for a, _ in actors}):
        raise NoteError("actor lines must be by strictly increasing actor id", field="actors")
    starts = [m.start() for m in re.finditer(f"^{re.escape(TLOG_PROOF)}\n", rest, re.M)]
    if not starts or starts[0] != 0:
        raise NoteError(f"expected '{TLOG_PROOF}' sections after the header", field="proof")
    sections = [rest[a:b] for a, b in zip(starts, [*starts[1:], len(rest)], strict=True)]
    entries = [_section(s, i) for i, s in enumerate(sections)]
    checkpoints = {c for _, c in entries}
    if len(checkpoints) != 1:
        raise NoteError("every section must carry the same checkpoint", field="checkpoint")
    indices = [e.index for e, _ in entries]
    if indices != sorted(set(indices)):
        raise NoteError("indices must strictly increase", field="index")
    return UnitProof(
        unit.group(1),
        unit.group(2),
        tuple(e for e, _ in entries),
        checkpoints.pop(),
        mapped,
        tuple(actors),
    )


def _text(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as e:
        raise NoteError(f"not UTF-8 at byte {e.start}", field="proof") from e


def _section(section: str, number: int) -> tuple[ProvenEntry, str]:
    """Parse one tlog-proof section (C2SP tlog-proof "Format")."""
    head, sep, checkpoint = section.partition("\n\n")
    lines = head.split("\n")
    where = f"sections[{number}]"
    if not sep or len(lines) < 3 or not lines[1].startswith("extra "):
        raise NoteError("expected the header, 'extra', 'index' and a blank line", field=where)
    index = _INDEX.fullmatch(lines[2])
    if index is None:
        raise NoteError("expected 'index <decimal>'", field=f"{where}.index")
    leaf = codec.b64_decode(lines[1][len("extra ") :], field=f"{where}.extra")
    proof = tuple(codec.b64_decode(h, field=f"{where}.proof") for h in lines[3:])
    Note.from_bytes(checkpoint)  # syntax now; the signature in `verify`
    return ProvenEntry(int(index.group(1)), leaf, proof), checkpoint


def verify(
    data: bytes | str,
    log_key: str,
    witness_keys: Sequence[Verifier | str] = (),
    min_witnesses: int = 0,
    *,
    now: int | None = None,
    max_age: int = DEFAULT_MAX_AGE,
) -> VerifiedUnit:
    """Verify a unit proof offline against pinned keys.

    ``now`` (seconds since the epoch; the present, or the time a stored proof is to be
    judged as of) makes step (2b) check the checkpoint's age; None skips it.

    Steps:
        (1) parse (`parse`);
        (2) the checkpoint verifies under ``log_key``; every line by one of the
            ``witness_keys`` verifies, and at least ``min_witnesses`` of them cosigned;
        (2b) with ``now``: a trusted time dates the checkpoint at most ``max_age``
            seconds before ``now`` (ledger.verify.freshness: the witnesses' cosignatures
            when ``witness_keys`` are given, else the log's own time line);
        (3) every entry is included in the checkpoint (RFC 9162 2.1.3.2);
        (4) every entry is signed by a key that an earlier entry in the proof
            registered for its signer by the log's key rules (module docstring; the
            genesis entry by the key it introduces), within the key's scope;
        (5) the unit's entries form its chain: a commission first, then each ``prev``
            naming the previous event's hash; any other entry registers keys;
        (6) when the checkpoint signs a map root: the map proof shows the unit's latest
            entry is the chain's last (`complete`); and every actor that signed an
            entry or received the unit has an actor line whose map proof shows the
            head its registry entries in the proof give: none was left out
            (ledger.verify.proofregistry);
        (7) the verdict and reasons from that chain (ledger.verify.recompute), with the
            facts of the actors the proof registers (and the revocations it holds).

    Raises:
        NoteError, EncodingError: (1) malformed.
        CheckpointSignatureError, KeyFormatError: (2) a signature or a key.
        SignatureError: (2) too few witnesses, or (4) a signature.
        CheckpointStaleError, TimestampError, CosignatureError: (2b) (their codes:
            ``checkpoint-stale``, ``unknown-witness``, ``bad-timestamp``,
            ``bad-cosignature``).
        ProofError: (3) an inclusion proof, or (5) the chain.
        MapProofError: (6) no map proof, a bad one, a chain cut short, or an actor's
            registry missing or not whole.
    """
    proof = parse(data)  # (1)
    checkpoint = verify_checkpoint(proof.checkpoint, log_key)  # (2)
    witnesses = parse_witness_keys(witness_keys)
    signed = cosigners(checkpoint, Note.from_bytes(proof.checkpoint), witnesses)
    if len(signed) < min_witnesses:
        raise SignatureError(
            f"{len(signed)} of the required {min_witnesses} witnesses cosigned", field="witnesses"
        )
    fresh = None
    if now is not None:  # (2b)
        fresh = check_fresh(proof.checkpoint, log_key, witnesses, now=now, max_age=max_age)
    leaves = []
    for item in proof.entries:  # (3)
        merkle.verify_inclusion(
            merkle.leaf_hash(item.leaf), item.index, checkpoint.size, item.proof, checkpoint.root
        )
        leaves.append((item.index, entry.Leaf.from_bytes(item.leaf, checkpoint.origin)))
    try:  # the log's own switch, from the proof's genesis and log.upgrade entries
        switch: Switch | None = Switch.from_entries([(i, lf.signed.event) for i, lf in leaves])
    except ValueError:
        switch = None  # step (4) refuses such a proof: nobody vouches for the keys
    check_signatures(leaves, switch or Switch(None, None))  # (4)
    if switch is None:
        raise ProofError("the proof lacks entry 0", field="entries")
    chain = _check_chain(proof.gtin, proof.serial, leaves)  # (5)
    complete = _check_complete(proof, checkpoint, chain)  # (6)
    root = map_commit.root_of(checkpoint.extensions)
    if root is not None:
        check_registries(root, dict(proof.actor_proofs), leaves, chain)
    elif proof.actor_proofs:
        raise MapProofError("actor lines, but the checkpoint signs no map of heads")
    judged = recompute(chain, proven_actors(leaves), switch=switch)  # (7)
    return VerifiedUnit(
        proof.gtin,
        proof.serial,
        checkpoint.size,
        tuple(leaf for _, leaf in chain),
        tuple(i for i, _ in chain),
        tuple(w.name for w in signed),
        str(judged.verdict),
        tuple(judged.reasons),
        complete,
        fresh,
    )


def _check_complete(
    proof: UnitProof, checkpoint: Checkpoint, chain: Sequence[tuple[int, entry.Leaf]]
) -> bool:
    """Step (6): True when the signed map root proves the chain ends at the unit's head;
    False for a checkpoint with no map root (a log from before maps)."""
    root = map_commit.root_of(checkpoint.extensions)
    if root is None:
        return False
    if proof.map_proof is None:
        raise MapProofError("the checkpoint signs a map of heads: the proof needs its map line")
    head = map_proof.verify(root, unit_key(proof.gtin, proof.serial), proof.map_proof)
    index, leaf = chain[-1]
    if head is None or (head.index, head.entry_hash) != (index, merkle.leaf_hash(leaf.data)):
        committed = "none" if head is None else f"entry {head.index}"
        raise MapProofError(
            f"the unit's latest entry in the log is {committed}, but the chain ends at entry "
            f"{index}: entries were left out",
            field="chain",
        )
    return True


def _check_chain(
    gtin: str, serial: str, leaves: Sequence[tuple[int, entry.Leaf]]
) -> list[tuple[int, entry.Leaf]]:
    """Step (5): the unit's entries, checked as a hash chain from its commission."""
    chain: list[tuple[int, entry.Leaf]] = []
    previous: bytes | None = None
    for index, leaf in leaves:
        event = leaf.signed.event
        unit = getattr(event, "unit", None)
        if unit is None or (unit.gtin, unit.serial) != (gtin, serial):
            # besides the unit's: the entries that registered keys, and the log's switch
            registry = (
                ActorRegister
                | ActorRevoke
                | Authorize
                | AuthorizationRevoke
                | KeyRotate
                | KeyRecover
                | KeyRecoverCancel
                | LogUpgrade
            )
            if not isinstance(event, registry):
                raise ProofError(f"entry {index} is neither the unit's nor a key's", field="chain")
            continue
        expected: str | None = None if previous is None else codec.b64url_encode(previous)
        first_ok = previous is not None or event.kind == "commission"
        if getattr(event, "prev", None) != expected or not first_ok:
            raise ProofError(f"entry {index} does not continue the unit's chain", field="chain")
        chain.append((index, leaf))
        previous = leaf.signed.hash
    if not chain:
        raise ProofError("the proof holds no entry of the unit", field="chain")
    return chain
