"""User data through ccxt: ``watch_orders``, ``watch_my_trades`` and ``watch_balance``
published as the native user-data stream publishes them (``OrderUpdated`` on
``exec.order``, ``BalancesChanged`` on ``acct.balance``, the link on ``sys.connection``),
with a reconciliation after every (re)connect.

One session: the three watches are started, the subscription is awaited where ccxt lets us
(Binance's WebSocket-API ``userDataStream.subscribe.signature``), then ``on_subscribed``
runs (the order manager's ``reconcile``: open orders, ``fetch_my_trades`` from the last
reconciled fill, balances). When any watch fails on the network the session ends, the link
is said ``RECONNECTING`` and a new session starts after a backoff, reconciling again. On a
venue where ccxt has no way to await the subscription, the reconciliation starts as soon as
the watches are sent and an event in between is only caught by the next one
(``VenueCapabilities.user_data_before_reconcile``).

ccxt gives an order's state and its trades as two structures from one venue message. A
status change without a trade (new, cancelled, expired, rejected) is published from
``watch_orders``; a trade is published from ``watch_my_trades`` with its order's newest
state, so each fill is one ``OrderUpdated`` with ``TRADE``, as the native stream says it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import ccxt

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.domain.enums import ExecutionType, OrderStatus
from omnitrade_tui.domain.events import BalancesChanged, ConnectionChanged, LinkState, OrderUpdated
from omnitrade_tui.domain.models import Balance, ExecutionReport, Order
from omnitrade_tui.domain.venue import qualify
from omnitrade_tui.venues.ccxt.exchange import dec
from omnitrade_tui.venues.ccxt.execution import CcxtExecution, balances_of, fill_of, order_of
from omnitrade_tui.venues.ccxt.market_data import new_backoff

log = logging.getLogger(__name__)

#: Orders remembered by venue id, to give a trade its order's state (a trade refers to an
#: order seconds old; older ones are asked for).
KEEP_ORDERS = 1_000

#: How long the user-data subscription may take before the session is begun again.
SUBSCRIBE_TIMEOUT_S = 10.0
#: ccxt's Binance method that subscribes to user data and returns once the venue confirmed.
_SUBSCRIBE = "ensure_user_data_stream_ws_subscribe_signature"

_EXECUTION = {
    OrderStatus.NEW: ExecutionType.NEW,
    OrderStatus.CANCELED: ExecutionType.CANCELED,
    OrderStatus.EXPIRED: ExecutionType.EXPIRED,
    OrderStatus.EXPIRED_IN_MATCH: ExecutionType.EXPIRED,
    OrderStatus.REJECTED: ExecutionType.REJECTED,
}


class CcxtUserData:
    """Keeps the account's user data flowing from a ccxt exchange onto the bus."""

    def __init__(
        self,
        exchange: Any,
        execution: CcxtExecution,
        bus: Bus,
        *,
        on_subscribed: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.exchange = exchange
        self.execution = execution
        self.bus = bus
        self.on_subscribed = on_subscribed
        self.venue = f"ccxt:{exchange.id}"
        #: Its links are ``user@NAME`` on a venue beside the profile's first.
        self.venue_name = execution.venue
        self.sessions = 0
        self.reconciled = 0
        #: Subscribed and reconciled: what the venue says now reaches the bus.
        self.connected = False
        self._orders: OrderedDict[int, Order] = OrderedDict()

    async def run(self) -> None:
        """Run sessions until cancelled."""
        backoff = new_backoff()
        while True:
            self._publish_link(
                LinkState.CONNECTING if not self.sessions else LinkState.RECONNECTING
            )
            reconciled = self.reconciled
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure ends the session, said
                # A session that got as far as reconciling was a good one: back off from
                # the first step again, not from where the last outage left off.
                if not isinstance(exc, ccxt.NetworkError):
                    log.warning("ccxt user data session failed: %r", exc)
                if self.reconciled > reconciled:
                    backoff.reset()
                self._publish_link(LinkState.RECONNECTING, f"{type(exc).__name__}: {exc}")
            else:
                backoff.reset()
            finally:
                self.connected = False
            await asyncio.sleep(backoff.next())

    async def _session(self) -> None:
        """One subscription: watch, reconcile, and publish until a watch fails."""
        self.sessions += 1
        watches = [
            asyncio.create_task(self._orders_loop(), name="ccxt-orders"),
            asyncio.create_task(self._trades_loop(), name="ccxt-my-trades"),
            asyncio.create_task(self._balance_loop(), name="ccxt-balance"),
        ]
        try:
            subscribe = getattr(
                self.exchange, "ensure_user_data_stream_ws_subscribe_signature", None
            )
            if subscribe is not None:
                # A connection lost mid-subscribe must not hold the session forever.
                await asyncio.wait_for(subscribe("spot"), SUBSCRIBE_TIMEOUT_S)
            self._publish_link(LinkState.CONNECTED, "ccxt user data subscribed")
            if self.on_subscribed is not None:
                await self.on_subscribed()
                self.reconciled += 1
            self.connected = True
            done, _ = await asyncio.wait(watches, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # raises the watch's error: the session is over
        finally:
            for task in watches:
                task.cancel()
            await asyncio.gather(*watches, return_exceptions=True)

    def _publish_link(self, state: LinkState, detail: str = "") -> None:
        self.bus.publish(
            topics.CONNECTION,
            ConnectionChanged(
                venue=self.venue,
                link=qualify("user", self.venue_name),
                state=state,
                detail=detail,
                time_ms=int(time.time() * 1000),
            ),
        )

    def _remember(self, order: Order) -> None:
        if order.order_id is None:
            return
        self._orders[order.order_id] = order
        self._orders.move_to_end(order.order_id)
        while len(self._orders) > KEEP_ORDERS:
            self._orders.popitem(last=False)

    def _publish(self, execution: ExecutionType, order: Order, fill: Any = None) -> None:
        self.bus.publish(
            topics.ORDER,
            OrderUpdated(
                report=ExecutionReport(
                    execution_type=execution, order=order, fill=fill, time_ms=order.updated_ms
                )
            ),
        )

    async def _orders_loop(self) -> None:
        while True:
            for raw in await self.exchange.watch_orders():
                order = order_of(raw, self.execution.market_id(str(raw.get("symbol"))))
                self._remember(order)
                execution = _EXECUTION.get(order.status)
                if execution is not None:
                    self._publish(execution, order)

    async def _trades_loop(self) -> None:
        while True:
            trades = await self.exchange.watch_my_trades()
            # ccxt resolves the trade before the order of the same venue message: let the
            # orders watch take that message in first, so the trade carries the new state.
            await asyncio.sleep(0)
            for raw in trades:
                symbol = self.execution.market_id(str(raw.get("symbol")))
                order_id = raw.get("order")
                order = self._orders.get(int(order_id)) if order_id is not None else None
                if order is None and order_id is not None:
                    order = await self.execution.query(symbol, order_id=int(order_id))
                    self._remember(order)
                if order is None:
                    log.warning("a trade of ours without an order id skipped: %s", raw.get("id"))
                    continue
                self._publish(ExecutionType.TRADE, order, fill_of(raw, order, symbol))

    async def _balance_loop(self) -> None:
        while True:
            raw = await self.exchange.watch_balance()
            named = _changed_assets(raw.get("info") or {})
            if named:  # Binance says which assets moved: those, zeros included
                free, used = raw.get("free") or {}, raw.get("used") or {}
                venue = self.execution.venue
                balances = [
                    Balance(asset=qualify(a, venue), free=dec(free.get(a)), locked=dec(used.get(a)))
                    for a in sorted(named)
                ]
            else:
                balances = balances_of(raw, self.execution.venue)
            if balances:
                self.bus.publish(
                    topics.BALANCE,
                    BalancesChanged(balances=balances, time_ms=int(time.time() * 1000)),
                )


def _changed_assets(info: Mapping[str, Any]) -> set[str]:
    """The assets a Binance ``outboundAccountPosition`` names (empty for other venues)."""
    rows = info.get("B") if isinstance(info, Mapping) else None
    return {str(row.get("a")) for row in rows or () if isinstance(row, Mapping)}
