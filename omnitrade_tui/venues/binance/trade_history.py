"""Binance's public trade history on the bus: ``VenueTrades`` answered from
``GET /api/v3/historicalTrades`` (weight 25, no key needed), for the store's backfill of
what a stream missed while it reconnected."""

from __future__ import annotations

import msgspec

from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.domain.commands import VenueTrades
from omnitrade_tui.domain.models import Trade
from omnitrade_tui.venues.binance.rest import BinanceRest
from omnitrade_tui.venues.binance.schemas import HistoricalTradeRow

#: Binance answers at most this many trades a request.
MAX_LIMIT = 1000


class TradeHistory:
    """Answers ``VenueTrades`` for one Binance venue."""

    def __init__(self, bus: Bus, rest: BinanceRest) -> None:
        self.bus = bus
        self.rest = rest

    def register(self) -> None:
        """Handle ``VenueTrades`` on the bus."""
        self.bus.handle(VenueTrades, self.trades)

    def unregister(self) -> None:
        """Stop handling it."""
        self.bus.unhandle(VenueTrades)

    async def trades(self, command: VenueTrades) -> list[Trade]:
        """Trades of ``command.symbol`` from ``command.from_id`` on, oldest first."""
        params = {
            "symbol": command.symbol,
            "fromId": command.from_id,
            "limit": max(1, min(command.limit, MAX_LIMIT)),
        }
        answer = await self.rest.request("GET", "historicalTrades", params)
        rows = msgspec.convert(answer, list[HistoricalTradeRow], strict=False)
        return [row.to_trade(command.symbol) for row in rows]
