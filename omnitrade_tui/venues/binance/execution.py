"""Orders on Binance spot over REST: place, cancel, cancel all, cancel-replace, query.

The client order id is chosen before sending (it is part of the ``OrderRequest``), so an
answer that never comes is settled by asking the venue about that id, never by sending
again: ``place`` returns the order with status ``UNKNOWN`` after a timeout or a 5xx, and
``settle`` turns it into its true state (or ``REJECTED`` when the venue never saw it).
Refusals raise ``BinanceError`` with Binance's code and a sentence a trader understands.

This module only speaks to the venue; what to publish is the order manager's decision.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from omnitrade_tui.domain.decimals import fmt
from omnitrade_tui.domain.enums import OrderStatus
from omnitrade_tui.domain.models import Balance, Fill, Order, OrderRequest
from omnitrade_tui.venues.binance.order_schemas import (
    CancelReplaceFailure,
    OrderAnswer,
    account_decoder,
    cancel_replace_decoder,
    convert,
    my_trades_decoder,
    order_decoder,
    order_list_decoder,
    orders_decoder,
    parse_cancel,
    parse_cancel_all,
    parse_order,
)
from omnitrade_tui.venues.binance.rest import BinanceError, BinanceRest, OrderAction, OutcomeUnknown

_SETTLE_ATTEMPTS = 6


def order_params(req: OrderRequest) -> dict[str, str]:
    """The ``POST /api/v3/order`` parameters of a request (decimals written exactly)."""
    params = {
        "symbol": req.symbol,
        "side": str(req.side),
        "type": str(req.type),
        "newClientOrderId": req.client_order_id,
        "newOrderRespType": "FULL",
    }
    for name, value in (
        ("quantity", req.quantity),
        ("quoteOrderQty", req.quote_order_qty),
        ("price", req.price),
        ("stopPrice", req.stop_price),
        ("icebergQty", req.iceberg_qty),
    ):
        if value is not None:
            params[name] = fmt(value)
    if req.time_in_force is not None:
        params["timeInForce"] = str(req.time_in_force)
    if req.stp_mode is not None:
        params["selfTradePreventionMode"] = str(req.stp_mode)
    return params


def oco_params(above: OrderRequest, below: OrderRequest) -> dict[str, str]:
    """The ``POST /api/v3/orderList/oco`` parameters of a pair (shared side and quantity)."""
    if above.quantity is None:
        raise ValueError("an OCO needs a quantity")
    params = {
        "symbol": above.symbol,
        "side": str(above.side),
        "quantity": fmt(above.quantity),
        "newOrderRespType": "FULL",
    }
    for prefix, leg in (("above", above), ("below", below)):
        params[f"{prefix}Type"] = str(leg.type)
        params[f"{prefix}ClientOrderId"] = leg.client_order_id
        if leg.price is not None:
            params[f"{prefix}Price"] = fmt(leg.price)
        if leg.stop_price is not None:
            params[f"{prefix}StopPrice"] = fmt(leg.stop_price)
        if leg.time_in_force is not None:
            params[f"{prefix}TimeInForce"] = str(leg.time_in_force)
    return params


def is_duplicate(exc: BinanceError) -> bool:
    """Whether the venue refused an order because one with its client id is open already
    (-2010 "Duplicate order sent."): the intent was sent before, its answer lost."""
    return exc.code == -2010 and "duplicate" in exc.msg.lower()


class ReplaceFailed(BinanceError):
    """A cancel-replace refused in whole or in part, told apart by the answer's ``data``
    (rest-api.md): the code and message are those of the half that failed (the cancel's
    for -2022, else the new order's), ``canceled`` is the old order when its cancel went
    through, ``placed`` the new one when it was placed (``ALLOW_FAILURE``), and
    ``replace_code`` is the venue's -2021 or -2022."""

    def __init__(self, exc: BinanceError, data: dict[str, Any]) -> None:
        halves = convert(data, CancelReplaceFailure, "cancel-replace refusal")
        cancel, new = halves.cancel_response, halves.new_order_response
        failed = cancel if halves.cancel_result == "FAILURE" else new
        code, msg = exc.code, exc.msg
        if failed is not None and isinstance(failed.get("code"), int):
            code, msg = failed["code"], str(failed.get("msg", exc.msg))
        super().__init__(exc.status, code, msg, data)
        self.replace_code = exc.code
        self.canceled = parse_order(cancel) if halves.cancel_result == "SUCCESS" else None
        self.placed = parse_order(new) if halves.new_order_result == "SUCCESS" else None


class BinanceExecution:
    """Order requests to the venue, with UNKNOWN settled by query."""

    def __init__(self, rest: BinanceRest) -> None:
        self.rest = rest

    async def place(self, req: OrderRequest) -> tuple[Order, list[Fill]]:
        """Send a new order; the order as the venue answered, and its immediate fills.

        Returns an order with status ``UNKNOWN`` (and no fills) when the venue's answer is
        lost; call ``settle`` with its client order id.

        Raises:
            BinanceError: the venue refused the order.
        """
        try:
            body = await self.rest.request(
                "POST",
                "order",
                order_params(req),
                signed=True,
                action=OrderAction("place", req.symbol, req.client_order_id),
                decoder=order_decoder,
            )
        except OutcomeUnknown:
            return self.unknown(req), []
        except BinanceError as exc:
            if not is_duplicate(exc):
                raise
            # The same intent sent again (after a lost answer): the venue holds it open
            # under this id already. That order is the answer; its fills come by the
            # stream or the next reconciliation.
            return await self.query(req.symbol, req.client_order_id), []
        order = body.to_order()
        return order, body.to_fills(order)

    async def place_oco(
        self, above: OrderRequest, below: OrderRequest, list_client_order_id: str | None = None
    ) -> tuple[list[Order], list[Fill]]:
        """Send an OCO pair; both legs as the venue answered (UNKNOWN when the answer is lost).

        A resend of the same list (same leg ids) that the venue refuses as a duplicate is
        answered with the legs the venue already holds.

        Raises:
            BinanceError: the venue refused the pair.
        """
        params = oco_params(above, below)
        if list_client_order_id:
            params["listClientOrderId"] = list_client_order_id
        try:
            body = await self.rest.request(
                "POST",
                "orderList/oco",
                params,
                signed=True,
                action=OrderAction("place", above.symbol, above.client_order_id),
                decoder=order_list_decoder,
            )
        except OutcomeUnknown:
            return [self.unknown(above), self.unknown(below)], []
        except BinanceError as exc:
            if not is_duplicate(exc):
                raise
            legs = [await self.query(leg.symbol, leg.client_order_id) for leg in (above, below)]
            return legs, []
        orders = [report.to_order() for report in body.order_reports]
        fills = [
            f
            for report, o in zip(body.order_reports, orders, strict=True)
            for f in report.to_fills(o)
        ]
        return orders, fills

    @staticmethod
    def unknown(req: OrderRequest) -> Order:
        """The order as we know it when the venue's answer was lost."""
        return req.as_order(OrderStatus.UNKNOWN)

    async def query(
        self, symbol: str, client_order_id: str | None = None, *, order_id: int | None = None
    ) -> Order:
        """The venue's view of one order, by client order id or by the venue's id."""
        params: dict[str, Any] = {"symbol": symbol}
        if order_id is not None:
            params["orderId"] = order_id
        elif client_order_id is not None:
            params["origClientOrderId"] = client_order_id
        else:
            raise ValueError("query needs a client order id or an order id")
        body: OrderAnswer = await self.rest.request(
            "GET", "order", params, signed=True, decoder=order_decoder
        )
        return body.to_order()

    async def settle(self, order: Order, pause_s: float = 0.5) -> Order:
        """Resolve an ``UNKNOWN`` order by asking the venue, a few times if need be.

        The venue not knowing the id (-2013) means the order was never accepted: it is
        ``REJECTED``. If the venue cannot be asked, the order stays ``UNKNOWN``.
        """
        for attempt in range(_SETTLE_ATTEMPTS):
            try:
                return await self.query(order.symbol, order.client_order_id)
            except BinanceError as exc:
                if exc.code == -2013:
                    return msgspec.structs.replace(
                        order,
                        status=OrderStatus.REJECTED,
                        reject_reason="the venue never received the order",
                    )
                await asyncio.sleep(pause_s * (attempt + 1))
        return order

    async def cancel(self, symbol: str, client_order_id: str) -> Order:
        """Cancel one order; the cancelled order (-2011 if it is not open).

        Raises:
            OutcomeUnknown: the answer was lost; the order may or may not be cancelled.
        """
        body = await self.rest.request(
            "DELETE",
            "order",
            {"symbol": symbol, "origClientOrderId": client_order_id},
            signed=True,
            action=OrderAction("cancel", symbol, client_order_id),
        )
        return parse_cancel(body, client_order_id)

    async def cancel_all(self, symbol: str) -> list[Order]:
        """Cancel every open order on ``symbol`` (an empty list when none was open)."""
        try:
            body = await self.rest.request(
                "DELETE",
                "openOrders",
                {"symbol": symbol},
                signed=True,
                action=OrderAction("cancel_all", symbol, ""),
            )
        except BinanceError as exc:
            if exc.code == -2011:
                return []
            raise
        return parse_cancel_all(body)

    async def cancel_list(self, symbol: str, order_list_id: int) -> list[Order]:
        """Cancel an order list (both legs of an OCO) by ``DELETE /api/v3/orderList``; the
        legs as cancelled (a leg that traded shows its filled quantity).

        Raises:
            BinanceError: the venue refused (-2011: no such list open any more).
            OutcomeUnknown: the answer was lost; the list may or may not be cancelled.
        """
        body = await self.rest.request(
            "DELETE",
            "orderList",
            {"symbol": symbol, "orderListId": order_list_id},
            signed=True,
            action=OrderAction("cancel", symbol, f"orderList:{order_list_id}"),
            decoder=order_list_decoder,
        )
        return [report.to_order() for report in body.order_reports]

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        """The venue's open orders (of one symbol, or all)."""
        params = {"symbol": symbol} if symbol else {}
        body = await self.rest.request(
            "GET", "openOrders", params, signed=True, decoder=orders_decoder
        )
        return [item.to_order() for item in body]

    async def balances(self) -> list[Balance]:
        """Every non-zero balance of the account."""
        body = await self.rest.request(
            "GET", "account", {"omitZeroBalances": "true"}, signed=True, decoder=account_decoder
        )
        return [b.to_balance() for b in body.balances]

    async def fills_since(self, symbol: str, from_trade_id: int | None) -> list[Fill]:
        """Our fills on ``symbol`` with trade id >= ``from_trade_id``, oldest first, a page of
        up to 1,000; ``None`` gives the most recent page instead."""
        params: dict[str, Any] = {"symbol": symbol, "limit": 1000}
        if from_trade_id is not None:
            params["fromId"] = from_trade_id
        body = await self.rest.request(
            "GET", "myTrades", params, signed=True, decoder=my_trades_decoder
        )
        return [t.to_fill() for t in body]

    async def replace(
        self, cancel_client_order_id: str, new: OrderRequest
    ) -> tuple[Order, Order, list[Fill]]:
        """Cancel-replace (STOP_ON_FAILURE): the cancelled order, the new one, its fills.

        Raises:
            ReplaceFailed: refused, with the failed half's own code and message (-2022:
                nothing done; -2021: ``canceled`` holds the cancelled order, the new one
                was refused).
            BinanceError: refused before either half was tried.
            OutcomeUnknown: the answer was lost; either part may or may not be done.
        """
        params = order_params(new)
        params["cancelOrigClientOrderId"] = cancel_client_order_id
        params["cancelReplaceMode"] = "STOP_ON_FAILURE"
        try:
            body = await self.rest.request(
                "POST",
                "order/cancelReplace",
                params,
                signed=True,
                action=OrderAction("replace", new.symbol, new.client_order_id),
                decoder=cancel_replace_decoder,
            )
        except OutcomeUnknown:
            raise
        except BinanceError as exc:
            if exc.code in (-2021, -2022) and exc.data is not None:
                raise ReplaceFailed(exc, exc.data) from exc
            raise
        canceled = body.cancel_response.to_order()
        placed = body.new_order_response.to_order()
        return canceled, placed, body.new_order_response.to_fills(placed)
