"""Orders through ccxt's unified REST methods: the order manager's ``ExecutionPort``.

Every order carries our own client order id (ccxt's unified ``clientOrderId`` parameter,
Binance's ``newClientOrderId``), so an answer that never comes is settled by asking the
venue about that id (``fetch_order``), never by sending again: ``place`` returns the order
``UNKNOWN`` when ccxt raises a network error, and ``settle`` turns it into its true state
(``REJECTED`` when the venue says it has no such order).

What ccxt does not unify is said, not faked: OCO lists are refused (``CcxtRefused``), and
cancel-replace goes through ``edit_order`` with Binance's cancel-by-client-id parameter, so
on another venue it may be a cancel and a new order rather than one atomic request. ccxt's
order ids are strings; the domain's are integers, so a venue with non-numeric ids cannot be
traded here yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import ccxt
import msgspec

from omnitrade_tui.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.domain.models import Balance, Fill, Order, OrderRequest
from omnitrade_tui.domain.venue import qualify, venue_of
from omnitrade_tui.venues.ccxt.exchange import CcxtOutcomeUnknown, CcxtRefused, dec, venue_error

_SETTLE_ATTEMPTS = 6

_STATUS = {
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}


def _int_id(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise CcxtRefused(f"the venue's id {value!r} is not a number: not supported") from None


def _ms(value: Any) -> int:
    return int(value) if value else 0


def order_of(raw: Mapping[str, Any], symbol: str) -> Order:
    """A domain order from ccxt's unified order structure (``symbol`` is the market id)."""
    filled = dec(raw.get("filled"))
    status_name = str(raw.get("status") or "open")
    status = _STATUS.get(status_name)
    if status is None:  # "open"
        status = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.NEW
    type_name = str(raw.get("type") or "limit").upper()
    order_type = OrderType(type_name) if type_name in OrderType.__members__ else OrderType.LIMIT
    if order_type is OrderType.LIMIT and raw.get("postOnly"):
        order_type = OrderType.LIMIT_MAKER
    tif = str(raw.get("timeInForce") or "")
    price = dec(raw.get("price"))
    stop = dec(raw.get("triggerPrice") or raw.get("stopPrice"))
    created = _ms(raw.get("timestamp"))
    return Order(
        symbol=symbol,
        client_order_id=str(raw.get("clientOrderId") or ""),
        order_id=_int_id(raw.get("id")),
        side=Side(str(raw.get("side") or "buy").upper()),
        type=order_type,
        status=status,
        quantity=dec(raw.get("amount")),
        price=price if price > 0 else None,
        stop_price=stop if stop > 0 else None,
        time_in_force=TimeInForce(tif) if tif in TimeInForce.__members__ else None,
        filled_qty=filled,
        cum_quote_qty=dec(raw.get("cost")),
        created_ms=created,
        updated_ms=_ms(raw.get("lastUpdateTimestamp") or raw.get("lastTradeTimestamp")) or created,
    )


def fill_of(raw: Mapping[str, Any], order: Order | None, symbol: str) -> Fill:
    """A domain fill from ccxt's unified trade structure (one of ours)."""
    fee = raw.get("fee") or {}
    side = raw.get("side")
    order_id = _int_id(raw.get("order"))
    return Fill(
        symbol=symbol,
        trade_id=_int_id(raw.get("id")) or 0,
        order_id=order_id if order_id is not None else (order.order_id if order else 0) or 0,
        client_order_id=order.client_order_id if order else "",
        side=Side(str(side).upper()) if side else (order.side if order else Side.BUY),
        price=dec(raw.get("price")),
        qty=dec(raw.get("amount")),
        commission=dec(fee.get("cost")),
        # An asset is held on a venue: its name carries the venue as the symbol does.
        commission_asset=qualify(str(fee.get("currency") or ""), venue_of(symbol))
        if fee.get("currency")
        else "",
        is_maker=raw.get("takerOrMaker") == "maker",
        time_ms=_ms(raw.get("timestamp")) or (order.updated_ms if order else 0),
    )


class CcxtExecution:
    """Order requests to a ccxt venue, with ``UNKNOWN`` settled by query.

    ``symbols`` maps the domain's instrument id (the market id, ``@venue`` when the venue
    is not the profile's first) to ccxt's unified symbol; ``venue`` is that qualifier.
    """

    def __init__(self, exchange: Any, symbols: Mapping[str, str], venue: str = "") -> None:
        self.exchange = exchange
        self.venue = venue
        self.symbols = dict(symbols)
        self._ids = {unified: market_id for market_id, unified in self.symbols.items()}

    def unified(self, symbol: str) -> str:
        """ccxt's name of a market id."""
        return self.symbols.get(symbol, symbol)

    def market_id(self, unified: str) -> str:
        """The market id of a ccxt unified symbol."""
        return self._ids.get(unified, unified)

    def _order(self, raw: Mapping[str, Any], fallback: str = "") -> Order:
        return order_of(raw, self.market_id(str(raw.get("symbol") or "")) or fallback)

    async def _call(self, method: str, *args: Any) -> Any:
        try:
            return await getattr(self.exchange, method)(*args)
        except ccxt.BaseError as exc:
            raise venue_error(exc) from exc

    def _request(
        self, req: OrderRequest
    ) -> tuple[str, str, float | None, float | None, dict[str, Any]]:
        params: dict[str, Any] = {"clientOrderId": req.client_order_id}
        if req.type in (OrderType.LIMIT, OrderType.MARKET):
            kind = req.type.lower()
        else:
            kind = str(req.type)  # Binance's own type names; other venues refuse them
        if req.stop_price is not None:
            params["triggerPrice"] = float(req.stop_price)
        if req.time_in_force is not None:
            params["timeInForce"] = str(req.time_in_force)
        if req.quote_order_qty is not None:
            params["quoteOrderQty"] = float(req.quote_order_qty)
        if req.iceberg_qty is not None:
            params["icebergQty"] = float(req.iceberg_qty)
        if req.stp_mode is not None:
            params["selfTradePreventionMode"] = str(req.stp_mode)
        amount = float(req.quantity) if req.quantity is not None else None
        price = float(req.price) if req.price is not None else None
        return self.unified(req.symbol), kind, amount, price, params

    async def place(self, req: OrderRequest) -> tuple[Order, list[Fill]]:
        """Send a new order; the order as the venue answered, and its immediate fills.

        Returns an order with status ``UNKNOWN`` (and no fills) when the answer is lost.

        Raises:
            CcxtRefused: the venue refused the order.
        """
        symbol, kind, amount, price, params = self._request(req)
        try:
            raw = await self._call(
                "create_order", symbol, kind, str(req.side).lower(), amount, price, params
            )
        except CcxtRefused as exc:
            if isinstance(exc, CcxtOutcomeUnknown):
                return self.unknown(req), []
            if exc.code == -2010 and "duplicate" in exc.msg.lower():
                return await self.query(req.symbol, req.client_order_id), []
            raise
        order = self._order(raw, req.symbol)
        if not order.client_order_id:
            order = msgspec.structs.replace(order, client_order_id=req.client_order_id)
        fills = [fill_of(t, order, req.symbol) for t in raw.get("trades") or ()]
        return order, [f for f in fills if f.trade_id]

    async def place_oco(
        self, above: OrderRequest, below: OrderRequest, list_client_order_id: str | None = None
    ) -> tuple[list[Order], list[Fill]]:
        """OCO lists are not part of ccxt's unified API: always refused, nothing sent.

        Raises:
            CcxtRefused: always.
        """
        raise CcxtRefused("OCO orders are not available on a ccxt venue")

    @staticmethod
    def unknown(req: OrderRequest) -> Order:
        """The order as we know it when the venue's answer was lost."""
        return req.as_order(OrderStatus.UNKNOWN)

    async def query(
        self, symbol: str, client_order_id: str | None = None, *, order_id: int | None = None
    ) -> Order:
        """The venue's view of one order, by client order id or by the venue's id."""
        if order_id is None and client_order_id is None:
            raise ValueError("query needs a client order id or an order id")
        params = {} if order_id is not None else {"clientOrderId": client_order_id}
        raw = await self._call(
            "fetch_order",
            str(order_id) if order_id is not None else None,
            self.unified(symbol),
            params,
        )
        return self._order(raw, symbol)

    async def settle(self, order: Order, pause_s: float = 0.5) -> Order:
        """Resolve an ``UNKNOWN`` order by asking the venue, a few times if need be.

        The venue not knowing the id (ccxt's ``OrderNotFound``) means the order was never
        accepted: it is ``REJECTED``. If the venue cannot be asked, it stays ``UNKNOWN``.
        """
        for attempt in range(_SETTLE_ATTEMPTS):
            try:
                return await self.query(order.symbol, order.client_order_id)
            except CcxtRefused as exc:
                if isinstance(exc.__cause__, ccxt.OrderNotFound):
                    return msgspec.structs.replace(
                        order,
                        status=OrderStatus.REJECTED,
                        reject_reason="the venue never received the order",
                    )
                await asyncio.sleep(pause_s * (attempt + 1))
        return order

    async def cancel(self, symbol: str, client_order_id: str) -> Order:
        """Cancel one order by our client id; the cancelled order.

        Raises:
            CcxtOutcomeUnknown: the answer was lost.
            CcxtRefused: the venue refused (the order is not open).
        """
        raw = await self._call(
            "cancel_order", None, self.unified(symbol), {"clientOrderId": client_order_id}
        )
        # Binance's cancel answer names the cancel's own id as clientOrderId (the order's
        # is origClientOrderId), and ccxt passes it on: the order cancelled is ours by the
        # id it was asked for.
        return msgspec.structs.replace(self._order(raw, symbol), client_order_id=client_order_id)

    async def cancel_all(self, symbol: str) -> list[Order]:
        """Cancel every open order on ``symbol`` (an empty list when none was open)."""
        try:
            raws = await self._call("cancel_all_orders", self.unified(symbol))
        except CcxtRefused as exc:
            if exc.code == -2011:
                return []
            raise
        return [self._cancelled(r, symbol) for r in raws or ()]

    def _cancelled(self, raw: Mapping[str, Any], symbol: str) -> Order:
        """A cancel-all entry: the order under its own client id, which a Binance-like
        venue gives as ``origClientOrderId`` (its ``clientOrderId`` is the cancel's)."""
        order = self._order(raw, symbol)
        info = raw.get("info")
        original = info.get("origClientOrderId") if isinstance(info, Mapping) else None
        if isinstance(original, str) and original:
            order = msgspec.structs.replace(order, client_order_id=original)
        return order

    async def cancel_list(self, symbol: str, order_list_id: int) -> list[Order]:
        """Order lists are not part of ccxt's unified API.

        Raises:
            CcxtRefused: always.
        """
        raise CcxtRefused("order lists are not available on a ccxt venue")

    async def replace(
        self, cancel_client_order_id: str, new: OrderRequest
    ) -> tuple[Order, Order, list[Fill]]:
        """Cancel-replace through ``edit_order``: the old order (as cancelled), the new one,
        its fills.

        Raises:
            CcxtRefused: refused, or the venue cannot edit orders.
            CcxtOutcomeUnknown: the answer was lost; either part may or may not be done.
        """
        if not self.exchange.has.get("editOrder"):
            raise CcxtRefused(f"{self.exchange.id} cannot amend orders through ccxt")
        symbol, kind, amount, price, params = self._request(new)
        params["cancelOrigClientOrderId"] = cancel_client_order_id
        raw = await self._call(
            "edit_order", None, symbol, kind, str(new.side).lower(), amount, price, params
        )
        placed = self._order(raw, new.symbol)
        if not placed.client_order_id:
            placed = msgspec.structs.replace(placed, client_order_id=new.client_order_id)
        canceled = await self.query(new.symbol, cancel_client_order_id)
        fills = [fill_of(t, placed, new.symbol) for t in raw.get("trades") or ()]
        return canceled, placed, [f for f in fills if f.trade_id]

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        """The venue's open orders (of one symbol, or of every symbol this venue trades).

        "Every symbol" is asked one symbol at a time: on Binance the all-symbols query
        weighs as much as forty single ones, and ccxt's throttle makes every reconciliation
        wait for that weight. An order open on a symbol outside ``symbols`` is not seen.
        """
        if symbol is not None:
            raws = await self._call("fetch_open_orders", self.unified(symbol))
            return [self._order(r, symbol) for r in raws]
        out: list[Order] = []
        for name in self.symbols:
            out.extend(await self.open_orders(name))
        return out

    async def balances(self) -> list[Balance]:
        """Every non-zero balance of the account."""
        raw = await self._call("fetch_balance")
        return balances_of(raw, self.venue)

    async def fills_since(self, symbol: str, from_trade_id: int | None) -> list[Fill]:
        """Our fills on ``symbol`` with trade id >= ``from_trade_id``, oldest first, a page of
        up to 1,000 (Binance's ``fromId``); ``None`` gives the most recent page."""
        params: dict[str, Any] = {}
        if from_trade_id is not None:
            params["fromId"] = from_trade_id
        raws = await self._call("fetch_my_trades", self.unified(symbol), None, 1000, params)
        fills = [fill_of(t, None, symbol) for t in raws]
        return sorted(fills, key=lambda f: f.trade_id)


def balances_of(raw: Mapping[str, Any], venue: str = "") -> list[Balance]:
    """The non-zero balances of ccxt's unified balance structure, each asset named as held
    on ``venue`` (``USDT@kraken``; bare on the default venue)."""
    free = raw.get("free") or {}
    used = raw.get("used") or {}
    out = []
    for asset in sorted(set(free) | set(used)):
        f, u = dec(free.get(asset)), dec(used.get(asset))
        if f or u:
            out.append(Balance(asset=qualify(asset, venue), free=f, locked=u))
    return out
