"""One ccxt venue of a run, put together: its instruments, market data, execution and user
data on one ccxt client, under the venue's name.

The composition root opens one of these per ``[profiles.NAME.venues.VENUE]`` of kind
``ccxt``; everything it publishes carries the venue's instrument ids (``BTCUSDT@kraken``)
and its assets (``USDT@kraken``), so the screen, the store and the engine tell it from the
other venues by the ids alone.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from omnitrade_tui.bus import Bus
from omnitrade_tui.domain.capabilities import VenueCapabilities
from omnitrade_tui.domain.commands import VenueCandles
from omnitrade_tui.domain.instrument import Instrument
from omnitrade_tui.domain.models import Candle
from omnitrade_tui.domain.venue import qualify
from omnitrade_tui.venues.ccxt.exchange import capabilities
from omnitrade_tui.venues.ccxt.execution import CcxtExecution
from omnitrade_tui.venues.ccxt.instruments import load_instruments, symbol_map
from omnitrade_tui.venues.ccxt.market_data import CcxtMarketData, candle_of, interval_ms
from omnitrade_tui.venues.ccxt.user_data import CcxtUserData

log = logging.getLogger(__name__)


class VenueOpenError(Exception):
    """The venue could not be reached, or lists none of the symbols asked for."""


@dataclass
class CcxtVenue:
    """A ccxt venue opened by ``CcxtVenue.open``: ``user`` is set by ``follow_user``."""

    name: str
    exchange: Any
    instruments: dict[str, Instrument]
    execution: CcxtExecution
    market: CcxtMarketData
    capabilities: VenueCapabilities
    user: CcxtUserData | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        exchange: Any,
        bus: Bus,
        name: str,
        symbols: Sequence[str],
        *,
        book_levels: int = 20,
        stale_after_s: float = 2.0,
    ) -> AsyncIterator[CcxtVenue]:
        """Load the venue's markets and build its parts for ``symbols`` (the venue's own
        market ids); the client is closed on exit.

        Raises:
            VenueOpenError: ``load_markets`` failed, or none of ``symbols`` is listed.
        """
        try:
            try:
                instruments = await load_instruments(exchange, symbols, name)
            except Exception as exc:  # ccxt raises its own tree; all mean "not reachable"
                raise VenueOpenError(f"venue {name!r} ({exchange.id}): {exc}") from None
            missing = [s for s in symbols if qualify(s, name) not in instruments]
            if missing:
                log.warning("venue %s does not list: %s", name, ", ".join(missing))
            if not instruments:
                raise VenueOpenError(
                    f"venue {name!r} ({exchange.id}) lists none of {', '.join(symbols)}"
                )
            names = {
                i: u for i, u in symbol_map(exchange.markets, name).items() if i in instruments
            }
            execution = CcxtExecution(exchange, names, venue=name)
            market = CcxtMarketData(
                exchange,
                bus,
                names,
                book_levels=book_levels,
                stale_after_s=stale_after_s,
                venue_name=name,
            )
            yield cls(
                name=name,
                exchange=exchange,
                instruments=instruments,
                execution=execution,
                market=market,
                capabilities=capabilities(exchange, name),
            )
        finally:
            await exchange.close()

    def follow_user(
        self, bus: Bus, on_subscribed: Callable[[], Awaitable[Any]] | None = None
    ) -> CcxtUserData:
        """The venue's user data (orders, trades, balances), reconciled by ``on_subscribed``
        after every (re)connect; only for a client with a key."""
        self.user = CcxtUserData(self.exchange, self.execution, bus, on_subscribed=on_subscribed)
        return self.user

    async def candles(self, command: VenueCandles) -> list[Candle]:
        """The ``VenueCandles`` answer for one of this venue's ids: ccxt's ``fetch_ohlcv``,
        oldest first, the last (still forming) one not closed."""
        unified = self.execution.unified(command.symbol)
        rows = await self.exchange.fetch_ohlcv(unified, command.interval, None, command.limit)
        span = interval_ms(self.exchange, command.interval)
        last = len(rows) - 1
        return [
            candle_of(command.symbol, command.interval, row, span, closed=i < last)
            for i, row in enumerate(rows)
        ]

    async def klines(
        self, symbol: str, interval: str, limit: int, end_ms: int | None = None
    ) -> list[Candle]:
        """Closed candles of one of this venue's ids ending before ``end_ms`` (the newest
        when ``None``), oldest first: the history's top-up when the store lacks them."""
        unified = self.execution.unified(symbol)
        span = interval_ms(self.exchange, interval)
        since = None if end_ms is None else max(0, end_ms - limit * span)
        rows = await self.exchange.fetch_ohlcv(unified, interval, since, limit)
        now_ms = self.exchange.milliseconds()
        candles = [candle_of(symbol, interval, row, span, closed=True) for row in rows]
        return [
            c for c in candles if c.close_ms < now_ms and (end_ms is None or c.close_ms <= end_ms)
        ]
