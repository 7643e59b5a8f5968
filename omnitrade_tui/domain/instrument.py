"""A tradable symbol, its precisions and its exchange filters.

Filter values are exact ``Decimal``; a value of zero means "this part of the filter is off".
A venue's connector builds these from what the venue lists (Binance's ``exchangeInfo``:
``venues/binance/exchange_info.py``); the domain knows no venue's JSON.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from omnitrade_tui.domain.decimals import ZERO, decimals_of
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
