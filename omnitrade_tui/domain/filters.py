"""Validation of an order request against a symbol's exchange filters.

Every rule of the reference's §4.4 that applies to a spot order is checked, and *every*
violation is returned (not just the first), each with Binance's filter name, the field at
fault and a sentence a trader understands, so the ticket can show all reasons beside the
fields at once. The venue's own answer to the same mistake is ``-1013 Filter failure: NAME``.
"""

from __future__ import annotations

import math
from decimal import Decimal

import msgspec

from omnitrade_tui.domain.decimals import fmt, is_multiple, neighbours
from omnitrade_tui.domain.enums import OrderType, Side
from omnitrade_tui.domain.instrument import Instrument, LotSize
from omnitrade_tui.domain.models import OrderRequest


class FilterViolation(msgspec.Struct, frozen=True):
    """One broken rule: the Binance filter name, the request field, and an explanation."""

    filter: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.filter}: {self.message}"


class ValidationContext(msgspec.Struct, frozen=True, kw_only=True):
    """Market and account facts some filters need; unknown facts skip their checks.

    ``avg_price`` is the venue's average (or reference) price used by PERCENT_PRICE* and by
    the notional of MARKET orders; ``open_orders`` and ``open_algo_orders`` count this
    account's open orders on the symbol.
    """

    avg_price: Decimal | None = None
    open_orders: int | None = None
    open_algo_orders: int | None = None


_NO_CONTEXT = ValidationContext()


def validate_order(
    instrument: Instrument, request: OrderRequest, context: ValidationContext = _NO_CONTEXT
) -> list[FilterViolation]:
    """Return every filter the request breaks (an empty list means it passes).

    Structural problems (a LIMIT without a price, a MARKET with both quantity and quote
    amount, an order type the symbol does not allow) are reported with filter name
    ``ORDER``, since Binance rejects them before its filters run.
    """
    out: list[FilterViolation] = []
    _check_shape(instrument, request, out)
    _check_price_filter(instrument, request, out)
    _check_lot_sizes(instrument, request, out)
    _check_notional(instrument, request, context, out)
    _check_percent_price(instrument, request, context, out)
    _check_counts(instrument, request, context, out)
    _check_iceberg(instrument, request, out)
    return out


def _check_shape(inst: Instrument, req: OrderRequest, out: list[FilterViolation]) -> None:
    def bad(field: str, message: str) -> None:
        out.append(FilterViolation("ORDER", field, message))

    if req.symbol != inst.symbol:
        bad("symbol", f"the request is for {req.symbol} but the instrument is {inst.symbol}")
    if not inst.is_trading:
        bad("symbol", f"{inst.symbol} is not trading (status {inst.status})")
    if req.type not in inst.order_types:
        bad("type", f"{inst.symbol} does not accept {req.type} orders")
    if req.type.has_price and req.price is None:
        bad("price", f"a {req.type} order needs a price")
    if not req.type.has_price and req.price is not None:
        bad("price", f"a {req.type} order takes no price")
    if req.type.has_stop and req.stop_price is None:
        bad("stop_price", f"a {req.type} order needs a stop price")
    if req.type.needs_time_in_force and req.time_in_force is None:
        bad("time_in_force", f"a {req.type} order needs a time in force (GTC, IOC or FOK)")
    if req.type is OrderType.MARKET:
        if req.quantity is None and req.quote_order_qty is None:
            bad("quantity", "a MARKET order needs a quantity or a quote amount")
        if req.quantity is not None and req.quote_order_qty is not None:
            bad("quantity", "give either a quantity or a quote amount, not both")
        if req.quote_order_qty is not None and not inst.quote_order_qty_market_allowed:
            bad("quote_order_qty", f"{inst.symbol} does not accept MARKET orders by quote amount")
    elif req.quantity is None:
        bad("quantity", f"a {req.type} order needs a quantity")
    elif req.quote_order_qty is not None:
        bad("quote_order_qty", "only MARKET orders take a quote amount")
    for field, value in (
        ("quantity", req.quantity),
        ("quote_order_qty", req.quote_order_qty),
        ("price", req.price),
        ("stop_price", req.stop_price),
    ):
        if value is not None and value <= 0:
            bad(field, f"{field.replace('_', ' ')} must be greater than zero, got {fmt(value)}")


def _check_price_filter(inst: Instrument, req: OrderRequest, out: list[FilterViolation]) -> None:
    pf = inst.price_filter
    if pf is None:
        return
    for field, value in (("price", req.price), ("stop_price", req.stop_price)):
        if value is None or value <= 0:
            continue
        label = field.replace("_", " ")
        # Out of range is the one reason given: the nearest multiples would be invalid too.
        if pf.min_price > 0 and value < pf.min_price:
            out.append(
                FilterViolation(
                    "PRICE_FILTER",
                    field,
                    f"{label} {fmt(value)} is below the minimum {fmt(pf.min_price)}",
                )
            )
        elif pf.max_price > 0 and value > pf.max_price:
            out.append(
                FilterViolation(
                    "PRICE_FILTER",
                    field,
                    f"{label} {fmt(value)} is above the maximum {fmt(pf.max_price)}",
                )
            )
        elif not is_multiple(value, pf.tick_size):
            low, high = neighbours(value, pf.tick_size)
            out.append(
                FilterViolation(
                    "PRICE_FILTER",
                    field,
                    f"{label} {fmt(value)} is not a multiple of the tick {fmt(pf.tick_size)}; "
                    f"nearest valid: {fmt(low)} or {fmt(high)}",
                )
            )


def _check_lot(
    name: str, lot: LotSize, field: str, qty: Decimal, out: list[FilterViolation]
) -> None:
    label = field.replace("_", " ")
    if lot.min_qty > 0 and qty < lot.min_qty:
        out.append(
            FilterViolation(
                name, field, f"{label} {fmt(qty)} is below the minimum {fmt(lot.min_qty)}"
            )
        )
    elif lot.max_qty > 0 and qty > lot.max_qty:
        out.append(
            FilterViolation(
                name, field, f"{label} {fmt(qty)} is above the maximum {fmt(lot.max_qty)}"
            )
        )
    elif not is_multiple(qty, lot.step_size):
        low, high = neighbours(qty, lot.step_size)
        out.append(
            FilterViolation(
                name,
                field,
                f"{label} {fmt(qty)} is not a multiple of the step {fmt(lot.step_size)}; "
                f"nearest valid: {fmt(low)} or {fmt(high)}",
            )
        )


def _check_lot_sizes(inst: Instrument, req: OrderRequest, out: list[FilterViolation]) -> None:
    qty = req.quantity
    if qty is None or qty <= 0:
        return
    if inst.lot_size is not None:
        _check_lot("LOT_SIZE", inst.lot_size, "quantity", qty, out)
        if req.iceberg_qty is not None and req.iceberg_qty > 0:
            _check_lot("LOT_SIZE", inst.lot_size, "iceberg_qty", req.iceberg_qty, out)
    if req.type.executes_as_market and inst.market_lot_size is not None:
        _check_lot("MARKET_LOT_SIZE", inst.market_lot_size, "quantity", qty, out)


def _reference_price(req: OrderRequest, ctx: ValidationContext) -> Decimal | None:
    """The price a notional is computed with: the limit price, else the average price."""
    if req.price is not None:
        return req.price
    if ctx.avg_price is not None:
        return ctx.avg_price
    return req.stop_price


def _check_notional(
    inst: Instrument, req: OrderRequest, ctx: ValidationContext, out: list[FilterViolation]
) -> None:
    is_market = req.type.executes_as_market
    if req.quote_order_qty is not None:
        notional: Decimal | None = req.quote_order_qty
    else:
        price = _reference_price(req, ctx)
        notional = price * req.quantity if price is not None and req.quantity else None
    if notional is None or notional <= 0:
        return
    field = "quote_order_qty" if req.quote_order_qty is not None else "quantity"
    n = inst.notional
    if n is not None:
        if (
            n.min_notional > 0
            and notional < n.min_notional
            and (n.apply_min_to_market or not is_market)
        ):
            out.append(
                FilterViolation(
                    "NOTIONAL",
                    field,
                    f"order value {fmt(notional)} {inst.quote_asset} is below the minimum "
                    f"{fmt(n.min_notional)} {inst.quote_asset}",
                )
            )
        if (
            n.max_notional > 0
            and notional > n.max_notional
            and (n.apply_max_to_market or not is_market)
        ):
            out.append(
                FilterViolation(
                    "NOTIONAL",
                    field,
                    f"order value {fmt(notional)} {inst.quote_asset} is above the maximum "
                    f"{fmt(n.max_notional)} {inst.quote_asset}",
                )
            )
    m = inst.min_notional
    if (
        m is not None
        and m.min_notional > 0
        and notional < m.min_notional
        and (m.apply_to_market or not is_market)
    ):
        out.append(
            FilterViolation(
                "MIN_NOTIONAL",
                field,
                f"order value {fmt(notional)} {inst.quote_asset} is below the minimum "
                f"{fmt(m.min_notional)} {inst.quote_asset}",
            )
        )


def _check_percent_price(
    inst: Instrument, req: OrderRequest, ctx: ValidationContext, out: list[FilterViolation]
) -> None:
    avg = ctx.avg_price
    if avg is None or avg <= 0 or req.price is None or req.price <= 0:
        return
    ppbs = inst.percent_price_by_side
    if ppbs is not None:
        if req.side is Side.BUY:
            low, high = avg * ppbs.bid_multiplier_down, avg * ppbs.bid_multiplier_up
        else:
            low, high = avg * ppbs.ask_multiplier_down, avg * ppbs.ask_multiplier_up
        _band("PERCENT_PRICE_BY_SIDE", req, avg, low, high, out)
    pp = inst.percent_price
    if pp is not None:
        _band("PERCENT_PRICE", req, avg, avg * pp.multiplier_down, avg * pp.multiplier_up, out)


def _band(
    name: str,
    req: OrderRequest,
    avg: Decimal,
    low: Decimal,
    high: Decimal,
    out: list[FilterViolation],
) -> None:
    assert req.price is not None
    if req.price < low or req.price > high:
        out.append(
            FilterViolation(
                name,
                "price",
                f"{req.side.lower()} price {fmt(req.price)} is outside the allowed band "
                f"{fmt(low)} to {fmt(high)} around the average price {fmt(avg)}",
            )
        )


def _check_counts(
    inst: Instrument, req: OrderRequest, ctx: ValidationContext, out: list[FilterViolation]
) -> None:
    if (
        inst.max_num_orders is not None
        and ctx.open_orders is not None
        and ctx.open_orders + 1 > inst.max_num_orders
    ):
        out.append(
            FilterViolation(
                "MAX_NUM_ORDERS",
                "symbol",
                f"{ctx.open_orders} orders are open on {inst.symbol}; the limit is "
                f"{inst.max_num_orders}. Cancel one first",
            )
        )
    if (
        req.type.has_stop
        and inst.max_num_algo_orders is not None
        and ctx.open_algo_orders is not None
        and ctx.open_algo_orders + 1 > inst.max_num_algo_orders
    ):
        out.append(
            FilterViolation(
                "MAX_NUM_ALGO_ORDERS",
                "type",
                f"{ctx.open_algo_orders} stop orders are open on {inst.symbol}; the limit is "
                f"{inst.max_num_algo_orders}",
            )
        )


def _check_iceberg(inst: Instrument, req: OrderRequest, out: list[FilterViolation]) -> None:
    if req.iceberg_qty is None:
        return
    if not inst.iceberg_allowed:
        out.append(
            FilterViolation("ORDER", "iceberg_qty", f"{inst.symbol} does not allow icebergs")
        )
        return
    if req.iceberg_qty <= 0 or req.quantity is None or inst.iceberg_parts is None:
        return
    parts = math.ceil(req.quantity / req.iceberg_qty)
    if parts > inst.iceberg_parts:
        out.append(
            FilterViolation(
                "ICEBERG_PARTS",
                "iceberg_qty",
                f"quantity {fmt(req.quantity)} in visible parts of {fmt(req.iceberg_qty)} makes "
                f"{parts} parts; the limit is {inst.iceberg_parts}",
            )
        )
