"""Daily partitions of the market-data tables on PostgreSQL, and their retention.

Migration 0006 makes ``trades``, ``quotes`` and ``candles`` range-partitioned by their
time column in UTC days (native partitioning), with a ``<table>_default`` partition that
takes any row whose day has no partition yet (a replay of an old capture, a backfill, a
clock that ran past the days made ahead). ``maintain`` keeps them in shape:

* makes the partitions of today and ``days_ahead`` days after, and of every day that has
  rows in the default partition, moving those rows into it (create the day's table, move
  the rows, attach it: all in one transaction, so no row is ever in two places);
* with ``retention_days``, drops every day partition older than that (or, with
  ``detach``, detaches it: a plain table left for an archive job) and deletes older rows
  from the default partition.

A day partition is named ``<table>_pYYYYMMDD``. The functions take a synchronous SQLAlchemy
connection (the migration's, or ``run_sync`` on the store's async one). SQLite has no
partitioning: there every call is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa

from omnitrade_tui.store.database import Database, normalize_url, open_database

log = logging.getLogger(__name__)

DAY_MS = 86_400_000

#: The partitioned tables, their time column (the partition key) and their primary key
#: (a partitioned table's unique keys must hold the partition key; the venue leads since
#: migration 0008).
PARTITIONED: dict[str, tuple[str, tuple[str, ...]]] = {
    "trades": ("time_ms", ("venue", "symbol", "trade_id", "time_ms")),
    "quotes": ("event_ms", ("venue", "symbol", "update_id", "event_ms")),
    "candles": ("open_ms", ("venue", "symbol", "interval", "open_ms")),
}

_DAY_NAME = re.compile(r"_p(\d{8})$")


@dataclass
class Upkeep:
    """What one ``maintain`` did: partition names created, dropped, detached."""

    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    detached: list[str] = field(default_factory=list)
    #: Rows older than the retention deleted from the default partitions.
    expired_default_rows: int = 0


def day_name(table: str, day: int) -> str:
    """``<table>_pYYYYMMDD`` of day number ``day`` (days since the epoch, UTC)."""
    return f"{table}_p{datetime.fromtimestamp(day * 86_400, UTC):%Y%m%d}"


def day_of_name(name: str) -> int | None:
    """The day number a partition's name says, or None for another table."""
    found = _DAY_NAME.search(name)
    if found is None:
        return None
    when = datetime.strptime(found.group(1), "%Y%m%d").replace(tzinfo=UTC)
    return int(when.timestamp()) // 86_400


def is_partitioned(conn: sa.Connection, table: str) -> bool:
    """Whether ``table`` is a partitioned table here (PostgreSQL, after migration 0006)."""
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(
        sa.text("SELECT relkind::text FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}
    ).scalar()
    return kind == "p"


def day_partitions(conn: sa.Connection, table: str) -> dict[int, str]:
    """The day partitions of ``table`` by day number."""
    names = conn.execute(
        sa.text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:t)"
        ),
        {"t": table},
    ).scalars()
    found = {}
    for name in names:
        day = day_of_name(name)
        if day is not None:
            found[day] = name
    return found


def ensure_day(conn: sa.Connection, table: str, day: int) -> str | None:
    """Make the partition of ``day``, moving its rows out of the default partition; its
    name if made now (None: it was there)."""
    if day in day_partitions(conn, table):
        return None
    column = PARTITIONED[table][0]
    name = day_name(table, day)
    lo, hi = day * DAY_MS, (day + 1) * DAY_MS
    with conn.begin_nested():
        conn.exec_driver_sql(
            f'CREATE TABLE "{name}" (LIKE "{table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)'
        )
        conn.exec_driver_sql(
            f'WITH moved AS (DELETE FROM "{table}_default" WHERE "{column}" >= {lo} '
            f'AND "{column}" < {hi} RETURNING *) INSERT INTO "{name}" SELECT * FROM moved'
        )
        conn.exec_driver_sql(
            f'ALTER TABLE "{table}" ATTACH PARTITION "{name}" FOR VALUES FROM ({lo}) TO ({hi})'
        )
    return name


def maintain(
    conn: sa.Connection,
    now_ms: int,
    days_ahead: int = 7,
    retention_days: int | None = None,
    detach: bool = False,
) -> Upkeep:
    """Make the days' partitions, and drop (or detach) those past the retention."""
    done = Upkeep()
    today = now_ms // DAY_MS
    cutoff = today - retention_days if retention_days is not None else None
    for table, (column, _key) in PARTITIONED.items():
        if not is_partitioned(conn, table):
            continue
        if cutoff is not None:
            expired = conn.exec_driver_sql(
                f'DELETE FROM "{table}_default" WHERE "{column}" < {cutoff * DAY_MS}'
            )
            done.expired_default_rows += expired.rowcount or 0
        stray = conn.exec_driver_sql(
            f'SELECT DISTINCT "{column}" / {DAY_MS} FROM "{table}_default"'
        ).scalars()
        days = {int(d) for d in stray} | set(range(today, today + days_ahead + 1))
        for day in sorted(days):
            made = ensure_day(conn, table, day)
            if made is not None:
                done.created.append(made)
        if cutoff is None:
            continue
        for day, name in sorted(day_partitions(conn, table).items()):
            if day >= cutoff:
                continue
            conn.exec_driver_sql(f'ALTER TABLE "{table}" DETACH PARTITION "{name}"')
            if detach:
                done.detached.append(name)
            else:
                conn.exec_driver_sql(f'DROP TABLE "{name}"')
                done.dropped.append(name)
    return done


async def maintain_database(
    db: Database,
    now_ms: int | None = None,
    days_ahead: int = 7,
    retention_days: int | None = None,
    detach: bool = False,
) -> Upkeep:
    """``maintain`` on an open store, in one transaction (a no-op on SQLite)."""
    if db.dialect != "postgresql":
        return Upkeep()
    when = int(time.time() * 1000) if now_ms is None else now_ms
    async with db.engine.begin() as conn:
        return await conn.run_sync(maintain, when, days_ahead, retention_days, detach)


@contextlib.asynccontextmanager
async def partition_upkeep(
    db: Database, retention_days: int | None, every_s: float = 3600.0
) -> AsyncIterator[None]:
    """Run ``maintain_database`` now and every ``every_s`` seconds while inside."""

    async def loop() -> None:
        while True:
            try:
                done = await maintain_database(db, retention_days=retention_days)
                if done.created or done.dropped or done.expired_default_rows:
                    log.info(
                        "partitions: created %s, dropped %s, %d expired rows",
                        done.created,
                        done.dropped,
                        done.expired_default_rows,
                    )
            except Exception as exc:  # the database's: the recorder goes on, next hour again
                log.warning("partitions: upkeep failed: %s", exc)
            await asyncio.sleep(every_s)

    task = asyncio.create_task(loop(), name="partition-upkeep")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def keep_partitions(
    stack: contextlib.AsyncExitStack, db_url: str, retention_days: int | None
) -> None:
    """For a run that records to PostgreSQL: partition upkeep until ``stack`` closes."""
    if not normalize_url(db_url).startswith("postgresql"):
        return
    db = await open_database(db_url)
    stack.push_async_callback(db.dispose)
    await stack.enter_async_context(partition_upkeep(db, retention_days))
