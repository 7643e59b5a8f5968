"""Binance JSON shapes of the simulated venue's objects (orders, fills, events, klines).

Decimals are written as fixed 8-decimal strings, the way Binance writes them, and the
order's cumulative quote amount keeps Binance's historical spelling
``cummulativeQuoteQty``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from omnitrade_tui.domain.decimals import ZERO
from omnitrade_tui.domain.enums import ExecutionType, OrderType
from omnitrade_tui.domain.models import Candle
from omnitrade_tui.venues.sim.accounts import Account
from omnitrade_tui.venues.sim.matching import (
    Execution,
    OrderExecuted,
    PlaceResult,
    PreventedMatch,
)
from omnitrade_tui.venues.sim.orders import OrderList, SimOrder


def f8(value: Decimal | None) -> str:
    """A decimal as Binance writes it: ``"1.50000000"``."""
    return f"{(value if value is not None else ZERO):.8f}"


def ff(value: float) -> str:
    """A float (market data) with 8 decimals."""
    return f"{value:.8f}"


def order_ack(order: SimOrder) -> dict[str, Any]:
    """The ``ACK`` response of a new order."""
    return {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": order.order_list_id,
        "clientOrderId": order.client_order_id,
        "transactTime": order.time_ms,
    }


def order_result(order: SimOrder) -> dict[str, Any]:
    """The ``RESULT`` response of a new order (also the body of cancel reports)."""
    out = order_ack(order)
    out.update(
        {
            "price": f8(order.price),
            "origQty": f8(order.orig_qty),
            "executedQty": f8(order.executed_qty),
            "origQuoteOrderQty": f8(order.quote_order_qty),
            "cummulativeQuoteQty": f8(order.cum_quote),
            "status": str(order.status),
            "timeInForce": str(order.time_in_force or "GTC"),
            "type": str(order.type),
            "side": str(order.side),
            "workingTime": order.working_ms,
            "selfTradePreventionMode": str(order.stp_mode),
        }
    )
    if order.stop_price is not None:
        out["stopPrice"] = f8(order.stop_price)
    if order.iceberg_qty is not None:  # only when sent (rest-api.md's conditional fields)
        out["icebergQty"] = f8(order.iceberg_qty)
    if order.expiry_reason != "NONE":
        out["expiryReason"] = order.expiry_reason
    _add_prevention(out, order)
    return out


def _add_prevention(out: dict[str, Any], order: SimOrder) -> None:
    """Binance's conditional STP fields, on orders self-trade prevention touched."""
    if order.prevented_match_id >= 0:
        out["preventedMatchId"] = order.prevented_match_id
        out["preventedQuantity"] = f8(order.prevented_qty)


def _prevented_match(p: PreventedMatch) -> dict[str, Any]:
    out: dict[str, Any] = {
        "preventedMatchId": p.prevented_match_id,
        "makerOrderId": p.maker_order_id,
        "price": f8(p.price),
    }
    if p.taker_qty:
        out["takerPreventedQuantity"] = f8(p.taker_qty)
    if p.maker_qty:
        out["makerPreventedQuantity"] = f8(p.maker_qty)
    return out


def order_full(
    order: SimOrder, fills: list[Execution], prevented: list[PreventedMatch] | None = None
) -> dict[str, Any]:
    """The ``FULL`` response: ``RESULT`` plus the fills (and the self-trades prevented)."""
    out = order_result(order)
    if prevented:
        out["preventedMatches"] = [_prevented_match(p) for p in prevented]
    out["fills"] = [
        {
            "price": f8(f.price),
            "qty": f8(f.qty),
            "commission": f8(f.commission),
            "commissionAsset": f.commission_asset,
            "tradeId": f.trade_id,
        }
        for f in fills
    ]
    return out


def placed_order(result: PlaceResult, resp_type: str | None) -> dict[str, Any]:
    """A new order's answer in its ``newOrderRespType`` (default: FULL for MARKET and
    LIMIT, ACK for the others, as Binance does)."""
    order = result.order
    if resp_type is None:
        resp_type = "FULL" if order.type in (OrderType.MARKET, OrderType.LIMIT) else "ACK"
    if resp_type == "ACK":
        return order_ack(order)
    if resp_type == "RESULT":
        return order_result(order)
    return order_full(order, result.fills, result.prevented)


def order_query(order: SimOrder) -> dict[str, Any]:
    """``GET /api/v3/order`` and the items of ``openOrders`` and ``allOrders``."""
    out = {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": order.order_list_id,
        "clientOrderId": order.client_order_id,
        "price": f8(order.price),
        "origQty": f8(order.orig_qty),
        "executedQty": f8(order.executed_qty),
        "cummulativeQuoteQty": f8(order.cum_quote),
        "status": str(order.status),
        "timeInForce": str(order.time_in_force or "GTC"),
        "type": str(order.type),
        "side": str(order.side),
        "stopPrice": f8(order.stop_price),
        "icebergQty": f8(order.iceberg_qty),
        "time": order.time_ms,
        "updateTime": order.update_ms,
        "isWorking": order.working_ms >= 0,
        "workingTime": order.working_ms,
        "origQuoteOrderQty": f8(order.quote_order_qty),
        "selfTradePreventionMode": str(order.stp_mode),
    }
    _add_prevention(out, order)
    return out


def cancel_report(order: SimOrder) -> dict[str, Any]:
    """``DELETE /api/v3/order`` answer: ``clientOrderId`` names the cancel (its
    ``newClientOrderId``, or the one the venue made up), ``origClientOrderId`` the order."""
    out = order_result(order)
    out["origClientOrderId"] = order.client_order_id
    out["clientOrderId"] = order.cancel_client_id or order.client_order_id
    return out


def order_list(lst: OrderList) -> dict[str, Any]:
    """An order list as ``GET /api/v3/orderList`` shows it (and the head of the list
    answers of placing and cancelling)."""
    return {
        "orderListId": lst.list_id,
        "contingencyType": lst.contingency_type,
        "listStatusType": lst.status_type,
        "listOrderStatus": lst.order_status,
        "listClientOrderId": lst.list_client_order_id,
        "transactionTime": lst.transaction_ms,
        "symbol": lst.symbol,
        "orders": [
            {"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id}
            for o in lst.orders
        ],
    }


def list_cancel_report(lst: OrderList) -> dict[str, Any]:
    """The answer of a cancel that ended a whole list: the list and each leg's report."""
    return {**order_list(lst), "orderReports": [cancel_report(o) for o in lst.orders]}


def list_status_event(lst: OrderList, event_ms: int) -> dict[str, Any]:
    """The ``listStatus`` user-data event."""
    return {
        "e": "listStatus",
        "E": event_ms,
        "s": lst.symbol,
        "g": lst.list_id,
        "c": lst.contingency_type,
        "l": lst.status_type,
        "L": lst.order_status,
        "r": "NONE",
        "C": lst.list_client_order_id,
        "T": lst.transaction_ms,
        "O": [{"s": o.symbol, "i": o.order_id, "c": o.client_order_id} for o in lst.orders],
    }


def execution_report(ev: OrderExecuted) -> dict[str, Any]:
    """The ``executionReport`` user-data event."""
    o = ev.order
    canceled = ev.execution_type is ExecutionType.CANCELED
    out: dict[str, Any] = {
        "e": "executionReport",
        "E": ev.time_ms,
        "s": o.symbol,
        # On a cancel, "c" is the cancel's own id and "C" the cancelled order's.
        "c": o.cancel_client_id if canceled and o.cancel_client_id else o.client_order_id,
        "S": str(o.side),
        "o": str(o.type),
        "f": str(o.time_in_force or "GTC"),
        "q": f8(o.orig_qty),
        "p": f8(o.price),
        "P": f8(o.stop_price),
        "F": f8(o.iceberg_qty),
        "g": o.order_list_id,
        "C": o.client_order_id if canceled else "",
        "x": str(ev.execution_type),
        "X": str(o.status),
        "r": ev.reject_reason,
        "i": o.order_id,
        "l": f8(ev.last_qty),
        "z": f8(o.executed_qty),
        "L": f8(ev.last_price),
        "n": f8(ev.commission),
        "N": ev.commission_asset,
        "T": ev.time_ms,
        "t": ev.trade_id,
        "I": ev.execution_id,
        "w": o.is_open and o.working_ms >= 0,
        "m": ev.is_maker,
        "M": False,
        "O": o.time_ms,
        "Z": f8(o.cum_quote),
        "Y": f8(ev.last_qty * ev.last_price),
        "Q": f8(o.quote_order_qty),
        "V": str(o.stp_mode),
    }
    if o.working_ms >= 0:  # "W" only once the order has been on the book (not a stop's wait)
        out["W"] = o.working_ms
    if o.expiry_reason != "NONE":  # "eR" only on an expiry (set only then)
        out["eR"] = o.expiry_reason
    if o.prevented_match_id >= 0:  # the STP fields appear only on orders STP touched
        out["v"] = o.prevented_match_id
        out["A"] = f8(o.prevented_qty)
    if ev.execution_type is ExecutionType.TRADE_PREVENTION:
        out["U"] = ev.counter_order_id
        out["B"] = f8(ev.prevented_qty)
    return out


def account_position(account: Account, assets: tuple[str, ...], time_ms: int) -> dict[str, Any]:
    """The ``outboundAccountPosition`` user-data event."""
    return {
        "e": "outboundAccountPosition",
        "E": time_ms,
        "u": time_ms,
        "B": [
            {"a": a, "f": f8(account.balance(a)[0]), "l": f8(account.balance(a)[1])} for a in assets
        ],
    }


def account_info(account: Account, time_ms: int) -> dict[str, Any]:
    """``GET /api/v3/account`` answer."""
    maker = account.maker_fee
    taker = account.taker_fee
    return {
        "makerCommission": int(maker * 10_000),
        "takerCommission": int(taker * 10_000),
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": f8(maker),
            "taker": f8(taker),
            "buyer": f8(ZERO),
            "seller": f8(ZERO),
        },
        "canTrade": account.can_trade,
        "canWithdraw": account.can_withdraw,
        "canDeposit": True,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": time_ms,
        "accountType": "SPOT",
        "balances": [
            {"asset": a, "free": f8(account.balance(a)[0]), "locked": f8(account.balance(a)[1])}
            for a in account.assets()
        ],
        "permissions": ["SPOT"],
        "uid": account.account_id,
    }


def kline_row(c: Candle) -> list[Any]:
    """One REST kline: the 12-element array."""
    return [
        c.open_ms,
        ff(c.open),
        ff(c.high),
        ff(c.low),
        ff(c.close),
        ff(c.volume),
        c.close_ms,
        ff(c.quote_volume),
        c.trades,
        ff(c.taker_buy_volume),
        ff(c.taker_buy_quote_volume),
        "0",
    ]


def kline_event(c: Candle, event_ms: int, first_id: int, last_id: int) -> dict[str, Any]:
    """The ``@kline_<interval>`` stream payload; ``first_id``/``last_id`` are the candle's
    first and last trade ids (-1 when nothing traded in it)."""
    return {
        "e": "kline",
        "E": event_ms,
        "s": c.symbol,
        "k": {
            "t": c.open_ms,
            "T": c.close_ms,
            "s": c.symbol,
            "i": c.interval,
            "f": first_id,
            "L": last_id,
            "o": ff(c.open),
            "c": ff(c.close),
            "h": ff(c.high),
            "l": ff(c.low),
            "v": ff(c.volume),
            "n": c.trades,
            "x": c.closed,
            "q": ff(c.quote_volume),
            "V": ff(c.taker_buy_volume),
            "Q": ff(c.taker_buy_quote_volume),
            "B": "0",
        },
    }


# Fields that hold a time, in REST and WebSocket-API answers.
_TIME_KEYS = frozenset(
    (
        "serverTime",
        "time",
        "updateTime",
        "transactTime",
        "transactionTime",
        "workingTime",
        "openTime",
        "closeTime",
        "authorizedSince",
        "connectedSince",
        "T",
    )
)


def in_microseconds(value: Any) -> Any:
    """An answer with its times in microseconds (``X-MBX-TIME-UNIT: MICROSECOND``, or
    ``timeUnit=MICROSECOND`` on the WebSocket API's URL): the time fields, and a kline
    row's open and close times."""
    if isinstance(value, dict):
        return {
            k: v * 1000
            if k in _TIME_KEYS and isinstance(v, int) and not isinstance(v, bool)
            else in_microseconds(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        if len(value) == 12 and isinstance(value[0], int) and isinstance(value[6], int):
            return [v * 1000 if i in (0, 6) else v for i, v in enumerate(value)]  # a kline
        return [in_microseconds(v) for v in value]
    return value
