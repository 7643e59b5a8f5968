"""Alerts: the rules a trader set, and what fired.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create alert_rules and alert_fired."""
    op.create_table(
        "alert_rules",
        sa.Column("rule_id", sa.String(length=32), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("rule_id"),
    )
    op.create_table(
        "alert_fired",
        # INTEGER on SQLite so the key is the rowid (autoincrement); BIGSERIAL on PostgreSQL.
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.String(length=32), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_alert_fired_time_ms"), "alert_fired", ["time_ms"])


def downgrade() -> None:
    """Drop the alert tables."""
    op.drop_index(op.f("ix_alert_fired_time_ms"), table_name="alert_fired")
    op.drop_table("alert_fired")
    op.drop_table("alert_rules")
