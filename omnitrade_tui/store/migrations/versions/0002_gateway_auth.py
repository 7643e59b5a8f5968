"""Gateway users, refresh tokens (hashed) and the gateway's audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the three gateway tables."""
    op.create_table(
        "gateway_users",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=512), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("username"),
    )
    op.create_table(
        "gateway_refresh_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("family", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("issued_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.Column("used_ms", sa.BigInteger(), nullable=True),
        sa.Column("revoked_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index(op.f("ix_gateway_refresh_tokens_family"), "gateway_refresh_tokens", ["family"])
    op.create_index(
        op.f("ix_gateway_refresh_tokens_username"), "gateway_refresh_tokens", ["username"]
    )
    op.create_table(
        "gateway_audit",
        # INTEGER on SQLite so the key is the rowid (autoincrement); BIGSERIAL on PostgreSQL.
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_gateway_audit_time_ms"), "gateway_audit", ["time_ms"])


def downgrade() -> None:
    """Drop the gateway tables (users, sessions and the audit log with them)."""
    op.drop_index(op.f("ix_gateway_audit_time_ms"), table_name="gateway_audit")
    op.drop_table("gateway_audit")
    op.drop_index(op.f("ix_gateway_refresh_tokens_username"), table_name="gateway_refresh_tokens")
    op.drop_index(op.f("ix_gateway_refresh_tokens_family"), table_name="gateway_refresh_tokens")
    op.drop_table("gateway_refresh_tokens")
    op.drop_table("gateway_users")
