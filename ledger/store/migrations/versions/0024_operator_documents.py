"""operator documents: the licence files checked at onboarding, content-addressed

The table of ledger/store/documents.py (docs/CONSOLE.md, "Onboarding"); not part of the
signed log: the log keeps only each file's SHA-256 (``actor.register``'s ``documents``).

Revision ID: 0024_operator_documents
Revises: 0017_storage
Create Date: 2026-12-03 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_operator_documents"
down_revision = "0023_products"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "operator_documents",
        sa.Column("digest", sa.String(43), primary_key=True),
        sa.Column("media", sa.String(32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("operator_documents")
