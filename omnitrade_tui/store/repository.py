"""The repositories the rest of the app uses, and their SQL implementation.

Callers see small async interfaces (``HistoryWriter``, ``MarketHistory``,
``AccountHistory``) and domain values; the engine, the dialect and the tables stay here.

Writes are idempotent on every table: hot tables (trades, quotes, candles) go as tuples
with executemany on SQLite (``INSERT ... ON CONFLICT DO NOTHING``) and with COPY on PostgreSQL
(straight into the table; on a key conflict, into a temporary staging table then
``INSERT ... SELECT ... ON CONFLICT DO NOTHING``);
cold tables go through SQLAlchemy Core inserts with the dialect's ``ON CONFLICT``. An
order's row is replaced only by a report at least as recent as the stored one.

Callers name instruments by id (``BTCUSDT``, ``BTCUSDT@kraken``) in rows, queries and
answers alike; the tables keep the venue and the symbol apart (``store.venue_columns``
splits them on the way in and joins them on the way out).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from omnitrade_tui.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.domain.events import TradeGap
from omnitrade_tui.domain.models import Candle, Fill, Order, OrderRecord, OrderStep, Trade
from omnitrade_tui.store import tables as t
from omnitrade_tui.store import venue_columns as vc
from omnitrade_tui.store.database import Database
from omnitrade_tui.store.rows import Batch, Row


class HistoryWriter(Protocol):
    """Where the recorder puts its batches."""

    async def write_batch(self, batch: Batch) -> int:
        """Write every row of ``batch`` in one transaction (idempotent); return rows sent."""
        ...


class MarketHistory(Protocol):
    """Recorded market data."""

    async def candles(
        self, symbol: str, interval: str, limit: int = 500, end_ms: int | None = None
    ) -> list[Candle]:
        """Closed candles, oldest first: the newest ``limit`` opening before ``end_ms``."""
        ...

    async def trades(self, symbol: str, since_ms: int = 0, limit: int = 10_000) -> list[Trade]:
        """Public trades from ``since_ms`` on, oldest first."""
        ...


class AccountHistory(Protocol):
    """Recorded orders and fills."""

    async def orders(
        self, symbol: str | None = None, open_only: bool = False, limit: int = 500
    ) -> list[Order]:
        """Latest state of orders, newest first."""
        ...

    async def fills(
        self, symbol: str | None = None, since_ms: int = 0, limit: int = 500
    ) -> list[Fill]:
        """Fills from ``since_ms`` on, newest first."""
        ...

    async def final_orders(self, symbol: str | None = None, limit: int = 500) -> list[OrderRecord]:
        """Final orders with their fees and status timelines, newest first."""
        ...


_UNIQUE_VIOLATION = "23505"
#: Where each status comes in an order's life, for reports of the same millisecond.
_LIFE_ORDER = {
    OrderStatus.PENDING_NEW: 0,
    OrderStatus.UNKNOWN: 1,
    OrderStatus.NEW: 2,
    OrderStatus.PARTIALLY_FILLED: 3,
    OrderStatus.PENDING_CANCEL: 4,
    OrderStatus.FILLED: 5,
    OrderStatus.CANCELED: 5,
    OrderStatus.EXPIRED: 5,
    OrderStatus.EXPIRED_IN_MATCH: 5,
    OrderStatus.REJECTED: 5,
}
EXPORTABLE = ("trades", "fills", "orders", "candles", "trade_gaps")
_TIME_COLUMN = {
    "trades": "time_ms",
    "fills": "time_ms",
    "orders": "updated_ms",
    "candles": "open_ms",
    "trade_gaps": "from_ms",
}


class SqlHistoryStore:
    """All the repositories over one SQLite or PostgreSQL database."""

    def __init__(self, database: Database) -> None:
        self.db = database
        self._engine = database.engine
        self._pg = database.dialect == "postgresql"
        self._sqlite_sql = {
            name: _sqlite_insert_sql(t.METADATA.tables[name]) for name in t.HOT_TABLES
        }
        self._cold = {name: self._cold_insert(name) for name in t.METADATA.tables}
        #: Where each instrument-keyed table's venue column is (its rows' id is there).
        self._venue_at = {
            name: at
            for name, table in t.METADATA.tables.items()
            if (at := vc.venue_at(table)) is not None
        }

    async def close(self) -> None:
        """Release the database's connections."""
        await self.db.dispose()

    # -- writing ---------------------------------------------------------------------------

    async def write_batch(self, batch: Batch) -> int:
        """Write every row of ``batch`` in one transaction (idempotent); return rows sent."""
        sent = 0
        async with self._engine.begin() as conn:
            for name, rows in batch.items():
                if not rows:
                    continue
                sent += len(rows)
                at = self._venue_at.get(name)
                if at is not None:
                    rows = vc.stored_rows(rows, at)
                if name in t.HOT_TABLES:
                    if self._pg:
                        await self._copy_pg(conn, name, rows)
                    else:
                        await conn.exec_driver_sql(self._sqlite_sql[name], rows)
                else:
                    cols = [c.name for c in t.METADATA.tables[name].columns]
                    await conn.execute(
                        self._cold[name], [dict(zip(cols, r, strict=True)) for r in rows]
                    )
        return sent

    async def _copy_pg(self, conn: Any, name: str, rows: Sequence[Row]) -> None:
        table = t.METADATA.tables[name]
        cols = [c.name for c in table.columns]
        # Any statement through SQLAlchemy first, so its transaction is open on the
        # connection and the COPY below runs inside it.
        await conn.exec_driver_sql("SELECT 1")
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        # Fast path: COPY straight into the table under a savepoint. New rows (the normal
        # case) never conflict; a replay does, and then the savepoint is rolled back and
        # the rows go through a staging table with ON CONFLICT DO NOTHING instead.
        try:
            async with driver.transaction():
                await driver.copy_records_to_table(name, records=rows, columns=cols)
            return
        except Exception as exc:
            if getattr(exc, "sqlstate", None) != _UNIQUE_VIOLATION:
                raise
        staging = f"_omt_stage_{name}"
        await conn.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {name} INCLUDING DEFAULTS) "
            "ON COMMIT DELETE ROWS"
        )
        await driver.copy_records_to_table(staging, records=rows, columns=cols)
        col_list = ", ".join(f'"{c}"' for c in cols)
        await conn.exec_driver_sql(
            f"INSERT INTO {name} ({col_list}) SELECT {col_list} FROM {staging} "
            "ON CONFLICT DO NOTHING"
        )
        await conn.exec_driver_sql(f"TRUNCATE {staging}")

    def _cold_insert(self, name: str) -> Any:
        table = t.METADATA.tables[name]
        stmt: Any = postgresql.insert(table) if self._pg else sqlite.insert(table)
        if name == "orders":
            updatable = {
                c.name: stmt.excluded[c.name] for c in table.columns if c.name != "client_order_id"
            }
            return stmt.on_conflict_do_update(
                index_elements=["client_order_id"],
                set_=updatable,
                where=stmt.excluded.updated_ms >= table.c.updated_ms,
            )
        return stmt.on_conflict_do_nothing()

    # -- reading ---------------------------------------------------------------------------

    async def candles(
        self, symbol: str, interval: str, limit: int = 500, end_ms: int | None = None
    ) -> list[Candle]:
        """Closed candles, oldest first: the newest ``limit`` opening before ``end_ms``."""
        c = t.CANDLES.c
        query = sa.select(t.CANDLES).where(
            vc.is_instrument(t.CANDLES, symbol), c.interval == interval
        )
        if end_ms is not None:
            query = query.where(c.open_ms < end_ms)
        query = query.order_by(c.open_ms.desc()).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [Candle(**vc.joined(r), closed=True) for r in reversed(rows)]

    async def trades(self, symbol: str, since_ms: int = 0, limit: int = 10_000) -> list[Trade]:
        """Public trades from ``since_ms`` on, oldest first."""
        c = t.TRADES.c
        query = (
            sa.select(t.TRADES)
            .where(vc.is_instrument(t.TRADES, symbol), c.time_ms >= since_ms)
            .order_by(c.trade_id)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [Trade(**vc.joined(r)) for r in rows]

    async def last_trade_id(self, symbol: str) -> int | None:
        """The highest public trade id stored for ``symbol`` (None when there is none)."""
        query = sa.select(sa.func.max(t.TRADES.c.trade_id)).where(
            vc.is_instrument(t.TRADES, symbol)
        )
        async with self._engine.connect() as conn:
            value = (await conn.execute(query)).scalar()
        return None if value is None else int(value)

    async def trade_gaps(
        self, symbol: str | None = None, since_ms: int = 0, until_ms: int | None = None
    ) -> list[TradeGap]:
        """Recorded gaps in the public trades overlapping ``since_ms``..``until_ms``, oldest
        first."""
        c = t.TRADE_GAPS.c
        query = sa.select(t.TRADE_GAPS).where(c.to_ms >= since_ms)
        if until_ms is not None:
            query = query.where(c.from_ms <= until_ms)
        if symbol is not None:
            query = query.where(vc.is_instrument(t.TRADE_GAPS, symbol))
        query = query.order_by(c.venue, c.symbol, c.first_id)
        async with self._engine.connect() as conn:
            rows = [vc.joined(r) for r in (await conn.execute(query)).mappings().all()]
        return [
            TradeGap(
                symbol=r["symbol"],
                first_id=r["first_id"],
                last_id=r["last_id"],
                from_ms=r["from_ms"],
                to_ms=r["to_ms"],
                reason=r["reason"],
                time_ms=r["noted_ms"],
            )
            for r in rows
        ]

    async def orders(
        self, symbol: str | None = None, open_only: bool = False, limit: int = 500
    ) -> list[Order]:
        """Latest state of orders, newest first."""
        c = t.ORDERS.c
        query = sa.select(t.ORDERS)
        if symbol is not None:
            query = query.where(vc.is_instrument(t.ORDERS, symbol))
        if open_only:
            query = query.where(c.status.in_([s.value for s in OrderStatus if s.is_open]))
        query = query.order_by(c.updated_ms.desc()).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_order(vc.joined(r)) for r in rows]

    async def fills(
        self, symbol: str | None = None, since_ms: int = 0, limit: int = 500
    ) -> list[Fill]:
        """Fills from ``since_ms`` on, newest first."""
        c = t.FILLS.c
        query = sa.select(t.FILLS).where(c.time_ms >= since_ms)
        if symbol is not None:
            query = query.where(vc.is_instrument(t.FILLS, symbol))
        query = query.order_by(c.time_ms.desc(), c.trade_id.desc()).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_fill(vc.joined(r)) for r in rows]

    async def final_orders(self, symbol: str | None = None, limit: int = 500) -> list[OrderRecord]:
        """Final orders (filled, cancelled, expired, rejected), newest first, each with its
        fees summed by asset and its status timeline oldest first (three queries, not one
        per order)."""
        c = t.ORDERS.c
        final = [s.value for s in OrderStatus if not s.is_open]
        query = sa.select(t.ORDERS).where(c.status.in_(final))
        if symbol is not None:
            query = query.where(vc.is_instrument(t.ORDERS, symbol))
        query = query.order_by(c.updated_ms.desc()).limit(limit)
        async with self._engine.connect() as conn:
            orders = [_order(vc.joined(r)) for r in (await conn.execute(query)).mappings().all()]
            ids = [o.client_order_id for o in orders]
            fees: dict[str, dict[str, Decimal]] = {}
            counts: dict[str, int] = {}
            steps: dict[str, list[OrderStep]] = {}
            # In chunks: a database caps the parameters of one statement.
            for start in range(0, len(ids), 400):
                chunk = ids[start : start + 400]
                f = t.FILLS.c
                fill_rows = await conn.execute(
                    sa.select(f.client_order_id, f.commission, f.commission_asset).where(
                        f.client_order_id.in_(chunk)
                    )
                )
                for cid, commission, asset in fill_rows:
                    by_asset = fees.setdefault(cid, {})
                    by_asset[asset] = by_asset.get(asset, Decimal(0)) + Decimal(commission)
                    counts[cid] = counts.get(cid, 0) + 1
                e = t.ORDER_EVENTS.c
                event_rows = await conn.execute(
                    sa.select(e.client_order_id, e.execution_type, e.status, e.filled_qty)
                    .add_columns(e.time_ms, e.reject_reason)
                    .where(e.client_order_id.in_(chunk))
                    .order_by(e.time_ms)
                )
                for cid, kind, status, filled, time_ms, reason in event_rows:
                    steps.setdefault(cid, []).append(
                        OrderStep(
                            execution_type=kind,
                            status=OrderStatus(status),
                            filled_qty=Decimal(filled),
                            time_ms=time_ms,
                            reason=reason,
                        )
                    )
        return [
            OrderRecord(
                order=o,
                fees=tuple(sorted(fees.get(o.client_order_id, {}).items())),
                fills=counts.get(o.client_order_id, 0),
                # Reports of one millisecond (NEW and its immediate fill) in the order an
                # order lives them, not in the order the database happens to return them.
                steps=tuple(
                    sorted(
                        steps.get(o.client_order_id, ()),
                        key=lambda step: (step.time_ms, _LIFE_ORDER[step.status], step.filled_qty),
                    )
                ),
            )
            for o in orders
        ]

    async def count(self, table: str) -> int:
        """Rows in one table (for status lines and tests)."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.select(sa.func.count()).select_from(t.METADATA.tables[table])
            )
            return int(result.scalar_one())

    async def export_rows(
        self, what: str, symbol: str | None, since_ms: int = 0
    ) -> AsyncIterator[tuple[list[str], list[Row]]]:
        """Stream one exportable table as (header, chunk of rows), oldest first; the
        instrument is its id under ``symbol``, as everywhere else (``export_header``)."""
        if what not in EXPORTABLE:
            raise ValueError(f"cannot export {what!r}: choose one of {', '.join(EXPORTABLE)}")
        table = t.METADATA.tables[what]
        header = export_header(what)
        at = self._venue_at[what]
        time_col = table.c[_TIME_COLUMN[what]]
        query = sa.select(table).where(time_col >= since_ms)
        if symbol is not None:
            query = query.where(vc.is_instrument(table, symbol))
        query = query.order_by(time_col)
        async with self._engine.connect() as conn:
            result = await conn.stream(query)
            async for chunk in result.partitions(5000):
                yield header, [vc.app_row(r, at) for r in chunk]


def export_header(what: str) -> list[str]:
    """The columns of an export of ``what`` (one of ``EXPORTABLE``)."""
    return vc.app_columns(t.METADATA.tables[what])


def _sqlite_insert_sql(table: sa.Table) -> str:
    cols = [c.name for c in table.columns]
    marks = ", ".join("?" for _ in cols)
    col_list = ", ".join(f'"{c}"' for c in cols)
    return f"INSERT INTO {table.name} ({col_list}) VALUES ({marks}) ON CONFLICT DO NOTHING"


def _order(r: dict[str, Any]) -> Order:
    tif = r["time_in_force"]
    return Order(
        symbol=r["symbol"],
        client_order_id=r["client_order_id"],
        side=Side(r["side"]),
        type=OrderType(r["type"]),
        status=OrderStatus(r["status"]),
        quantity=r["quantity"],
        order_id=r["order_id"],
        price=r["price"],
        stop_price=r["stop_price"],
        time_in_force=TimeInForce(tif) if tif else None,
        quote_order_qty=r["quote_order_qty"],
        filled_qty=r["filled_qty"],
        cum_quote_qty=r["cum_quote_qty"],
        created_ms=r["created_ms"],
        updated_ms=r["updated_ms"],
        reject_reason=r["reject_reason"],
    )


def _fill(r: dict[str, Any]) -> Fill:
    return Fill(
        symbol=r["symbol"],
        trade_id=r["trade_id"],
        order_id=r["order_id"],
        client_order_id=r["client_order_id"],
        side=Side(r["side"]),
        price=Decimal(r["price"]),
        qty=Decimal(r["qty"]),
        commission=Decimal(r["commission"]),
        commission_asset=r["commission_asset"],
        is_maker=bool(r["is_maker"]),
        time_ms=r["time_ms"],
    )
