"""Positions, PnL and fees in the engine, published for every terminal to show.

The portfolio (``portfolio.py``, average cost, exact) is fed the fills the order book of
record publishes (each once, ``exec.book``) and, on a run with a store, the recent fills
of history at start. Each position is marked at its symbol's last trade price (the
ticker's last before any trade; its own average price before either), the price the
screen's tape shows. ``PositionsChanged`` on ``acct.positions`` carries every position
with its realized and unrealized PnL, fees and net: at once after a fill, and at most once
every ``every_s`` while marks move. The screen draws it as it comes, so every attached
terminal shows the same numbers, whichever fills it happened to see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from decimal import Decimal

from omnitrade_tui.bus import Bus, each, topics
from omnitrade_tui.bus.subscription import Subscription
from omnitrade_tui.domain.commands import FillHistory
from omnitrade_tui.domain.events import (
    OrderBookSnapshot,
    OrderBookUpdate,
    PositionsChanged,
    PositionValue,
)
from omnitrade_tui.domain.models import Fill, Ticker, Trade
from omnitrade_tui.engine.portfolio import Portfolio, Position

log = logging.getLogger(__name__)

#: How far back the fills of history go at start (the screen's fills table asks the same).
HISTORY_MS = 7 * 86_400_000


def _value(position: Position, mark: Decimal) -> PositionValue:
    return PositionValue(
        symbol=position.symbol,
        base_asset=position.base_asset,
        quote_asset=position.quote_asset,
        qty=position.qty,
        avg_price=position.avg_price,
        mark=mark,
        realized_pnl=position.realized_pnl,
        unrealized_pnl=position.unrealized_pnl(mark),
        fees_quote=position.fees_quote,
        fees_other=dict(position.fees_other),
        net_pnl=position.net_pnl(mark),
        bought=position.bought,
        sold=position.sold,
    )


class PositionKeeper:
    """Runs the portfolio on the bus and publishes ``PositionsChanged`` (see the module
    docstring)."""

    def __init__(
        self,
        bus: Bus,
        assets: Mapping[str, tuple[str, str]],
        every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus = bus
        self.every_s = every_s
        self._clock = clock
        self.portfolio = Portfolio(dict(assets))
        #: Per symbol, the last trade price (or the ticker's, before any trade): a display
        #: float, as market data is, made exact once when positions are valued.
        self._marks: dict[str, float] = {}
        self._traded: set[str] = set()
        self._published_at = float("-inf")
        self._subs: list[Subscription] = []
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        #: The last event published (what a terminal attaching late is told).
        self.last = PositionsChanged()

    def start(self, load_history: bool = False) -> None:
        """Follow fills and marks; with ``load_history``, first fold in the recent fills the
        store holds (a run on a venue account that traded before)."""
        sub = self.bus.subscribe
        self._subs = [
            sub(topics.ORDER_BOOK, each(self._on_book), name="positions.fills"),
            sub(topics.trade.all, each(self._on_trade), name="positions.trade"),
            sub(topics.ticker.all, each(self._on_ticker), name="positions.ticker"),
        ]
        if load_history:
            self._task = asyncio.create_task(self._load_history(), name="positions.history")

    async def stop(self) -> None:
        """Stop following and publishing."""
        for s in self._subs:
            s.close()
        self._subs = []
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- inputs ----------------------------------------------------------------------------

    def _on_book(self, topic: str, event: OrderBookUpdate | OrderBookSnapshot) -> None:
        if isinstance(event, OrderBookUpdate) and event.report.fill is not None:
            self.apply([event.report.fill])

    def apply(self, fills: list[Fill]) -> None:
        """Fold fills in (oldest first; one already counted is skipped) and publish."""
        counted = 0
        for fill in fills:
            if self.portfolio.apply(fill) is not None:
                counted += 1
        if counted:
            self.publish()

    def _on_trade(self, topic: str, event: Trade) -> None:
        self._traded.add(event.symbol)
        self._mark(event.symbol, event.price)

    def _on_ticker(self, topic: str, event: Ticker) -> None:
        if event.symbol not in self._traded:
            self._mark(event.symbol, event.last)

    def _mark(self, symbol: str, price: float) -> None:
        if self._marks.get(symbol) == price:
            return
        self._marks[symbol] = price
        if self.portfolio.position(symbol) is None:
            return  # nothing held to value again
        wait = self._published_at + self.every_s - self._clock()
        if wait <= 0:
            self.publish()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # fed outside a loop (a script): nothing to wait with
                self.publish()
                return
            self._timer = loop.call_later(wait, self._publish_later)

    # -- output ----------------------------------------------------------------------------

    def positions(self) -> PositionsChanged:
        """Every position now, valued at its mark."""
        return PositionsChanged(
            positions=[_value(p, self._mark_of(p)) for p in self.portfolio.positions],
            time_ms=int(time.time() * 1000),
        )

    def _mark_of(self, position: Position) -> Decimal:
        price = self._marks.get(position.symbol)
        return Decimal(repr(price)) if price is not None else position.avg_price

    def _publish_later(self) -> None:
        self._timer = None
        self.publish()

    def publish(self) -> None:
        """Publish every position now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._published_at = self._clock()
        self.last = self.positions()
        self.bus.publish(topics.POSITIONS, self.last)

    async def _load_history(self) -> None:
        since = int(time.time() * 1000) - HISTORY_MS
        try:
            fills = await self.bus.request(FillHistory(since_ms=since), timeout=10.0)
        except Exception as exc:  # no store, or it failed: positions start from now
            log.warning("positions: recent fills unavailable: %s", exc)
            return
        self.apply(list(reversed(fills)))
