"""Candle building from trades against known sequences."""

from __future__ import annotations

import pytest

from omnitrade_tui.domain import CandleBuilder, Trade, build_candles, candle_open
from omnitrade_tui.domain.candles import INTERVAL_MS, interval_ms


def trade(t_ms: int, price: float, qty: float = 1.0, buyer_is_maker: bool = False) -> Trade:
    return Trade(
        symbol="BTCUSDT",
        trade_id=t_ms,
        price=price,
        qty=qty,
        time_ms=t_ms,
        buyer_is_maker=buyer_is_maker,
    )


def test_one_minute_candles_from_a_known_sequence() -> None:
    trades = [
        trade(60_000, 100.0, 1.0),
        trade(60_500, 102.0, 2.0, buyer_is_maker=True),
        trade(119_999, 99.0, 1.0),
        trade(120_000, 101.0, 3.0),
    ]
    first, second = build_candles(trades, "BTCUSDT", "1m")
    assert (first.open_ms, first.close_ms) == (60_000, 119_999)
    assert (first.open, first.high, first.low, first.close) == (100.0, 102.0, 99.0, 99.0)
    assert first.volume == 4.0 and first.trades == 3 and first.closed
    assert first.quote_volume == 100.0 + 204.0 + 99.0
    assert first.taker_buy_volume == 2.0  # the maker-buyer trade was a taker sell
    assert not second.closed and second.open == 101.0 and second.volume == 3.0


def test_silent_intervals_become_flat_candles_at_the_last_close() -> None:
    out = build_candles([trade(1_000, 10.0), trade(4_500, 12.0)], "BTCUSDT", "1s")
    assert [c.open_ms for c in out] == [1_000, 2_000, 3_000, 4_000]
    flat = out[1]
    assert (flat.open, flat.high, flat.low, flat.close, flat.volume) == (10.0, 10, 10, 10, 0)
    assert out[-1].open == 12.0 and not out[-1].closed


def test_clock_roll_closes_a_silent_candle_and_first_trade_sets_the_open() -> None:
    builder = CandleBuilder("BTCUSDT", "1s")
    builder.add(trade(1_000, 10.0))
    closed = builder.roll_to(2_000)
    assert [c.open_ms for c in closed] == [1_000] and closed[0].closed
    builder.add(trade(2_100, 11.0))
    current = builder.current
    assert current is not None
    assert (current.open, current.low, current.high) == (11.0, 11.0, 11.0)


def test_late_trades_are_counted_not_applied() -> None:
    builder = CandleBuilder("BTCUSDT", "1m")
    builder.add(trade(120_000, 10.0))
    assert builder.add(trade(60_000, 99.0)) == []
    assert builder.late_trades == 1
    assert builder.current is not None and builder.current.high == 10.0


@pytest.mark.parametrize("interval", list(INTERVAL_MS))
def test_alignment_for_every_interval(interval: str) -> None:
    t = 1_723_161_254_024  # a real trade time from the recorded capture
    open_ms = candle_open(t, interval)
    assert open_ms % interval_ms(interval) == 0
    assert open_ms <= t < open_ms + interval_ms(interval)


def test_unknown_interval_is_explained() -> None:
    with pytest.raises(ValueError, match="supported: 1s, 1m"):
        interval_ms("7m")
