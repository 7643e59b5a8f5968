"""Market data partitioned by day (PostgreSQL): trades, quotes and candles.

Each table becomes range-partitioned on its time column (``time_ms``, ``event_ms``,
``open_ms``) with a default partition, its rows copied over, and a partition made for
every day it holds and the week ahead (``store.partitions``). The primary keys gain the
time column, as a partitioned table's keys must hold the partition key; a trade id, an
update id or a candle's open time has one time, so the writes stay idempotent as before.
SQLite has no partitioning: nothing changes there.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import time

from alembic import op

from omnitrade_tui.store.partitions import maintain

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: Each table's time column (the partition key) and the primary key this migration gives
#: it (the key of 0001 and the time column). Kept here, not taken from
#: ``partitions.PARTITIONED``, which says the newest layout (0008 puts the venue first):
#: a migration makes the schema of its own revision.
PARTITIONED: dict[str, tuple[str, tuple[str, ...]]] = {
    "trades": ("time_ms", ("symbol", "trade_id", "time_ms")),
    "quotes": ("event_ms", ("symbol", "update_id", "event_ms")),
    "candles": ("open_ms", ("symbol", "interval", "open_ms")),
}
#: The primary keys the tables had before (migration 0001).
_OLD_KEYS = {
    "trades": ("symbol", "trade_id"),
    "quotes": ("symbol", "update_id"),
    "candles": ("symbol", "interval", "open_ms"),
}


def _cols(names: tuple[str, ...]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def upgrade() -> None:
    """Partition the market-data tables by day (PostgreSQL only)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, (column, key) in PARTITIONED.items():
        old = f"{table}_unpartitioned"
        op.execute(f'ALTER TABLE "{table}" RENAME TO "{old}"')
        op.execute(f'ALTER TABLE "{old}" RENAME CONSTRAINT "{table}_pkey" TO "{old}_pkey"')
        op.execute(
            f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS) '
            f'PARTITION BY RANGE ("{column}")'
        )
        op.execute(
            f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_pkey" PRIMARY KEY ({_cols(key)})'
        )
        op.execute(f'CREATE TABLE "{table}_default" PARTITION OF "{table}" DEFAULT')
        op.execute(f'INSERT INTO "{table}" SELECT * FROM "{old}"')
        op.execute(f'DROP TABLE "{old}"')
    # Every day the rows cover gets its partition (moved out of the default), and the week
    # ahead is made now so the recorder's rows land in day partitions from the start.
    maintain(bind, int(time.time() * 1000))


def downgrade() -> None:
    """Back to plain tables, rows kept (PostgreSQL only)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in PARTITIONED:
        plain = f"{table}_plain"
        op.execute(f'CREATE TABLE "{plain}" (LIKE "{table}" INCLUDING DEFAULTS)')
        op.execute(f'INSERT INTO "{plain}" SELECT * FROM "{table}"')
        op.execute(f'DROP TABLE "{table}" CASCADE')
        op.execute(f'ALTER TABLE "{plain}" RENAME TO "{table}"')
        op.execute(
            f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_pkey" '
            f"PRIMARY KEY ({_cols(_OLD_KEYS[table])})"
        )
