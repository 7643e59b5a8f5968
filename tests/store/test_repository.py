"""The repositories on SQLite and PostgreSQL: idempotent writes, reads, migrations."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from omnitrade_tui.domain.commands import CancelAll
from omnitrade_tui.domain.enums import ExecutionType, OrderStatus, OrderType, Side
from omnitrade_tui.domain.events import BalancesChanged, BookTop, OrderUpdated
from omnitrade_tui.domain.models import (
    Balance,
    BookLevel,
    Candle,
    ExecutionReport,
    Fill,
    Order,
    Trade,
)
from omnitrade_tui.store.database import head_revision, open_database
from omnitrade_tui.store.errors import StoreError
from omnitrade_tui.store.repository import SqlHistoryStore
from omnitrade_tui.store.rows import RowBuilder, new_batch


def _order(status: OrderStatus, filled: str, updated: int) -> Order:
    return Order(
        symbol="ETHUSDT",
        client_order_id="omt-abc",
        side=Side.BUY,
        type=OrderType.LIMIT,
        status=status,
        quantity=Decimal("0.12345678"),
        order_id=42,
        price=Decimal("2500.01"),
        filled_qty=Decimal(filled),
        cum_quote_qty=Decimal(filled) * Decimal("2500.01"),
        created_ms=1000,
        updated_ms=updated,
    )


def _events() -> list[tuple[str, object]]:
    fill = Fill(
        symbol="ETHUSDT",
        trade_id=7,
        order_id=42,
        client_order_id="omt-abc",
        side=Side.BUY,
        price=Decimal("2500.01"),
        qty=Decimal("0.12345678"),
        commission=Decimal("0.00012345"),
        commission_asset="ETH",
        is_maker=True,
        time_ms=2000,
    )
    new = ExecutionReport(
        execution_type=ExecutionType.NEW, order=_order(OrderStatus.NEW, "0", 1000)
    )
    traded = ExecutionReport(
        execution_type=ExecutionType.TRADE,
        order=_order(OrderStatus.FILLED, "0.12345678", 2000),
        fill=fill,
    )
    out: list[tuple[str, object]] = [
        (
            "md.trade.ETHUSDT",
            Trade(
                symbol="ETHUSDT",
                trade_id=i,
                price=2500.0 + i,
                qty=0.5,
                time_ms=1000 + i,
                buyer_is_maker=bool(i % 2),
            ),
        )
        for i in range(1, 101)
    ]
    out += [
        (
            "md.book.ETHUSDT",
            BookTop(
                symbol="ETHUSDT",
                update_id=10,
                bids=[BookLevel(1.0, 2.0)],
                asks=[BookLevel(1.1, 3.0)],
            ),
        ),
        # Same top again: not a change, no quote row.
        (
            "md.book.ETHUSDT",
            BookTop(
                symbol="ETHUSDT",
                update_id=11,
                bids=[BookLevel(1.0, 2.0)],
                asks=[BookLevel(1.1, 3.0)],
            ),
        ),
        (
            "md.book.ETHUSDT",
            BookTop(
                symbol="ETHUSDT",
                update_id=12,
                bids=[BookLevel(1.0, 1.0)],
                asks=[BookLevel(1.1, 3.0)],
            ),
        ),
        (
            "md.candle.ETHUSDT.1m",
            Candle(
                symbol="ETHUSDT",
                interval="1m",
                open_ms=60_000,
                close_ms=119_999,
                open=1,
                high=2,
                low=0.5,
                close=1.5,
                volume=10,
                closed=True,
            ),
        ),
        (
            "md.candle.ETHUSDT.1m",
            Candle(
                symbol="ETHUSDT",
                interval="1m",
                open_ms=120_000,
                close_ms=179_999,
                open=1.5,
                high=2,
                low=1,
                close=1.8,
                closed=False,
            ),
        ),
        # Reports arrive out of order: the older one must not win.
        ("exec.order", OrderUpdated(report=traded)),
        ("exec.order", OrderUpdated(report=new)),
        (
            "acct.balance",
            BalancesChanged(
                balances=[Balance(asset="USDT", free=Decimal("100.000000001"))], time_ms=5
            ),
        ),
        ("cmd.order.cancel_all", CancelAll(symbol="ETHUSDT")),
    ]
    return out


async def test_write_is_idempotent_and_reads_back_exact(store: SqlHistoryStore) -> None:
    batch = new_batch()
    builder = RowBuilder()
    for topic, event in _events():
        builder.add(batch, topic, event)
    await store.write_batch(batch)
    await store.write_batch(batch)  # a replay of the same rows

    assert await store.count("trades") == 100
    assert await store.count("quotes") == 2
    assert await store.count("candles") == 1
    assert await store.count("orders") == 1
    assert await store.count("order_events") == 2
    assert await store.count("fills") == 1
    assert await store.count("balance_snapshots") == 1
    assert await store.count("command_journal") == 1

    trades = await store.trades("ETHUSDT", since_ms=1050)
    assert [t.trade_id for t in trades] == list(range(50, 101))
    assert trades[0].buyer_is_maker is False
    [order] = await store.orders("ETHUSDT")
    assert order.status is OrderStatus.FILLED
    assert order.quantity == Decimal("0.12345678")
    assert order.cum_quote_qty == Decimal("0.12345678") * Decimal("2500.01")
    assert await store.orders(open_only=True) == []
    [fill] = await store.fills()
    assert fill.commission == Decimal("0.00012345")
    [candle] = await store.candles("ETHUSDT", "1m")
    assert candle.open_ms == 60_000
    assert candle.closed
    assert candle.volume == 10


async def test_candles_newest_limit_before_end(store: SqlHistoryStore) -> None:
    batch = new_batch()
    builder = RowBuilder()
    for i in range(10):
        builder.add(
            batch,
            "md.candle.BTCUSDT.1m",
            Candle(
                symbol="BTCUSDT",
                interval="1m",
                open_ms=i * 60_000,
                close_ms=i * 60_000 + 59_999,
                open=i,
                high=i,
                low=i,
                close=i,
                closed=True,
            ),
        )
    await store.write_batch(batch)
    got = await store.candles("BTCUSDT", "1m", limit=3, end_ms=7 * 60_000)
    assert [c.open_ms // 60_000 for c in got] == [4, 5, 6]


async def test_reopen_keeps_history_and_schema_is_at_head(tmp_path: Path) -> None:
    path = str(tmp_path / "h.db")
    repo = SqlHistoryStore(await open_database(path))
    batch = new_batch()
    RowBuilder().add(
        batch,
        "md.trade.X",
        Trade(symbol="X", trade_id=1, price=1, qty=1, time_ms=1, buyer_is_maker=True),
    )
    await repo.write_batch(batch)
    await repo.close()
    repo = SqlHistoryStore(await open_database(path))
    assert await repo.count("trades") == 1
    async with repo.db.engine.connect() as conn:
        rev = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalar()
    assert rev == head_revision()
    await repo.close()


async def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"cannot open database .*Check that the server"):
        await open_database("postgresql://nobody@127.0.0.1:1/none")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot"):
        await open_database(str(blocker / "sub" / "h.db"))


async def test_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "h.db")
    repo = SqlHistoryStore(await open_database(path))
    async with repo.db.engine.begin() as conn:
        await conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    await repo.close()
    with pytest.raises(StoreError, match="newer version"):
        await open_database(path)


def test_migrations_describe_the_same_schema_as_the_models(tmp_path: Path) -> None:
    """A model changed without a migration would fail here (Alembic autogenerate diff)."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from omnitrade_tui.store.database import _alembic_config
    from omnitrade_tui.store.tables import METADATA

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "head")
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), METADATA) == []
    engine.dispose()
