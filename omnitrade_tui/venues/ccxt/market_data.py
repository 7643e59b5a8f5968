"""Market data through ccxt's WebSocket ``watch_*`` methods, published as the native
connector publishes it: ``BookTop`` on ``md.book.<SYMBOL>``, ``BookHealth`` on
``md.health.<SYMBOL>``, ``Trade`` on ``md.trade.<SYMBOL>``, ``Candle`` on
``md.candle.<SYMBOL>.<interval>``, ``FeedFreshness`` on ``md.fresh.<SYMBOL>``, the link on
``sys.connection`` and ccxt's request throttle on ``sys.ratelimit``.

The book is ccxt's own: it fetches the snapshot, buffers and bridges the diffs and checks
their sequence where the exchange numbers them (Binance's update ids). When the sequence
breaks, ccxt drops its book and ``watch_order_book`` raises a ``ChecksumError`` (an
``InvalidNonce``); here that is a gap: the book is said ``RESYNCING`` (the last top stays
shown, marked) and watched again, which makes ccxt take a new snapshot; the first book
after it is ``LIVE``. A lost connection marks every book ``STALE`` and is reconnected with
backoff. What ccxt does not do: it never checks a silent depth stream against a snapshot
(a silent book is only marked ``STALE`` here until it speaks again), and it hands over the
newest state of its book, so several diffs arriving together give one ``BookTop``.

Prices and quantities of the display path are floats, as on the native path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import ccxt

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.domain.backoff import Backoff
from omnitrade_tui.domain.events import (
    BookHealth,
    BookState,
    BookTop,
    ConnectionChanged,
    LinkState,
    RateLimitUsage,
)
from omnitrade_tui.domain.models import BookLevel, Candle, Ticker, Trade
from omnitrade_tui.domain.venue import qualify
from omnitrade_tui.venues.binance.freshness import FreshnessWatch

log = logging.getLogger(__name__)

#: Reconnect backoff: first pause and ceiling, in seconds (jittered).
BACKOFF_S = (0.2, 5.0)


def new_backoff() -> Backoff:
    """The waits between a failed watch and the next: from 0.2 s doubling to 5 s, spread."""
    first, most = BACKOFF_S
    return Backoff(first, most, jitter=True)


#: How often ccxt's throttle queue is looked at for ``sys.ratelimit``.
RATE_LIMIT_EVERY_S = 1.0


def interval_ms(exchange: Any, interval: str) -> int:
    """The length of a candle interval (``1m``) in milliseconds, as ccxt reads it."""
    return int(exchange.parse_timeframe(interval)) * 1000


class _BookWatch:
    """The health of one symbol's ccxt book, as the bus hears it."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.state = BookState.SYNCING
        self.gaps = 0
        self.resyncs = 0
        self.last_update_id = 0
        self.top: BookTop | None = None


class CcxtMarketData:
    """Watches books, trades and candles of a set of symbols on one ccxt exchange.

    ``symbols`` maps each market id (the app's symbol) to ccxt's unified symbol.
    """

    def __init__(
        self,
        exchange: Any,
        bus: Bus,
        symbols: Mapping[str, str],
        *,
        book_levels: int = 20,
        snapshot_levels: int | None = None,
        candle_intervals: Iterable[str] = ("1m",),
        trades: bool = True,
        tickers: bool = True,
        stale_after_s: float = 2.0,
        venue_name: str = "",
    ) -> None:
        self.exchange = exchange
        self.bus = bus
        self.symbols = dict(symbols)
        self.book_levels = book_levels
        #: Levels of the REST snapshot ccxt starts each book from (``None``: ccxt's default,
        #: 1,000 on Binance, which its throttle counts as 20 requests).
        self.snapshot_levels = snapshot_levels
        self.candle_intervals = tuple(candle_intervals)
        self.trades = trades
        self.tickers = tickers
        self.venue = f"ccxt:{exchange.id}"
        #: The venue's qualifier in the run (``""``: the profile's first): its links are
        #: ``market@NAME`` so they never stand for the first venue's on the screen.
        self.venue_name = venue_name
        self.books = {s: _BookWatch(s) for s in self.symbols}
        self.fresh = FreshnessWatch(bus, stale_after_s, on_silent=self._on_silent)
        self.reconnects = 0
        self._link = LinkState.CONNECTING
        self._last_trade: dict[str, int] = {}
        self._last_throttle: tuple[int, int, int] | None = None

    async def run(self) -> None:
        """Watch everything until cancelled."""
        self._publish_link(LinkState.CONNECTING, "ccxt market data")
        tasks = [asyncio.create_task(self.fresh.run(), name="ccxt-freshness")]
        tasks.append(asyncio.create_task(self._throttle_loop(), name="ccxt-throttle"))
        for symbol in self.symbols:
            self.fresh.follow(symbol)
            tasks.append(asyncio.create_task(self._book_loop(symbol), name=f"ccxt-book-{symbol}"))
            if self.trades:
                tasks.append(
                    asyncio.create_task(self._trade_loop(symbol), name=f"ccxt-trade-{symbol}")
                )
            if self.tickers:
                tasks.append(
                    asyncio.create_task(self._ticker_loop(symbol), name=f"ccxt-ticker-{symbol}")
                )
            for interval in self.candle_intervals:
                tasks.append(
                    asyncio.create_task(
                        self._candle_loop(symbol, interval), name=f"ccxt-kline-{symbol}"
                    )
                )
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- links --------------------------------------------------------------------------------

    def _publish_link(self, state: LinkState, detail: str = "") -> None:
        self._link = state
        self.bus.publish(
            topics.CONNECTION,
            ConnectionChanged(
                venue=self.venue,
                link=qualify("market", self.venue_name),
                state=state,
                detail=detail,
                time_ms=int(time.time() * 1000),
            ),
        )

    def _heard(self) -> None:
        if self._link is not LinkState.CONNECTED:
            self._publish_link(LinkState.CONNECTED, "ccxt market data")

    async def _lost(self, backoff: Backoff, exc: Exception) -> None:
        """A watch failed on the network: say so (once per outage), mark the books, wait."""
        if self._link is LinkState.CONNECTED:
            self.reconnects += 1
            self._publish_link(LinkState.RECONNECTING, f"{type(exc).__name__}: {exc}")
            for watch in self.books.values():
                if watch.state is BookState.LIVE:
                    self._health(watch, BookState.STALE, "connection lost")
        await asyncio.sleep(backoff.next())

    # -- book ---------------------------------------------------------------------------------

    def _health(self, watch: _BookWatch, state: BookState, detail: str = "") -> None:
        watch.state = state
        self.bus.publish(
            topics.book_health(watch.symbol),
            BookHealth(
                symbol=watch.symbol,
                state=state,
                last_update_id=watch.last_update_id,
                gaps=watch.gaps,
                resyncs=watch.resyncs,
                detail=detail,
            ),
        )
        if watch.top is not None and state is not BookState.LIVE:
            # The last top stays on screen, marked: shown, not trusted.
            self.bus.publish(
                topics.book(watch.symbol),
                BookTop(
                    symbol=watch.symbol,
                    update_id=watch.top.update_id,
                    bids=watch.top.bids,
                    asks=watch.top.asks,
                    event_ms=watch.top.event_ms,
                    state=state,
                ),
            )

    async def _book_loop(self, symbol: str) -> None:
        unified = self.symbols[symbol]
        watch = self.books[symbol]
        backoff = new_backoff()
        while True:
            try:
                book = await self.exchange.watch_order_book(unified, self.snapshot_levels)
            except asyncio.CancelledError:
                raise
            except ccxt.InvalidNonce as exc:
                # ccxt saw the sequence break and dropped its book; watching again resyncs.
                # (Caught first: ccxt files InvalidNonce under NetworkError.)
                watch.gaps += 1
                watch.resyncs += 1
                self._health(watch, BookState.RESYNCING, f"sequence gap: {exc}")
                continue
            except ccxt.NetworkError as exc:
                await self._lost(backoff, exc)
                continue
            except Exception as exc:  # said, backed off, watched again
                log.warning("watch_order_book %s failed: %s", symbol, exc)
                await self._lost(backoff, exc)
                continue
            backoff.reset()
            self._heard()
            self._on_book(watch, book)

    def _on_book(self, watch: _BookWatch, book: Any) -> None:
        now_ms = time.time() * 1000
        self.fresh.heard("depth", watch.symbol, now_ms)
        n = self.book_levels
        top = BookTop(
            symbol=watch.symbol,
            update_id=int(book.get("nonce") or 0),
            bids=[BookLevel(float(p), float(q)) for p, q, *_ in book["bids"][:n]],
            asks=[BookLevel(float(p), float(q)) for p, q, *_ in book["asks"][:n]],
            event_ms=int(book.get("timestamp") or 0),
        )
        watch.top = top
        watch.last_update_id = top.update_id
        if watch.state is not BookState.LIVE:
            self._health(watch, BookState.LIVE, "ccxt book in sequence")
        self.bus.publish(topics.book(watch.symbol), top)

    def _on_silent(self, stream: str, symbol: str, age_ms: int, first: bool) -> None:
        watch = self.books.get(symbol)
        if stream == "depth" and first and watch is not None and watch.state is BookState.LIVE:
            self._health(watch, BookState.STALE, f"depth silent for {age_ms} ms")

    # -- trades and candles -------------------------------------------------------------------

    async def _watch_each(
        self,
        watch: Callable[[], Awaitable[Any]],
        handle: Callable[[Any], None],
        stream: str | None = None,
        symbol: str = "",
    ) -> None:
        """Watch with ``watch`` until cancelled, handing each answer to ``handle``; a failure
        is said on the link, backed off and watched again. ``stream`` names what the
        freshness watch times (``trade``, ``ticker``) for ``symbol``."""
        backoff = new_backoff()
        while True:
            try:
                answer = await watch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # said, backed off, watched again
                await self._lost(backoff, exc)
                continue
            backoff.reset()
            self._heard()
            if stream is not None:
                self.fresh.heard(stream, symbol, time.time() * 1000)
            handle(answer)

    async def _trade_loop(self, symbol: str) -> None:
        unified = self.symbols[symbol]
        topic = topics.trade(symbol)

        def publish(trades: list[Any]) -> None:
            last = self._last_trade.get(symbol, -1)
            for t in trades:
                trade_id = int(t["id"])
                if trade_id <= last:
                    continue  # handed over again after a reconnect
                last = trade_id
                info = t.get("info") or {}
                self.bus.publish(
                    topic,
                    Trade(
                        symbol=symbol,
                        trade_id=trade_id,
                        price=float(t["price"]),
                        qty=float(t["amount"]),
                        time_ms=int(t["timestamp"] or 0),
                        # The buyer was the maker when the taker sold.
                        buyer_is_maker=bool(info.get("m", t.get("side") == "sell")),
                    ),
                )
            self._last_trade[symbol] = last

        await self._watch_each(
            lambda: self.exchange.watch_trades(unified), publish, "trade", symbol
        )

    async def _ticker_loop(self, symbol: str) -> None:
        """The rolling 24-hour ticker (the watchlist's last, change and trend)."""
        unified = self.symbols[symbol]
        topic = topics.ticker(symbol)

        def publish(raw: Mapping[str, Any]) -> None:
            ticker = ticker_of(symbol, raw)
            if ticker is not None:
                self.bus.publish(topic, ticker)

        await self._watch_each(
            lambda: self.exchange.watch_ticker(unified), publish, "ticker", symbol
        )

    async def _candle_loop(self, symbol: str, interval: str) -> None:
        unified = self.symbols[symbol]
        span = interval_ms(self.exchange, interval)
        topic = topics.candle(symbol, interval)
        open_ms = -1
        last: list[Any] | None = None

        def publish(rows: list[list[Any]]) -> None:
            nonlocal open_ms, last
            for row in rows:
                start = int(row[0])
                if last is not None and start > open_ms:
                    # ccxt does not say when a candle closes: the next one opening does.
                    self.bus.publish(topic, candle_of(symbol, interval, last, span, closed=True))
                if start >= open_ms:
                    open_ms, last = start, row
                    self.bus.publish(topic, candle_of(symbol, interval, row, span, closed=False))

        await self._watch_each(lambda: self.exchange.watch_ohlcv(unified, interval), publish)

    # -- rate limit ---------------------------------------------------------------------------

    async def _throttle_loop(self) -> None:
        while True:
            self.publish_throttle()
            await asyncio.sleep(RATE_LIMIT_EVERY_S)

    def publish_throttle(self) -> None:
        """Say ccxt's request throttle on ``sys.ratelimit`` when it changed or a request
        went out since: requests waiting in ccxt's queue (``used``) of the queue's bound
        (``limit``); the ``interval`` is ccxt's spacing between requests. It is ccxt's own
        estimate of the venue's limit, not the venue's counter."""
        throttler = getattr(self.exchange, "throttler", None)
        waiting = len(getattr(throttler, "queue", ()) or ())
        bound = int(getattr(throttler, "config", {}).get("maxCapacity", 0) or 0) or 2000
        state = (waiting, bound, int(getattr(self.exchange, "lastRestRequestTimestamp", 0) or 0))
        if state == self._last_throttle:
            return
        self._last_throttle = state
        self.bus.publish(
            topics.RATE_LIMIT,
            RateLimitUsage(
                # ``ccxt:kraken@kraken``: the connection, and the venue it is in the run.
                venue=qualify(self.venue, self.venue_name),
                kind="CCXT_QUEUE",
                interval=f"{self.exchange.rateLimit:g}ms",
                used=waiting,
                limit=bound,
            ),
        )


def ticker_of(symbol: str, raw: Mapping[str, Any]) -> Ticker | None:
    """A ticker of ccxt's unified ticker structure (``None`` before it has a last price)."""
    last = raw.get("last")
    if last is None:
        return None

    def num(name: str, default: float = 0.0) -> float:
        value = raw.get(name)
        return float(value) if value is not None else default

    return Ticker(
        symbol=symbol,
        last=float(last),
        open=num("open", float(last)),
        high=num("high", float(last)),
        low=num("low", float(last)),
        volume=num("baseVolume"),
        quote_volume=num("quoteVolume"),
        time_ms=int(raw.get("timestamp") or time.time() * 1000),
        bid=float(raw["bid"]) if raw.get("bid") is not None else None,
        ask=float(raw["ask"]) if raw.get("ask") is not None else None,
    )


def candle_of(symbol: str, interval: str, row: list[Any], span: int, *, closed: bool) -> Candle:
    """A candle of ccxt's OHLCV row ``[open_ms, open, high, low, close, volume]``."""
    start = int(row[0])
    return Candle(
        symbol=symbol,
        interval=interval,
        open_ms=start,
        close_ms=start + span - 1,
        open=float(row[1]),
        high=float(row[2]),
        low=float(row[3]),
        close=float(row[4]),
        volume=float(row[5] or 0.0),
        closed=closed,
    )
