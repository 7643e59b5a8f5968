"""Pre-trade risk checks and the kill switch.

``PreTradeRisk`` is the pure part: given an order and what is known (mid price, holding of
the base asset, open orders, the clock) it says which limit, if any, the order breaks.

``RiskGate`` puts it on the bus. It follows mids (``md.book.*``) and balances from events,
reads our working orders from the engine's order book of record (``book_of_record.py``: no
copy of its own to drift), wraps the order manager's ``PlaceOrder`` handler
(``bus.handle(PlaceOrder, gate.guard(manager.place))``) and serves the kill-switch
commands. A refused order never reaches the venue: the requester gets ``RiskRejected``
and ``exec.reject`` carries an ``OrderRejected`` with ``source="risk"`` naming the limit,
its value and the order's figure.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import msgspec

from omnitrade_tui.bus import Bus, Subscription, each, topics
from omnitrade_tui.domain.commands import (
    CancelAll,
    EngageKillSwitch,
    PlaceOco,
    PlaceOrder,
    ReleaseKillSwitch,
    ReplaceOco,
    ReplaceOrder,
    SetRiskLimits,
)
from omnitrade_tui.domain.enums import Side
from omnitrade_tui.domain.events import (
    BalancesChanged,
    BookHealth,
    BookState,
    BookTop,
    KillSwitchChanged,
    OrderRejected,
    RiskLimitsInForce,
)
from omnitrade_tui.domain.models import Order, OrderRequest
from omnitrade_tui.domain.risk_limits import RiskLimits
from omnitrade_tui.domain.venue import venue_of
from omnitrade_tui.engine.book_of_record import OrderBookOfRecord

log = logging.getLogger(__name__)

__all__ = ["PreTradeRisk", "RiskGate", "RiskLimits", "RiskRejected", "RiskViolation"]


class RiskViolation(msgspec.Struct, frozen=True, kw_only=True):
    """Why an order was refused: the limit's name, its value, and the order's figure."""

    limit: str
    limit_value: str
    order_value: str
    message: str


class RiskRejected(Exception):
    """An order was refused by a pre-trade check (or the kill switch)."""

    def __init__(self, violation: RiskViolation) -> None:
        super().__init__(violation.message)
        self.violation = violation


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _describe(r: OrderRequest) -> str:
    qty = _fmt(r.quantity) if r.quantity is not None else f"quote {r.quote_order_qty}"
    price = f" @ {_fmt(r.price)}" if r.price is not None else ""
    return f"{r.symbol} {r.side.value} {r.type.value} {qty}{price}"


class PreTradeRisk:
    """The limits of one profile, checked against one order at a time (no I/O)."""

    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        self._sent: deque[float] = deque()

    def _violation(
        self, request: OrderRequest, limit: str, limit_value: Any, order_value: Any, why: str
    ) -> RiskViolation:
        return RiskViolation(
            limit=limit,
            limit_value=str(limit_value),
            order_value=str(order_value),
            message=f"risk {limit}: {why} ({_describe(request)})",
        )

    def check(
        self,
        request: OrderRequest,
        *,
        now: float,
        mid: Decimal | None = None,
        base_asset: str | None = None,
        position: Decimal = Decimal(0),
        open_orders: int = 0,
        locked: bool = False,
    ) -> RiskViolation | None:
        """The first limit ``request`` breaks, or ``None`` if it may go.

        ``now`` is a monotonic time in seconds; ``position`` the current holding of the
        base asset; ``open_orders`` how many of our orders are open or on their way.
        """
        lim = self.limits
        if locked:
            return self._violation(
                request,
                "kill_switch",
                "engaged",
                "new order",
                "trading is locked by the kill switch",
            )
        if lim.max_orders_per_second is not None:
            window = self._sent
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= lim.max_orders_per_second:
                return self._violation(
                    request,
                    "max_orders_per_second",
                    lim.max_orders_per_second,
                    len(window) + 1,
                    f"this would be order {len(window) + 1} within one second, "
                    f"limit {lim.max_orders_per_second}",
                )
        if lim.max_open_orders is not None and open_orders >= lim.max_open_orders:
            return self._violation(
                request,
                "max_open_orders",
                lim.max_open_orders,
                open_orders + 1,
                f"this would be open order {open_orders + 1}, limit {lim.max_open_orders}",
            )

        quantity = request.quantity
        if quantity is None and request.quote_order_qty is not None and mid:
            quantity = request.quote_order_qty / mid
        notional = request.notional
        if notional is None and request.quantity is not None and mid is not None:
            notional = request.quantity * mid
        if lim.max_order_notional is not None:
            if notional is None:
                return self._violation(
                    request,
                    "max_order_notional",
                    _fmt(lim.max_order_notional),
                    "unknown",
                    "the order's notional cannot be known without a mid price",
                )
            if notional > lim.max_order_notional:
                return self._violation(
                    request,
                    "max_order_notional",
                    _fmt(lim.max_order_notional),
                    _fmt(notional),
                    f"notional {_fmt(notional)} exceeds the limit {_fmt(lim.max_order_notional)}",
                )

        max_pos = lim.max_position.get(base_asset) if base_asset else None
        if max_pos is not None:
            if quantity is None:
                return self._violation(
                    request,
                    "max_position",
                    _fmt(max_pos),
                    "unknown",
                    f"the {base_asset} quantity cannot be known without a mid price",
                )
            after = position + quantity if request.side is Side.BUY else position - quantity
            # An order that brings the holding toward zero is always allowed.
            if abs(after) > max_pos and abs(after) > abs(position):
                return self._violation(
                    request,
                    "max_position",
                    _fmt(max_pos),
                    _fmt(after),
                    f"{base_asset} position would be {_fmt(after)}, limit {_fmt(max_pos)}",
                )

        band = lim.price_band_pct
        if band is not None and request.price is not None and request.type.has_price:
            # A stop-limit order trades when the market reaches its stop, so its limit price
            # is judged against the stop price, not against today's mid.
            if request.stop_price is not None:
                reference, ref_name = request.stop_price, "stop price"
            elif mid:
                reference, ref_name = mid, "mid"
            else:
                return self._violation(
                    request,
                    "price_band_pct",
                    _fmt(band),
                    "unknown",
                    "no mid price to check the limit price against",
                )
            off = (abs(request.price - reference) / reference * 100).quantize(Decimal("0.01"))
            if off > band:
                return self._violation(
                    request,
                    "price_band_pct",
                    _fmt(band),
                    _fmt(off),
                    f"price {_fmt(request.price)} is {_fmt(off)}% from the {ref_name} "
                    f"{_fmt(reference)}, band {_fmt(band)}%",
                )
        return None

    def record_sent(self, now: float) -> None:
        """Count an order that passed, for the orders-per-second window."""
        self._sent.append(now)


PlaceHandler = Callable[[PlaceOrder], Awaitable[Order]]
OcoHandler = Callable[[PlaceOco], Awaitable[list[Order]]]
ReplaceHandler = Callable[[ReplaceOrder], Awaitable[Order]]
ReplaceOcoHandler = Callable[[ReplaceOco], Awaitable[list[Order]]]


class RiskGate:
    """Pre-trade checks and the kill switch, living on the bus.

    ``base_assets`` maps a symbol to its base asset (``BTCUSDT -> BTC``), from the
    instruments the venue reported; symbols not in it skip the position check.
    ``venue_limits`` are the limits of the venues beside the profile's first, by venue
    qualifier: an order is checked against its own venue's limits, and its venue's open
    orders and order rate (each venue counts its own, as each venue limits its own); the
    kill switch is one for every venue.
    """

    def __init__(
        self,
        bus: Bus,
        limits: RiskLimits,
        base_assets: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        cancel_timeout: float = 10.0,
        book: OrderBookOfRecord | None = None,
        venue_limits: Mapping[str, RiskLimits] | None = None,
    ) -> None:
        self.bus = bus
        #: The first venue's checks (and every venue's without limits of its own).
        self.risk = PreTradeRisk(limits)
        self.risks: dict[str, PreTradeRisk] = {"": self.risk}
        for venue, venue_risk in (venue_limits or {}).items():
            self.risks[venue] = PreTradeRisk(venue_risk)
        self.base_assets = dict(base_assets or {})
        self._clock = clock
        self._cancel_timeout = cancel_timeout
        self.mids: dict[str, Decimal] = {}
        self.positions: dict[str, Decimal] = {}
        #: Our orders that are open or on their way are the book of record's (the order
        #: manager publishes an order as ``PENDING_NEW`` before it sends it).
        self.book = book if book is not None else OrderBookOfRecord.on(bus)
        self.locked = False
        self.lock_reason = ""
        self._subs: list[Subscription] = []

    def start(self) -> None:
        """Follow mids, balances and our orders; serve the kill-switch commands."""
        self._subs = [
            self.bus.subscribe(topics.book.all, each(self._on_book), name="risk.book"),
            self.bus.subscribe(topics.book_health.all, each(self._on_health), name="risk.health"),
            self.bus.subscribe(topics.BALANCE, each(self._on_balance), name="risk.balance"),
        ]
        self.bus.handle(EngageKillSwitch, self._on_engage)
        self.bus.handle(ReleaseKillSwitch, self._on_release)
        self.bus.handle(SetRiskLimits, self._on_set_limits)
        self.publish_limits()

    def publish_limits(self) -> None:
        """Say which limits apply now: the ticket checks an order against them as it is
        typed, with the gate's own wording, instead of learning of them after Enter."""
        now_ms = int(time.time() * 1000)
        for venue, risk in self.risks.items():
            self.bus.publish(
                topics.RISK_LIMITS,
                RiskLimitsInForce(limits=risk.limits, venue=venue, time_ms=now_ms),
            )

    def _risk_of(self, symbol: str) -> PreTradeRisk:
        """The checks of the venue ``symbol`` trades on."""
        return self.risks.get(venue_of(symbol), self.risk)

    def stop(self) -> None:
        """Leave the bus."""
        for sub in self._subs:
            sub.close()
        self._subs = []
        self.bus.unhandle(EngageKillSwitch)
        self.bus.unhandle(ReleaseKillSwitch)
        self.bus.unhandle(SetRiskLimits)

    # -- state from events -----------------------------------------------------------------

    def _on_book(self, topic: str, event: BookTop) -> None:
        if event.state is not BookState.LIVE or not event.bids or not event.asks:
            # A book out of sync gives no mid to trust: checks that need one refuse.
            self.mids.pop(event.symbol, None)
            return
        # Book levels are display floats; repr round-trips them exactly enough for a band.
        bid = Decimal(repr(event.bids[0].price))
        ask = Decimal(repr(event.asks[0].price))
        self.mids[event.symbol] = (bid + ask) / 2

    def _on_health(self, topic: str, event: BookHealth) -> None:
        if event.state is not BookState.LIVE:
            self.mids.pop(event.symbol, None)

    def _on_balance(self, topic: str, event: BalancesChanged) -> None:
        for b in event.balances:
            self.positions[b.asset] = b.total

    def _working(self) -> list[Order]:
        """Our orders that are open or on their way, as the book of record holds them; the
        legs of an OCO share one quantity and at most one trades, so a list counts once."""
        lists: set[int] = set()
        working: list[Order] = []
        for order in self.book.open_orders():
            if order.order_list_id >= 0:
                if order.order_list_id in lists:
                    continue
                lists.add(order.order_list_id)
            working.append(order)
        return working

    @property
    def open_orders(self) -> int:
        """Our orders that are open or on their way to the venue."""
        return len(self._working())

    def _still_to_fill(self, order: Order) -> Decimal:
        """What ``order`` may still buy or sell in its base asset: for an order sized in the
        quote asset (``quoteOrderQty``) before the venue says its quantity, at the mid."""
        if order.quantity == 0 and order.quote_order_qty is not None:
            mid = self.mids.get(order.symbol)
            return order.quote_order_qty / mid if mid else Decimal(0)
        return order.remaining_qty

    def _exposure(self, base: str, side: Side) -> Decimal:
        """The holding of ``base`` if every working order on ``side`` filled."""
        working = sum(
            (
                self._still_to_fill(order)
                for order in self._working()
                if order.side is side and self.base_assets.get(order.symbol) == base
            ),
            Decimal(0),
        )
        holding = self.positions.get(base, Decimal(0))
        return holding + working if side is Side.BUY else holding - working

    def _is_working(self, client_order_id: str) -> bool:
        known = self.book.get(client_order_id)
        return known is not None and known.status.is_open

    # -- the checks ------------------------------------------------------------------------

    def check(self, request: OrderRequest) -> RiskViolation | None:
        """The limit ``request`` breaks now, or ``None`` (its own venue's limits, against
        that venue's working orders)."""
        base = self.base_assets.get(request.symbol)
        venue = venue_of(request.symbol)
        return self._risk_of(request.symbol).check(
            request,
            now=self._clock(),
            mid=self.mids.get(request.symbol),
            base_asset=base,
            position=self._exposure(base, request.side) if base else Decimal(0),
            open_orders=sum(1 for o in self._working() if venue_of(o.symbol) == venue),
            locked=self.locked,
        )

    def _refuse(self, request: OrderRequest, violation: RiskViolation) -> RiskRejected:
        log.warning(
            "order refused by risk: %s",
            violation.message,
            extra={"limit": violation.limit, "client_order_id": request.client_order_id},
        )
        self.bus.publish(
            topics.REJECT,
            OrderRejected(
                client_order_id=request.client_order_id,
                symbol=request.symbol,
                code=None,
                reason=violation.message,
                source="risk",
            ),
        )
        return RiskRejected(violation)

    def guard(self, inner: PlaceHandler) -> PlaceHandler:
        """``inner`` (the order manager's place handler) behind the pre-trade checks."""

        async def place(command: PlaceOrder) -> Order:
            request = command.request
            if self._is_working(request.client_order_id):
                # A resend of an intent on its way or open (after a timeout): the order
                # manager answers with the order it has, sending nothing; checking it again
                # would count the order against itself.
                return await inner(command)
            violation = self.check(request)
            if violation is not None:
                raise self._refuse(request, violation)
            self._risk_of(request.symbol).record_sent(self._clock())
            # The order manager publishes the order PENDING_NEW before its first await, so
            # the book counts it as working before any other order is checked.
            return await inner(command)

        return place

    def guard_oco(self, inner: OcoHandler) -> OcoHandler:
        """``inner`` (the OCO handler) behind the same checks as a single order, leg by leg.

        Both legs hold the same quantity and at most one trades, so the pair counts once
        toward open orders and exposure.
        """

        async def place_oco(command: PlaceOco) -> list[Order]:
            if self._is_working(command.above.client_order_id):
                return await inner(command)  # a resend: see ``guard``
            for leg in (command.above, command.below):
                violation = self.check(leg)
                if violation is not None:
                    raise self._refuse(leg, violation)
            self._risk_of(command.above.symbol).record_sent(self._clock())
            return await inner(command)

        return place_oco

    def guard_replace(self, inner: ReplaceHandler) -> ReplaceHandler:
        """``inner`` (the replace handler) refused while the kill switch is engaged."""

        async def replace(command: ReplaceOrder) -> Order:
            self._refuse_if_locked(command.symbol, command.client_order_id, "replace")
            return await inner(command)

        return replace

    def guard_replace_oco(self, inner: ReplaceOcoHandler) -> ReplaceOcoHandler:
        """``inner`` (the OCO amend handler) refused while the kill switch is engaged."""

        async def replace_oco(command: ReplaceOco) -> list[Order]:
            self._refuse_if_locked(command.symbol, command.above.client_order_id, "OCO amend")
            return await inner(command)

        return replace_oco

    def _refuse_if_locked(self, symbol: str, client_order_id: str, action: str) -> None:
        """Raise ``RiskRejected`` (and say so on ``exec.reject``) while trading is locked."""
        if not self.locked:
            return
        violation = RiskViolation(
            limit="kill_switch",
            limit_value="engaged",
            order_value=action,
            message=f"risk kill_switch: trading is locked ({symbol} {action})",
        )
        self.bus.publish(
            topics.REJECT,
            OrderRejected(
                client_order_id=client_order_id,
                symbol=symbol,
                code=None,
                reason=violation.message,
                source="risk",
            ),
        )
        raise RiskRejected(violation)

    # -- kill switch -----------------------------------------------------------------------

    async def engage(self, reason: str = "operator") -> str:
        """Lock trading, then cancel every open order; returns how the cancel went.

        The lock comes first, so no order slips out while the cancels are on their way.
        """
        self.locked = True
        self.lock_reason = reason
        log.warning("kill switch engaged: %s", reason)
        self._publish_state("cancelling all open orders")
        try:
            result = await self.bus.request(CancelAll(), timeout=self._cancel_timeout)
            detail = f"cancel-all done: {len(result)} open orders cancelled"
        except Exception as exc:
            detail = f"cancel-all FAILED ({type(exc).__name__}: {exc}); orders may remain open"
            log.error("kill switch: %s", detail)
        self._publish_state(detail)
        return detail

    def release(self) -> None:
        """Allow trading again."""
        self.locked = False
        self.lock_reason = ""
        log.warning("kill switch released")
        self._publish_state("released")

    def _publish_state(self, detail: str) -> None:
        self.bus.publish(
            topics.KILL_SWITCH,
            KillSwitchChanged(
                engaged=self.locked,
                reason=self.lock_reason,
                detail=detail,
                time_ms=int(time.time() * 1000),
            ),
        )

    async def _on_engage(self, command: EngageKillSwitch) -> str:
        return await self.engage(command.reason)

    async def _on_release(self, command: ReleaseKillSwitch) -> None:
        self.release()

    async def _on_set_limits(self, command: SetRiskLimits) -> RiskLimits:
        risk = self.risks.get(command.venue)
        if risk is None:
            known = ", ".join(repr(v or "(first)") for v in self.risks)
            raise ValueError(f"no venue {command.venue!r} to set limits of (venues: {known})")
        risk.limits = risk.limits.merged(command.limits)
        log.warning("risk limits of venue %r changed: %s", command.venue, risk.limits)
        self.publish_limits()
        return risk.limits
