"""products: product pictures (content-addressed) and print batches

The tables of ledger/store/catalog.py (docs/CONSOLE.md); none is part of the signed log.
``print_batches`` starts empty with no mark: the console reads every commission of the
log into batches the first time a page asks (ledger.service.batches).

Revision ID: 0023_products
Revises: 0017_storage
Create Date: 2026-12-03 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_products"
down_revision = "0018_hooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "product_images",
        sa.Column("hash", sa.String(43), primary_key=True),
        sa.Column("brand", sa.String(64), nullable=False),
        sa.Column("media", sa.String(32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_product_images_brand", "product_images", ["brand"])
    op.create_table(
        "print_batches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("log", sa.Integer(), nullable=False),
        sa.Column("brand", sa.String(64), nullable=False),
        sa.Column("gtin", sa.String(14), nullable=False),
        sa.Column("lot", sa.String(20), nullable=True),
        sa.Column("expiry", sa.String(6), nullable=True),
        sa.Column("first_index", sa.BigInteger(), nullable=False),
        sa.Column("last_index", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_serial", sa.String(20), nullable=False),
        sa.Column("last_serial", sa.String(20), nullable=False),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("ended_at", sa.String(32), nullable=False),
        sa.Column("voided_at", sa.String(32), nullable=True),
        sa.Column("voided_by", sa.String(64), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_print_batches_brand", "print_batches", ["log", "brand", "id"])
    op.create_table(
        "print_batch_marks",
        sa.Column("log", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("upto", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("print_batch_marks")
    op.drop_index("ix_print_batches_brand", table_name="print_batches")
    op.drop_table("print_batches")
    op.drop_index("ix_product_images_brand", table_name="product_images")
    op.drop_table("product_images")
