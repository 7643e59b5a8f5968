"""Binance's ``exchangeInfo`` symbols and their filters, as typed ``msgspec`` structs, and
the domain ``Instrument`` each becomes; also the entry the simulated venue serves for an
instrument (the same shape, written back).

Filters are a list tagged by ``filterType``; Binance adds new types from time to time, so
unknown ones are skipped, and known ones decode exactly (``Decimal``). A filter value of
zero means "this part of the filter is off", as Binance documents it. A symbol or a known
filter that lacks a required field or carries a wrong type is a ``MalformedAnswer``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from omnitrade_tui.domain.decimals import ZERO
from omnitrade_tui.domain.enums import OrderType
from omnitrade_tui.domain.instrument import (
    Instrument,
    LotSize,
    MinNotional,
    Notional,
    PercentPrice,
    PercentPriceBySide,
    PriceFilter,
)
from omnitrade_tui.venues.binance.order_schemas import convert, finite


class _Filter(msgspec.Struct, kw_only=True, rename="camel"):
    """Base of the filter structs: Binance's camelCase keys."""

    def __post_init__(self) -> None:
        finite(*(v for v in msgspec.structs.astuple(self) if isinstance(v, Decimal)))


class PriceFilterInfo(_Filter):
    """``PRICE_FILTER``."""

    min_price: Decimal = ZERO
    max_price: Decimal = ZERO
    tick_size: Decimal = ZERO


class LotSizeInfo(_Filter):
    """``LOT_SIZE`` and ``MARKET_LOT_SIZE``."""

    min_qty: Decimal = ZERO
    max_qty: Decimal = ZERO
    step_size: Decimal = ZERO


class NotionalInfo(_Filter):
    """``NOTIONAL``."""

    min_notional: Decimal = ZERO
    apply_min_to_market: bool = True
    max_notional: Decimal = ZERO
    apply_max_to_market: bool = False
    avg_price_mins: int = 5


class MinNotionalInfo(_Filter):
    """``MIN_NOTIONAL`` (legacy)."""

    min_notional: Decimal = ZERO
    apply_to_market: bool = True
    avg_price_mins: int = 5


class PercentPriceBySideInfo(_Filter):
    """``PERCENT_PRICE_BY_SIDE``."""

    bid_multiplier_up: Decimal = ZERO
    bid_multiplier_down: Decimal = ZERO
    ask_multiplier_up: Decimal = ZERO
    ask_multiplier_down: Decimal = ZERO
    avg_price_mins: int = 5


class PercentPriceInfo(_Filter):
    """``PERCENT_PRICE``."""

    multiplier_up: Decimal = ZERO
    multiplier_down: Decimal = ZERO
    avg_price_mins: int = 5


class MaxNumOrdersInfo(_Filter):
    """``MAX_NUM_ORDERS``."""

    max_num_orders: int


class MaxNumAlgoOrdersInfo(_Filter):
    """``MAX_NUM_ALGO_ORDERS``."""

    max_num_algo_orders: int


class IcebergPartsInfo(_Filter):
    """``ICEBERG_PARTS``."""

    limit: int


class SymbolInfo(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """One element of ``exchangeInfo``'s ``symbols``: what the domain's ``Instrument`` needs."""

    symbol: str
    base_asset: str
    quote_asset: str
    status: str = "TRADING"
    base_asset_precision: int = 8
    quote_asset_precision: int | None = None
    quote_precision: int = 8
    order_types: list[str] = []
    iceberg_allowed: bool = True
    oco_allowed: bool = True
    quote_order_qty_market_allowed: bool = True
    cancel_replace_allowed: bool = True
    default_self_trade_prevention_mode: str = "NONE"
    allowed_self_trade_prevention_modes: list[str] = []
    filters: list[dict[str, Any]] = []

    def to_instrument(self) -> Instrument:
        """The domain instrument (unknown order types and filter types left out).

        Raises:
            MalformedAnswer: a known filter is malformed.
        """
        filters: dict[str, Any] = {}
        for raw in self.filters:
            kind = raw.get("filterType")
            known = _FILTERS.get(kind) if isinstance(kind, str) else None
            if known is not None:
                field, wire, value_of = known
                filters[field] = value_of(convert(raw, wire, f"{kind} filter"))
        order_types = frozenset(
            OrderType(t) for t in self.order_types if t in OrderType.__members__
        )
        if self.allowed_self_trade_prevention_modes:
            filters["allowed_stp_modes"] = tuple(self.allowed_self_trade_prevention_modes)
        quote_precision = self.quote_asset_precision
        return Instrument(
            symbol=self.symbol,
            base_asset=self.base_asset,
            quote_asset=self.quote_asset,
            status=self.status,
            base_precision=self.base_asset_precision,
            quote_precision=self.quote_precision if quote_precision is None else quote_precision,
            order_types=order_types or frozenset(OrderType),
            iceberg_allowed=self.iceberg_allowed,
            oco_allowed=self.oco_allowed,
            quote_order_qty_market_allowed=self.quote_order_qty_market_allowed,
            cancel_replace_allowed=self.cancel_replace_allowed,
            default_stp_mode=self.default_self_trade_prevention_mode,
            **filters,
        )


def _fields(wire: Any) -> dict[str, Any]:
    return msgspec.structs.asdict(wire)


# filterType -> (the Instrument field, the filter's struct, its domain value from the struct)
_FILTERS: dict[str, tuple[str, type[_Filter], Callable[[Any], object]]] = {
    "PRICE_FILTER": ("price_filter", PriceFilterInfo, lambda w: PriceFilter(**_fields(w))),
    "LOT_SIZE": ("lot_size", LotSizeInfo, lambda w: LotSize(**_fields(w))),
    "MARKET_LOT_SIZE": ("market_lot_size", LotSizeInfo, lambda w: LotSize(**_fields(w))),
    "NOTIONAL": ("notional", NotionalInfo, lambda w: Notional(**_fields(w))),
    "MIN_NOTIONAL": ("min_notional", MinNotionalInfo, lambda w: MinNotional(**_fields(w))),
    "PERCENT_PRICE_BY_SIDE": (
        "percent_price_by_side",
        PercentPriceBySideInfo,
        lambda w: PercentPriceBySide(**_fields(w)),
    ),
    "PERCENT_PRICE": ("percent_price", PercentPriceInfo, lambda w: PercentPrice(**_fields(w))),
    "MAX_NUM_ORDERS": ("max_num_orders", MaxNumOrdersInfo, lambda w: w.max_num_orders),
    "MAX_NUM_ALGO_ORDERS": (
        "max_num_algo_orders",
        MaxNumAlgoOrdersInfo,
        lambda w: w.max_num_algo_orders,
    ),
    "ICEBERG_PARTS": ("iceberg_parts", IcebergPartsInfo, lambda w: w.limit),
}


def instrument_of(entry: Any) -> Instrument:
    """The domain instrument of one element of ``exchangeInfo``'s ``symbols`` array.

    Raises:
        MalformedAnswer: not a symbol entry (a field missing or of the wrong type).
    """
    return convert(entry, SymbolInfo, "exchangeInfo symbol").to_instrument()


def symbol_entry(inst: Instrument) -> dict[str, Any]:
    """The ``exchangeInfo`` symbol entry for an instrument (the simulated venue serves it)."""
    filters: list[dict[str, Any]] = []
    pf = inst.price_filter
    if pf:
        filters.append(
            {
                "filterType": "PRICE_FILTER",
                "minPrice": _f8(pf.min_price),
                "maxPrice": _f8(pf.max_price),
                "tickSize": _f8(pf.tick_size),
            }
        )
    if inst.lot_size:
        filters.append(_lot_json("LOT_SIZE", inst.lot_size))
    if inst.iceberg_parts is not None:
        filters.append({"filterType": "ICEBERG_PARTS", "limit": inst.iceberg_parts})
    if inst.market_lot_size:
        filters.append(_lot_json("MARKET_LOT_SIZE", inst.market_lot_size))
    ppbs = inst.percent_price_by_side
    if ppbs:
        filters.append(
            {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                "bidMultiplierUp": str(ppbs.bid_multiplier_up),
                "bidMultiplierDown": str(ppbs.bid_multiplier_down),
                "askMultiplierUp": str(ppbs.ask_multiplier_up),
                "askMultiplierDown": str(ppbs.ask_multiplier_down),
                "avgPriceMins": ppbs.avg_price_mins,
            }
        )
    if inst.percent_price:
        pp = inst.percent_price
        filters.append(
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": str(pp.multiplier_up),
                "multiplierDown": str(pp.multiplier_down),
                "avgPriceMins": pp.avg_price_mins,
            }
        )
    if inst.notional:
        n = inst.notional
        filters.append(
            {
                "filterType": "NOTIONAL",
                "minNotional": _f8(n.min_notional),
                "applyMinToMarket": n.apply_min_to_market,
                "maxNotional": _f8(n.max_notional),
                "applyMaxToMarket": n.apply_max_to_market,
                "avgPriceMins": n.avg_price_mins,
            }
        )
    if inst.min_notional:
        m = inst.min_notional
        filters.append(
            {
                "filterType": "MIN_NOTIONAL",
                "minNotional": _f8(m.min_notional),
                "applyToMarket": m.apply_to_market,
                "avgPriceMins": m.avg_price_mins,
            }
        )
    if inst.max_num_orders is not None:
        filters.append({"filterType": "MAX_NUM_ORDERS", "maxNumOrders": inst.max_num_orders})
    if inst.max_num_algo_orders is not None:
        filters.append(
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": inst.max_num_algo_orders}
        )
    return {
        "symbol": inst.symbol,
        "status": inst.status,
        "baseAsset": inst.base_asset,
        "baseAssetPrecision": inst.base_precision,
        "quoteAsset": inst.quote_asset,
        "quotePrecision": inst.quote_precision,
        "quoteAssetPrecision": inst.quote_precision,
        "baseCommissionPrecision": inst.base_precision,
        "quoteCommissionPrecision": inst.quote_precision,
        "orderTypes": sorted(str(t) for t in inst.order_types),
        "icebergAllowed": inst.iceberg_allowed,
        "ocoAllowed": inst.oco_allowed,
        "otoAllowed": False,
        "opoAllowed": False,
        "quoteOrderQtyMarketAllowed": inst.quote_order_qty_market_allowed,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": inst.cancel_replace_allowed,
        "amendAllowed": False,
        "pegInstructionsAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": filters,
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": inst.default_stp_mode,
        "allowedSelfTradePreventionModes": list(inst.allowed_stp_modes),
    }


def _f8(value: Decimal) -> str:
    return f"{value:.8f}"


def _lot_json(kind: str, lot: LotSize) -> dict[str, Any]:
    return {
        "filterType": kind,
        "minQty": _f8(lot.min_qty),
        "maxQty": _f8(lot.max_qty),
        "stepSize": _f8(lot.step_size),
    }
