"""The simulated venue's default symbols, with ticks, steps and filters like Binance's."""

from __future__ import annotations

from decimal import Decimal

from omnitrade_tui.domain.enums import SelfTradePreventionMode
from omnitrade_tui.domain.instrument import (
    Instrument,
    LotSize,
    Notional,
    PercentPriceBySide,
    PriceFilter,
)


def _instrument(base: str, tick: str, step: str, max_qty: str, market_max: str) -> Instrument:
    return Instrument(
        symbol=f"{base}USDT",
        base_asset=base,
        quote_asset="USDT",
        base_precision=8,
        quote_precision=8,
        price_filter=PriceFilter(
            min_price=Decimal(tick), max_price=Decimal("1000000"), tick_size=Decimal(tick)
        ),
        lot_size=LotSize(min_qty=Decimal(step), max_qty=Decimal(max_qty), step_size=Decimal(step)),
        market_lot_size=LotSize(max_qty=Decimal(market_max)),
        notional=Notional(
            min_notional=Decimal(5),
            apply_min_to_market=True,
            max_notional=Decimal(9_000_000),
            apply_max_to_market=False,
        ),
        percent_price_by_side=PercentPriceBySide(
            bid_multiplier_up=Decimal(5),
            bid_multiplier_down=Decimal("0.2"),
            ask_multiplier_up=Decimal(5),
            ask_multiplier_down=Decimal("0.2"),
        ),
        max_num_orders=200,
        max_num_algo_orders=5,
        iceberg_parts=100,
        default_stp_mode="EXPIRE_TAKER",
        allowed_stp_modes=tuple(str(m) for m in SelfTradePreventionMode),  # all implemented
    )


DEFAULT_INSTRUMENTS: tuple[Instrument, ...] = (
    _instrument("BTC", "0.01", "0.00001", "9000", "120"),
    _instrument("ETH", "0.01", "0.0001", "9000", "2000"),
    _instrument("SOL", "0.01", "0.001", "90000", "20000"),
    _instrument("BNB", "0.01", "0.001", "90000", "5000"),
)

# Where each default symbol's price process starts (close to real 2024-2026 levels).
START_PRICES: dict[str, Decimal] = {
    "BTCUSDT": Decimal("67000"),
    "ETHUSDT": Decimal("2650"),
    "SOLUSDT": Decimal("145"),
    "BNBUSDT": Decimal("560"),
}


def default_instruments(symbols: list[str] | None = None) -> list[Instrument]:
    """The default instruments, or the named subset.

    Raises:
        ValueError: naming the unknown symbols and the ones available.
    """
    if not symbols:
        return list(DEFAULT_INSTRUMENTS)
    by_symbol = {i.symbol: i for i in DEFAULT_INSTRUMENTS}
    unknown = [s for s in symbols if s not in by_symbol]
    if unknown:
        raise ValueError(
            f"unknown symbol(s) {', '.join(unknown)}; the simulated venue lists "
            f"{', '.join(by_symbol)}"
        )
    return [by_symbol[s] for s in symbols]
