"""Kline history of the simulated venue: pre-computed at start, extended by live trades.

Three base series are kept per symbol: seconds for the most recent stretch, minutes
before that, hours before that. The start-up history is walked *backwards* from the
venue's opening price, finest first (seconds up to now, then minutes up to the first
second, then hours up to the first minute), so the series join without gaps and the last
close is exactly where live trading begins. Live trades extend all three series, and a
request for any interval aggregates the union "hours until minutes begin, minutes until
seconds begin, then seconds", so every interval agrees with every other.

Candles are market data, so they are floats (domain ``Candle``); the wire server formats
them with 8 decimals.
"""

from __future__ import annotations

import math
import random
from collections import deque

from omnitrade_tui.domain.candles import CandleBuilder
from omnitrade_tui.domain.models import Candle, Trade
from omnitrade_tui.venues.sim.klinetime import STEP_MS, kline_close, kline_open

_STEP = {"1s": 1_000, "1m": 60_000, "1h": 3_600_000}


class KlineHistory:
    """Candles of one symbol at the three base resolutions."""

    def __init__(
        self,
        symbol: str,
        price: float,
        now_ms: int,
        rng: random.Random,
        days: int = 30,
        minute_hours: int = 48,
        second_minutes: int = 20,
        daily_vol: float = 0.03,
    ) -> None:
        self.symbol = symbol
        self._rng = rng
        self._daily_vol = daily_vol
        self._builders = {name: CandleBuilder(symbol, name) for name in _STEP}
        second_start = now_ms - now_ms % 60_000 - second_minutes * 60_000
        minute_start = second_start - second_start % 3_600_000 - minute_hours * 3_600_000
        hour_start = minute_start - days * 86_400_000
        seconds = self._walk("1s", second_start, now_ms - now_ms % 1_000, math.log(price))
        first = seconds[0].open if seconds else price
        minutes = self._walk("1m", minute_start, second_start, math.log(first))
        first = minutes[0].open if minutes else first
        hours = self._walk("1h", hour_start, minute_start, math.log(first))
        self._series: dict[str, deque[Candle]] = {
            "1s": deque(seconds, maxlen=max(len(seconds), 1) * 3),
            "1m": deque(minutes, maxlen=max(len(minutes), 1) * 2),
            "1h": deque(hours, maxlen=max(len(hours), 1) * 2),
        }

    def _walk(self, name: str, start_ms: int, end_ms: int, end_log_price: float) -> list[Candle]:
        """Candles of ``name`` covering [start, end), walked back from ``end_log_price``."""
        step = _STEP[name]
        count = max(0, (end_ms - start_ms) // step)
        vol = self._daily_vol / math.sqrt(86_400_000 / step)
        rng = self._rng
        closes = [end_log_price]
        for _ in range(count):
            closes.append(closes[-1] - rng.gauss(0.0, vol))
        closes.reverse()
        out = []
        for i in range(count):
            o, c = math.exp(closes[i]), math.exp(closes[i + 1])
            wick = abs(rng.gauss(0.0, vol * 0.6))
            volume = rng.lognormvariate(0.0, 0.6) * math.sqrt(step / 1_000) * 0.2
            out.append(
                Candle(
                    symbol=self.symbol,
                    interval=name,
                    open_ms=start_ms + i * step,
                    close_ms=start_ms + (i + 1) * step - 1,
                    open=o,
                    high=max(o, c) * math.exp(wick),
                    low=min(o, c) * math.exp(-wick),
                    close=c,
                    volume=volume,
                    quote_volume=volume * (o + c) / 2,
                    trades=max(1, int(volume * 30)),
                    taker_buy_volume=volume / 2,
                    taker_buy_quote_volume=volume * (o + c) / 4,
                    closed=True,
                )
            )
        return out

    def add_trade(self, trade: Trade) -> None:
        """Fold a live trade into every base series."""
        for name, builder in self._builders.items():
            for closed in builder.add(trade):
                self._series[name].append(closed)

    def _union(self, step: int) -> list[Candle]:
        """Hours until the minutes begin, minutes until the seconds begin, then seconds,
        using only series fine enough to fall inside buckets of ``step``."""
        order = [n for n in ("1h", "1m", "1s") if _STEP[n] <= step]
        out: list[Candle] = []
        for i, name in enumerate(order):
            series = self._series[name]
            finer = self._series[order[i + 1]] if i + 1 < len(order) else None
            cutoff = finer[0].open_ms if finer else None
            out.extend(c for c in series if cutoff is None or c.open_ms < cutoff)
        forming = self._builders[order[-1]].current
        if forming is not None and (not out or forming.open_ms > out[-1].open_ms):
            out.append(forming)
        return out

    def last_close(self) -> float | None:
        """The close of the newest candle (the price where the market stands)."""
        forming = self._builders["1s"].current
        if forming is not None:
            return forming.close
        series = self._series["1s"] or self._series["1m"] or self._series["1h"]
        return series[-1].close if series else None

    def klines(
        self,
        interval: str,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 500,
        zone_ms: int = 0,
    ) -> list[Candle]:
        """Candles of ``interval`` in time order, with Binance's start/end/limit semantics,
        opening and closing in the time zone ``zone_ms`` (``timeZone``).

        Raises:
            ValueError: for an unsupported interval.
        """
        if interval not in STEP_MS:
            raise ValueError(f"unsupported interval {interval!r}")
        step = STEP_MS[interval]
        lo = None if start_ms is None else kline_open(start_ms, interval, zone_ms)
        buckets: dict[int, list[Candle]] = {}
        for c in self._union(step):
            key = kline_open(c.open_ms, interval, zone_ms)
            if (lo is not None and key < lo) or (end_ms is not None and key > end_ms):
                continue
            buckets.setdefault(key, []).append(c)
        keys = sorted(buckets)
        keys = keys[:limit] if start_ms is not None else keys[-limit:]
        return [_merge(self.symbol, interval, zone_ms, k, buckets[k]) for k in keys]


def _merge(symbol: str, interval: str, zone_ms: int, open_ms: int, parts: list[Candle]) -> Candle:
    if len(parts) == 1 and parts[0].interval == interval and parts[0].open_ms == open_ms:
        return parts[0]
    return Candle(
        symbol=symbol,
        interval=interval,
        open_ms=open_ms,
        close_ms=kline_close(open_ms, interval, zone_ms),
        open=parts[0].open,
        high=max(c.high for c in parts),
        low=min(c.low for c in parts),
        close=parts[-1].close,
        volume=sum(c.volume for c in parts),
        quote_volume=sum(c.quote_volume for c in parts),
        trades=sum(c.trades for c in parts),
        taker_buy_volume=sum(c.taker_buy_volume for c in parts),
        taker_buy_quote_volume=sum(c.taker_buy_quote_volume for c in parts),
        closed=all(c.closed for c in parts),
    )
