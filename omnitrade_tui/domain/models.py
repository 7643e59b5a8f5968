"""Immutable domain values: orders, fills, balances (exact) and market data (floats).

Principle 3 of the house plan: everything that is money in the order path (requests,
orders, fills, balances) is ``Decimal``. Market data that only feeds the display (trades,
candles, tickers, book levels) is ``float``, parsed once in the venue decoder.

All values are ``msgspec.Struct``: cheap to create, immutable, and encodable as they are, so
the same objects cross the bus, the Redis bridge and the store.
"""

from __future__ import annotations

import secrets
from decimal import Decimal

import msgspec

from omnitrade_tui.domain.decimals import ZERO
from omnitrade_tui.domain.enums import (
    ExecutionType,
    OrderStatus,
    OrderType,
    SelfTradePreventionMode,
    Side,
    TimeInForce,
)

CLIENT_ORDER_ID_PREFIX = "omt-"
_MAX_CLIENT_ORDER_ID = 36


def new_client_order_id(prefix: str = CLIENT_ORDER_ID_PREFIX) -> str:
    """A fresh client order id: the prefix plus random URL-safe characters, 36 at most.

    Every order gets its id before it is sent, so a timeout can be settled by asking the
    venue about this id instead of sending the order again.
    """
    body = secrets.token_hex(16)
    return (prefix + body)[:_MAX_CLIENT_ORDER_ID]


class BookLevel(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One price level of an L2 book: price and total quantity (display path, floats)."""

    price: float
    qty: float


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What a trader asks for, before the venue has seen it.

    ``quantity`` is in the base asset; a MARKET order may give ``quote_order_qty`` (the quote
    amount to spend or receive) instead.
    """

    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal | None = None
    quote_order_qty: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    iceberg_qty: Decimal | None = None
    client_order_id: str = msgspec.field(default_factory=new_client_order_id)
    stp_mode: SelfTradePreventionMode | None = None

    @property
    def notional(self) -> Decimal | None:
        """Price x quantity when both are known, else the quote amount, else ``None``."""
        if self.quote_order_qty is not None:
            return self.quote_order_qty
        if self.price is not None and self.quantity is not None:
            return self.price * self.quantity
        return None

    def as_order(self, status: OrderStatus) -> Order:
        """The order this asks for, as known before the venue has answered: ``PENDING_NEW``
        while it is on its way, ``UNKNOWN`` when the answer was lost."""
        return Order(
            symbol=self.symbol,
            client_order_id=self.client_order_id,
            side=self.side,
            type=self.type,
            status=status,
            quantity=self.quantity or ZERO,
            price=self.price,
            stop_price=self.stop_price,
            time_in_force=self.time_in_force,
            quote_order_qty=self.quote_order_qty,
        )


class Order(msgspec.Struct, frozen=True, kw_only=True):
    """An order as the order manager knows it, one immutable version per state change."""

    symbol: str
    client_order_id: str
    side: Side
    type: OrderType
    status: OrderStatus
    quantity: Decimal
    order_id: int | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    quote_order_qty: Decimal | None = None
    filled_qty: Decimal = ZERO
    cum_quote_qty: Decimal = ZERO
    order_list_id: int = -1
    created_ms: int = 0
    updated_ms: int = 0
    reject_reason: str | None = None

    @property
    def remaining_qty(self) -> Decimal:
        """Quantity still to fill."""
        return max(ZERO, self.quantity - self.filled_qty)

    @property
    def avg_price(self) -> Decimal | None:
        """Average fill price (cumulative quote / filled quantity), if anything filled."""
        if self.filled_qty <= 0:
            return None
        return self.cum_quote_qty / self.filled_qty

    @property
    def is_open(self) -> bool:
        """Whether the order may still trade."""
        return self.status.is_open


class OrderStep(msgspec.Struct, frozen=True, kw_only=True):
    """One reported change of an order: what happened, the status after it, when."""

    execution_type: str
    status: OrderStatus
    filled_qty: Decimal
    time_ms: int
    reason: str | None = None


class OrderRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A final order as the store keeps it: its last state, what its fills cost in fees
    (by asset), how many fills it had, and its status timeline, oldest first."""

    order: Order
    fees: tuple[tuple[str, Decimal], ...] = ()
    fills: int = 0
    steps: tuple[OrderStep, ...] = ()


class Fill(msgspec.Struct, frozen=True, kw_only=True):
    """One execution of one of our orders (exact)."""

    symbol: str
    trade_id: int
    order_id: int
    client_order_id: str
    side: Side
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    is_maker: bool
    time_ms: int

    @property
    def quote_qty(self) -> Decimal:
        """Price x quantity."""
        return self.price * self.qty


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    """Free and locked amounts of one asset (exact)."""

    asset: str
    free: Decimal
    locked: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        """Free plus locked."""
        return self.free + self.locked


class Trade(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A public trade printed by the venue (market data: floats)."""

    symbol: str
    trade_id: int
    price: float
    qty: float
    time_ms: int
    buyer_is_maker: bool

    @property
    def aggressor(self) -> Side:
        """The taker's side: a buyer who is maker means a seller took the bid."""
        return Side.SELL if self.buyer_is_maker else Side.BUY


class Candle(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One OHLCV candle (market data: floats). ``closed`` is false for the forming candle."""

    symbol: str
    interval: str
    open_ms: int
    close_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0
    quote_volume: float = 0.0
    trades: int = 0
    taker_buy_volume: float = 0.0
    taker_buy_quote_volume: float = 0.0
    closed: bool = False


class Ticker(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Rolling 24-hour statistics of a symbol (market data: floats)."""

    symbol: str
    last: float
    open: float
    high: float
    low: float
    volume: float
    quote_volume: float
    time_ms: int
    bid: float | None = None
    ask: float | None = None

    @property
    def change(self) -> float:
        """Absolute change over the window."""
        return self.last - self.open

    @property
    def change_pct(self) -> float:
        """Relative change over the window, in percent."""
        return (self.last - self.open) / self.open * 100.0 if self.open else 0.0


class ExecutionReport(msgspec.Struct, frozen=True, kw_only=True):
    """One venue report about one of our orders: the new order state and, on a trade, the fill."""

    execution_type: ExecutionType
    order: Order
    fill: Fill | None = None
    time_ms: int = 0
