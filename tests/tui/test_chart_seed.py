"""Issue 14, item 10 (the screen's part): after an interval or symbol switch the chart is
seeded from the venue's candles, the open one included, then updated live; the stored
history is the fallback; the current candle is never built from the trades seen since the
switch alone."""

from __future__ import annotations

import asyncio
import time

from omnitrade_tui.bus import topics
from omnitrade_tui.domain.candles import candle_open, interval_ms
from omnitrade_tui.domain.commands import CandleHistory, VenueCandles
from omnitrade_tui.domain.models import Candle, Trade
from omnitrade_tui.tui.widgets.candle_chart import CandleChart
from tests.tui.order_path import answer, seeded_app, started, until


def venue_candles(symbol: str, interval: str, count: int = 20) -> list[Candle]:
    """Closed candles up to now and the open one, with 0.52 traded in it so far."""
    step = interval_ms(interval)
    now_open = candle_open(int(time.time() * 1000), interval)
    out = []
    for i in range(count, -1, -1):
        open_ms = now_open - i * step
        out.append(
            Candle(
                symbol=symbol,
                interval=interval,
                open_ms=open_ms,
                close_ms=open_ms + step - 1,
                open=67_000.0,
                high=67_100.0,
                low=66_900.0,
                close=67_050.0,
                volume=0.52 if i == 0 else 3.0,
                closed=i > 0,
            )
        )
    return out


def trade(trade_id: int, qty: float) -> Trade:
    """A trade of BTCUSDT now."""
    return Trade(
        symbol="BTCUSDT",
        trade_id=trade_id,
        price=67_060.0,
        qty=qty,
        time_ms=int(time.time() * 1000),
        buyer_is_maker=False,
    )


async def test_an_interval_switch_seeds_the_current_candle_from_the_venue_then_goes_live() -> None:
    app = seeded_app()
    release = asyncio.Event()
    asked: list[VenueCandles] = []

    async def klines(cmd: VenueCandles) -> list[Candle]:
        asked.append(cmd)
        if cmd.interval == "5m":
            await release.wait()
        return venue_candles(cmd.symbol, cmd.interval)

    answer(app, VenueCandles, klines)
    async with started(app) as pilot:
        await pilot.press("i")  # 1m -> 5m
        await until(pilot, lambda: [c.interval for c in asked] == ["1m", "5m"], "the ask")
        app.bus.publish(topics.trade("BTCUSDT"), trade(1, 0.002))
        await pilot.pause(0.1)
        assert app.state.forming is None, "no current candle from the trades since the switch"
        release.set()
        await until(pilot, lambda: app.state.forming is not None, "the venue's candles")
        forming = app.state.forming
        # mypy keeps app.state.forming narrowed to None from the assert before the release.
        assert forming is not None and forming.volume == 0.52 and forming.interval == "5m"  # type: ignore[unreachable]
        assert len(app.state.candles) == 20  # type: ignore[unreachable]
        app.bus.publish(topics.trade("BTCUSDT"), trade(2, 0.01))
        forming = app.state.forming
        assert forming is not None and abs(forming.volume - 0.53) < 1e-9
        chart = app.query_one("#chart", CandleChart)
        await until(
            pilot,
            lambda: bool(chart._candles) and abs(chart._candles[-1].volume - 0.53) < 1e-9,
            "the chart's candle",
        )


async def test_a_symbol_switch_falls_back_to_the_history_when_the_venue_fails() -> None:
    app = seeded_app()
    history: list[CandleHistory] = []

    async def klines(cmd: VenueCandles) -> list[Candle]:
        raise ConnectionError("venue down")

    answer(app, VenueCandles, klines)
    app.bus.unhandle(CandleHistory)
    recent = venue_candles("ETHUSDT", "1m")[:-1]

    async def stored(cmd: CandleHistory) -> list[Candle]:
        history.append(cmd)
        return recent

    answer(app, CandleHistory, stored)
    async with started(app) as pilot:
        await pilot.press("w", "down")  # ETHUSDT
        await until(pilot, lambda: [c.symbol for c in history][-1:] == ["ETHUSDT"], "fallback")
        await until(pilot, lambda: len(app.state.candles) == 20, "the stored candles")
        assert app.state.candles[-1].open_ms == recent[-1].open_ms
