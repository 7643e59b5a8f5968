"""A seeded, frozen market and account for snapshot tests and the README's screenshots.

The app only reads the bus, so a fixed sequence of events (a book, trades, tickers, candles,
orders, a fill, balances, link states) makes every screenshot identical run after run,
without a venue whose market moves with the wall clock.
"""

from __future__ import annotations

import random
from decimal import Decimal

import msgspec

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.config import UISettings
from omnitrade_tui.domain.commands import CandleHistory, FinalOrders
from omnitrade_tui.domain.enums import ExecutionType, OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.domain.events import (
    AssetValue,
    BalancesChanged,
    BookHealth,
    BookState,
    BookTop,
    ConnectionChanged,
    LatencySample,
    LinkState,
    OrderUpdated,
    PortfolioValue,
    RateLimitUsage,
    RecorderStatus,
)
from omnitrade_tui.domain.models import (
    Balance,
    BookLevel,
    Candle,
    ExecutionReport,
    Fill,
    Order,
    OrderRecord,
    OrderStep,
    Ticker,
    Trade,
)
from omnitrade_tui.engine.book_of_record import OrderBookOfRecord
from omnitrade_tui.engine.positions import PositionKeeper
from omnitrade_tui.tui.session import TerminalSession
from omnitrade_tui.venues.sim.symbols import START_PRICES, default_instruments

WATCHLIST = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT")
#: 2026-11-30 12:00:00 UTC: every timestamp of the feed is counted from here.
T0_MS = 1_796_040_000_000
MINUTE = 60_000


def seeded_session(bus: Bus, seed: int = 7) -> TerminalSession:
    """A session on ``bus`` whose history handler answers with seeded candles."""
    instruments = {i.symbol: i for i in default_instruments(list(WATCHLIST))}

    async def candles(cmd: CandleHistory) -> list[Candle]:
        return seeded_candles(cmd.symbol, cmd.interval, min(cmd.limit, 200), seed)

    async def final_orders(cmd: FinalOrders) -> list[OrderRecord]:
        return [r for r in seeded_final_orders() if cmd.symbol in (None, r.order.symbol)]

    bus.handle(CandleHistory, candles)
    bus.handle(FinalOrders, final_orders)
    # The engine's part the screen follows: the order book of record (fed by exec.order, as
    # the order manager and the user-data stream feed it) and the positions it values.
    OrderBookOfRecord.on(bus)
    PositionKeeper(bus, {s: (i.base_asset, i.quote_asset) for s, i in instruments.items()}).start()
    # Times in UTC: the pictures must not depend on the zone of the machine that draws them.
    return TerminalSession(
        bus=bus, instruments=instruments, watchlist=WATCHLIST, ui=UISettings(utc_time=True)
    )


def seeded_final_orders() -> list[OrderRecord]:
    """Final orders as the store would answer them: a market buy filled in two fills, a
    cancelled limit sell, a rejected stop-limit and a filled ETH limit."""

    def step(kind: str, status: OrderStatus, filled: str, at: int) -> OrderStep:
        return OrderStep(execution_type=kind, status=status, filled_qty=Decimal(filled), time_ms=at)

    def order(
        cid: str,
        symbol: str,
        side: Side,
        kind: OrderType,
        status: OrderStatus,
        qty: str,
        filled: str,
        quote: str,
        at: int,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        reject_reason: str | None = None,
    ) -> Order:
        return Order(
            symbol=symbol, client_order_id=cid, side=side, type=kind, status=status,
            quantity=Decimal(qty), order_id=1000 + int(cid[-1]), filled_qty=Decimal(filled),
            cum_quote_qty=Decimal(quote), created_ms=at - MINUTE, updated_ms=at, price=price,
            stop_price=stop_price, reject_reason=reject_reason,
        )  # fmt: skip

    t = T0_MS - 40 * MINUTE
    return [
        OrderRecord(
            order=order(
                "omt-h-1",
                "BTCUSDT",
                Side.BUY,
                OrderType.MARKET,
                OrderStatus.FILLED,
                "0.03",
                "0.03",
                "2010.30",
                t,
            ),
            fees=(("USDT", Decimal("2.0103")),),
            fills=2,
            steps=(
                step("NEW", OrderStatus.NEW, "0", t - MINUTE),
                step("TRADE", OrderStatus.PARTIALLY_FILLED, "0.01", t - 1000),
                step("TRADE", OrderStatus.FILLED, "0.03", t),
            ),
        ),
        OrderRecord(
            order=order(
                "omt-h-2",
                "BTCUSDT",
                Side.SELL,
                OrderType.LIMIT,
                OrderStatus.CANCELED,
                "0.01",
                "0",
                "0",
                t + 5 * MINUTE,
                price=Decimal("67500.00"),
            ),
            steps=(
                step("NEW", OrderStatus.NEW, "0", t + 4 * MINUTE),
                step("CANCELED", OrderStatus.CANCELED, "0", t + 5 * MINUTE),
            ),
        ),
        OrderRecord(
            order=order(
                "omt-h-3",
                "BTCUSDT",
                Side.SELL,
                OrderType.STOP_LOSS_LIMIT,
                OrderStatus.REJECTED,
                "0.01",
                "0",
                "0",
                t + 9 * MINUTE,
                price=Decimal("66450.00"),
                stop_price=Decimal("66500.00"),
                reject_reason="Stop price would trigger immediately.",
            ),
            steps=(step("REJECTED", OrderStatus.REJECTED, "0", t + 9 * MINUTE),),
        ),
        OrderRecord(
            order=order(
                "omt-h-4",
                "ETHUSDT",
                Side.BUY,
                OrderType.LIMIT,
                OrderStatus.FILLED,
                "0.5",
                "0.5",
                "1300.00",
                t + 12 * MINUTE,
                price=Decimal("2600.00"),
            ),
            fees=(("ETH", Decimal("0.0005")),),
            fills=1,
            steps=(
                step("NEW", OrderStatus.NEW, "0", t + 11 * MINUTE),
                step("TRADE", OrderStatus.FILLED, "0.5", t + 12 * MINUTE),
            ),
        ),
    ]


def seeded_candles(symbol: str, interval: str, count: int, seed: int) -> list[Candle]:
    """A random walk of closed one-minute candles ending a minute before ``T0_MS`` (the
    feed's trades build the minute that is still open)."""
    rng = random.Random(f"{seed}-{symbol}-{interval}")
    price = float(START_PRICES[symbol])
    out: list[Candle] = []
    for i in range(count):
        open_ms = T0_MS - (count - i + 1) * MINUTE
        o = price
        c = o * (1 + rng.gauss(0, 0.0012))
        h = max(o, c) * (1 + abs(rng.gauss(0, 0.0005)))
        lo = min(o, c) * (1 - abs(rng.gauss(0, 0.0005)))
        v = abs(rng.gauss(3, 1.5))
        out.append(
            Candle(
                symbol=symbol,
                interval=interval,
                open_ms=open_ms,
                close_ms=open_ms + MINUTE - 1,
                open=o,
                high=h,
                low=lo,
                close=c,
                volume=v,
                closed=True,
            )
        )
        price = c
    # Shift the walk so it ends at the start price, where the feed's book and trades are.
    shift = float(START_PRICES[symbol]) - out[-1].close if out else 0.0
    return [
        msgspec.structs.replace(
            c, open=c.open + shift, high=c.high + shift, low=c.low + shift, close=c.close + shift
        )
        for c in out
    ]


def valuation(
    equity: str,
    day_change: str,
    day_change_pct: str,
    rows: tuple[tuple[str, str, str, str, str, str], ...],
    unpriced: tuple[str, ...] = (),
) -> PortfolioValue:
    """A frozen valuation from (asset, quantity, price, value, share %, today) rows."""
    return PortfolioValue(
        quote_asset="USDT",
        equity=Decimal(equity),
        day_change=Decimal(day_change),
        day_change_pct=Decimal(day_change_pct),
        assets=[
            AssetValue(
                asset=a,
                quantity=Decimal(q),
                price=Decimal(p),
                value=Decimal(v),
                share_pct=Decimal(sh),
                day_change=Decimal(c),
            )
            for a, q, p, v, sh, c in rows
        ],
        unpriced=list(unpriced),
        time_ms=T0_MS,
    )


def seeded_valuation() -> PortfolioValue:
    """The account as the engine would value it: what the account summary shows."""
    return valuation(
        "167006.70",
        "410.20",
        "0.246",
        (
            ("USDT", "100000", "1", "100000", "59.69", "0"),
            ("BTC", "1", "67006.70", "67006.70", "40.00", "410.2"),
        ),
    )


def publish_feed(bus: Bus, seed: int = 7) -> None:
    """Publish the whole frozen market and account, in a fixed order."""
    rng = random.Random(seed)
    now = T0_MS
    for link in ("market", "user"):
        bus.publish(
            topics.CONNECTION,
            ConnectionChanged(venue="binance", link=link, state=LinkState.CONNECTED, time_ms=now),
        )
    bus.publish(
        topics.LATENCY, LatencySample(kind="exchange_to_receipt", source="x", seconds=0.004)
    )
    bus.publish(
        topics.RATE_LIMIT,
        RateLimitUsage(venue="binance", kind="REQUEST_WEIGHT", interval="1m", used=420, limit=6000),
    )
    bus.publish(
        topics.RECORDER,
        RecorderStatus(
            state="ok", written_rows=1200, backlog_rows=0, spilled_rows=0, spilled_total=0, lag_ms=3
        ),
    )
    bus.publish(topics.PORTFOLIO, seeded_valuation())
    for symbol in WATCHLIST:
        base = float(START_PRICES[symbol])
        for k in range(40):
            last = base * (1 + 0.01 * ((k % 13) - 6) / 6 + rng.gauss(0, 0.001))
            bus.publish(
                topics.ticker(symbol),
                Ticker(
                    symbol=symbol,
                    last=last,
                    open=base * (0.985 if symbol != "BNBUSDT" else 1.012),
                    high=base * 1.02,
                    low=base * 0.97,
                    volume=1000.0,
                    quote_volume=base * 1000,
                    time_ms=now - (40 - k) * 1000,
                ),
            )
    mid = 67_012.06
    bids = [
        BookLevel(round(mid - 1.34 * (i + 1) + 0.67, 2), round(rng.uniform(0.02, 0.6), 5))
        for i in range(60)
    ]
    asks = [
        BookLevel(round(mid + 1.34 * (i + 1) - 0.67, 2), round(rng.uniform(0.02, 0.6), 5))
        for i in range(60)
    ]
    bus.publish(
        topics.book_health("BTCUSDT"),
        BookHealth(symbol="BTCUSDT", state=BookState.LIVE, last_update_id=123_456),
    )
    bus.publish(
        topics.book("BTCUSDT"),
        BookTop(symbol="BTCUSDT", update_id=123_456, bids=bids, asks=asks, event_ms=now),
    )
    price = mid
    for i in range(60):
        price += rng.choice((-1.34, 0, 1.34))
        bus.publish(
            topics.trade("BTCUSDT"),
            Trade(
                symbol="BTCUSDT",
                trade_id=9_000 + i,
                price=round(price, 2),
                qty=round(rng.uniform(0.0005, 0.08), 5),
                time_ms=now - (60 - i) * 700,
                buyer_is_maker=rng.random() < 0.5,
            ),
        )
    bus.publish(
        topics.BALANCE,
        BalancesChanged(
            balances=[
                Balance(asset="USDT", free=Decimal("98659.41"), locked=Decimal("670.00")),
                Balance(asset="BTC", free=Decimal("1.01999"), locked=Decimal("0")),
                Balance(asset="ETH", free=Decimal("10"), locked=Decimal("0")),
            ]
        ),
    )
    for n, (side, px) in enumerate(((Side.BUY, "66900.00"), (Side.SELL, "67120.50"))):
        order = Order(
            symbol="BTCUSDT",
            client_order_id=f"omt-seeded-{n}",
            side=side,
            type=OrderType.LIMIT,
            status=OrderStatus.NEW,
            quantity=Decimal("0.01"),
            order_id=100 + n,
            price=Decimal(px),
            time_in_force=TimeInForce.GTC,
            created_ms=now - (5 - n) * MINUTE,
            updated_ms=now - (5 - n) * MINUTE,
        )
        bus.publish(
            topics.ORDER,
            OrderUpdated(report=ExecutionReport(execution_type=ExecutionType.NEW, order=order)),
        )
    filled = Order(
        symbol="BTCUSDT",
        client_order_id="omt-seeded-fill",
        side=Side.BUY,
        type=OrderType.MARKET,
        status=OrderStatus.FILLED,
        quantity=Decimal("0.02"),
        order_id=99,
        filled_qty=Decimal("0.02"),
        cum_quote_qty=Decimal("1340.20"),
        created_ms=now - 30 * MINUTE,
        updated_ms=now - 30 * MINUTE,
    )
    fill = Fill(
        symbol="BTCUSDT",
        trade_id=8_800,
        order_id=99,
        client_order_id="omt-seeded-fill",
        side=Side.BUY,
        price=Decimal("67010.00"),
        qty=Decimal("0.02"),
        commission=Decimal("0.00002"),
        commission_asset="BTC",
        is_maker=False,
        time_ms=now - 30 * MINUTE,
    )
    bus.publish(
        topics.ORDER,
        OrderUpdated(
            report=ExecutionReport(execution_type=ExecutionType.TRADE, order=filled, fill=fill)
        ),
    )
