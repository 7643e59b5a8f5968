"""Candle building from trades, for Binance's kline intervals from 1s to 1d.

Candles are aligned to UTC epoch multiples of the interval, as Binance aligns its klines
(``open_ms`` is a multiple of the interval, ``close_ms`` is the next open minus 1 ms).
Intervals in which nothing traded produce flat candles at the previous close with zero
volume, so a chart's time axis has no holes.
"""

from __future__ import annotations

from omnitrade_tui.domain.models import Candle, Trade

INTERVAL_MS: dict[str, int] = {
    "1s": 1_000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
}

# Flat candles are made for gaps up to this many intervals; a longer silence (a feed that
# stopped for hours) restarts the series instead of inventing thousands of empty bars.
_MAX_FILL = 10_000


def interval_ms(interval: str) -> int:
    """Milliseconds in a Binance interval name such as ``"5m"``.

    Raises:
        ValueError: for a name that is not a supported interval.
    """
    try:
        return INTERVAL_MS[interval]
    except KeyError:
        supported = ", ".join(INTERVAL_MS)
        raise ValueError(f"unknown interval {interval!r}; supported: {supported}") from None


def candle_open(time_ms: int, interval: str) -> int:
    """The open time of the candle of ``interval`` that contains ``time_ms``."""
    step = interval_ms(interval)
    return time_ms - time_ms % step


class CandleBuilder:
    """Folds trades of one symbol into candles of one interval.

    ``add(trade)`` returns the candles that closed because of this trade (usually none, or
    one; more when the market was silent for several intervals). ``current`` is the forming
    candle. Trades older than the forming candle are ignored (counted in ``late_trades``)
    because a closed candle has already been published.
    """

    __slots__ = (
        "_close",
        "_high",
        "_low",
        "_n",
        "_open",
        "_open_ms",
        "_qv",
        "_step",
        "_tbq",
        "_tbv",
        "_v",
        "interval",
        "late_trades",
        "symbol",
    )

    def __init__(self, symbol: str, interval: str, seed: Candle | None = None) -> None:
        self.symbol = symbol
        self.interval = interval
        self._step = interval_ms(interval)
        self.late_trades = 0
        self._open_ms: int | None = None
        self._open = self._high = self._low = self._close = 0.0
        self._v = self._qv = self._tbv = self._tbq = 0.0
        self._n = 0
        if seed is not None:
            self._load(seed)

    def _load(self, c: Candle) -> None:
        self._open_ms = c.open_ms
        self._open, self._high, self._low, self._close = c.open, c.high, c.low, c.close
        self._v, self._qv = c.volume, c.quote_volume
        self._tbv, self._tbq = c.taker_buy_volume, c.taker_buy_quote_volume
        self._n = c.trades

    def _start(self, open_ms: int, price: float) -> None:
        self._open_ms = open_ms
        self._open = self._high = self._low = self._close = price
        self._v = self._qv = self._tbv = self._tbq = 0.0
        self._n = 0

    def _snapshot(self, closed: bool) -> Candle:
        assert self._open_ms is not None
        return Candle(
            symbol=self.symbol,
            interval=self.interval,
            open_ms=self._open_ms,
            close_ms=self._open_ms + self._step - 1,
            open=self._open,
            high=self._high,
            low=self._low,
            close=self._close,
            volume=self._v,
            quote_volume=self._qv,
            trades=self._n,
            taker_buy_volume=self._tbv,
            taker_buy_quote_volume=self._tbq,
            closed=closed,
        )

    @property
    def current(self) -> Candle | None:
        """The forming (still open) candle, or ``None`` before the first trade."""
        if self._open_ms is None:
            return None
        return self._snapshot(closed=False)

    def add(self, trade: Trade) -> list[Candle]:
        """Fold one trade in; return the candles it closed, oldest first."""
        open_ms = trade.time_ms - trade.time_ms % self._step
        closed: list[Candle] = []
        if self._open_ms is None:
            self._start(open_ms, trade.price)
        elif open_ms < self._open_ms:
            self.late_trades += 1
            return closed
        elif open_ms > self._open_ms:
            closed = self.roll_to(open_ms)
            self._start(open_ms, trade.price)
        price, qty = trade.price, trade.qty
        if self._n == 0:
            # A candle opens at its first trade, like Binance's klines, even when a clock
            # tick already opened it flat at the previous close.
            self._open = self._high = self._low = price
        if price > self._high:
            self._high = price
        if price < self._low:
            self._low = price
        self._close = price
        self._v += qty
        self._qv += price * qty
        self._n += 1
        if not trade.buyer_is_maker:
            self._tbv += qty
            self._tbq += price * qty
        return closed

    def roll_to(self, open_ms: int) -> list[Candle]:
        """Close the forming candle and fill flat candles up to (not including) ``open_ms``.

        Use it on a clock tick so a silent market still closes its candles on time. After
        it the builder has a flat forming candle at ``open_ms`` (at the last close).
        """
        if self._open_ms is None or open_ms <= self._open_ms:
            return []
        out = [self._snapshot(closed=True)]
        last = self._close
        gap = (open_ms - self._open_ms) // self._step - 1
        if 0 < gap <= _MAX_FILL:
            t = self._open_ms + self._step
            while t < open_ms:
                self._start(t, last)
                out.append(self._snapshot(closed=True))
                t += self._step
        self._start(open_ms, last)
        return out


def build_candles(trades: list[Trade], symbol: str, interval: str) -> list[Candle]:
    """All candles (closed ones, then the forming one) of a list of trades in time order."""
    builder = CandleBuilder(symbol, interval)
    out: list[Candle] = []
    for t in trades:
        out.extend(builder.add(t))
    if builder.current is not None:
        out.append(builder.current)
    return out
