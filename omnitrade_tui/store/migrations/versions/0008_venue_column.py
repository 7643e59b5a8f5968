"""A ``venue`` column on every table keyed by instrument, first in its keys.

An instrument is (venue, symbol) since the app trades several venues. Each table that held
a symbol gains ``venue`` (``""``: the default venue, the profile's first), so every row
written before keeps its meaning: the default venue's, as the app reads a bare symbol. The
primary keys and indexes that held the symbol now start with the venue, so the same trade
id (or candle, or fill) of two venues are two rows.

On PostgreSQL the column is added in place (a constant default: no table rewrite), and the
keys are made again (an index build over the rows; a partitioned table's key is made on
every partition, and keeps its time column, as migration 0006 says why). SQLite cannot
change a primary key in place: batch mode copies each table into a new one of the new
layout (the hot tables stay ``WITHOUT ROWID``).

Downgrade drops the column again, which only a database of the default venue alone can
take: the layout before cannot tell two venues' rows apart, so rows of another venue stop
it with a message rather than being lost or merged.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: Each table keyed by instrument and its primary key before this migration (None: keyed
#: otherwise, by our client order id or an event key: it gains the column alone).
_OLD_KEYS: dict[str, tuple[str, ...] | None] = {
    "trades": ("symbol", "trade_id"),
    "trade_gaps": ("symbol", "first_id"),
    "quotes": ("symbol", "update_id"),
    "candles": ("symbol", "interval", "open_ms"),
    "fills": ("symbol", "trade_id"),
    "orders": None,
    "order_events": None,
}
#: The tables migration 0006 partitions on PostgreSQL, and the time column their keys hold.
_PARTITION_COLUMN = {"trades": "time_ms", "quotes": "event_ms", "candles": "open_ms"}
#: SQLite tables whose only B-tree is their key (migration 0001).
_WITHOUT_ROWID = ("trades", "quotes", "candles")


def _venue() -> sa.Column[str]:
    return sa.Column("venue", sa.String(length=32), nullable=False, server_default="")


def _key(bind: sa.Connection, table: str, columns: tuple[str, ...]) -> list[str]:
    """The primary key of ``table`` on ``columns``, with the time column a partitioned
    table's key must hold."""
    key = list(columns)
    if _is_partitioned(bind, table) and _PARTITION_COLUMN[table] not in key:
        key.append(_PARTITION_COLUMN[table])
    return key


def _is_partitioned(bind: sa.Connection, table: str) -> bool:
    if bind.dialect.name != "postgresql":
        return False
    kind = bind.execute(
        sa.text("SELECT relkind::text FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}
    ).scalar()
    return kind == "p"


def upgrade() -> None:
    """Add ``venue`` to every instrument-keyed table and put it first in the keys."""
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    for table, old in _OLD_KEYS.items():
        options = {"sqlite_with_rowid": False} if table in _WITHOUT_ROWID else {}
        # SQLite: a new table of the new layout, the venue placed before the symbol as in
        # the models. PostgreSQL: ALTERs in place (a copy would undo 0006's partitions).
        # SQLite reflects its key without a name: it is named here, so it is dropped by
        # name as PostgreSQL's is.
        named = (sa.PrimaryKeyConstraint(*old, name=f"{table}_pkey"),) if old else ()
        with op.batch_alter_table(
            table,
            recreate="auto" if pg else "always",
            table_kwargs=options,
            reflect_args=named,
        ) as batch:
            if pg:
                batch.add_column(_venue())
            else:
                batch.add_column(_venue(), insert_before="symbol")
            if old is not None:
                batch.drop_constraint(f"{table}_pkey", type_="primary")
                batch.create_primary_key(f"{table}_pkey", _key(bind, table, ("venue", *old)))
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_symbol")
        batch.create_index("ix_orders_venue_symbol", ["venue", "symbol"], unique=False)


def downgrade() -> None:
    """Drop ``venue`` again, when every row is the default venue's.

    Raises:
        RuntimeError: a table holds rows of another venue (says which and how many).
    """
    bind = op.get_bind()
    for table in _OLD_KEYS:
        others = bind.execute(
            sa.text(f"SELECT count(*) FROM \"{table}\" WHERE venue <> ''")
        ).scalar()
        if others:
            raise RuntimeError(
                f"cannot downgrade below 0008: {table} holds {others} rows of venues other "
                "than the default, which the layout before cannot tell apart; export and "
                "delete them first"
            )
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_venue_symbol")
        batch.create_index("ix_orders_symbol", ["symbol"], unique=False)
    for table, old in _OLD_KEYS.items():
        options = {"sqlite_with_rowid": False} if table in _WITHOUT_ROWID else {}
        with op.batch_alter_table(table, table_kwargs=options) as batch:
            if old is not None:
                batch.drop_constraint(f"{table}_pkey", type_="primary")
                batch.create_primary_key(f"{table}_pkey", _key(bind, table, old))
            batch.drop_column("venue")
