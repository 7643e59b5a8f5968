"""History reads served on the bus: candles for the chart, orders and fills for the blotter.

The screen never opens the database; it sends ``CandleHistory``, ``OrderHistory`` or
``FillHistory`` and this service answers from the repositories. Where the store lacks
candles, an optional ``top_up`` callable (given by the runtime, e.g. the venue's klines
request) fetches them; they are returned and also published on the candle topic so the
recorder keeps them. The store never imports a venue.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable

from omnitrade_tui.bus import topics
from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.domain.candles import INTERVAL_MS
from omnitrade_tui.domain.commands import CandleHistory, FillHistory, FinalOrders, OrderHistory
from omnitrade_tui.domain.models import Candle, Fill, Order, OrderRecord
from omnitrade_tui.store.repository import AccountHistory, MarketHistory

#: ``top_up(symbol, interval, limit, end_ms)`` -> closed candles from the venue, oldest first.
CandleTopUp = Callable[[str, str, int, int | None], Awaitable[list[Candle]]]


class HistoryService:
    """Registers the history command handlers on a bus."""

    def __init__(
        self,
        bus: Bus,
        market: MarketHistory,
        account: AccountHistory,
        top_up: CandleTopUp | None = None,
        venue_first: bool = False,
    ) -> None:
        """``venue_first``: ask the venue before the store (the simulated venue makes up a
        new past on every start, so candles stored by an earlier run do not belong to it)."""
        self.bus = bus
        self.market = market
        self.account = account
        self.top_up = top_up
        self.venue_first = venue_first

    def register(self) -> None:
        """Become the handler of the history commands."""
        self.bus.handle(CandleHistory, self.candles)
        self.bus.handle(OrderHistory, self.orders)
        self.bus.handle(FillHistory, self.fills)
        self.bus.handle(FinalOrders, self.final_orders)

    def unregister(self) -> None:
        """Stop handling the history commands."""
        for command in (CandleHistory, OrderHistory, FillHistory, FinalOrders):
            self.bus.unhandle(command)

    async def candles(self, cmd: CandleHistory) -> list[Candle]:
        """Stored candles; topped up from the venue when fewer than asked or with holes."""
        if self.venue_first and self.top_up is not None:
            # One more than asked: the venue's last kline is usually the one still open.
            fetched = await self.top_up(cmd.symbol, cmd.interval, cmd.limit + 1, cmd.end_ms)
            return [c for c in fetched if c.closed][-cmd.limit :]
        stored = await self.market.candles(cmd.symbol, cmd.interval, cmd.limit, cmd.end_ms)
        if self.top_up is None or not _missing(stored, cmd.interval, cmd.limit):
            return stored
        fetched = await self.top_up(cmd.symbol, cmd.interval, cmd.limit, cmd.end_ms)
        merged = {c.open_ms: c for c in stored}
        topic = topics.candle(cmd.symbol, cmd.interval)
        for c in fetched:
            if c.closed and c.open_ms not in merged:
                merged[c.open_ms] = c
                self.bus.publish(topic, c)  # the recorder keeps what the venue filled in
        return [merged[k] for k in sorted(merged)][-cmd.limit :]

    async def orders(self, cmd: OrderHistory) -> list[Order]:
        """Recorded orders, newest first."""
        return await self.account.orders(cmd.symbol, cmd.open_only, cmd.limit)

    async def final_orders(self, cmd: FinalOrders) -> list[OrderRecord]:
        """Recorded final orders with fees and timelines, newest first."""
        return await self.account.final_orders(cmd.symbol, cmd.limit)

    async def fills(self, cmd: FillHistory) -> list[Fill]:
        """Recorded fills, newest first."""
        return await self.account.fills(cmd.symbol, cmd.since_ms, cmd.limit)


def _missing(candles: list[Candle], interval: str, limit: int) -> bool:
    if len(candles) < limit:
        return True
    step = INTERVAL_MS.get(interval)
    if step is None:
        return False
    return any(b.open_ms - a.open_ms != step for a, b in itertools.pairwise(candles))
