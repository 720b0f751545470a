"""product data: a product's Chinese name, the brand's support contact, its picture's hash

Optional fields of ``product.register`` (docs/FORMAT.md section 2), signed by the brand
and shown on the shopper's page. Existing products had none of them: nothing to fill.

Revision ID: 0022_product_data
Revises: 0021_consume
Create Date: 2026-12-03 18:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_product_data"
down_revision = "0021_consume"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision: add the three columns (in place, no table rebuild)."""
    op.add_column("products", sa.Column("name_zh", sa.String(length=200), nullable=True))
    op.add_column("products", sa.Column("support", sa.String(length=200), nullable=True))
    op.add_column("products", sa.Column("image", sa.String(length=43), nullable=True))


def downgrade() -> None:
    """Revert this revision: drop the three columns."""
    for column in ("image", "support", "name_zh"):
        op.drop_column("products", column)
