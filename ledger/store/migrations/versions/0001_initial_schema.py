"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 12:28:32.342764
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "logs",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chain", sa.LargeBinary(length=32), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "actor_keys",
        sa.Column("log", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=22), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=43), nullable=False),
        sa.Column("added_index", sa.BigInteger(), nullable=False),
        sa.Column("removed_index", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["log"],
            ["logs.id"],
        ),
        sa.PrimaryKeyConstraint("log", "key_id"),
    )
    with op.batch_alter_table("actor_keys", schema=None) as batch_op:
        batch_op.create_index("ix_actor_keys_actor", ["log", "actor"], unique=False)

    op.create_table(
        "actors",
        sa.Column("log", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefixes", sa.Text(), nullable=False),
        sa.Column("registered_index", sa.BigInteger(), nullable=False),
        sa.Column("revoked_index", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["log"],
            ["logs.id"],
        ),
        sa.PrimaryKeyConstraint("log", "id"),
    )
    op.create_table(
        "authorizations",
        sa.Column("log", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=43), nullable=False),
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("partner", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("gtins", sa.Text(), nullable=False),
        sa.Column("prefixes", sa.Text(), nullable=False),
        sa.Column("not_before", sa.String(length=32), nullable=False),
        sa.Column("not_after", sa.String(length=32), nullable=False),
        sa.Column("granted_index", sa.BigInteger(), nullable=False),
        sa.Column("revoked_index", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["log"],
            ["logs.id"],
        ),
        sa.PrimaryKeyConstraint("log", "id"),
    )
    with op.batch_alter_table("authorizations", schema=None) as batch_op:
        batch_op.create_index("ix_authorizations_partner", ["log", "partner"], unique=False)

    op.create_table(
        "checkpoints",
        sa.Column("log", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["log"],
            ["logs.id"],
        ),
        sa.PrimaryKeyConstraint("log", "size"),
    )
    op.create_table(
        "entries",
        sa.Column("log", sa.Integer(), nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("chain", sa.LargeBinary(length=32), nullable=False),
        sa.Column("event_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=True),
        sa.Column("serial", sa.String(length=20), nullable=True),
        sa.Column("signer", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=22), nullable=False),
        sa.Column("received", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["log"],
            ["logs.id"],
        ),
        sa.PrimaryKeyConstraint("log", "idx"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index("ix_entries_event_hash", ["log", "event_hash"], unique=True)
        batch_op.create_index("ix_entries_unit", ["log", "gtin", "serial", "idx"], unique=False)

    op.create_table(
        "nodes",
        sa.Column("log", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["log"],
            ["logs.id"],
        ),
        sa.PrimaryKeyConstraint("log", "level", "idx"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "products",
        sa.Column("log", sa.Integer(), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("registered_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["log"],
            ["logs.id"],
        ),
        sa.PrimaryKeyConstraint("log", "gtin"),
    )
    op.create_table(
        "units",
        sa.Column("log", sa.Integer(), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("serial", sa.String(length=20), nullable=False),
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("head", sa.String(length=43), nullable=False),
        sa.Column("head_index", sa.BigInteger(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("commissioned_index", sa.BigInteger(), nullable=False),
        sa.Column("custodian", sa.String(length=64), nullable=True),
        sa.Column("pending", sa.String(length=64), nullable=True),
        sa.Column("sold", sa.Boolean(), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("claimed", sa.Boolean(), nullable=False),
        sa.Column("recalled", sa.Boolean(), nullable=False),
        sa.Column("decommissioned", sa.Boolean(), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("lot", sa.String(length=20), nullable=True),
        sa.Column("expiry", sa.String(length=6), nullable=True),
        sa.Column("claim_salt", sa.String(length=22), nullable=True),
        sa.Column("claim_hash", sa.String(length=43), nullable=True),
        sa.ForeignKeyConstraint(
            ["log"],
            ["logs.id"],
        ),
        sa.PrimaryKeyConstraint("log", "gtin", "serial"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("units")
    op.drop_table("products")
    op.drop_table("nodes")
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_index("ix_entries_unit")
        batch_op.drop_index("ix_entries_event_hash")

    op.drop_table("entries")
    op.drop_table("checkpoints")
    with op.batch_alter_table("authorizations", schema=None) as batch_op:
        batch_op.drop_index("ix_authorizations_partner")

    op.drop_table("authorizations")
    op.drop_table("actors")
    with op.batch_alter_table("actor_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_actor_keys_actor")

    op.drop_table("actor_keys")
    op.drop_table("logs")
