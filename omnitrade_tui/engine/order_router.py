"""Order commands to the order manager of the venue they name.

A run trades one or more venues; each has its own order manager (its own execution client,
its own reconciliation). The bus has one handler per command, so this router is it: it
reads the venue from the command's instrument id (``BTCUSDT@kraken``: ``kraken``; a bare
symbol: the profile's first venue) and hands the command to that venue's manager. A
cancel-all without a symbol (the kill switch's) goes to every venue at once, and one
venue's failure does not keep the others from cancelling, nor is it hidden by them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from omnitrade_tui.domain.commands import (
    CancelAll,
    CancelOrder,
    PlaceOco,
    PlaceOrder,
    ReplaceOco,
    ReplaceOrder,
)
from omnitrade_tui.domain.models import Order
from omnitrade_tui.domain.venue import venue_of
from omnitrade_tui.engine.order_manager import OrderManager, OrderRefused

log = logging.getLogger(__name__)


class OrderRouter:
    """The order-command handlers of a run of several venues.

    ``managers`` maps each venue's qualifier (``""`` for the profile's first) to its
    order manager.
    """

    def __init__(self, managers: Mapping[str, OrderManager]) -> None:
        if "" not in managers:
            raise ValueError("the profile's first venue (qualifier '') needs an order manager")
        self.managers = dict(managers)

    def manager_of(self, symbol: str) -> OrderManager:
        """The order manager of the venue ``symbol`` names.

        Raises:
            OrderRefused: the run trades no such venue.
        """
        manager = self.managers.get(venue_of(symbol))
        if manager is None:
            known = ", ".join(repr(v or "(first)") for v in self.managers)
            raise OrderRefused(
                f"{symbol}: this run trades no venue {venue_of(symbol)!r} (venues: {known})"
            )
        return manager

    async def place(self, command: PlaceOrder) -> Order:
        """``PlaceOrder`` on its symbol's venue."""
        return await self.manager_of(command.request.symbol).place(command)

    async def place_oco(self, command: PlaceOco) -> list[Order]:
        """``PlaceOco`` on its symbol's venue."""
        return await self.manager_of(command.above.symbol).place_oco(command)

    async def cancel(self, command: CancelOrder) -> Order:
        """``CancelOrder`` on its symbol's venue."""
        return await self.manager_of(command.symbol).cancel(command)

    async def replace(self, command: ReplaceOrder) -> Order:
        """``ReplaceOrder`` on its symbol's venue."""
        return await self.manager_of(command.symbol).replace(command)

    async def replace_oco(self, command: ReplaceOco) -> list[Order]:
        """``ReplaceOco`` on its symbol's venue."""
        return await self.manager_of(command.symbol).replace_oco(command)

    async def cancel_all(self, command: CancelAll) -> list[Order]:
        """``CancelAll`` of one symbol on its venue, or (no symbol) on every venue at once.

        Raises:
            OrderRefused: any venue failed: the caller (the kill switch) must not read
                success; the message says what was cancelled elsewhere (those orders' new
                states reach the bus as always).
        """
        if command.symbol is not None:
            return await self.manager_of(command.symbol).cancel_all(command)
        names = list(self.managers)
        results = await asyncio.gather(
            *(self.managers[name].cancel_all(command) for name in names), return_exceptions=True
        )
        cancelled: list[Order] = []
        failures: list[str] = []
        for name, result in zip(names, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                failures.append(f"{name or 'first venue'}: {result}")
                log.error("cancel-all on venue %s failed: %s", name or "(first)", result)
            else:
                cancelled.extend(result)
        if failures:
            raise OrderRefused(
                f"cancel-all failed on {len(failures)} of {len(names)} venues "
                f"({'; '.join(failures)}); {len(cancelled)} orders cancelled on the others"
            )
        return cancelled

    async def aclose(self) -> None:
        """Wait for every manager's settlements in flight."""
        await asyncio.gather(*(m.aclose() for m in self.managers.values()))
