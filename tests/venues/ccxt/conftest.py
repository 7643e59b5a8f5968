"""The ccxt venue wired as the runtime would wire it, against an in-process simulated venue
reached through ccxt's Binance class with its URLs pointed at the sim."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from benchmarks.drill import LocalVenue
from omnitrade_tui.bus import Bus, each, topics
from omnitrade_tui.domain.enums import OrderStatus
from omnitrade_tui.domain.events import OrderUpdated
from omnitrade_tui.engine.order_manager import OrderManager
from omnitrade_tui.venues.ccxt.exchange import point_binance_at
from omnitrade_tui.venues.ccxt.execution import CcxtExecution
from omnitrade_tui.venues.ccxt.instruments import load_instruments, symbol_map
from omnitrade_tui.venues.ccxt.market_data import CcxtMarketData
from omnitrade_tui.venues.ccxt.user_data import CcxtUserData
from omnitrade_tui.venues.sim.venue import Faults, SimVenue
from tests.waiting import until

SYMBOLS = ["ETHUSDT", "BTCUSDT"]


@dataclass
class Rig:
    """A sim, and the ccxt venue's parts on one bus with the order manager."""

    sim: SimVenue
    venue: LocalVenue
    bus: Bus
    exchange: Any
    execution: CcxtExecution
    manager: OrderManager
    market: CcxtMarketData
    user: CcxtUserData
    said_orders: dict[str, OrderStatus] = field(default_factory=dict)
    said_fills: dict[tuple[str, int], tuple[Decimal, Decimal]] = field(default_factory=dict)
    fills_said_again: int = 0
    unknown_said: int = 0

    def on_order(self, topic: str, event: Any) -> None:
        """Keep what the bus said of each order and fill."""
        if not isinstance(event, OrderUpdated):
            return
        order, fill = event.report.order, event.report.fill
        if order.status is OrderStatus.UNKNOWN:
            self.unknown_said += 1
        known = self.said_orders.get(order.client_order_id)
        if order.status.supersedes(known):
            self.said_orders[order.client_order_id] = order.status
        if fill is not None:
            key = (fill.symbol, fill.trade_id)
            if key in self.said_fills:
                self.fills_said_again += 1
            self.said_fills[key] = (fill.qty, fill.price)

    async def wait_for(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Until ``check()`` holds."""
        await until(check, what, timeout)

    async def wait_live(self, timeout: float = 10.0) -> None:
        """Until every book has been live (faults may have it resyncing again just now) and
        user data has been reconciled once."""
        await self.wait_for(
            lambda: (
                all(b.top is not None for b in self.market.books.values())
                and self.user.reconciled >= 1
            ),
            timeout,
            "live books and a reconciled user stream",
        )


@contextlib.asynccontextmanager
async def ccxt_rig(faults: Faults | None = None, seed: int = 9) -> AsyncIterator[Rig]:
    """Everything running; stopped on exit."""
    async with SimVenue.start(symbols=SYMBOLS, seed=seed, faults=faults) as sim:
        bus = Bus()
        exchange = point_binance_at(
            sim.rest_url,
            sim.ws_api_url,
            sim.stream_url,
            api_key=sim.demo_key[0],
            secret=sim.demo_key[1],
        )
        try:
            await load_instruments(exchange, SYMBOLS)
            names = {s: n for s, n in symbol_map(exchange.markets).items() if s in SYMBOLS}
            execution = CcxtExecution(exchange, names)
            manager = OrderManager(bus, execution, SYMBOLS)
            manager.register()
            # The sim's books are 25 levels deep: a 100-level snapshot holds them whole.
            market = CcxtMarketData(exchange, bus, names, book_levels=100, snapshot_levels=100)
            user = CcxtUserData(exchange, execution, bus, on_subscribed=manager.reconcile)
            rig = Rig(sim, LocalVenue(sim), bus, exchange, execution, manager, market, user)
            bus.subscribe(topics.ORDER, each(rig.on_order), name="test.orders")
            tasks = [asyncio.create_task(market.run()), asyncio.create_task(user.run())]
            try:
                yield rig
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await manager.aclose()
        finally:
            await exchange.close()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    """The ccxt venue on a sim without faults."""
    async with ccxt_rig() as r:
        yield r
