"""Initial schema: market data, orders, fills, balances and the command journal.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copy of tables.ExactDecimal as it was at this revision: exact NUMERIC on
# PostgreSQL, the decimal's text on SQLite (which has no exact decimal type).
EXACT = sa.Numeric().with_variant(sa.String(64), "sqlite")


def upgrade() -> None:
    """Create every table."""
    op.create_table(
        "balance_snapshots",
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("free", EXACT, nullable=False),
        sa.Column("locked", EXACT, nullable=False),
        sa.PrimaryKeyConstraint("asset", "time_ms"),
    )
    op.create_table(
        "candles",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("interval", sa.String(length=8), nullable=False),
        sa.Column("open_ms", sa.BigInteger(), nullable=False),
        sa.Column("close_ms", sa.BigInteger(), nullable=False),
        sa.Column("open", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("close", sa.Float(), nullable=False),
        sa.Column("volume", sa.Float(), nullable=False),
        sa.Column("quote_volume", sa.Float(), nullable=False),
        sa.Column("trades", sa.BigInteger(), nullable=False),
        sa.Column("taker_buy_volume", sa.Float(), nullable=False),
        sa.Column("taker_buy_quote_volume", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "interval", "open_ms"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "command_journal",
        sa.Column("journal_key", sa.String(length=48), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("payload_json", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("journal_key"),
    )
    op.create_table(
        "fills",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("trade_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("price", EXACT, nullable=False),
        sa.Column("qty", EXACT, nullable=False),
        sa.Column("commission", EXACT, nullable=False),
        sa.Column("commission_asset", sa.String(length=16), nullable=False),
        sa.Column("is_maker", sa.Boolean(), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "trade_id"),
    )
    op.create_index(op.f("ix_fills_client_order_id"), "fills", ["client_order_id"], unique=False)
    op.create_table(
        "instruments",
        sa.Column("venue", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("base_asset", sa.String(length=16), nullable=False),
        sa.Column("quote_asset", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("info_json", sa.String(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("venue", "symbol"),
    )
    op.create_table(
        "order_events",
        sa.Column("event_key", sa.String(length=200), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("execution_type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("filled_qty", EXACT, nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("reject_reason", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("event_key"),
    )
    op.create_index(
        op.f("ix_order_events_client_order_id"), "order_events", ["client_order_id"], unique=False
    )
    op.create_table(
        "orders",
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("time_in_force", sa.String(length=8), nullable=True),
        sa.Column("quantity", EXACT, nullable=False),
        sa.Column("price", EXACT, nullable=True),
        sa.Column("stop_price", EXACT, nullable=True),
        sa.Column("quote_order_qty", EXACT, nullable=True),
        sa.Column("filled_qty", EXACT, nullable=False),
        sa.Column("cum_quote_qty", EXACT, nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("reject_reason", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("client_order_id"),
    )
    op.create_index(op.f("ix_orders_symbol"), "orders", ["symbol"], unique=False)
    op.create_table(
        "quotes",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        sa.Column("bid_price", sa.Float(), nullable=True),
        sa.Column("bid_qty", sa.Float(), nullable=True),
        sa.Column("ask_price", sa.Float(), nullable=True),
        sa.Column("ask_qty", sa.Float(), nullable=True),
        sa.Column("event_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "update_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "trades",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("trade_id", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("qty", sa.Float(), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("buyer_is_maker", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "trade_id"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    """Drop every table (and the history in it)."""
    op.drop_table("trades")
    op.drop_table("quotes")
    op.drop_index(op.f("ix_orders_symbol"), table_name="orders")
    op.drop_table("orders")
    op.drop_index(op.f("ix_order_events_client_order_id"), table_name="order_events")
    op.drop_table("order_events")
    op.drop_table("instruments")
    op.drop_index(op.f("ix_fills_client_order_id"), table_name="fills")
    op.drop_table("fills")
    op.drop_table("command_journal")
    op.drop_table("candles")
    op.drop_table("balance_snapshots")
