"""Enumerations that mirror Binance spot's, plus our own ``UNKNOWN`` order status.

Values are the exact wire strings, so ``Side("BUY")`` parses a venue field and ``str(side)``
writes one.
"""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    """Which side of the book an order or trade is on."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        """The other side."""
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    """Binance spot order types."""

    LIMIT = "LIMIT"
    MARKET = "MARKET"
    STOP_LOSS = "STOP_LOSS"
    STOP_LOSS_LIMIT = "STOP_LOSS_LIMIT"
    TAKE_PROFIT = "TAKE_PROFIT"
    TAKE_PROFIT_LIMIT = "TAKE_PROFIT_LIMIT"
    LIMIT_MAKER = "LIMIT_MAKER"

    @property
    def has_price(self) -> bool:
        """Whether the order carries a limit price."""
        return self in _PRICED

    @property
    def has_stop(self) -> bool:
        """Whether the order waits for a trigger (stop) price."""
        return self in _STOPPED

    @property
    def needs_time_in_force(self) -> bool:
        """Whether Binance requires ``timeInForce`` for this type."""
        return self in _NEEDS_TIF

    @property
    def executes_as_market(self) -> bool:
        """Whether the order (once triggered) takes liquidity at any price."""
        return self in (OrderType.MARKET, OrderType.STOP_LOSS, OrderType.TAKE_PROFIT)


_PRICED = frozenset(
    {OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT, OrderType.LIMIT_MAKER}
)
_STOPPED = frozenset(
    {
        OrderType.STOP_LOSS,
        OrderType.STOP_LOSS_LIMIT,
        OrderType.TAKE_PROFIT,
        OrderType.TAKE_PROFIT_LIMIT,
    }
)
_NEEDS_TIF = frozenset({OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT})


class TimeInForce(StrEnum):
    """How long an order stays working."""

    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(StrEnum):
    """Order status as Binance reports it, plus ``UNKNOWN`` (ours).

    ``UNKNOWN`` marks an order whose fate the venue has not confirmed: the request timed out or
    was answered with a 5xx. It is settled by querying the venue with the client order id,
    never by sending the order again.
    """

    NEW = "NEW"
    PENDING_NEW = "PENDING_NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    PENDING_CANCEL = "PENDING_CANCEL"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    EXPIRED_IN_MATCH = "EXPIRED_IN_MATCH"
    UNKNOWN = "UNKNOWN"

    @property
    def is_open(self) -> bool:
        """Whether the order may still trade (or might, for ``UNKNOWN``)."""
        return self in _OPEN

    @property
    def is_terminal(self) -> bool:
        """Whether nothing more can happen to the order."""
        return self in _TERMINAL

    def supersedes(self, known: OrderStatus | None) -> bool:
        """Whether a report of this status may replace one of ``known``: a late report
        never rolls a final state back (a FILLED order stays FILLED)."""
        return known is None or not known.is_terminal or self.is_terminal


_OPEN = frozenset(
    {
        OrderStatus.NEW,
        OrderStatus.PENDING_NEW,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.PENDING_CANCEL,
        OrderStatus.UNKNOWN,
    }
)
_TERMINAL = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
        OrderStatus.EXPIRED_IN_MATCH,
    }
)


class ExecutionType(StrEnum):
    """What happened to an order in one execution report (``x`` in ``executionReport``)."""

    NEW = "NEW"
    CANCELED = "CANCELED"
    REPLACED = "REPLACED"
    REJECTED = "REJECTED"
    TRADE = "TRADE"
    EXPIRED = "EXPIRED"
    TRADE_PREVENTION = "TRADE_PREVENTION"


class SelfTradePreventionMode(StrEnum):
    """What the venue does when an order would trade against the same account."""

    NONE = "NONE"
    EXPIRE_TAKER = "EXPIRE_TAKER"
    EXPIRE_MAKER = "EXPIRE_MAKER"
    EXPIRE_BOTH = "EXPIRE_BOTH"
    DECREMENT = "DECREMENT"
    TRANSFER = "TRANSFER"


class Rounding(StrEnum):
    """Direction for snapping a price to the tick or a quantity to the step."""

    DOWN = "down"
    UP = "up"
    NEAREST = "nearest"
