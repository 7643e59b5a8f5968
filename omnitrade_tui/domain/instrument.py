"""A tradable symbol, its precisions and its exchange filters, built from ``exchangeInfo``.

Filter values are exact ``Decimal``; a value of zero means "this part of the filter is off",
as Binance documents it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec

from omnitrade_tui.domain.decimals import ZERO, decimals_of, to_decimal
from omnitrade_tui.domain.enums import OrderType


class PriceFilter(msgspec.Struct, frozen=True, kw_only=True):
    """``PRICE_FILTER``: bounds and tick of ``price`` and ``stopPrice``."""

    min_price: Decimal = ZERO
    max_price: Decimal = ZERO
    tick_size: Decimal = ZERO


class LotSize(msgspec.Struct, frozen=True, kw_only=True):
    """``LOT_SIZE`` (or ``MARKET_LOT_SIZE``): bounds and step of the quantity."""

    min_qty: Decimal = ZERO
    max_qty: Decimal = ZERO
    step_size: Decimal = ZERO


class Notional(msgspec.Struct, frozen=True, kw_only=True):
    """``NOTIONAL``: bounds of price x quantity, optionally for MARKET orders too."""

    min_notional: Decimal = ZERO
    apply_min_to_market: bool = True
    max_notional: Decimal = ZERO
    apply_max_to_market: bool = False
    avg_price_mins: int = 5


class MinNotional(msgspec.Struct, frozen=True, kw_only=True):
    """``MIN_NOTIONAL`` (legacy): lower bound of price x quantity."""

    min_notional: Decimal = ZERO
    apply_to_market: bool = True
    avg_price_mins: int = 5


class PercentPriceBySide(msgspec.Struct, frozen=True, kw_only=True):
    """``PERCENT_PRICE_BY_SIDE``: the price band around the average price, per side."""

    bid_multiplier_up: Decimal
    bid_multiplier_down: Decimal
    ask_multiplier_up: Decimal
    ask_multiplier_down: Decimal
    avg_price_mins: int = 5


class PercentPrice(msgspec.Struct, frozen=True, kw_only=True):
    """``PERCENT_PRICE``: the price band around the average price, both sides alike."""

    multiplier_up: Decimal
    multiplier_down: Decimal
    avg_price_mins: int = 5


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    """A spot symbol with everything order entry needs to get an order accepted."""

    symbol: str
    base_asset: str
    quote_asset: str
    status: str = "TRADING"
    base_precision: int = 8
    quote_precision: int = 8
    order_types: frozenset[OrderType] = frozenset(OrderType)
    iceberg_allowed: bool = True
    oco_allowed: bool = True
    quote_order_qty_market_allowed: bool = True
    cancel_replace_allowed: bool = True
    price_filter: PriceFilter | None = None
    lot_size: LotSize | None = None
    market_lot_size: LotSize | None = None
    notional: Notional | None = None
    min_notional: MinNotional | None = None
    percent_price_by_side: PercentPriceBySide | None = None
    percent_price: PercentPrice | None = None
    max_num_orders: int | None = None
    max_num_algo_orders: int | None = None
    iceberg_parts: int | None = None
    default_stp_mode: str = "NONE"
    # The self-trade prevention modes an order may name (exchangeInfo's
    # allowedSelfTradePreventionModes; the four every Binance symbol has when it says none).
    allowed_stp_modes: tuple[str, ...] = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")

    @property
    def tick_size(self) -> Decimal:
        """The price increment, or zero when the symbol has no price filter."""
        return self.price_filter.tick_size if self.price_filter else ZERO

    @property
    def step_size(self) -> Decimal:
        """The quantity increment, or zero when the symbol has no lot size filter."""
        return self.lot_size.step_size if self.lot_size else ZERO

    @property
    def price_decimals(self) -> int:
        """Decimal places to show a price with (from the tick)."""
        return decimals_of(self.tick_size) if self.tick_size else self.quote_precision

    @property
    def quantity_decimals(self) -> int:
        """Decimal places to show a quantity with (from the step)."""
        return decimals_of(self.step_size) if self.step_size else self.base_precision

    @property
    def is_trading(self) -> bool:
        """Whether new orders are accepted."""
        return self.status == "TRADING"

    @classmethod
    def from_exchange_info(cls, entry: Mapping[str, Any]) -> Instrument:
        """Build an instrument from one element of ``exchangeInfo``'s ``symbols`` array.

        Unknown filter types are ignored (Binance adds new ones from time to time); known
        ones are parsed exactly. Raises ``KeyError`` or ``ValueError`` on a malformed entry.
        """
        kwargs: dict[str, Any] = {}
        for raw in entry.get("filters", ()):
            kind = raw.get("filterType")
            parser = _FILTER_PARSERS.get(kind)
            if parser is not None:
                field, value = parser(raw)
                kwargs[field] = value
        order_types = frozenset(
            OrderType(t) for t in entry.get("orderTypes", ()) if t in OrderType.__members__
        )
        stp_modes = entry.get("allowedSelfTradePreventionModes")
        if stp_modes:
            kwargs["allowed_stp_modes"] = tuple(str(m) for m in stp_modes)
        return cls(
            symbol=str(entry["symbol"]),
            base_asset=str(entry["baseAsset"]),
            quote_asset=str(entry["quoteAsset"]),
            status=str(entry.get("status", "TRADING")),
            base_precision=int(entry.get("baseAssetPrecision", 8)),
            quote_precision=int(entry.get("quoteAssetPrecision", entry.get("quotePrecision", 8))),
            order_types=order_types or frozenset(OrderType),
            iceberg_allowed=bool(entry.get("icebergAllowed", True)),
            oco_allowed=bool(entry.get("ocoAllowed", True)),
            quote_order_qty_market_allowed=bool(entry.get("quoteOrderQtyMarketAllowed", True)),
            cancel_replace_allowed=bool(entry.get("cancelReplaceAllowed", True)),
            default_stp_mode=str(entry.get("defaultSelfTradePreventionMode", "NONE")),
            **kwargs,
        )

    def to_exchange_info(self) -> dict[str, Any]:
        """The ``exchangeInfo`` symbol entry for this instrument (the simulated venue serves it)."""
        filters: list[dict[str, Any]] = []
        pf = self.price_filter
        if pf:
            filters.append(
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": _f8(pf.min_price),
                    "maxPrice": _f8(pf.max_price),
                    "tickSize": _f8(pf.tick_size),
                }
            )
        if self.lot_size:
            filters.append(_lot_json("LOT_SIZE", self.lot_size))
        if self.iceberg_parts is not None:
            filters.append({"filterType": "ICEBERG_PARTS", "limit": self.iceberg_parts})
        if self.market_lot_size:
            filters.append(_lot_json("MARKET_LOT_SIZE", self.market_lot_size))
        ppbs = self.percent_price_by_side
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
        if self.percent_price:
            pp = self.percent_price
            filters.append(
                {
                    "filterType": "PERCENT_PRICE",
                    "multiplierUp": str(pp.multiplier_up),
                    "multiplierDown": str(pp.multiplier_down),
                    "avgPriceMins": pp.avg_price_mins,
                }
            )
        if self.notional:
            n = self.notional
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
        if self.min_notional:
            m = self.min_notional
            filters.append(
                {
                    "filterType": "MIN_NOTIONAL",
                    "minNotional": _f8(m.min_notional),
                    "applyToMarket": m.apply_to_market,
                    "avgPriceMins": m.avg_price_mins,
                }
            )
        if self.max_num_orders is not None:
            filters.append({"filterType": "MAX_NUM_ORDERS", "maxNumOrders": self.max_num_orders})
        if self.max_num_algo_orders is not None:
            filters.append(
                {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": self.max_num_algo_orders}
            )
        return {
            "symbol": self.symbol,
            "status": self.status,
            "baseAsset": self.base_asset,
            "baseAssetPrecision": self.base_precision,
            "quoteAsset": self.quote_asset,
            "quotePrecision": self.quote_precision,
            "quoteAssetPrecision": self.quote_precision,
            "baseCommissionPrecision": self.base_precision,
            "quoteCommissionPrecision": self.quote_precision,
            "orderTypes": sorted(str(t) for t in self.order_types),
            "icebergAllowed": self.iceberg_allowed,
            "ocoAllowed": self.oco_allowed,
            "otoAllowed": False,
            "opoAllowed": False,
            "quoteOrderQtyMarketAllowed": self.quote_order_qty_market_allowed,
            "allowTrailingStop": False,
            "cancelReplaceAllowed": self.cancel_replace_allowed,
            "amendAllowed": False,
            "pegInstructionsAllowed": False,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": filters,
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": self.default_stp_mode,
            "allowedSelfTradePreventionModes": list(self.allowed_stp_modes),
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


def _d(raw: Mapping[str, Any], key: str) -> Decimal:
    value = raw.get(key, "0")
    return to_decimal(str(value))


def _parse_price_filter(raw: Mapping[str, Any]) -> tuple[str, object]:
    return "price_filter", PriceFilter(
        min_price=_d(raw, "minPrice"), max_price=_d(raw, "maxPrice"), tick_size=_d(raw, "tickSize")
    )


def _parse_lot(field: str) -> Any:
    def parse(raw: Mapping[str, Any]) -> tuple[str, object]:
        return field, LotSize(
            min_qty=_d(raw, "minQty"), max_qty=_d(raw, "maxQty"), step_size=_d(raw, "stepSize")
        )

    return parse


def _parse_notional(raw: Mapping[str, Any]) -> tuple[str, object]:
    return "notional", Notional(
        min_notional=_d(raw, "minNotional"),
        apply_min_to_market=bool(raw.get("applyMinToMarket", True)),
        max_notional=_d(raw, "maxNotional"),
        apply_max_to_market=bool(raw.get("applyMaxToMarket", False)),
        avg_price_mins=int(raw.get("avgPriceMins", 5)),
    )


def _parse_min_notional(raw: Mapping[str, Any]) -> tuple[str, object]:
    return "min_notional", MinNotional(
        min_notional=_d(raw, "minNotional"),
        apply_to_market=bool(raw.get("applyToMarket", True)),
        avg_price_mins=int(raw.get("avgPriceMins", 5)),
    )


def _parse_ppbs(raw: Mapping[str, Any]) -> tuple[str, object]:
    return "percent_price_by_side", PercentPriceBySide(
        bid_multiplier_up=_d(raw, "bidMultiplierUp"),
        bid_multiplier_down=_d(raw, "bidMultiplierDown"),
        ask_multiplier_up=_d(raw, "askMultiplierUp"),
        ask_multiplier_down=_d(raw, "askMultiplierDown"),
        avg_price_mins=int(raw.get("avgPriceMins", 5)),
    )


def _parse_pp(raw: Mapping[str, Any]) -> tuple[str, object]:
    return "percent_price", PercentPrice(
        multiplier_up=_d(raw, "multiplierUp"),
        multiplier_down=_d(raw, "multiplierDown"),
        avg_price_mins=int(raw.get("avgPriceMins", 5)),
    )


_FILTER_PARSERS: dict[str, Any] = {
    "PRICE_FILTER": _parse_price_filter,
    "LOT_SIZE": _parse_lot("lot_size"),
    "MARKET_LOT_SIZE": _parse_lot("market_lot_size"),
    "NOTIONAL": _parse_notional,
    "MIN_NOTIONAL": _parse_min_notional,
    "PERCENT_PRICE_BY_SIDE": _parse_ppbs,
    "PERCENT_PRICE": _parse_pp,
    "MAX_NUM_ORDERS": lambda raw: ("max_num_orders", int(raw["maxNumOrders"])),
    "MAX_NUM_ALGO_ORDERS": lambda raw: ("max_num_algo_orders", int(raw["maxNumAlgoOrders"])),
    "ICEBERG_PARTS": lambda raw: ("iceberg_parts", int(raw["limit"])),
}
