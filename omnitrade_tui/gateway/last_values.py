"""The state a terminal attaching late must be told first.

A terminal that attaches an hour into the gateway's run has missed the events that built
the current state: the balances after the first reconciliation, the orders, the links'
states, the kill switch, the positions. On each subscription the gateway sends what the
subscription covers before any live event; the terminal's screen then builds its state
exactly as an in-process one does, from events, with no second code path.

Orders are not kept here: they are the engine's order book of record's, whose snapshot
(every order it holds, at its sequence number) is sent as it is at that moment, in the same
turn of the event loop as the subscription starts, so the live updates that follow are
exactly those above the snapshot's sequence (none missed, none twice). Kept here: the
balances merged by asset, and the newest event per topic of ``sys.*``, ``risk.*``, the
positions and the portfolio's value, book tops, book health and tickers (per link for
``sys.connection``). Not kept: trades, candles, rejections, reconciliation reports and the
command journal (history, not state).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omnitrade_tui.bus import topics
from omnitrade_tui.domain.events import BalancesChanged, ConnectionChanged, OrderBookSnapshot
from omnitrade_tui.domain.models import Balance

_LATEST_PREFIXES = (
    "sys.",
    "risk.",
    "md.book.",
    "md.health.",
    "md.ticker.",
    str(topics.POSITIONS),
    str(topics.PORTFOLIO),
)

#: Where the order book of record's snapshot comes from (``None``: no book on this bus).
OrdersSnapshot = Callable[[], OrderBookSnapshot | None]


class LastValues:
    """Last values of the bus's state topics and the order book's snapshot (see the module
    docstring)."""

    def __init__(self, orders: OrdersSnapshot | None = None) -> None:
        self._orders = orders
        self._latest: dict[tuple[str, str], Any] = {}
        self._balances: dict[str, Balance] = {}
        self._balance_ms = 0

    def on_event(self, topic: str, event: Any) -> None:
        """Remember ``event`` if it sets a piece of state."""
        if topic == topics.BALANCE and isinstance(event, BalancesChanged):
            for balance in event.balances:
                self._balances[balance.asset] = balance
            self._balance_ms = max(self._balance_ms, event.time_ms)
        elif topic.startswith(_LATEST_PREFIXES):
            sub = event.link if isinstance(event, ConnectionChanged) else ""
            self._latest[(topic, sub)] = event

    def replay(self, pattern: str) -> list[tuple[str, Any]]:
        """The events a subscription to ``pattern`` starts with, as ``(topic, event)`` in a
        safe order: links and status first, then balances, then the orders' snapshot, then
        market state."""
        out: list[tuple[str, Any]] = []
        status = [(t, e) for (t, _), e in self._latest.items() if not t.startswith("md.")]
        market = [(t, e) for (t, _), e in self._latest.items() if t.startswith("md.")]
        out.extend((t, e) for t, e in status if topics.matches(pattern, t))
        if self._balances and topics.matches(pattern, topics.BALANCE):
            merged = BalancesChanged(
                balances=sorted(self._balances.values(), key=lambda b: b.asset),
                time_ms=self._balance_ms,
            )
            out.append((topics.BALANCE, merged))
        if self._orders is not None and topics.matches(pattern, topics.ORDER_BOOK):
            snapshot = self._orders()
            if snapshot is not None:
                out.append((topics.ORDER_BOOK, snapshot))
        out.extend((t, e) for t, e in market if topics.matches(pattern, t))
        return out
