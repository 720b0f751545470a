"""The tamper matrix: every way of editing the database behind the ledger's back is
caught by the audit, which names the first bad index (or the projection)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from ledger import codec, entry, merkle, note
from ledger.audit.replay import AuditReport
from ledger.entry import Leaf, sign_event
from ledger.events import event_from_dict
from ledger.service.audit import StoreSource, audit_log
from tests.factories import GTIN, LOG_SEED, key
from tests.integration.world import LedgerWorld
from tests.rules_factories import SERIAL

TAMPERED = 15  # the index we tamper with: the receive of unit SN-0001


@pytest.fixture
def busy(world: LedgerWorld) -> LedgerWorld:
    """The base world plus custody traffic on two units: 20 entries, one per batch."""
    w = world.world
    world.append(w.on_unit("handoff", "acme", to="ship-co"))  # 13
    world.append(w.sign("commission", "acme", unit={"gtin": GTIN, "serial": "SN-2"}, prev=None))
    world.append(w.on_unit("receive", "ship-co"))  # 15
    world.append(w.on_unit("handoff", "ship-co", to="shop"))
    world.append(w.on_unit("receive", "shop"))
    world.append(w.on_unit("inspect", "insp", result="pass"))
    world.append(w.on_unit("sell", "shop"))
    world.append(w.on_unit("inspect", "insp", serial="SN-2", result="pass"))  # 20, last on SN-2
    assert world.ledger.head().size == 21
    return world


def _sql(world: LedgerWorld, statement: str, **params: Any) -> None:
    with world.ledger.store.engines.writer.begin() as conn:
        conn.execute(text(statement), {"log": world.ledger.log, **params})


def _audit(world: LedgerWorld, trusted: list[str] | None = None) -> AuditReport:
    ledger = world.ledger
    return audit_log(ledger.store, ledger.log, ledger.verifier_key, trusted=trusted or [])


def _flip(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        data = bytearray(bytes(value))
        data[len(data) // 2] ^= 0x01
        return bytes(data)
    return value[:-1] + ("x" if value[-1] != "x" else "y")


COLUMNS = [  # the leaf hash is computed from the leaf (0014_slim_entries)
    "leaf",
    "chain",
    "event_key",  # the event hash's key (0031_from_leaves): the hash is the leaf's
    "kind",
    "gtin",
    "serial",
    "signer",
]


@pytest.mark.parametrize("column", COLUMNS)
def test_one_flipped_byte_in_any_column_is_found(busy: LedgerWorld, column: str) -> None:
    assert _audit(busy).ok
    with busy.ledger.store.engines.reader.connect() as conn:
        value = conn.execute(
            text(f"SELECT {column} FROM entries WHERE log = :log AND idx = :i"),
            {"log": busy.ledger.log, "i": TAMPERED},
        ).scalar_one()
    _sql(
        busy,
        f"UPDATE entries SET {column} = :v WHERE log = :log AND idx = :i",
        v=_flip(value),
        i=TAMPERED,
    )
    report = _audit(busy)
    assert not report.ok
    assert report.first_bad_index == TAMPERED, report.to_dict()


def test_a_deleted_row_is_found(busy: LedgerWorld) -> None:
    _sql(busy, "DELETE FROM entries WHERE log = :log AND idx = :i", i=TAMPERED)
    report = _audit(busy)
    assert report.first_bad_index == TAMPERED
    assert "missing-entry" in {f.code for f in report.findings}


def test_a_row_planted_past_the_head_is_found(busy: LedgerWorld) -> None:
    """A copy of an entry at index size + 5: the replay never reads it, the append that
    reaches that index would fail on it; the audit names it."""
    assert "entry-past-head" not in {f.code for f in _audit(busy).findings}
    columns = ", ".join(c for c in COLUMNS)
    _sql(
        busy,
        f"INSERT INTO entries (log, idx, {columns}) SELECT log, idx + :shift, {columns}"
        " FROM entries WHERE log = :log AND idx = :i",
        shift=26 - TAMPERED,
        i=TAMPERED,
    )
    report = _audit(busy)
    found = [f for f in report.findings if f.code == "entry-past-head"]
    assert len(found) == 1 and found[0].index == 26
    assert found[0].evidence == {"count": 1, "size": 21}
    assert report.first_bad_index == 26


def test_a_row_planted_at_the_head_is_reported_not_replayed(busy: LedgerWorld) -> None:
    # the replay reads up to the head only: the row at index == size is the append's
    # next index, reported as past the head, and replays nothing (no chain or head
    # findings from a 22nd entry)
    columns = ", ".join(c for c in COLUMNS)
    _sql(
        busy,
        f"INSERT INTO entries (log, idx, {columns}) SELECT log, 21, {columns}"
        " FROM entries WHERE log = :log AND idx = :i",
        i=TAMPERED,
    )
    report = _audit(busy)
    assert [f.code for f in report.findings] == ["entry-past-head"]
    assert report.findings[0].index == 21 and report.entries == 21


def test_two_swapped_rows_are_found(busy: LedgerWorld) -> None:
    _sql(busy, "UPDATE entries SET idx = -1 WHERE log = :log AND idx = :i", i=TAMPERED)
    _sql(
        busy,
        "UPDATE entries SET idx = :i WHERE log = :log AND idx = :j",
        i=TAMPERED,
        j=TAMPERED + 1,
    )
    _sql(busy, "UPDATE entries SET idx = :j WHERE log = :log AND idx = -1", j=TAMPERED + 1)
    report = _audit(busy)
    assert report.first_bad_index == TAMPERED, report.to_dict()


def test_a_truncated_tail_is_found(busy: LedgerWorld) -> None:
    _sql(busy, "DELETE FROM entries WHERE log = :log AND idx >= :i", i=TAMPERED)
    report = _audit(busy)
    assert report.first_bad_index == TAMPERED
    # A consistent truncation (head row and checkpoints cut too) is caught by a trusted
    # checkpoint the auditor kept.
    kept = busy.ledger.checkpoint()
    _sql(busy, "DELETE FROM checkpoints WHERE log = :log AND size > :i", i=TAMPERED)
    _sql(busy, "DELETE FROM nodes WHERE log = :log")
    report = _audit(busy, trusted=[kept])
    assert "truncated" in {f.code for f in report.findings}


def test_an_edited_projection_is_found(busy: LedgerWorld) -> None:
    _sql(
        busy,
        "UPDATE units SET custodian = 'mallory' WHERE log = :log AND serial = :s",
        s=SERIAL,
    )
    report = _audit(busy)
    assert [f.code for f in report.findings] == ["projection"]
    assert report.findings[0].evidence["table"] == "unit"
    assert report.first_bad_index is None


@pytest.mark.parametrize("pointed", [TAMPERED, 19, 99])  # not a head; SN-0001's head; none
def test_a_unit_head_index_moved_is_found(busy: LedgerWorld, pointed: int) -> None:
    # the audit hands the store the replay's heads by index (Store.load_state's
    # ``heads``): a unit pointed at another entry, another unit's head, or no entry
    # still differs from the replay, and the finding shows the head the store gives
    _sql(
        busy,
        "UPDATE units SET head_index = :i WHERE log = :log AND serial = 'SN-2'",
        i=pointed,
    )
    ledger = busy.ledger
    report = _audit(busy)
    assert [f.code for f in report.findings] == ["projection"]
    evidence = report.findings[0].evidence
    assert evidence["key"] == [GTIN, "SN-2"]
    stored = ledger.store.load_state(ledger.log).units[(GTIN, "SN-2")]
    assert stored.head_index == pointed
    assert evidence["stored"] == repr(stored)
    entries = ledger.entries(pointed, pointed + 1)
    expected = codec.b64url_encode(entries[0].event_hash) if entries else ""
    assert stored.head == expected


def test_a_rewritten_log_origin_is_found(busy: LedgerWorld) -> None:
    # format-2 event hashes name the origin: a reader taking it from the row (a
    # read-only ledger, every stored unit head) would serve hashes of another log
    _sql(busy, "UPDATE logs SET origin = 'evil.example/log' WHERE id = :log")
    report = _audit(busy)
    found = [f for f in report.findings if f.code == "origin"]
    assert len(found) == 1 and not report
    assert found[0].evidence == {"stored": "evil.example/log", "expected": busy.ledger.origin}
    # and the units' heads are then read from their entries, not taken from the replay
    ledger = busy.ledger
    source = StoreSource(ledger.store, ledger.log)
    bogus = {u.head_index: "x" for u in ledger.store.load_state(ledger.log).units.values()}
    assert all(u.head != "x" for u in source.replay_state(bogus, ledger.origin).units.values())
    _sql(busy, "UPDATE logs SET origin = :o WHERE id = :log", o=ledger.origin)
    assert all(u.head == "x" for u in source.replay_state(bogus, ledger.origin).units.values())


@pytest.mark.parametrize("tamper", [None, "custodian", "head_index"])
def test_the_heads_from_the_replay_change_no_report(
    busy: LedgerWorld, tamper: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if tamper == "custodian":
        _sql(
            busy,
            "UPDATE units SET custodian = 'mallory' WHERE log = :log AND serial = :s",
            s=SERIAL,
        )
    elif tamper == "head_index":
        _sql(busy, "UPDATE units SET head_index = 3 WHERE log = :log AND serial = 'SN-2'")
    taken = _audit(busy).to_dict()
    monkeypatch.delattr(StoreSource, "replay_state")
    assert _audit(busy).to_dict() == taken
    assert taken["ok"] is (tamper is None)


def test_unit_heads_given_by_index_are_the_ones_read(busy: LedgerWorld) -> None:
    ledger = busy.ledger
    read = ledger.store.load_state(ledger.log)
    heads = {u.head_index: u.head for u in read.units.values()}
    assert len(heads) == 2
    assert ledger.store.load_state(ledger.log, heads) == read
    # taken as given where the index is there (the caller vouches for them), else read
    given = ledger.store.load_state(ledger.log, {20: "x"})
    assert given.units[(GTIN, "SN-2")].head == "x"
    assert given.units[(GTIN, SERIAL)] == read.units[(GTIN, SERIAL)]


def _rewrite(world: LedgerWorld, index: int, leaf: bytes, *, resign: bool) -> None:
    """Replace one leaf and recompute every derived value: hashes, chain, nodes, head;
    with ``resign`` also every checkpoint (an insider holding the operator key)."""
    ledger = world.ledger
    size = ledger.head().size
    leaves = [e.leaf for e in ledger.entries(0, size)]
    leaves[index] = leaf
    hashes = [merkle.leaf_hash(x) for x in leaves]
    chain = entry.ZERO_HASH
    with ledger.store.engines.writer.begin() as conn:
        for i, data in enumerate(leaves):
            chain = entry.chain_hash(chain, hashes[i])
            if i >= index:
                parsed = Leaf.from_bytes(data, ledger.origin)
                conn.execute(
                    text(
                        "UPDATE entries SET leaf = :leaf, chain = :c, event_key = :e"
                        " WHERE log = :log AND idx = :i"
                    ),
                    {
                        "leaf": data,
                        "c": chain,
                        "e": parsed.signed.hash[:8],
                        "log": ledger.log,
                        "i": i,
                    },
                )
        conn.execute(text("DELETE FROM nodes WHERE log = :log"), {"log": ledger.log})
        for i in range(size):
            for sub in merkle.subtrees_completed_by(i):
                if sub.level:
                    value = merkle.root(hashes[sub.start : sub.end])
                    conn.execute(
                        text("INSERT INTO nodes (log, level, idx, hash) VALUES (:log, :l, :x, :h)"),
                        {
                            "log": ledger.log,
                            "l": sub.level,
                            "x": sub.start >> sub.level,
                            "h": value,
                        },
                    )
        conn.execute(
            text("UPDATE logs SET chain = :c, root = :r WHERE id = :log"),
            {"c": chain, "r": merkle.root(hashes), "log": ledger.log},
        )
        if resign:
            rows = conn.execute(
                text("SELECT size FROM checkpoints WHERE log = :log"), {"log": ledger.log}
            )
            for (cp_size,) in list(rows):
                root = merkle.root(hashes[:cp_size])
                signed = note.sign_checkpoint(
                    note.Checkpoint(ledger.config.origin, cp_size, root), ledger.signer
                )
                conn.execute(
                    text(
                        "UPDATE checkpoints SET root = :r, note = :n WHERE log = :log AND size = :s"
                    ),
                    {"r": root, "n": signed.decode(), "log": ledger.log, "s": cp_size},
                )


def test_a_rewritten_entry_with_recomputed_nodes_is_found_by_its_signature(
    busy: LedgerWorld,
) -> None:
    original = busy.ledger.entry(TAMPERED).leaf
    forged = original.replace(b'"actor":"ship-co"', b'"actor":"shop"')  # JSON stays valid
    assert forged != original
    _rewrite(busy, TAMPERED, forged, resign=False)
    report = _audit(busy)
    assert report.first_bad_index == TAMPERED, report.to_dict()
    codes = {f.code for f in report.findings}
    assert "checkpoint-root" in codes


def test_the_later_checks_findings_still_follow_the_signatures(busy: LedgerWorld) -> None:
    # the checks that need no event signature run while the signatures are verified
    # (ledger.audit.replay): their findings are still reported after the signatures',
    # in their own order, as when they ran after them
    original = busy.ledger.entry(TAMPERED).leaf
    at = original.index(b'"sig":"') + 20  # a character inside the signature's text
    forged = original[:at] + (b"B" if original[at : at + 1] == b"A" else b"A") + original[at + 1 :]
    _rewrite(busy, TAMPERED, forged, resign=False)
    _sql(busy, "UPDATE units SET custodian = 'mallory' WHERE log = :log AND serial = 'SN-2'")
    codes = [f.code for f in _audit(busy).findings]
    assert {"signature", "checkpoint-root", "projection"} <= set(codes), codes
    assert codes.index("signature") < codes.index("checkpoint-root") < codes.index("projection")
    assert codes[-1] == "projection"


def _resigned_last_inspect(world: LedgerWorld) -> tuple[int, bytes]:
    """Entry 20 (the last event of SN-2) re-signed by the inspector's stolen key as 'fail'."""
    index = 20
    leaf = Leaf.from_bytes(world.ledger.entry(index).leaf, world.ledger.origin)
    data = {**leaf.signed.event.to_dict(), "result": "fail"}
    signed = sign_event(
        event_from_dict(data), key(world.world.seeds["insp"]), log=world.ledger.origin
    )
    return index, Leaf.build(signed, leaf.received_at).data


def test_a_validly_resigned_rewrite_is_found_by_the_old_checkpoints(busy: LedgerWorld) -> None:
    index, forged = _resigned_last_inspect(busy)
    _rewrite(busy, index, forged, resign=False)
    busy.ledger.rebuild_projections()  # even with consistent projections
    report = _audit(busy)
    # the old checkpoints' tree roots and map roots (the entry is a unit's head) both disagree
    assert {f.code for f in report.findings} == {"checkpoint-root", "map-root"}
    assert report.first_bad_index == index


def test_an_insider_rewrite_needs_trusted_checkpoints(busy: LedgerWorld) -> None:
    ledger = busy.ledger
    kept = [ledger.checkpoint(20), ledger.checkpoint()]  # what an auditor saw earlier
    index, forged = _resigned_last_inspect(busy)
    _rewrite(busy, index, forged, resign=True)
    ledger.rebuild_projections()
    assert _audit(busy).ok  # invisible from inside the database...
    report = _audit(busy, trusted=kept)  # ...but not to an auditor who kept checkpoints
    # the kept checkpoints' tree root and map root disagree with the rewritten log, and the
    # re-signed stored ones dropped the map line the kept ones of their size carry
    codes = [f.code for f in report.findings]
    assert codes[0] == "trusted-checkpoint" and set(codes) == {
        "trusted-checkpoint",
        "map-root",
        "map-missing",
    }
    finding = report.findings[0]
    assert finding.evidence["checkpoint"] == kept[1]
    assert finding.evidence["recomputed_root"] == codec.hex_encode(
        merkle.root([merkle.leaf_hash(e.leaf) for e in ledger.entries(0, 21)])
    )
    assert report.first_bad_index == index


def test_audit_reports_progress_and_counts(busy: LedgerWorld) -> None:
    seen: list[tuple[int, int]] = []
    report = audit_log(
        busy.ledger.store,
        busy.ledger.log,
        busy.ledger.verifier_key,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert report.ok and report.entries == 21 and report.checkpoints == 21
    assert seen[-1] == (21, 21)


def test_a_kept_checkpoint_with_a_forged_map_root_is_found(busy: LedgerWorld) -> None:
    # the operator signs the honest tree with a map root that moves a head back, shows it
    # to a client (who keeps it), and keeps the honest one in its database
    ledger = busy.ledger
    honest = note.verify_checkpoint(ledger.checkpoint(), ledger.verifier_key)
    forged_root = bytes(32)
    forged = note.Checkpoint(
        honest.origin, honest.size, honest.root, ("map/v1 " + codec.b64_encode(forged_root),)
    )
    text_ = note.sign_checkpoint(forged, note.Signer(honest.origin, key(LOG_SEED))).decode()
    assert not _audit(busy).findings  # the database alone is honest
    report = _audit(busy, [text_])
    assert [(f.code, f.evidence["size"]) for f in report.findings] == [("map-root", honest.size)]
