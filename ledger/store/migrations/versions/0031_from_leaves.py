"""from leaves: the event hash read from the leaf, an 8-byte key stored; no unit head

Issue 20, figure 7 (bytes per entry on PostgreSQL after a plain ``VACUUM``).
``entries.event_hash`` (32 bytes) becomes ``entries.event_key``, its first 8 bytes:
the whole hash is the hash of the leaf's event (docs/FORMAT.md section 3), read from
the stored leaf wherever it is compared (`ledger.entry.leaf_event_hash`). The
duplicate lookup probes the key and confirms each row found by its leaf's event hash
(`ledger.store.queries.find_event_hashes`), so a key is never taken for an identity.
``ix_entries_event_key`` is on the column itself on SQLite (the 8 bytes it indexed
before) and on its first 4 bytes as an ``int4`` on PostgreSQL (as 0030_event_key4).

``units.head`` (43 characters, the base64url event hash of the unit's latest event) is
dropped: it is the event hash of the unit's entry at ``head_index``, read from that
entry's leaf in the statement that reads the unit (`ledger.store.queries.HEAD_LEAF`).

The upgrade cuts every row's hash to its key in place (PostgreSQL: one new version of
each ``entries`` row; ``VACUUM FULL entries`` gives the space back, docs/OPERATIONS.md).
The downgrade computes each row's whole hash from its leaf and the log's origin; a row
whose value is not a leaf (never written by the ledger) keeps its 8 bytes, which the
audit of that revision reports as it reports the leaf. It adds ``units.head`` back,
filled the same way from each unit's entry at ``head_index`` (empty where there is no
such leaf; on SQLite the column keeps the ``''`` default it was added with, as SQLite
cannot drop a default without rebuilding the table).

Revision ID: 0031_from_leaves
Revises: 0030_event_key4
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Connection

from ledger.store.leafpack import unpack

revision = "0031_from_leaves"
down_revision = "0030_event_key4"
branch_labels = None
depends_on = None

BATCH = 2000
# spelled out here (as ledger.store.schema's and ledger.leafparse's): a later change
# there must not change what this revision did
KEY = 8
EVENT_KEY_PG_OF = (
    "((get_byte({c}, 0) << 24) | (get_byte({c}, 1) << 16)"
    " | (get_byte({c}, 2) << 8) | get_byte({c}, 3))"
)
_HEAD = b'{"event":'
_TAIL = re.compile(
    rb',"key":"([A-Za-z0-9_-]*)","received":"([0-9T:.Z-]*)","sig":"([A-Za-z0-9_-]*)"(,"v":2)?\}'
)
_DOMAIN_V1 = b"provenance-ledger/v1 event\n"
_DOMAIN_V2 = b"provenance-ledger/v2 event\n"


def event_hash_of(leaf: bytes, origin: str) -> bytes | None:
    """The event hash of the event in leaf bytes of the log of ``origin`` (docs/FORMAT.md
    section 3), or None for bytes without a leaf's envelope."""
    at = leaf.rfind(b',"key":"')
    tail = _TAIL.fullmatch(leaf, at) if at > 0 else None
    if tail is None or not leaf.startswith(_HEAD):
        return None
    event = leaf[len(_HEAD) : at]
    if tail.group(4) is None:
        return hashlib.sha256(_DOMAIN_V1 + event).digest()
    return hashlib.sha256(_DOMAIN_V2 + origin.encode("ascii") + b"\n" + event).digest()


def _key_index(conn: Connection, column: str) -> None:
    """``ix_entries_event_key`` on ``column``: SQLite its 8-byte prefix (the column
    itself once it holds the key), PostgreSQL its first 4 bytes as an integer."""
    if conn.dialect.name == "sqlite":
        key = column if column == "event_key" else f"substr({column}, 1, 8)"
    else:
        key = EVENT_KEY_PG_OF.format(c=column)
    conn.exec_driver_sql(f"CREATE INDEX ix_entries_event_key ON entries (log, ({key}))")


def _each_batch(conn: Connection, log: int) -> Iterator[Sequence[Any]]:
    """Batches of (idx, leaf) of log ``log``'s entries, in index order."""
    last = -1
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT idx, leaf FROM entries WHERE log = :log AND idx > :idx"
                " ORDER BY idx LIMIT :n"
            ),
            {"log": log, "idx": last, "n": BATCH},
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1].idx


def cut_hashes(conn: Connection, key_index: bool = True) -> None:
    """``entries.event_hash`` renamed ``event_key`` and cut to its first 8 bytes, and
    ``key_index``: its index rebuilt (tests/integration/old_revision.py runs this on
    older revisions, some from before that index)."""
    if key_index:
        conn.exec_driver_sql("DROP INDEX ix_entries_event_key")
    conn.exec_driver_sql("ALTER TABLE entries RENAME COLUMN event_hash TO event_key")
    sqlite = conn.dialect.name == "sqlite"
    cut = "substr(event_key, 1, 8)" if sqlite else "substring(event_key from 1 for 8)"
    conn.exec_driver_sql(f"UPDATE entries SET event_key = {cut}")  # noqa: S608 - no value
    if key_index:
        _key_index(conn, "event_key")


def restore_hashes(conn: Connection, key_index: bool = True) -> None:
    """Undo `cut_hashes`: every whole event hash again, from its leaf."""
    if key_index:
        conn.exec_driver_sql("DROP INDEX ix_entries_event_key")
    conn.exec_driver_sql("ALTER TABLE entries RENAME COLUMN event_key TO event_hash")
    for log, origin in conn.execute(sa.text("SELECT id, origin FROM logs ORDER BY id")).all():
        for rows in _each_batch(conn, log):
            changed = []
            for row in rows:
                found = event_hash_of(unpack(bytes(row.leaf)), origin)
                if found is not None:
                    changed.append({"h": found, "log": log, "idx": row.idx})
            if changed:
                conn.execute(
                    sa.text("UPDATE entries SET event_hash = :h WHERE log = :log AND idx = :idx"),
                    changed,
                )
    if key_index:
        _key_index(conn, "event_hash")


def drop_heads(conn: Connection) -> None:
    """``units.head`` dropped (tests/integration/old_revision.py runs this too)."""
    conn.exec_driver_sql("ALTER TABLE units DROP COLUMN head")


def restore_heads(conn: Connection) -> None:
    """Undo `drop_heads`: each unit's head from its entry at ``head_index``."""
    conn.exec_driver_sql("ALTER TABLE units ADD COLUMN head VARCHAR(43) NOT NULL DEFAULT ''")
    for log, origin in conn.execute(sa.text("SELECT id, origin FROM logs ORDER BY id")).all():
        last = ("", "")
        while True:
            rows = conn.execute(
                sa.text(
                    "SELECT u.gtin, u.serial, e.leaf FROM units AS u LEFT JOIN entries AS e"
                    " ON e.log = u.log AND e.idx = u.head_index WHERE u.log = :log"
                    " AND (u.gtin > :g OR (u.gtin = :g AND u.serial > :s))"
                    " ORDER BY u.gtin, u.serial LIMIT :n"
                ),
                {"log": log, "g": last[0], "s": last[1], "n": BATCH},
            ).all()
            if not rows:
                break
            changed = []
            for gtin, serial, leaf in rows:
                found = None if leaf is None else event_hash_of(unpack(bytes(leaf)), origin)
                head = "" if found is None else base64.urlsafe_b64encode(found).decode()
                changed.append({"h": head.rstrip("="), "log": log, "g": gtin, "s": serial})
            conn.execute(
                sa.text(
                    "UPDATE units SET head = :h WHERE log = :log AND gtin = :g AND serial = :s"
                ),
                changed,
            )
            last = (rows[-1].gtin, rows[-1].serial)
    if conn.dialect.name != "sqlite":
        conn.exec_driver_sql("ALTER TABLE units ALTER COLUMN head DROP DEFAULT")


def upgrade() -> None:
    """Apply this revision: the event hash cut to its key, no unit head."""
    conn = op.get_bind()
    cut_hashes(conn)
    drop_heads(conn)


def downgrade() -> None:
    """Revert this revision: every whole event hash and unit head again, from leaves."""
    conn = op.get_bind()
    restore_heads(conn)
    restore_hashes(conn)
