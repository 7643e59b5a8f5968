"""Binance user-data events (user-data-stream.md) as typed ``msgspec`` structs, and the
domain values they become.

``executionReport`` becomes an ``ExecutionReport`` (the order's exact state, and the fill
on a trade), ``outboundAccountPosition`` a ``BalancesChanged``, ``listStatus`` an
``OrderListUpdated``; ``balanceUpdate`` and ``externalLockUpdate`` are told in words. The
one-letter keys are renamed to words; decimals decode to ``Decimal``; extra fields are
ignored; a missing or mistyped field is a ``MalformedAnswer``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from omnitrade_tui.domain.decimals import ZERO
from omnitrade_tui.domain.enums import ExecutionType, OrderStatus, OrderType, Side
from omnitrade_tui.domain.events import BalancesChanged, ListOrderRef, OrderListUpdated
from omnitrade_tui.domain.models import Balance, ExecutionReport, Fill, Order
from omnitrade_tui.venues.binance.order_schemas import convert, finite, time_in_force


class ExecutionReportEvent(msgspec.Struct, kw_only=True, frozen=True):
    """``executionReport``: one change of one of our orders, with the trade on ``TRADE``."""

    event_ms: int = msgspec.field(name="E", default=0)
    symbol: str = msgspec.field(name="s")
    # On a cancel, "c" is the cancel request's own id and "C" the order's.
    client_order_id: str = msgspec.field(name="c")
    orig_client_order_id: str = msgspec.field(name="C", default="")
    side: Side = msgspec.field(name="S")
    type: OrderType = msgspec.field(name="o")
    time_in_force: str = msgspec.field(name="f", default="")
    quantity: Decimal = msgspec.field(name="q", default=ZERO)
    price: Decimal = msgspec.field(name="p", default=ZERO)
    stop_price: Decimal = msgspec.field(name="P", default=ZERO)
    execution_type: ExecutionType = msgspec.field(name="x")
    status: OrderStatus = msgspec.field(name="X")
    reject_reason: str = msgspec.field(name="r", default="NONE")
    order_id: int = msgspec.field(name="i")
    last_qty: Decimal = msgspec.field(name="l", default=ZERO)
    filled_qty: Decimal = msgspec.field(name="z", default=ZERO)
    last_price: Decimal = msgspec.field(name="L", default=ZERO)
    commission: Decimal = msgspec.field(name="n", default=ZERO)
    commission_asset: str | None = msgspec.field(name="N", default=None)
    transaction_ms: int | None = msgspec.field(name="T", default=None)
    trade_id: int = msgspec.field(name="t", default=-1)
    is_maker: bool = msgspec.field(name="m", default=False)
    created_ms: int = msgspec.field(name="O", default=0)
    cum_quote_qty: Decimal = msgspec.field(name="Z", default=ZERO)
    order_list_id: int = msgspec.field(name="g", default=-1)
    expiry_reason: str = msgspec.field(name="eR", default="NONE")

    def __post_init__(self) -> None:
        finite(
            self.quantity,
            self.price,
            self.stop_price,
            self.last_qty,
            self.filled_qty,
            self.last_price,
            self.commission,
            self.cum_quote_qty,
        )

    def to_report(self) -> ExecutionReport:
        """The domain execution report."""
        client_id = self.orig_client_order_id or self.client_order_id
        updated = self.event_ms if self.transaction_ms is None else self.transaction_ms
        order = Order(
            symbol=self.symbol,
            client_order_id=client_id,
            order_id=self.order_id,
            side=self.side,
            type=self.type,
            status=self.status,
            quantity=self.quantity,
            price=self.price if self.price > 0 else None,
            stop_price=self.stop_price if self.stop_price > 0 else None,
            time_in_force=time_in_force(self.time_in_force),
            filled_qty=self.filled_qty,
            cum_quote_qty=self.cum_quote_qty,
            order_list_id=self.order_list_id,
            created_ms=self.created_ms,
            updated_ms=updated,
            reject_reason=self.reason,
        )
        fill = None
        if self.execution_type is ExecutionType.TRADE:
            fill = Fill(
                symbol=self.symbol,
                trade_id=self.trade_id,
                order_id=self.order_id,
                client_order_id=client_id,
                side=self.side,
                price=self.last_price,
                qty=self.last_qty,
                commission=self.commission,
                commission_asset=self.commission_asset or "",
                is_maker=self.is_maker,
                time_ms=self.transaction_ms or 0,
            )
        return ExecutionReport(
            execution_type=self.execution_type, order=order, fill=fill, time_ms=self.event_ms
        )

    @property
    def reason(self) -> str | None:
        """Why the order was refused (``r``) or, for an expired one, why it expired (``eR``,
        e.g. ``UNFILLED_IOC_QUANTITY_EXPIRED``, ``INSUFFICIENT_LIQUIDITY``, an STP expiry)."""
        if self.reject_reason and self.reject_reason != "NONE":
            return self.reject_reason
        expiry = self.expiry_reason or "NONE"
        return None if expiry == "NONE" else f"expired: {expiry}"


class PositionBalance(msgspec.Struct, kw_only=True, frozen=True):
    """One asset of an ``outboundAccountPosition``."""

    asset: str = msgspec.field(name="a")
    free: Decimal = msgspec.field(name="f")
    locked: Decimal = msgspec.field(name="l")

    def __post_init__(self) -> None:
        finite(self.free, self.locked)


class AccountPositionEvent(msgspec.Struct, kw_only=True, frozen=True):
    """``outboundAccountPosition``: the balances an event changed."""

    event_ms: int = msgspec.field(name="E", default=0)
    balances: list[PositionBalance] = msgspec.field(name="B")

    def to_event(self) -> BalancesChanged:
        """The domain event."""
        return BalancesChanged(
            balances=[Balance(asset=b.asset, free=b.free, locked=b.locked) for b in self.balances],
            time_ms=self.event_ms,
        )


class ListStatusOrder(msgspec.Struct, kw_only=True, frozen=True):
    """One order of a ``listStatus``."""

    symbol: str = msgspec.field(name="s")
    order_id: int = msgspec.field(name="i")
    client_order_id: str = msgspec.field(name="c")


class ListStatusEvent(msgspec.Struct, kw_only=True, frozen=True):
    """``listStatus``: an order list's state as a whole."""

    event_ms: int = msgspec.field(name="E", default=0)
    symbol: str = msgspec.field(name="s")
    order_list_id: int = msgspec.field(name="g")
    contingency_type: str | None = msgspec.field(name="c", default=None)
    list_status_type: str = msgspec.field(name="l")
    list_order_status: str = msgspec.field(name="L")
    reject_reason: str = msgspec.field(name="r", default="NONE")
    list_client_order_id: str | None = msgspec.field(name="C", default=None)
    transaction_ms: int | None = msgspec.field(name="T", default=None)
    orders: list[ListStatusOrder] = msgspec.field(name="O", default=[])

    def to_event(self) -> OrderListUpdated:
        """The domain event."""
        return OrderListUpdated(
            symbol=self.symbol,
            order_list_id=self.order_list_id,
            list_client_order_id=self.list_client_order_id or "",
            contingency_type=self.contingency_type or "",
            list_status_type=self.list_status_type,
            list_order_status=self.list_order_status,
            reject_reason=None if self.reject_reason == "NONE" else self.reject_reason,
            orders=[
                ListOrderRef(
                    symbol=o.symbol, order_id=o.order_id, client_order_id=o.client_order_id
                )
                for o in self.orders
            ],
            time_ms=self.event_ms if self.transaction_ms is None else self.transaction_ms,
        )


class BalanceMoveEvent(msgspec.Struct, kw_only=True, frozen=True):
    """``balanceUpdate`` (a deposit, withdrawal or transfer) or ``externalLockUpdate`` (an
    amount locked outside trading): the asset and the change."""

    kind: str = msgspec.field(name="e")
    event_ms: int = msgspec.field(name="E", default=0)
    asset: str = msgspec.field(name="a")
    delta: Decimal = msgspec.field(name="d")

    def __post_init__(self) -> None:
        finite(self.delta)

    def describe(self) -> str:
        """The move in words, for the order event log."""
        amount = self.delta.normalize()
        if self.kind == "externalLockUpdate":
            return f"the venue locked {amount:f} {self.asset} outside trading"
        return f"{amount:+f} {self.asset} moved by the venue (deposit, withdrawal or transfer)"


def parse_execution_report(event: Any) -> ExecutionReport:
    """A domain execution report from Binance's ``executionReport`` event.

    Raises:
        MalformedAnswer: not an execution report.
    """
    return convert(event, ExecutionReportEvent, "executionReport").to_report()


def parse_account_position(event: Any) -> BalancesChanged:
    """Balances from ``outboundAccountPosition``.

    Raises:
        MalformedAnswer: not an account position.
    """
    return convert(event, AccountPositionEvent, "outboundAccountPosition").to_event()


def parse_list_status(event: Any) -> OrderListUpdated:
    """An order list's state from ``listStatus``.

    Raises:
        MalformedAnswer: not a list status.
    """
    return convert(event, ListStatusEvent, "listStatus").to_event()


def parse_balance_move(event: Any) -> BalanceMoveEvent:
    """A ``balanceUpdate`` or ``externalLockUpdate``.

    Raises:
        MalformedAnswer: neither.
    """
    return convert(event, BalanceMoveEvent, "balance update")
