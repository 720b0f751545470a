"""Before it extends the stored map of heads, an append checks that the stored root is
the one the log's last signed checkpoint commits to (ledger.service.headmap), on SQLite
and PostgreSQL:

- an honest log appends, and its checkpoint's map root is the stored root;
- a ``map_buckets`` root row changed behind the log's back is refused with
  ``map-diverged``, and nothing of the refused append is written (every table the same);
  a root row cut short is refused with ``map-bucket-corrupt``, as is a proof read of it;
- the documented recovery (delete the log's map rows) rebuilds the map from the entries,
  passes the check, and the audit's replay agrees with every signed map root; a rebuilt
  map is checked like a stored one (against a checkpoint whose map line was changed, it
  is refused).
"""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text

from ledger import note
from ledger.map import commit as map_commit
from ledger.map import update as map_update
from ledger.map.buckets import CorruptBucketError, decode, encode, internal, is_leaf
from ledger.map.trie import unit_key
from ledger.service.headmap import MapDivergedError
from ledger.service.ledger import Ledger
from tests.factories import GTIN
from tests.integration.world import LedgerWorld, dump


def _signed_map_root(ledger: Ledger) -> bytes | None:
    checkpoint = note.verify_checkpoint(ledger.checkpoint(), ledger.verifier_key)
    return map_commit.root_of(checkpoint.extensions)


def _stored_root(ledger: Ledger) -> bytes:
    return ledger.store.map_nodes(ledger.log, [map_update.ROOT])[map_update.ROOT].subtree_hash()


def _root_row(ledger: Ledger) -> bytes:
    with ledger.store.engines.reader.connect() as conn:
        return bytes(
            conn.execute(
                text("SELECT data FROM map_buckets WHERE log = :log AND pos = :p"),
                {"log": ledger.log, "p": map_update.ROOT},
            ).scalar_one()
        )


def _sql(ledger: Ledger, statement: str, **params: object) -> None:
    with ledger.store.engines.writer.begin() as conn:
        conn.execute(text(statement), {"log": ledger.log, **params})


def _commission(world: LedgerWorld, serial: str):  # type: ignore[no-untyped-def]
    unit = {"gtin": GTIN, "serial": serial}
    return world.world.sign("commission", "acme", unit=unit, prev=None)


def test_an_honest_map_is_extended(world: LedgerWorld) -> None:
    ledger = world.ledger
    world.append(_commission(world, "DIV-1"))
    assert _signed_map_root(ledger) == _stored_root(ledger)
    world.append(_commission(world, "DIV-2"))
    assert _signed_map_root(ledger) == _stored_root(ledger)


def test_a_changed_map_root_is_refused_and_nothing_is_written(world: LedgerWorld) -> None:
    ledger = world.ledger
    world.append(_commission(world, "DIV-1"))
    forged = hashlib.sha256(b"not the signed root").digest()
    root_bucket = decode(_root_row(ledger))
    assert not is_leaf(root_bucket[1])  # several keys: the root is an internal node
    root_bucket[1] = internal(1, forged)
    _sql(
        ledger,
        "UPDATE map_buckets SET data = :d WHERE log = :log AND pos = :p",
        d=encode(root_bucket),
        p=map_update.ROOT,
    )
    before = dump(ledger)
    size = ledger.head().size
    with pytest.raises(MapDivergedError) as caught:
        ledger.append(_commission(world, "DIV-2"))
    assert caught.value.code == "map-diverged"
    assert f"size {size}" in caught.value.message
    assert dump(ledger) == before
    assert ledger.head().size == size


def test_a_damaged_root_row_is_refused_as_such(world: LedgerWorld) -> None:
    ledger = world.ledger
    world.append(_commission(world, "DIV-1"))
    key = unit_key(GTIN, "DIV-1")
    _sql(
        ledger,
        "UPDATE map_buckets SET data = :d WHERE log = :log AND pos = :p",
        d=_root_row(ledger)[:-5],
        p=map_update.ROOT,
    )
    before = dump(ledger)
    with pytest.raises(CorruptBucketError) as caught:
        ledger.append(_commission(world, "DIV-2"))
    assert caught.value.code == "map-bucket-corrupt"
    assert dump(ledger) == before
    with pytest.raises(CorruptBucketError):
        ledger.store.map_proof(ledger.log, key)
    with pytest.raises(CorruptBucketError):
        ledger.store.map_nodes(ledger.log, [map_update.ROOT])


def test_deleting_the_map_rebuilds_it_from_the_entries(world: LedgerWorld) -> None:
    ledger = world.ledger
    world.append(_commission(world, "DIV-1"))
    _sql(ledger, "DELETE FROM map_buckets WHERE log = :log")
    world.append(_commission(world, "DIV-2"))  # rebuilt, checked, then extended
    assert _signed_map_root(ledger) == _stored_root(ledger)
    assert ledger.audit().ok  # the audit's replay gives every signed map root


def test_a_rebuilt_map_is_checked_too(world: LedgerWorld) -> None:
    """The rebuilt map is compared with the checkpoint like a stored one: here the stored
    checkpoint's map line was changed, so the honest rebuild disagrees and is refused."""
    ledger = world.ledger
    world.append(_commission(world, "DIV-1"))
    size = ledger.head().size
    signed = _signed_map_root(ledger)
    assert signed is not None
    other = map_commit.extension(hashlib.sha256(b"another map").digest())
    with ledger.store.engines.writer.begin() as conn:
        row = conn.execute(
            text("SELECT note FROM checkpoints WHERE log = :log AND size = :size"),
            {"log": ledger.log, "size": size},
        ).one()
        changed = row.note.replace(map_commit.extension(signed), other)
        assert changed != row.note
        conn.execute(
            text("UPDATE checkpoints SET note = :note WHERE log = :log AND size = :size"),
            {"log": ledger.log, "size": size, "note": changed},
        )
        conn.execute(text("DELETE FROM map_buckets WHERE log = :log"), {"log": ledger.log})
    before = dump(ledger)
    with pytest.raises(MapDivergedError):
        ledger.append(_commission(world, "DIV-2"))
    assert dump(ledger) == before
