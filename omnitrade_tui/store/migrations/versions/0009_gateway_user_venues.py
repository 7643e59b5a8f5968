"""Gateway users may be kept to some venues: a ``venues`` column on ``gateway_users``
(``first,kraken``; empty, the default, for every venue, as every user could before).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the column; every existing user keeps every venue."""
    with op.batch_alter_table("gateway_users") as batch:
        batch.add_column(
            sa.Column("venues", sa.String(length=512), nullable=False, server_default="")
        )


def downgrade() -> None:
    """Drop the column (users' venue limits are lost: every user trades everywhere)."""
    with op.batch_alter_table("gateway_users") as batch:
        batch.drop_column("venues")
