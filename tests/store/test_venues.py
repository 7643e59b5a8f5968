"""Instruments of several venues in one store (migration 0008), on SQLite and PostgreSQL.

A database of the single-venue layout (revision 0007) opens at the newest revision with its
history unchanged, read through the same interfaces; the same symbol on two venues is two
instruments side by side (the same trade ids even); the day partitions keep working.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from omnitrade_tui.bus import topics
from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.cli import main
from omnitrade_tui.cli.history import plain
from omnitrade_tui.domain.commands import CandleHistory, FillHistory, FinalOrders, OrderHistory
from omnitrade_tui.domain.enums import ExecutionType, OrderStatus, OrderType, Side
from omnitrade_tui.domain.events import BookTop, OrderUpdated, TradeGap
from omnitrade_tui.domain.models import (
    BookLevel,
    Candle,
    ExecutionReport,
    Fill,
    Order,
    Trade,
)
from omnitrade_tui.store.database import _alembic_config, create_engine, open_database
from omnitrade_tui.store.history import HistoryService
from omnitrade_tui.store.partitions import DAY_MS, day_name, day_partitions, maintain_database
from omnitrade_tui.store.recorder import Recorder, RecorderConfig
from omnitrade_tui.store.repository import EXPORTABLE, SqlHistoryStore
from omnitrade_tui.store.rows import Batch, RowBuilder, new_batch
from omnitrade_tui.store.tables import METADATA
from tests.store.conftest import drop_schema, unique_schema

#: The tables migration 0008 gives a venue column.
KEYED = ("trades", "trade_gaps", "quotes", "candles", "orders", "order_events", "fills")
#: 2026-12-05 12:00 UTC.
NOW_MS = 1_796_472_000_000


def _order(iid: str, cid: str, status: OrderStatus, filled: str, updated: int) -> Order:
    return Order(
        symbol=iid,
        client_order_id=cid,
        side=Side.BUY,
        type=OrderType.LIMIT,
        status=status,
        quantity=Decimal("0.5"),
        order_id=42,
        price=Decimal("2500.01"),
        filled_qty=Decimal(filled),
        cum_quote_qty=Decimal(filled) * Decimal("2500.01"),
        created_ms=1000,
        updated_ms=updated,
    )


def _history(iid: str, cid: str, base_ms: int = 0) -> list[Any]:
    """One instrument's recorded day: trades 1..20, three closed candles, a book top that
    changes, a trade gap, and an order placed then filled (trade id 7)."""
    events: list[Any] = [
        Trade(
            symbol=iid,
            trade_id=i,
            price=2500.0 + i,
            qty=0.25,
            time_ms=base_ms + 1000 + i,
            buyer_is_maker=bool(i % 2),
        )
        for i in range(1, 21)
    ]
    events += [
        Candle(
            symbol=iid,
            interval="1m",
            open_ms=base_ms + i * 60_000,
            close_ms=base_ms + i * 60_000 + 59_999,
            open=i,
            high=i + 1,
            low=i - 0.5,
            close=i + 0.5,
            volume=10 * i,
            closed=True,
        )
        for i in range(3)
    ]
    events += [
        BookTop(
            symbol=iid,
            update_id=u,
            bids=[BookLevel(1.0, float(u))],
            asks=[BookLevel(1.1, 3.0)],
            event_ms=base_ms + u,
        )
        for u in (10, 11)
    ]
    events.append(
        TradeGap(
            symbol=iid,
            first_id=21,
            last_id=24,
            from_ms=base_ms + 1021,
            to_ms=base_ms + 1025,
            reason="venue gave nothing back",
            time_ms=base_ms + 1030,
        )
    )
    fill = Fill(
        symbol=iid,
        trade_id=7,
        order_id=42,
        client_order_id=cid,
        side=Side.BUY,
        price=Decimal("2500.01"),
        qty=Decimal("0.5"),
        commission=Decimal("0.0005"),
        commission_asset="ETH",
        is_maker=True,
        time_ms=base_ms + 2000,
    )
    placed = _order(iid, cid, OrderStatus.NEW, "0", base_ms + 1000)
    filled = _order(iid, cid, OrderStatus.FILLED, "0.5", base_ms + 2000)
    events.append(
        OrderUpdated(report=ExecutionReport(execution_type=ExecutionType.NEW, order=placed))
    )
    events.append(
        OrderUpdated(
            report=ExecutionReport(execution_type=ExecutionType.TRADE, order=filled, fill=fill)
        )
    )
    return events


def _rows(events: list[Any]) -> Batch:
    """The rows the recorder makes of ``events`` (ids where the symbol goes)."""
    batch = new_batch()
    builder = RowBuilder()
    for event in events:
        builder.add(batch, "any", event)
    return batch


def _old_table(name: str) -> sa.Table:
    """``name`` as revision 0007 had it: the model's columns but the venue, in the order
    the recorder's rows hold them."""
    model = METADATA.tables[name]
    return sa.Table(
        name,
        sa.MetaData(),
        *(sa.Column(c.name, c.type) for c in model.columns if c.name != "venue"),
    )


async def _snapshot(db_url: str, schema: str | None) -> dict[str, list[tuple[Any, ...]]]:
    """Every instrument-keyed table's rows in the layout of 0007, by plain SQL."""
    engine = create_engine(db_url, schema)
    out = {}
    async with engine.connect() as conn:
        for name in KEYED:
            old = _old_table(name)
            rows = (await conn.execute(sa.select(old))).all()
            out[name] = sorted((tuple(r) for r in rows), key=repr)
    await engine.dispose()
    return out


async def _make_0007(url: str, schema: str | None) -> None:
    """An empty database at revision 0007 (the single-venue layout)."""
    engine = create_engine(url, schema)
    async with engine.begin() as conn:
        if schema is not None:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        await conn.run_sync(lambda c: command.upgrade(_alembic_config(c), "0007"))
    await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def at_0007(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[str, str | None]]:
    """An empty database at revision 0007, SQLite or PostgreSQL: (url, schema)."""
    if request.param == "sqlite":
        url, schema = str(tmp_path / "history.db"), None
    else:
        url, schema = request.getfixturevalue("postgres_url"), unique_schema()
    await _make_0007(url, schema)
    try:
        yield url, schema
    finally:
        if schema is not None:
            await drop_schema(url, schema)


@pytest.fixture
async def pg_at_0007(postgres_url: str) -> AsyncIterator[str]:
    """An empty PostgreSQL schema at revision 0007: its name."""
    schema = unique_schema()
    await _make_0007(postgres_url, schema)
    try:
        yield schema
    finally:
        await drop_schema(postgres_url, schema)


async def _record_at_0007(url: str, schema: str | None, batch: Batch) -> None:
    """Write ``batch`` as the version of revision 0007 did: each row into the columns of
    its table then (the recorder's rows have not changed layout)."""
    engine = create_engine(url, schema)
    async with engine.begin() as conn:
        for name, rows in batch.items():
            if name == "orders":  # an order's row is its latest report's
                rows = list({r[0]: r for r in rows}.values())
            old = _old_table(name)
            cols = [c.name for c in old.columns]
            await conn.execute(sa.insert(old), [dict(zip(cols, r, strict=True)) for r in rows])
    await engine.dispose()


async def _migrate(url: str, schema: str | None, revision: str) -> None:
    engine = create_engine(url, schema)
    async with engine.begin() as conn:
        if revision == "head":
            await conn.run_sync(lambda c: command.upgrade(_alembic_config(c), revision))
        else:
            await conn.run_sync(lambda c: command.downgrade(_alembic_config(c), revision))
    await engine.dispose()


async def test_a_single_venue_database_opens_with_its_history_unchanged(
    at_0007: tuple[str, str | None],
) -> None:
    url, schema = at_0007
    events = _history("ETHUSDT", "omt-1")
    await _record_at_0007(url, schema, _rows(events))
    before = await _snapshot(url, schema)
    assert {name: len(rows) for name, rows in before.items()} == {
        "trades": 20,
        "trade_gaps": 1,
        "quotes": 2,
        "candles": 3,
        "orders": 1,
        "order_events": 2,
        "fills": 1,
    }

    store = SqlHistoryStore(await open_database(url, schema=schema))  # migrates to head
    try:
        # Every row kept as it was, now the default venue's.
        assert await _snapshot(url, schema) == before
        async with store.db.engine.connect() as conn:
            for name in KEYED:
                venues = await conn.exec_driver_sql(f"SELECT DISTINCT venue FROM {name}")
                assert [v for (v,) in venues] == [""], name
        # The export gives the same rows (the id where the symbol was).
        for what in EXPORTABLE:
            exported = [r async for _h, chunk in store.export_rows(what, None) for r in chunk]
            assert sorted(exported, key=repr) == before[what], what
        # The history the screen asks for on the bus, as recorded.
        bus = Bus()
        HistoryService(bus, store, store).register()
        candles = [e for e in events if isinstance(e, Candle)]
        assert await bus.request(CandleHistory(symbol="ETHUSDT", interval="1m")) == candles
        assert await store.trades("ETHUSDT") == [e for e in events if isinstance(e, Trade)]
        assert await store.last_trade_id("ETHUSDT") == 20
        assert await store.trade_gaps("ETHUSDT") == [e for e in events if isinstance(e, TradeGap)]
        reports = [e.report for e in events if isinstance(e, OrderUpdated)]
        assert await bus.request(OrderHistory(symbol="ETHUSDT")) == [reports[-1].order]
        assert await bus.request(FillHistory()) == [reports[-1].fill]
        [record] = await bus.request(FinalOrders())
        assert record.order == reports[-1].order
        assert record.fees == (("ETH", Decimal("0.0005")),)
        assert [s.status for s in record.steps] == [OrderStatus.NEW, OrderStatus.FILLED]
        # Nothing of another venue was made up.
        assert await store.trades("ETHUSDT@kraken") == []
    finally:
        await store.close()


async def _export_csv(db: Path, what: str, out: Path) -> list[list[str]]:
    code = await asyncio.to_thread(
        main, ["history", "export", "--what", what, "--db", str(db), "--out", str(out)]
    )
    assert code == 0
    with out.open() as f:
        return list(csv.reader(f))


async def test_the_export_command_writes_the_same_csv_after_the_migration(
    tmp_path: Path,
) -> None:
    db = tmp_path / "history.db"
    await _make_0007(str(db), None)
    await _record_at_0007(str(db), None, _rows(_history("ETHUSDT", "omt-1")))
    before = await _snapshot(str(db), None)
    for what in EXPORTABLE:
        # The export migrates the file (it opens it as the app does) and writes it.
        got = await _export_csv(db, what, tmp_path / f"{what}.csv")
        header = [c.name for c in _old_table(what).columns]
        assert got[0] == header, what
        # What the export wrote before: the rows of 0007, through the same CSV writer.
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(
            [plain(v) for v in row] for row in before[what]
        )
        expected = sorted(csv.reader(io.StringIO(text.getvalue())))
        assert sorted(got[1:]) == expected, what


async def test_one_symbol_on_two_venues_is_two_instruments(store: SqlHistoryStore) -> None:
    """The same symbol on the default venue and on kraken, with the same trade ids, fill
    trade id and candle times: kept side by side, each read back alone, by its id."""
    home = _history("ETHUSDT", "omt-1")
    kraken = _history("ETHUSDT@kraken", "omt-2")
    batch = _rows(home + kraken)
    await store.write_batch(batch)
    await store.write_batch(batch)  # a replay (the recorder's journal): still one each
    for name, rows in batch.items():
        # An order is one row (its latest report), whatever number of reports it had.
        expected = len({r[0] for r in rows}) if name == "orders" else len(rows)
        assert await store.count(name) == expected, name

    for iid, events in (("ETHUSDT", home), ("ETHUSDT@kraken", kraken)):
        trades = await store.trades(iid)
        assert trades == [e for e in events if isinstance(e, Trade)]
        assert {t.symbol for t in trades} == {iid}
        assert await store.last_trade_id(iid) == 20
        candles = await store.candles(iid, "1m")
        assert candles == [e for e in events if isinstance(e, Candle)]
        assert await store.trade_gaps(iid) == [e for e in events if isinstance(e, TradeGap)]
        reports = [e.report for e in events if isinstance(e, OrderUpdated)]
        assert await store.orders(iid) == [reports[-1].order]
        assert await store.fills(iid) == [reports[-1].fill]
        [record] = await store.final_orders(iid)
        assert record.order.symbol == iid
        assert record.fills == 1
        exported = [r async for _h, chunk in store.export_rows("trades", iid) for r in chunk]
        assert {r[0] for r in exported} == {iid}
        assert len(exported) == 20
    # Unfiltered reads give both, each under its own id.
    assert {f.symbol for f in await store.fills()} == {"ETHUSDT", "ETHUSDT@kraken"}
    assert {g.symbol for g in await store.trade_gaps()} == {"ETHUSDT", "ETHUSDT@kraken"}
    # The columns hold the venue's own symbol and the venue's name.
    async with store.db.engine.connect() as conn:
        pairs = await conn.exec_driver_sql(
            "SELECT venue, symbol, count(*) FROM trades GROUP BY venue, symbol ORDER BY venue"
        )
        assert [tuple(p) for p in pairs] == [("", "ETHUSDT", 20), ("kraken", "ETHUSDT", 20)]
    # Another venue's instrument that was never recorded is empty, not the default's.
    assert await store.trades("ETHUSDT@binanceus") == []
    assert await store.last_trade_id("BTCUSDT@kraken") is None


async def test_downgrade_keeps_a_single_venue_history_and_refuses_to_merge_venues(
    at_0007: tuple[str, str | None],
) -> None:
    url, schema = at_0007
    await _record_at_0007(url, schema, _rows(_history("ETHUSDT", "omt-1")))
    before = await _snapshot(url, schema)
    await _migrate(url, schema, "head")
    await _migrate(url, schema, "0007")
    assert await _snapshot(url, schema) == before
    await _migrate(url, schema, "head")
    store = SqlHistoryStore(await open_database(url, schema=schema))
    try:
        await store.write_batch(_rows(_history("ETHUSDT@kraken", "omt-2")))
    finally:
        await store.close()
    # Two venues' trade 7 cannot both be ("ETHUSDT", 7) again: said, and nothing changed.
    with pytest.raises(RuntimeError, match="trades holds 20 rows of venues other than"):
        await _migrate(url, schema, "0007")
    store = SqlHistoryStore(await open_database(url, schema=schema))
    try:
        assert len(await store.trades("ETHUSDT@kraken")) == 20
        assert len(await store.trades("ETHUSDT")) == 20
    finally:
        await store.close()


@pytest.mark.postgres
async def test_day_partitions_keep_working_after_the_venue_column(
    postgres_url: str, pg_at_0007: str
) -> None:
    url, schema = postgres_url, pg_at_0007
    today = NOW_MS // DAY_MS
    old_day = today - 30
    # A row of the single-venue layout in an old day, before the migration.
    await _record_at_0007(url, schema, {"trades": [("ETHUSDT", 1, 1.0, 1.0, NOW_MS, False)]})
    db = await open_database(url, schema=schema)
    store = SqlHistoryStore(db)
    try:
        await maintain_database(db, NOW_MS)
        async with db.engine.connect() as conn:
            days = await conn.run_sync(day_partitions, "trades")
            assert set(range(today, today + 8)) <= set(days)
            # A day made after 0008 has the key with the venue first, like its parent.
            key = await conn.exec_driver_sql(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'p' "
                f"AND conrelid = '{day_name('trades', today + 7)}'::regclass"
            )
            assert key.scalar() == "PRIMARY KEY (venue, symbol, trade_id, time_ms)"
        # Both venues' trade 1 of an old day (no partition yet: the default), then again
        # (a replay: COPY conflicts, the staging table of the new layout takes it).
        rows = [
            ("ETHUSDT", 1, 2.0, 1.0, old_day * DAY_MS + 5, False),
            ("ETHUSDT@kraken", 1, 2.0, 1.0, old_day * DAY_MS + 5, False),
            ("ETHUSDT@kraken", 2, 1.0, 1.0, NOW_MS, False),
        ]
        await store.write_batch({"trades": rows})
        await store.write_batch({"trades": rows})
        assert await store.count("trades") == 4
        done = await maintain_database(db, NOW_MS)
        assert done.created == [day_name("trades", old_day)]
        async with db.engine.connect() as conn:
            moved = await conn.exec_driver_sql(
                f"SELECT venue, symbol FROM {day_name('trades', old_day)} ORDER BY venue"
            )
            assert [tuple(r) for r in moved] == [("", "ETHUSDT"), ("kraken", "ETHUSDT")]
        assert [t.time_ms for t in await store.trades("ETHUSDT@kraken")] == [
            old_day * DAY_MS + 5,
            NOW_MS,
        ]
        # The retention drops the old day of both venues.
        done = await maintain_database(db, NOW_MS, retention_days=10)
        assert done.dropped == [day_name("trades", old_day)]
        assert [t.trade_id for t in await store.trades("ETHUSDT")] == [1]
        assert [t.time_ms for t in await store.trades("ETHUSDT@kraken")] == [NOW_MS]
    finally:
        await store.close()


async def test_the_recorder_keeps_two_venues_from_the_bus(
    store: SqlHistoryStore, tmp_path: Path
) -> None:
    """What the venues publish (ids in the topics and the events) goes through the recorder
    into the store, each venue's trades and orders under its own id."""
    bus = Bus()
    recorder = Recorder(bus, store, RecorderConfig(spill_dir=tmp_path / "spill"))
    await recorder.start()
    for iid, cid in (("BTCUSDT", "omt-1"), ("BTCUSDT@kraken", "omt-2")):
        for event in _history(iid, cid):
            if isinstance(event, Trade):
                bus.publish(topics.trade(iid), event)
            elif isinstance(event, OrderUpdated):
                bus.publish(topics.ORDER, event)
    await recorder.stop()
    for iid in ("BTCUSDT", "BTCUSDT@kraken"):
        assert [t.trade_id for t in await store.trades(iid)] == list(range(1, 21))
        [order] = await store.orders(iid)
        assert order.symbol == iid
        assert order.status is OrderStatus.FILLED
    assert await store.count("trades") == 40
