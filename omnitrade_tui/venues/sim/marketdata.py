"""Public market data of the simulated venue, built from the matching engine's events.

Per symbol: the diff-depth accumulators of ``@depth@100ms`` and ``@depth`` (each frame
covers every update id since the previous one, so the sequence is gap-free and shared
with REST ``lastUpdateId`` and ``@bookTicker.u``), the best bid and ask, recent trades,
and the kline history. Frames go to the stream hub only when someone listens.
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from omnitrade_tui.domain.enums import Side
from omnitrade_tui.domain.models import Candle, Trade
from omnitrade_tui.venues.sim.history import KlineHistory
from omnitrade_tui.venues.sim.klinetime import kline_close, kline_open
from omnitrade_tui.venues.sim.matching import LevelChanged, MatchingEngine, TradePrinted
from omnitrade_tui.venues.sim.names import (
    DEPTH_LEVELS,
    KLINE_INTERVALS,
    KLINE_ZONES,
    ROLLING_WINDOWS,
)
from omnitrade_tui.venues.sim.render import f8, ff, kline_event
from omnitrade_tui.venues.sim.streams import StreamHub

_TRADES_KEPT = 20_000


class _DepthWindow:
    """Level changes since the last frame of one diff stream."""

    __slots__ = ("changes", "first_id", "last_id")

    def __init__(self, next_id: int) -> None:
        self.changes: dict[tuple[Side, Decimal], Decimal] = {}
        self.first_id = next_id
        self.last_id = next_id - 1

    def add(self, ev: LevelChanged) -> None:
        self.changes[(ev.side, ev.price)] = ev.qty
        self.last_id = ev.update_id

    def frame(self, symbol: str, event_ms: int) -> dict[str, Any] | None:
        if self.last_id < self.first_id:
            return None
        bids = [[f8(p), f8(q)] for (side, p), q in self.changes.items() if side is Side.BUY]
        asks = [[f8(p), f8(q)] for (side, p), q in self.changes.items() if side is Side.SELL]
        frame = {
            "e": "depthUpdate",
            "E": event_ms,
            "s": symbol,
            "U": self.first_id,
            "u": self.last_id,
            "b": bids,
            "a": asks,
        }
        self.changes = {}
        self.first_id = self.last_id + 1
        return frame


@dataclass(slots=True)
class AggTrade:
    """Trades of one taker order at one price in one match (``aggTrades``' rows)."""

    agg_id: int
    price: Decimal
    qty: Decimal
    first_id: int
    last_id: int
    time_ms: int
    buyer_is_maker: bool
    taker_order_id: int

    def row(self) -> dict[str, Any]:
        """The row as REST ``aggTrades`` answers it (the stream's event adds e, E and s)."""
        return {
            "a": self.agg_id,
            "p": f8(self.price),
            "q": f8(self.qty),
            "f": self.first_id,
            "l": self.last_id,
            "T": self.time_ms,
            "m": self.buyer_is_maker,
            "M": True,
        }


class SymbolMarket:
    """Everything public about one symbol."""

    def __init__(
        self, engine: MatchingEngine, symbol: str, hub: StreamHub, rng: random.Random
    ) -> None:
        self.engine = engine
        self.symbol = symbol
        self.lower = symbol.lower()
        self.hub = hub
        start = engine.update_ids[symbol] + 1
        self.fast = _DepthWindow(start)
        self.slow = _DepthWindow(start)
        self.trades: deque[TradePrinted] = deque(maxlen=_TRADES_KEPT)
        self.aggs: deque[AggTrade] = deque(maxlen=_TRADES_KEPT)
        self._next_agg_id = 0
        self._agg_unsent = False
        self.best: tuple[Decimal | None, Decimal, Decimal | None, Decimal] = (
            None,
            Decimal(0),
            None,
            Decimal(0),
        )
        price = engine.avg_price(symbol)
        self.history = KlineHistory(
            symbol, float(price) if price is not None else 1.0, engine.clock(), rng
        )
        self.skip_next_depth = False
        # Per kline stream listened to: the open time of its candle, and when it was sent.
        self._kline_pushed: dict[str, tuple[int, int]] = {}

    # -- engine events --------------------------------------------------------------------

    def on_level(self, ev: LevelChanged) -> None:
        self.fast.add(ev)
        self.slow.add(ev)
        book = self.engine.books[self.symbol]
        bid, ask = book.bids.best(), book.asks.best()
        best = (
            bid,
            book.bids.totals[bid] if bid is not None else Decimal(0),
            ask,
            book.asks.totals[ask] if ask is not None else Decimal(0),
        )
        if best != self.best:
            self.best = best
            stream = f"{self.lower}@bookTicker"
            if self.hub.wanted(stream):
                self.hub.publish(stream, self.book_ticker(ev.update_id))

    def book_ticker(self, update_id: int) -> dict[str, Any]:
        """The ``@bookTicker`` payload for the current best bid and ask."""
        bid, bid_qty, ask, ask_qty = self.best
        return {
            "u": update_id,
            "s": self.symbol,
            "b": f8(bid),
            "B": f8(bid_qty),
            "a": f8(ask),
            "A": f8(ask_qty),
        }

    def on_trade(self, ev: TradePrinted) -> None:
        self.trades.append(ev)
        self.history.add_trade(
            Trade(
                symbol=ev.symbol,
                trade_id=ev.trade_id,
                price=float(ev.price),
                qty=float(ev.qty),
                time_ms=ev.time_ms,
                buyer_is_maker=ev.buyer_is_maker,
            )
        )
        trade_stream = f"{self.lower}@trade"
        if self.hub.wanted(trade_stream):
            self.hub.publish(
                trade_stream,
                {
                    "e": "trade",
                    "E": ev.time_ms,
                    "s": ev.symbol,
                    "t": ev.trade_id,
                    "p": f8(ev.price),
                    "q": f8(ev.qty),
                    "T": ev.time_ms,
                    "m": ev.buyer_is_maker,
                    "M": True,
                },
            )
        last = self.aggs[-1] if self.aggs else None
        if (
            last is not None
            and last.taker_order_id == ev.taker_order_id >= 0
            and last.price == ev.price
            and last.last_id == ev.trade_id - 1
        ):
            # The same taker at the same price in one match: one aggregate (Binance's
            # "same time"; the engine's clock may tick within a match, so the next trade
            # id, not the millisecond, says it is the same match).
            last.qty += ev.qty
            last.last_id = ev.trade_id
            return
        self._publish_agg()
        self._next_agg_id += 1
        self.aggs.append(
            AggTrade(
                self._next_agg_id,
                ev.price,
                ev.qty,
                ev.trade_id,
                ev.trade_id,
                ev.time_ms,
                ev.buyer_is_maker,
                ev.taker_order_id,
            )
        )
        self._agg_unsent = True

    def _publish_agg(self) -> None:
        """Send the newest aggregate trade once it can grow no more (a trade that starts
        another, or the next tick)."""
        if not self._agg_unsent or not self.aggs:
            return
        self._agg_unsent = False
        agg_stream = f"{self.lower}@aggTrade"
        if self.hub.wanted(agg_stream):
            a = self.aggs[-1]
            self.hub.publish(
                agg_stream,
                {"e": "aggTrade", "E": a.time_ms, "s": self.symbol, **a.row()},
            )

    # -- timed frames ---------------------------------------------------------------------

    def flush_depth(self, now_ms: int, slow: bool) -> None:
        """Send the diff frames due now (100 ms always, 1000 ms when ``slow``), and the
        aggregate trade still open."""
        self._publish_agg()
        skip = self.skip_next_depth
        self.skip_next_depth = False
        windows = [("@depth@100ms", self.fast)] + ([("@depth", self.slow)] if slow else [])
        for suffix, window in windows:
            frame = window.frame(self.symbol, now_ms)
            stream = self.lower + suffix
            if frame is not None and not skip and self.hub.wanted(stream):
                self.hub.publish(stream, frame)
        for levels in DEPTH_LEVELS:
            for suffix in (f"@depth{levels}@100ms",) + ((f"@depth{levels}",) if slow else ()):
                stream = self.lower + suffix
                if self.hub.wanted(stream):
                    self.hub.publish(stream, self.partial_depth(levels))

    def partial_depth(self, levels: int) -> dict[str, Any]:
        """The ``@depthN`` payload (and the REST depth answer's shape)."""
        book = self.engine.books[self.symbol]
        return {
            "lastUpdateId": self.engine.update_ids[self.symbol],
            "bids": [[f8(p), f8(q)] for p, q in book.bids.depth(levels)],
            "asks": [[f8(p), f8(q)] for p, q in book.asks.depth(levels)],
        }

    def flush_klines(self, now_ms: int) -> None:
        """Every tick: each kline stream listened to gets its candle every 2 s (every 1 s
        for ``1s``), and the candle that just ended, closed (``x`` true), on the first tick
        after its interval's end."""
        for interval in KLINE_INTERVALS:
            every = 1_000 if interval == "1s" else 2_000
            for suffix, zone_ms in KLINE_ZONES.items():
                stream = f"{self.lower}@kline_{interval}{suffix}"
                if not self.hub.wanted(stream):
                    self._kline_pushed.pop(stream, None)  # a new listener starts afresh
                    continue
                open_ms = kline_open(now_ms, interval, zone_ms)
                last_open, last_push = self._kline_pushed.get(stream, (open_ms, -every))
                if last_open < open_ms:
                    closed = self._candle(interval, zone_ms, last_open, now_ms)
                    self.hub.publish(stream, self._kline_event(closed, now_ms))
                if now_ms // every > last_push // every:  # once per slot of the clock
                    current = self._candle(interval, zone_ms, open_ms, now_ms)
                    self.hub.publish(stream, self._kline_event(current, now_ms))
                    last_push = now_ms
                self._kline_pushed[stream] = (open_ms, last_push)

    def klines(
        self,
        interval: str,
        start_ms: int | None,
        end_ms: int | None,
        limit: int,
        zone_ms: int,
        now_ms: int,
    ) -> list[Candle]:
        """REST's klines: the history's, and the current interval's candle always last
        when the window reaches it, as Binance serves it from the interval's first
        millisecond (flat at the last price until something trades in it)."""
        candles = self.history.klines(interval, start_ms, end_ms, limit, zone_ms)
        current_open = kline_open(now_ms, interval, zone_ms)
        in_window = (
            start_ms is None or start_ms <= kline_close(current_open, interval, zone_ms)
        ) and (end_ms is None or end_ms >= current_open)
        missing = not candles or candles[-1].open_ms < current_open
        # From a start time the first ``limit`` count: a full page ends before now.
        room = start_ms is None or len(candles) < limit
        if in_window and missing and room:
            candles.append(self._candle(interval, zone_ms, current_open, now_ms))
            candles = candles[-limit:]
        return candles

    def _candle(self, interval: str, zone_ms: int, open_ms: int, now_ms: int) -> Candle:
        """The kline of ``interval`` opening at ``open_ms``, closed once ``now_ms`` is past
        its end; a flat one at the last price when nothing traded in it."""
        close_ms = kline_close(open_ms, interval, zone_ms)
        found = self.history.klines(interval, start_ms=open_ms, limit=1, zone_ms=zone_ms)
        if found and found[0].open_ms == open_ms:
            candle = found[0]
        else:
            price = self.history.last_close() or float(self.engine.avg_price(self.symbol) or 0)
            candle = Candle(
                symbol=self.symbol,
                interval=interval,
                open_ms=open_ms,
                close_ms=close_ms,
                open=price,
                high=price,
                low=price,
                close=price,
            )
        return msgspec.structs.replace(candle, closed=now_ms > close_ms)

    def _kline_event(self, candle: Candle, now_ms: int) -> dict[str, Any]:
        """The stream payload, with the first and last trade ids of the candle's trades
        the venue still keeps (-1 when none traded in it)."""
        first = last = -1
        for t in reversed(self.trades):
            if t.time_ms < candle.open_ms:
                break
            if t.time_ms <= candle.close_ms:
                first = t.trade_id
                last = t.trade_id if last < 0 else last
        return kline_event(candle, now_ms, first, last)

    def average_price(self) -> tuple[float, int | None]:
        """The 5-minute volume-weighted price (the mid or last price when nothing
        traded), and the last trade's time."""
        candles = self.history.klines("1m", limit=5)
        volume = sum(c.volume for c in candles)
        price = (
            sum(c.quote_volume for c in candles) / volume
            if volume
            else float(self.engine.avg_price(self.symbol) or 0)
        )
        return price, self.trades[-1].time_ms if self.trades else None

    def window_stats(self, open_ms: int, close_ms: int) -> dict[str, Any]:
        """Statistics between two times from the klines and the trades kept, in the
        rolling-window stream's names (REST renames them)."""
        interval = "1m" if close_ms - open_ms <= 2 * 86_400_000 else "1h"
        candles = self.history.klines(interval, open_ms, close_ms, limit=100_000)
        first = last_id = -1
        for t in reversed(self.trades):
            if t.time_ms < open_ms:
                break
            if t.time_ms <= close_ms:
                first = t.trade_id
                last_id = t.trade_id if last_id < 0 else last_id
        last = float(self.history.last_close() or 0)
        o = candles[0].open if candles else last
        c = candles[-1].close if candles else last
        volume = sum(k.volume for k in candles)
        quote = sum(k.quote_volume for k in candles)
        change = c - o
        return {
            "p": ff(change),
            "P": f"{(change / o * 100) if o else 0:.3f}",
            "o": ff(o),
            "h": ff(max((k.high for k in candles), default=c)),
            "l": ff(min((k.low for k in candles), default=c)),
            "c": ff(c),
            "w": ff(quote / volume if volume else c),
            "v": ff(volume),
            "q": ff(quote),
            "O": open_ms,
            "C": close_ms,
            "F": first,
            "L": last_id,
            "n": sum(k.trades for k in candles),
        }

    def window_ticker(self, window: str, now_ms: int) -> dict[str, Any]:
        """The ``@ticker_<window>`` payload: its open on a minute, its close now."""
        open_ms = now_ms - ROLLING_WINDOWS[window]
        open_ms -= open_ms % 60_000
        stats = self.window_stats(open_ms, now_ms)
        return {"e": f"{window}Ticker", "E": now_ms, "s": self.symbol, **stats}

    def flush_second(self, now_ms: int) -> None:
        """Once a second: tickers, rolling-window tickers, the average price."""
        for window in ROLLING_WINDOWS:
            stream = f"{self.lower}@ticker_{window}"
            if self.hub.wanted(stream):
                self.hub.publish(stream, self.window_ticker(window, now_ms))
        if self.hub.wanted(f"{self.lower}@avgPrice"):
            price, last_trade_ms = self.average_price()
            self.hub.publish(
                f"{self.lower}@avgPrice",
                {
                    "e": "avgPrice",
                    "E": now_ms,
                    "s": self.symbol,
                    "i": "5m",
                    "w": ff(price),
                    "T": last_trade_ms if last_trade_ms is not None else now_ms,
                },
            )
        if self.hub.wanted(f"{self.lower}@miniTicker"):
            self.hub.publish(f"{self.lower}@miniTicker", self.mini_ticker(now_ms))
        if self.hub.wanted(f"{self.lower}@ticker"):
            self.hub.publish(f"{self.lower}@ticker", self.ticker_event(now_ms))

    # -- 24 h statistics --------------------------------------------------------------------

    def stats(self, now_ms: int) -> dict[str, float | int]:
        """Rolling 24 h open, high, low, last, volumes, trade count."""
        candles = self.history.klines("1h", start_ms=now_ms - 86_400_000, limit=25)
        if not candles:
            last = float(self.engine.avg_price(self.symbol) or 0)
            return {"o": last, "h": last, "l": last, "c": last, "v": 0.0, "q": 0.0, "n": 0}
        return {
            "o": candles[0].open,
            "h": max(c.high for c in candles),
            "l": min(c.low for c in candles),
            "c": candles[-1].close,
            "v": sum(c.volume for c in candles),
            "q": sum(c.quote_volume for c in candles),
            "n": sum(c.trades for c in candles),
        }

    def mini_ticker(self, now_ms: int) -> dict[str, Any]:
        """The ``@miniTicker`` payload."""
        s = self.stats(now_ms)
        return {
            "e": "24hrMiniTicker",
            "E": now_ms,
            "s": self.symbol,
            "c": ff(s["c"]),
            "o": ff(s["o"]),
            "h": ff(s["h"]),
            "l": ff(s["l"]),
            "v": ff(s["v"]),
            "q": ff(s["q"]),
        }

    def ticker_event(self, now_ms: int) -> dict[str, Any]:
        """The ``@ticker`` payload."""
        s = self.stats(now_ms)
        bid, bid_qty, ask, ask_qty = self.best
        last = self.trades[-1] if self.trades else None
        change = s["c"] - s["o"]
        return {
            "e": "24hrTicker",
            "E": now_ms,
            "s": self.symbol,
            "p": ff(change),
            "P": f"{(change / s['o'] * 100) if s['o'] else 0:.3f}",
            "w": ff(s["q"] / s["v"]) if s["v"] else ff(s["c"]),
            "x": ff(s["o"]),
            "c": ff(s["c"]),
            "Q": f8(last.qty) if last else f8(None),
            "b": f8(bid),
            "B": f8(bid_qty),
            "a": f8(ask),
            "A": f8(ask_qty),
            "o": ff(s["o"]),
            "h": ff(s["h"]),
            "l": ff(s["l"]),
            "v": ff(s["v"]),
            "q": ff(s["q"]),
            "O": now_ms - 86_400_000,
            "C": now_ms,
            "F": self.trades[0].trade_id if self.trades else 0,
            "L": last.trade_id if last else 0,
            "n": s["n"],
        }


def now_ms() -> int:
    """Wall-clock milliseconds."""
    return int(time.time() * 1000)
