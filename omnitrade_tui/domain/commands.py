"""Commands: what a person asks for, sent on the bus to whichever service handles them.

Each command class names its bus topic (``cmd.<name>``) and, as its type parameter, the type
of its reply: ``PlaceOrder`` is a ``Command[Order]``, so ``await bus.request(PlaceOrder(...))``
is an ``Order`` to the type checker, and the bus checks the handler's answer against it when
its contract check is on (``omnitrade_tui.bus.contract``). Commands are tagged structs, so they
too can cross a process.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, Generic, TypeVar

import msgspec

from omnitrade_tui.domain.alerts import AlertFired, AlertRule
from omnitrade_tui.domain.events import OrderBookSnapshot
from omnitrade_tui.domain.journal import TradingJournal
from omnitrade_tui.domain.models import Candle, Fill, Order, OrderRecord, OrderRequest, Trade
from omnitrade_tui.domain.risk_limits import RiskLimits

#: The type of a command's reply (covariant: a command whose reply is a list of orders is
#: also one whose reply is an iterable of them).
R = TypeVar("R", covariant=True)


class Command(msgspec.Struct, Generic[R], frozen=True, tag=True, kw_only=True):
    """Base of every command. ``name`` is the routing key (topic ``cmd.<name>``); ``R`` is the
    type of the reply its handler gives."""

    name: ClassVar[str] = "command"


class PlaceOrder(Command[Order], frozen=True, kw_only=True):
    """Send a new order."""

    name: ClassVar[str] = "order.place"
    request: OrderRequest


class PlaceOco(Command[list[Order]], frozen=True, kw_only=True):
    """Send an OCO pair on one symbol, side and quantity: the leg ``above`` the market and
    the leg ``below`` it; when one trades or triggers, the venue cancels the other.

    A SELL OCO is a take-profit LIMIT_MAKER above and a STOP_LOSS(_LIMIT) below; a BUY OCO
    is a STOP_LOSS(_LIMIT) above and a LIMIT_MAKER below.
    """

    name: ClassVar[str] = "order.place_oco"
    above: OrderRequest
    below: OrderRequest
    #: Chosen once per intent (when the ticket opens), so a resend after a timeout is
    #: recognised by the venue as the same list; None lets the order manager choose one.
    list_client_order_id: str | None = None


class CancelOrder(Command[Order], frozen=True, kw_only=True):
    """Cancel one open order by its client order id."""

    name: ClassVar[str] = "order.cancel"
    symbol: str
    client_order_id: str


class ReplaceOrder(Command[Order], frozen=True, kw_only=True):
    """Amend an open order's price or quantity (cancel-replace on Binance)."""

    name: ClassVar[str] = "order.replace"
    symbol: str
    client_order_id: str
    price: Decimal | None = None
    quantity: Decimal | None = None
    #: The replacement's client order id, chosen once per intent (when the amend dialog
    #: opens) so a resend after a timeout cannot place a second replacement.
    new_client_order_id: str | None = None


class ReplaceOco(Command[list[Order]], frozen=True, kw_only=True):
    """Amend an OCO list as a whole: cancel the list at the venue and place a new one with
    both legs (``above`` and ``below`` as in ``PlaceOco``), never one leg alone, so the
    protective leg is never dropped. The reply is the new list's legs."""

    name: ClassVar[str] = "order.replace_oco"
    symbol: str
    order_list_id: int
    above: OrderRequest
    below: OrderRequest
    list_client_order_id: str | None = None


class CancelAll(Command[list[Order]], frozen=True, kw_only=True):
    """Cancel every open order, on one symbol or everywhere."""

    name: ClassVar[str] = "order.cancel_all"
    symbol: str | None = None


class SubscribeSymbol(Command[bool], frozen=True, kw_only=True):
    """Start (or stop) market data for a symbol."""

    name: ClassVar[str] = "md.subscribe"
    symbol: str
    active: bool = True


class CandleHistory(Command[list[Candle]], frozen=True, kw_only=True):
    """Ask for closed candles of a symbol and interval (answered by the store or venue)."""

    name: ClassVar[str] = "history.candles"
    symbol: str
    interval: str
    limit: int = 500
    end_ms: int | None = None


class VenueCandles(Command[list[Candle]], frozen=True, kw_only=True):
    """Ask the venue itself for a symbol's latest candles of an interval, the current (open)
    one last, so a chart is right from its first second after a switch (REST klines on
    Binance). The reply is a list of ``Candle``, oldest first."""

    name: ClassVar[str] = "md.candles"
    symbol: str
    interval: str
    limit: int = 300


class VenueTrades(Command[list[Trade]], frozen=True, kw_only=True):
    """Ask the venue for a symbol's public trades from trade id ``from_id`` on, oldest first,
    at most ``limit`` (``historicalTrades`` on Binance): what fills a gap the stream left
    while it reconnected. The reply is a list of ``Trade``."""

    name: ClassVar[str] = "md.trades"
    symbol: str
    from_id: int
    limit: int = 1000


class EngageKillSwitch(Command[str], frozen=True, kw_only=True):
    """Cancel every open order and refuse new ones until released."""

    name: ClassVar[str] = "risk.kill_switch.engage"
    reason: str = "operator"


class ReleaseKillSwitch(Command[None], frozen=True, kw_only=True):
    """Allow trading again after the kill switch."""

    name: ClassVar[str] = "risk.kill_switch.release"


class SetRiskLimits(Command[RiskLimits], frozen=True, kw_only=True):
    """Change the pre-trade limits while running: each limit ``limits`` sets replaces the
    current one (an unset one stays); the reply is the limits now in force."""

    name: ClassVar[str] = "risk.limits.set"
    limits: RiskLimits
    #: The venue whose limits change (its qualifier; ``""``: the profile's first).
    venue: str = ""


class OrderHistory(Command[list[Order]], frozen=True, kw_only=True):
    """Ask for recorded orders (latest state, newest first), e.g. for the blotter at start."""

    name: ClassVar[str] = "history.orders"
    symbol: str | None = None
    open_only: bool = False
    limit: int = 500


class OrderBookState(Command[OrderBookSnapshot], frozen=True, kw_only=True):
    """Ask the engine's order book of record for its snapshot (every order it holds, with
    the sequence number of its last update)."""

    name: ClassVar[str] = "exec.book"


class FinalOrders(Command[list[OrderRecord]], frozen=True, kw_only=True):
    """Ask for recorded final orders (filled, cancelled, expired, rejected), newest first,
    each with its fees and status timeline: the blotter's order history."""

    name: ClassVar[str] = "history.final_orders"
    symbol: str | None = None
    limit: int = 500


class FillHistory(Command[list[Fill]], frozen=True, kw_only=True):
    """Ask for recorded fills from ``since_ms`` on (newest first)."""

    name: ClassVar[str] = "history.fills"
    symbol: str | None = None
    since_ms: int = 0
    limit: int = 500


class AddAlert(Command[AlertRule], frozen=True, kw_only=True):
    """Add an alert rule (its id is chosen by the engine); the reply is the rule as stored."""

    name: ClassVar[str] = "alert.add"
    rule: AlertRule


class UpdateAlert(Command[AlertRule], frozen=True, kw_only=True):
    """Replace an alert rule by its id (edit, pause with ``enabled`` false, resume)."""

    name: ClassVar[str] = "alert.update"
    rule: AlertRule


class DeleteAlert(Command[bool], frozen=True, kw_only=True):
    """Delete an alert rule; the reply says whether there was one."""

    name: ClassVar[str] = "alert.delete"
    rule_id: str


class ListAlerts(Command[list[AlertRule]], frozen=True, kw_only=True):
    """The alert rules, oldest first."""

    name: ClassVar[str] = "alert.list"


class AlertHistory(Command[list[AlertFired]], frozen=True, kw_only=True):
    """What fired, newest first (``AlertFired`` events)."""

    name: ClassVar[str] = "alert.history"
    limit: int = 200


class JournalSummary(Command[TradingJournal], frozen=True, kw_only=True):
    """The trading journal of a time range (``TradingJournal``): realized PnL by day and by
    symbol, fees, volume, win rate, in ``quote_asset``; days cut at ``utc_offset_s`` (the
    screen's time zone)."""

    name: ClassVar[str] = "journal.summary"
    since_ms: int = 0
    until_ms: int | None = None
    quote_asset: str = "USDT"
    utc_offset_s: int = 0


#: A command of any reply type (what the bus, the journal and the gateway carry).
AnyCommand = Command[Any]
