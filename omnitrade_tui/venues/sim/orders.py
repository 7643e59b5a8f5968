"""Orders as the simulated venue keeps them, and the per-symbol book of resting orders."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from omnitrade_tui.domain.decimals import ZERO
from omnitrade_tui.domain.enums import (
    OrderStatus,
    OrderType,
    SelfTradePreventionMode,
    Side,
    TimeInForce,
)
from omnitrade_tui.venues.sim.accounts import Account


@dataclass(eq=False)
class SimOrder:
    """A mutable order inside the engine (the wire server renders it to Binance JSON).

    ``locked`` is what this order still holds locked in ``locked_asset``: the quote amount
    for a BUY (price x remaining), the base quantity for a SELL. ``prevented_qty`` is what
    self-trade prevention took off it (Binance's ``preventedQuantity``): it no longer
    trades, so ``remaining`` is the original quantity less what was executed or prevented.
    """

    order_id: int
    client_order_id: str
    account: Account
    symbol: str
    side: Side
    type: OrderType
    orig_qty: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    quote_order_qty: Decimal | None = None
    stp_mode: SelfTradePreventionMode = SelfTradePreventionMode.EXPIRE_TAKER
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: OrderStatus = OrderStatus.NEW
    time_ms: int = 0
    update_ms: int = 0
    working_ms: int = -1
    order_list_id: int = -1
    locked_asset: str = ""
    locked: Decimal = ZERO
    triggered: bool = False
    expiry_reason: str = "NONE"
    prevented_qty: Decimal = ZERO
    prevented_quote: Decimal = ZERO  # the notional of prevented_qty (quote-amount orders)
    prevented_match_id: int = -1  # the last prevented match this order took part in
    cancel_client_id: str = ""  # the client id of the cancel that ended it, if one did
    iceberg_qty: Decimal | None = None  # the size of each visible part of an iceberg
    visible: Decimal = ZERO  # what the book shows of it while it rests (its current part)
    oco_peer: SimOrder | None = field(default=None, repr=False)

    @property
    def remaining(self) -> Decimal:
        """Quantity still to fill (neither executed nor prevented)."""
        return self.orig_qty - self.executed_qty - self.prevented_qty

    def next_part(self) -> Decimal:
        """What the book shows of this order when it (re)joins a level: all of it, or an
        iceberg's next visible part."""
        if self.iceberg_qty is None or self.iceberg_qty <= 0:
            return self.remaining
        return min(self.iceberg_qty, self.remaining)

    @property
    def is_open(self) -> bool:
        """Whether the order can still trade (resting, or a stop waiting for its trigger)."""
        return self.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)

    @property
    def is_algo(self) -> bool:
        """Stop and take-profit orders count against MAX_NUM_ALGO_ORDERS."""
        return self.type.has_stop


@dataclass(eq=False)
class OrderList:
    """An order list (an OCO: two legs, one trading or triggering ends the other).

    ``done`` once no leg is open: Binance's ``ALL_DONE``, else ``EXEC_STARTED`` /
    ``EXECUTING``. ``transaction_ms`` is when its status last changed.
    """

    list_id: int
    list_client_order_id: str
    symbol: str
    account: Account
    orders: list[SimOrder]
    transaction_ms: int
    contingency_type: str = "OCO"
    done: bool = False

    @property
    def status_type(self) -> str:
        """``listStatusType``."""
        return "ALL_DONE" if self.done else "EXEC_STARTED"

    @property
    def order_status(self) -> str:
        """``listOrderStatus``."""
        return "ALL_DONE" if self.done else "EXECUTING"


class SideBook:
    """Resting orders of one side: price levels in price-time priority, with level totals."""

    def __init__(self, side: Side) -> None:
        self.side = side
        self.prices: list[Decimal] = []  # ascending; bids are read from the end
        self.queues: dict[Decimal, deque[SimOrder]] = {}
        self.totals: dict[Decimal, Decimal] = {}

    def __len__(self) -> int:
        return len(self.prices)

    def best(self) -> Decimal | None:
        """The best price: highest bid or lowest ask."""
        if not self.prices:
            return None
        return self.prices[-1] if self.side is Side.BUY else self.prices[0]

    def levels(self) -> Iterator[Decimal]:
        """Prices from the best outwards."""
        return reversed(self.prices) if self.side is Side.BUY else iter(self.prices)

    def add(self, order: SimOrder) -> Decimal:
        """Queue an order at its price (behind the ones already there); the new level total."""
        assert order.price is not None
        price = order.price
        queue = self.queues.get(price)
        if queue is None:
            queue = self.queues[price] = deque()
            insort(self.prices, price)
            self.totals[price] = ZERO
        queue.append(order)
        order.visible = order.next_part()
        self.totals[price] += order.visible
        return self.totals[price]

    def take(self, order: SimOrder, qty: Decimal) -> Decimal:
        """``qty`` of a resting order's shown part traded or was prevented; the new level
        total. The order's own quantities are the caller's to move."""
        assert order.price is not None
        order.visible -= qty
        self.totals[order.price] -= qty
        return self.totals[order.price]

    def refill(self, order: SimOrder) -> Decimal:
        """An iceberg whose shown part is used up shows its next part, at the back of its
        level's queue (a refill loses time priority, as on Binance); the new total."""
        assert order.price is not None
        self.queues[order.price].remove(order)
        return self.add(order)

    def remove(self, order: SimOrder) -> Decimal:
        """Take an order out of its level; the new level total (0 when the level is gone)."""
        assert order.price is not None
        price = order.price
        queue = self.queues[price]
        queue.remove(order)
        self.totals[price] -= order.visible
        if not queue:
            self._drop(price)
            return ZERO
        return self.totals[price]

    def pop_front(self, price: Decimal) -> None:
        """Drop the filled order at the front of a level."""
        queue = self.queues[price]
        queue.popleft()
        if not queue:
            self._drop(price)

    def _drop(self, price: Decimal) -> None:
        del self.queues[price]
        del self.totals[price]
        i = bisect_left(self.prices, price)
        del self.prices[i]

    def depth(self, limit: int) -> list[tuple[Decimal, Decimal]]:
        """The best ``limit`` levels as (price, total quantity)."""
        out = []
        for price in self.levels():
            out.append((price, self.totals[price]))
            if len(out) >= limit:
                break
        return out


class SymbolBook:
    """Both sides of one symbol's book, and its orders waiting for a trigger."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids = SideBook(Side.BUY)
        self.asks = SideBook(Side.SELL)
        self.stops: list[SimOrder] = []

    def side(self, side: Side) -> SideBook:
        """The side an order of ``side`` rests on."""
        return self.bids if side is Side.BUY else self.asks

    def opposite(self, side: Side) -> SideBook:
        """The side an order of ``side`` trades against."""
        return self.asks if side is Side.BUY else self.bids

    def crosses(self, side: Side, price: Decimal, level: Decimal) -> bool:
        """Whether a taker of ``side`` limited to ``price`` may trade at ``level``."""
        return level <= price if side is Side.BUY else level >= price
