"""History answered on the bus (with a venue top-up) and exported as CSV."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.bus.policy import Queue
from omnitrade_tui.cli import main
from omnitrade_tui.domain.commands import CandleHistory, FillHistory, OrderHistory
from omnitrade_tui.domain.models import Candle, Trade
from omnitrade_tui.store.database import open_database
from omnitrade_tui.store.history import HistoryService
from omnitrade_tui.store.repository import SqlHistoryStore
from omnitrade_tui.store.rows import RowBuilder, new_batch


def _candle(i: int) -> Candle:
    return Candle(
        symbol="ETHUSDT",
        interval="1m",
        open_ms=i * 60_000,
        close_ms=i * 60_000 + 59_999,
        open=i,
        high=i,
        low=i,
        close=i,
        closed=True,
    )


async def test_candles_are_topped_up_from_the_venue_where_missing(
    store: SqlHistoryStore,
) -> None:
    batch = new_batch()
    builder = RowBuilder()
    for i in (0, 1, 3, 4):  # minute 2 is missing
        builder.add(batch, "md.candle.ETHUSDT.1m", _candle(i))
    await store.write_batch(batch)
    asked: list[tuple[str, str, int, int | None]] = []

    async def klines(symbol: str, interval: str, limit: int, end: int | None) -> list[Candle]:
        asked.append((symbol, interval, limit, end))
        return [_candle(i) for i in range(5)]

    bus = Bus()
    published = bus.subscribe_queue("md.candle.*.*", Queue(bound=100))
    HistoryService(bus, store, store, top_up=klines).register()
    got = await bus.request(CandleHistory(symbol="ETHUSDT", interval="1m", limit=5))
    assert [c.open_ms // 60_000 for c in got] == [0, 1, 2, 3, 4]
    assert asked == [("ETHUSDT", "1m", 5, None)]
    queued = await published.get_batch(100, timeout=0)  # what was published, taken
    assert [d.event.open_ms for d in queued] == [120_000]  # only the hole
    assert await bus.request(OrderHistory()) == []
    assert await bus.request(FillHistory(symbol="ETHUSDT")) == []


async def _ten_trades(db: Path) -> None:
    store = SqlHistoryStore(await open_database(str(db)))
    batch = new_batch()
    for i in range(1, 11):
        RowBuilder().add(
            batch,
            "md.trade.ETHUSDT",
            Trade(
                symbol="ETHUSDT",
                trade_id=i,
                price=1.5,
                qty=2.0,
                time_ms=i * 1000,
                buyer_is_maker=False,
            ),
        )
    await store.write_batch(batch)
    await store.close()


def test_export_trades_as_csv(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    asyncio.run(_ten_trades(db))
    out = tmp_path / "t.csv"
    code = main(
        [
            "history",
            "export",
            "--what",
            "trades",
            "--symbol",
            "ETHUSDT",
            "--since",
            "5000",
            "--db",
            str(db),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["symbol", "trade_id", "price", "qty", "time_ms", "buyer_is_maker"]
    assert [int(r[1]) for r in rows[1:]] == [5, 6, 7, 8, 9, 10]


async def test_venue_first_answers_from_the_venue_even_when_the_store_has_candles() -> None:
    """A simulated venue makes up a new past each start: its klines win over stored ones."""
    from omnitrade_tui.bus.bus import Bus
    from omnitrade_tui.domain.commands import CandleHistory
    from omnitrade_tui.domain.models import Candle
    from omnitrade_tui.store.history import HistoryService

    def candle(open_ms: int, price: float, closed: bool = True) -> Candle:
        return Candle(
            symbol="BTCUSDT",
            interval="1m",
            open_ms=open_ms,
            close_ms=open_ms + 59_999,
            open=price,
            high=price,
            low=price,
            close=price,
            closed=closed,
        )

    class Stored:
        async def candles(self, *args: object) -> list[Candle]:
            return [candle(0, 1.0), candle(60_000, 1.0)]

    async def venue(symbol: str, interval: str, limit: int, end_ms: int | None) -> list[Candle]:
        return [candle(0, 2.0), candle(60_000, 2.0), candle(120_000, 2.0, closed=False)]

    bus = Bus()
    # Stand-ins with only the store and venue methods the history service calls.
    HistoryService(bus, Stored(), Stored(), top_up=venue, venue_first=True).register()  # type: ignore[arg-type]
    got = await bus.request(CandleHistory(symbol="BTCUSDT", interval="1m", limit=2))
    assert [c.close for c in got] == [2.0, 2.0]
    assert all(c.closed for c in got)
