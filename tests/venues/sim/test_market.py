"""The market generator: a living, deterministic, uncrossed market with kline history."""

from __future__ import annotations

import itertools
import random

import pytest

from omnitrade_tui.domain import Trade
from omnitrade_tui.venues.sim.history import KlineHistory
from omnitrade_tui.venues.sim.market import MarketGenerator
from omnitrade_tui.venues.sim.matching import MatchingEngine, TradePrinted
from omnitrade_tui.venues.sim.symbols import START_PRICES, default_instruments


def run_market(seed: int, seconds: int = 30) -> tuple[MatchingEngine, list[TradePrinted]]:
    clock = [1_700_000_000_000]
    engine = MatchingEngine(default_instruments(), lambda: clock[0])
    trades: list[TradePrinted] = []
    engine.listeners.append(lambda e: trades.append(e) if isinstance(e, TradePrinted) else None)
    generator = MarketGenerator(engine, START_PRICES, seed=seed)
    for _ in range(seconds * 10):
        clock[0] += 100
        generator.step(clock[0])
        for book in engine.books.values():
            bid, ask = book.bids.best(), book.asks.best()
            assert bid is not None and ask is not None and bid < ask
    return engine, trades


def test_the_market_is_alive_and_near_its_start_price() -> None:
    engine, trades = run_market(seed=3)
    assert len(trades) > 100
    for symbol, start in START_PRICES.items():
        book = engine.books[symbol]
        assert len(book.bids) == 25 and len(book.asks) == 25
        bid, ask = book.bids.best(), book.asks.best()
        assert bid is not None and ask is not None
        mid = (bid + ask) / 2
        assert abs(mid / start - 1) < 0.05
        assert {t.symbol for t in trades} >= {symbol}


def test_same_seed_same_market() -> None:
    _, a = run_market(seed=11, seconds=10)
    _, b = run_market(seed=11, seconds=10)
    _, c = run_market(seed=12, seconds=10)
    key = [(t.symbol, t.price, t.qty) for t in a]
    assert key == [(t.symbol, t.price, t.qty) for t in b]
    assert key != [(t.symbol, t.price, t.qty) for t in c]


def test_the_generator_forgets_its_finished_orders() -> None:
    engine, _ = run_market(seed=5, seconds=20)
    assert len(engine.orders) <= 8 * 25 + 10


def test_kline_history_is_gapless_and_ends_at_the_opening_price() -> None:
    now = 1_700_000_123_456
    history = KlineHistory("BTCUSDT", 67_000.0, now, random.Random(1))
    for interval in ("1s", "1m", "5m", "15m", "1h", "4h", "1d"):
        candles = history.klines(interval, limit=500)
        assert candles, interval
        steps = {b.open_ms - a.open_ms for a, b in itertools.pairwise(candles)}
        assert len(steps) == 1, interval
        assert candles[-1].close == pytest.approx(67_000.0)
        assert all(c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high for c in candles)
    assert len(history.klines("1m", limit=1000)) == 1000
    history.add_trade(
        Trade(
            symbol="BTCUSDT",
            trade_id=1,
            price=67_010.0,
            qty=0.5,
            time_ms=now + 1_000,
            buyer_is_maker=False,
        )
    )
    last = history.klines("1m", limit=1)[-1]
    assert last.close == 67_010.0 and last.high >= 67_010.0


def test_klines_start_and_end() -> None:
    now = 1_700_000_123_456
    history = KlineHistory("ETHUSDT", 2_650.0, now, random.Random(2))
    all_1m = history.klines("1m", limit=1000)
    start = all_1m[10].open_ms
    got = history.klines("1m", start_ms=start, limit=5)
    assert [c.open_ms for c in got] == [c.open_ms for c in all_1m[10:15]]
    end = all_1m[-20].open_ms
    assert history.klines("1m", end_ms=end, limit=3)[-1].open_ms == end
