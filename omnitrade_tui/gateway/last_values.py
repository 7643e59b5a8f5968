"""The state a terminal attaching late must be told first, kept as the bus's last values.

A terminal that attaches an hour into the gateway's run has missed the events that built
the current state: the balances after the first reconciliation, the orders still open,
the links' states, the kill switch. The gateway keeps, from its start, the last value of
each piece of state as the event that set it, and replays the ones a new subscription
covers before any live event; the terminal's screen then builds its state exactly as an
in-process one does, from events, with no second code path.

Kept: every open order (by client order id, forgotten once terminal; a late report of an
order already final does not bring it back), the balances merged
by asset, and the newest event per topic of ``sys.*``, ``risk.*``, book tops, book health
and tickers (per link for ``sys.connection``). Not kept: trades, candles, rejections,
reconciliation reports and the command journal (history, not state).
"""

from __future__ import annotations

from typing import Any

from omnitrade_tui.bus import topics
from omnitrade_tui.domain.events import BalancesChanged, ConnectionChanged, OrderUpdated
from omnitrade_tui.domain.models import Balance
from omnitrade_tui.domain.recent import RecentKeys

_LATEST_PREFIXES = ("sys.", "risk.", "md.book.", "md.health.", "md.ticker.")
#: Orders recently final, remembered so a late report (the stream's PARTIALLY_FILLED after
#: the REST answer's FILLED) does not replay one as open: reports come seconds apart.
_KEEP_CLOSED = 1_000


class LastValues:
    """Last values of the bus's state topics (see the module docstring)."""

    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], Any] = {}
        self._open_orders: dict[str, OrderUpdated] = {}
        self._closed: RecentKeys[str] = RecentKeys(_KEEP_CLOSED)
        self._balances: dict[str, Balance] = {}
        self._balance_ms = 0

    def on_event(self, topic: str, event: Any) -> None:
        """Remember ``event`` if it sets a piece of state."""
        if topic == topics.ORDER and isinstance(event, OrderUpdated):
            order = event.report.order
            client_id = order.client_order_id
            if order.status.is_terminal:
                self._open_orders.pop(client_id, None)
                self._closed.add(client_id)
            elif client_id not in self._closed:
                self._open_orders[client_id] = event
        elif topic == topics.BALANCE and isinstance(event, BalancesChanged):
            for balance in event.balances:
                self._balances[balance.asset] = balance
            self._balance_ms = max(self._balance_ms, event.time_ms)
        elif topic.startswith(_LATEST_PREFIXES):
            sub = event.link if isinstance(event, ConnectionChanged) else ""
            self._latest[(topic, sub)] = event

    def replay(self, pattern: str) -> list[tuple[str, Any]]:
        """The remembered events under ``pattern``, as ``(topic, event)`` in a safe order:
        links and status first, then balances, then open orders, then market state."""
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
        if topics.matches(pattern, topics.ORDER):
            out.extend((topics.ORDER, e) for e in self._open_orders.values())
        out.extend((t, e) for t, e in market if topics.matches(pattern, t))
        return out
