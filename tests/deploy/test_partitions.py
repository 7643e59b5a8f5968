"""Market data in day partitions on PostgreSQL: made ahead, stray rows moved into their
day, idempotent writes kept, old days dropped or detached by the retention, and the
migration carrying rows over in both directions."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from alembic import command

from omnitrade_tui.store.database import Database, _alembic_config, create_engine, open_database
from omnitrade_tui.store.partitions import DAY_MS, day_name, day_partitions, maintain_database
from omnitrade_tui.store.repository import SqlHistoryStore
from tests.store.conftest import drop_schema, unique_schema

pytestmark = pytest.mark.postgres

#: 2026-12-05 12:00 UTC, and the day number it falls in.
NOW_MS = 1_796_472_000_000
TODAY = NOW_MS // DAY_MS


@pytest.fixture
async def schema(postgres_url: str) -> AsyncIterator[str]:
    """A schema of the test's own, dropped afterwards."""
    name = unique_schema()
    try:
        yield name
    finally:
        await drop_schema(postgres_url, name)


def trade(trade_id: int, time_ms: int) -> tuple[object, ...]:
    """A trades row (symbol, trade_id, price, qty, time_ms, buyer_is_maker)."""
    return ("ETHUSDT", trade_id, 2500.0, 0.1, time_ms, False)


async def _partitions(db: Database, table: str) -> dict[int, str]:
    async with db.engine.connect() as conn:
        return await conn.run_sync(day_partitions, table)


async def _count(db: Database, sql: str) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.exec_driver_sql(sql)).scalar() or 0)


async def test_rows_land_in_day_partitions_and_the_retention_drops_old_days(
    postgres_url: str, schema: str
) -> None:
    db = await open_database(postgres_url, schema=schema)
    store = SqlHistoryStore(db)
    try:
        # The migration made the days ahead; the test's "now" is its own, so make its week.
        await maintain_database(db, NOW_MS)
        days = await _partitions(db, "trades")
        assert set(range(TODAY, TODAY + 8)) <= set(days)
        assert days[TODAY] == day_name("trades", TODAY) == "trades_p20261205"
        old_day = TODAY - 30
        rows = [trade(1, old_day * DAY_MS + 5), trade(2, NOW_MS), trade(3, NOW_MS + DAY_MS)]
        await store.write_batch({"trades": rows})
        # A day with no partition went to the default; upkeep gives it its own.
        assert await _count(db, "SELECT count(*) FROM trades_default") == 1
        done = await maintain_database(db, NOW_MS)
        assert done.created == [day_name("trades", old_day)]
        assert await _count(db, "SELECT count(*) FROM trades_default") == 0
        assert await _count(db, f"SELECT count(*) FROM {day_name('trades', old_day)}") == 1
        # Writes stay idempotent across partitions (a replay of the recorder's journal).
        await store.write_batch({"trades": rows})
        assert await _count(db, "SELECT count(*) FROM trades") == 3
        # Keep ten days: the old day is dropped, the rest kept.
        done = await maintain_database(db, NOW_MS, retention_days=10, detach=False)
        assert done.dropped == [day_name("trades", old_day)]
        assert await _count(db, "SELECT count(*) FROM trades") == 2
        # Detached instead: the old day leaves the table but stays, for an archive job.
        old_quote = ("ETHUSDT", 7, 1.0, 1.0, 2.0, 1.0, old_day * DAY_MS)
        await store.write_batch({"quotes": [old_quote]})
        await maintain_database(db, NOW_MS)
        done = await maintain_database(db, NOW_MS, retention_days=10, detach=True)
        assert done.detached == [day_name("quotes", old_day)]
        assert await _count(db, "SELECT count(*) FROM quotes") == 0
        assert await _count(db, f"SELECT count(*) FROM {day_name('quotes', old_day)}") == 1
    finally:
        await store.close()


async def test_the_migration_carries_rows_into_partitions_and_back(
    postgres_url: str, schema: str
) -> None:
    engine = create_engine(postgres_url, schema)
    async with engine.begin() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        await conn.run_sync(lambda c: command.upgrade(_alembic_config(c), "0005"))
        await conn.execute(
            sa.text(
                "INSERT INTO trades VALUES "
                "('ETHUSDT', 1, 1.0, 1.0, :a, false), ('ETHUSDT', 2, 1.0, 1.0, :b, true)"
            ),
            {"a": NOW_MS - 40 * DAY_MS, "b": NOW_MS},
        )
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.upgrade(_alembic_config(c), "0006"))
        kind = await conn.exec_driver_sql(
            "SELECT relkind::text FROM pg_class WHERE oid = 'trades'::regclass"
        )
        assert kind.scalar() == "p"
        assert (await conn.exec_driver_sql("SELECT count(*) FROM trades_default")).scalar() == 0
        ids = await conn.exec_driver_sql("SELECT trade_id FROM trades ORDER BY 1")
        assert [r[0] for r in ids] == [1, 2]
        found = await conn.run_sync(day_partitions, "trades")
        assert (NOW_MS - 40 * DAY_MS) // DAY_MS in found
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(_alembic_config(c), "0005"))
        kind = await conn.exec_driver_sql(
            "SELECT relkind::text FROM pg_class WHERE oid = 'trades'::regclass"
        )
        assert kind.scalar() == "r"
        ids = await conn.exec_driver_sql("SELECT trade_id FROM trades ORDER BY 1")
        assert [r[0] for r in ids] == [1, 2]
    await engine.dispose()
