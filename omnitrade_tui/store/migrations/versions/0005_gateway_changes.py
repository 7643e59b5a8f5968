"""The gateway's change counter: raised with every change to its users or sessions.

A gateway serving terminals polls this one row each second, so a user removed, re-roled or
given a new password by ``omnitrade gateway users`` (another process) loses their open
sessions at once. A counter works the same on SQLite and PostgreSQL (LISTEN/NOTIFY would
be PostgreSQL only).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the counter's table and its one row."""
    table = op.create_table(
        "gateway_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(table, [{"id": 1, "counter": 0}])


def downgrade() -> None:
    """Drop the counter."""
    op.drop_table("gateway_changes")
