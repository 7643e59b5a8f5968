"""Trade gaps: the ids of public trades the history lacks and the venue could not give back.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the trade_gaps table."""
    op.create_table(
        "trade_gaps",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("first_id", sa.BigInteger(), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("from_ms", sa.BigInteger(), nullable=False),
        sa.Column("to_ms", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("noted_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "first_id"),
    )


def downgrade() -> None:
    """Drop the trade_gaps table."""
    op.drop_table("trade_gaps")
