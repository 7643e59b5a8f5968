"""Binance spot REST answers about our orders and account, as typed ``msgspec`` structs.

One struct per documented payload (rest-api.md): an order answer (RESULT and FULL, also
the query and cancel answers, and each report of an order list), its fills, an order list,
a cancel-replace, the account and ``myTrades``. Field names are Binance's, renamed to
words; decimals decode straight to ``Decimal`` (Binance quotes them as strings); extra
fields are ignored, so a field the venue adds later breaks nothing. Each payload becomes
domain values here, once: the rest of the connector never reads venue JSON.

A payload that lacks a required field or carries a wrong type is a ``MalformedAnswer``
(the venue answered, but not in the documented shape), never a ``KeyError``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from omnitrade_tui.domain.decimals import ZERO
from omnitrade_tui.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.domain.models import Balance, Fill, Order
from omnitrade_tui.venues.binance.rest import MalformedAnswer

T = TypeVar("T")


def convert(obj: Any, kind: type[T], what: str) -> T:
    """``obj`` (decoded JSON) as ``kind``, or ``MalformedAnswer`` naming ``what`` it was."""
    try:
        return msgspec.convert(obj, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise MalformedAnswer(200, None, f"malformed {what} from the venue: {exc}") from None


def finite(*values: Decimal) -> None:
    """Refuse a NaN or infinite decimal (``ValueError``, which msgspec turns into its
    ``ValidationError`` in a ``__post_init__``): Binance never sends one, and one would
    poison every comparison and sum it enters."""
    for value in values:
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite number")


def time_in_force(raw: str | None) -> TimeInForce | None:
    """Binance's ``timeInForce`` as ours; ``None`` when absent or one we do not trade with."""
    return TimeInForce(raw) if raw and raw in TimeInForce.__members__ else None


class OrderFill(msgspec.Struct, kw_only=True, frozen=True):
    """One fill of a FULL order answer (``fills``)."""

    trade_id: int = msgspec.field(name="tradeId")
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str = msgspec.field(name="commissionAsset")

    def __post_init__(self) -> None:
        finite(self.price, self.qty, self.commission)


class OrderAnswer(msgspec.Struct, kw_only=True, frozen=True):
    """An order as the venue answers it: ``POST /api/v3/order`` (RESULT, FULL), ``GET`` and
    ``DELETE /api/v3/order``, ``openOrders`` and every ``orderReports`` entry."""

    symbol: str
    order_id: int = msgspec.field(name="orderId")
    client_order_id: str = msgspec.field(name="clientOrderId")
    # A cancel answer names the order's own id here ("clientOrderId" is the cancel's).
    orig_client_order_id: str = msgspec.field(name="origClientOrderId", default="")
    side: Side
    type: OrderType
    status: OrderStatus
    orig_qty: Decimal = msgspec.field(name="origQty", default=ZERO)
    price: Decimal = ZERO
    stop_price: Decimal = msgspec.field(name="stopPrice", default=ZERO)
    time_in_force: str = msgspec.field(name="timeInForce", default="")
    executed_qty: Decimal = msgspec.field(name="executedQty", default=ZERO)
    cummulative_quote_qty: Decimal = msgspec.field(name="cummulativeQuoteQty", default=ZERO)
    order_list_id: int = msgspec.field(name="orderListId", default=-1)
    time: int | None = None
    update_time: int | None = msgspec.field(name="updateTime", default=None)
    transact_time: int = msgspec.field(name="transactTime", default=0)
    fills: list[OrderFill] = []

    def __post_init__(self) -> None:
        finite(
            self.orig_qty,
            self.price,
            self.stop_price,
            self.executed_qty,
            self.cummulative_quote_qty,
        )

    def to_order(self) -> Order:
        """The domain order."""
        return Order(
            symbol=self.symbol,
            client_order_id=self.orig_client_order_id or self.client_order_id,
            order_id=self.order_id,
            side=self.side,
            type=self.type,
            status=self.status,
            quantity=self.orig_qty,
            price=self.price if self.price > 0 else None,
            stop_price=self.stop_price if self.stop_price > 0 else None,
            time_in_force=time_in_force(self.time_in_force),
            filled_qty=self.executed_qty,
            cum_quote_qty=self.cummulative_quote_qty,
            order_list_id=self.order_list_id,
            created_ms=self.transact_time if self.time is None else self.time,
            updated_ms=self.transact_time if self.update_time is None else self.update_time,
        )

    def to_fills(self, order: Order) -> list[Fill]:
        """The fills of a FULL answer, as fills of ``order`` (this answer's domain order)."""
        return [
            Fill(
                symbol=order.symbol,
                trade_id=f.trade_id,
                order_id=self.order_id,
                client_order_id=order.client_order_id,
                side=order.side,
                price=f.price,
                qty=f.qty,
                commission=f.commission,
                commission_asset=f.commission_asset,
                is_maker=False,  # an order's immediate fills are taker fills
                time_ms=order.updated_ms,
            )
            for f in self.fills
        ]


class OrderListAnswer(msgspec.Struct, kw_only=True, frozen=True):
    """An order list (an OCO) as the venue answers it: ``POST /api/v3/orderList/oco``,
    ``DELETE /api/v3/orderList``, and a cancel of one of its legs."""

    order_list_id: int = msgspec.field(name="orderListId")
    contingency_type: str = msgspec.field(name="contingencyType", default="")
    list_status_type: str = msgspec.field(name="listStatusType", default="")
    list_order_status: str = msgspec.field(name="listOrderStatus", default="")
    list_client_order_id: str = msgspec.field(name="listClientOrderId", default="")
    symbol: str = ""
    order_reports: list[OrderAnswer] = msgspec.field(name="orderReports", default=[])


class CancelReplaceAnswer(msgspec.Struct, kw_only=True, frozen=True):
    """``POST /api/v3/order/cancelReplace`` when both halves went through."""

    cancel_response: OrderAnswer = msgspec.field(name="cancelResponse")
    new_order_response: OrderAnswer = msgspec.field(name="newOrderResponse")


class CancelReplaceFailure(msgspec.Struct, kw_only=True, frozen=True):
    """The ``data`` of a refused cancel-replace (-2021, -2022): each half's result and its
    answer, an order or an error (``code``, ``msg``)."""

    cancel_result: str = msgspec.field(name="cancelResult", default="")
    new_order_result: str = msgspec.field(name="newOrderResult", default="")
    cancel_response: dict[str, Any] | None = msgspec.field(name="cancelResponse", default=None)
    new_order_response: dict[str, Any] | None = msgspec.field(name="newOrderResponse", default=None)


class AccountBalance(msgspec.Struct, kw_only=True, frozen=True):
    """One entry of the account's ``balances``."""

    asset: str
    free: Decimal
    locked: Decimal = ZERO

    def __post_init__(self) -> None:
        finite(self.free, self.locked)

    def to_balance(self) -> Balance:
        """The domain balance."""
        return Balance(asset=self.asset, free=self.free, locked=self.locked)


class AccountAnswer(msgspec.Struct, kw_only=True, frozen=True):
    """``GET /api/v3/account``: permissions and balances."""

    can_trade: bool = msgspec.field(name="canTrade", default=False)
    can_withdraw: bool = msgspec.field(name="canWithdraw", default=False)
    can_deposit: bool = msgspec.field(name="canDeposit", default=False)
    account_type: str = msgspec.field(name="accountType", default="")
    permissions: list[str] = []
    balances: list[AccountBalance] = []


class MyTrade(msgspec.Struct, kw_only=True, frozen=True):
    """One entry of ``GET /api/v3/myTrades``: a fill of one of our orders."""

    symbol: str
    trade_id: int = msgspec.field(name="id")
    order_id: int = msgspec.field(name="orderId")
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str = msgspec.field(name="commissionAsset")
    time: int
    is_buyer: bool = msgspec.field(name="isBuyer")
    is_maker: bool = msgspec.field(name="isMaker")

    def __post_init__(self) -> None:
        finite(self.price, self.qty, self.commission)

    def to_fill(self) -> Fill:
        """The domain fill (``myTrades`` does not name the client order id)."""
        return Fill(
            symbol=self.symbol,
            trade_id=self.trade_id,
            order_id=self.order_id,
            client_order_id="",
            side=Side.BUY if self.is_buyer else Side.SELL,
            price=self.price,
            qty=self.qty,
            commission=self.commission,
            commission_asset=self.commission_asset,
            is_maker=self.is_maker,
            time_ms=self.time,
        )


def _decoder(kind: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(kind, strict=False)


order_decoder: msgspec.json.Decoder[OrderAnswer] = _decoder(OrderAnswer)
orders_decoder: msgspec.json.Decoder[list[OrderAnswer]] = _decoder(list[OrderAnswer])
order_list_decoder: msgspec.json.Decoder[OrderListAnswer] = _decoder(OrderListAnswer)
cancel_replace_decoder: msgspec.json.Decoder[CancelReplaceAnswer] = _decoder(CancelReplaceAnswer)
account_decoder: msgspec.json.Decoder[AccountAnswer] = _decoder(AccountAnswer)
my_trades_decoder: msgspec.json.Decoder[list[MyTrade]] = _decoder(list[MyTrade])


def parse_order(body: Any) -> Order:
    """A domain order from Binance's order JSON (RESULT, FULL, query and cancel answers).

    Raises:
        MalformedAnswer: not an order answer.
    """
    return convert(body, OrderAnswer, "order answer").to_order()


def parse_cancel(body: Any, client_order_id: str) -> Order:
    """The cancelled order from a ``DELETE /api/v3/order`` answer. A leg of an order list is
    answered with the whole list (both legs cancelled): the leg named, else the first.

    Raises:
        MalformedAnswer: neither an order nor an order list.
    """
    if isinstance(body, dict) and "orderReports" in body:
        reports = convert(body, OrderListAnswer, "order list answer").order_reports
        mine = [r for r in reports if r.orig_client_order_id == client_order_id]
        if mine or reports:
            return (mine or reports)[0].to_order()
    return parse_order(body)


def parse_cancel_all(body: Any) -> list[Order]:
    """The orders a ``DELETE /api/v3/openOrders`` cancelled: single orders and the legs of
    order lists, in the venue's order.

    Raises:
        MalformedAnswer: not a list of orders and order lists.
    """
    items = convert(body, list[dict[str, Any]], "cancel-all answer")
    out: list[Order] = []
    for item in items:
        if "orderReports" in item:
            lists = convert(item, OrderListAnswer, "order list answer")
            out.extend(r.to_order() for r in lists.order_reports)
        else:
            out.append(parse_order(item))
    return out
