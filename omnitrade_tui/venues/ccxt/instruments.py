"""Instruments from ccxt's ``load_markets``, mapped onto the domain's filters.

ccxt gives each market a ``precision`` (the tick and the step, as numbers because a client
built here uses ccxt's ``TICK_SIZE`` precision mode on Binance; a venue in decimal-places
mode gives a digit count, turned into the step it means) and ``limits`` (amount, price and
cost bounds). Those become ``PRICE_FILTER``, ``LOT_SIZE`` and ``NOTIONAL``; what ccxt does
not unify (percent-price bands, order-count limits, iceberg parts) is left out, so order
entry checks less before sending and the venue refuses what it must.

The domain's symbol is ccxt's market id (``ETHUSDT`` on Binance), the name the venue and the
rest of the app use; ``symbol_map`` gives ccxt's unified name (``ETH/USDT``) for each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from omnitrade_tui.domain.decimals import ZERO
from omnitrade_tui.domain.enums import OrderType
from omnitrade_tui.domain.instrument import Instrument, LotSize, Notional, PriceFilter
from omnitrade_tui.domain.venue import qualify
from omnitrade_tui.venues.ccxt.exchange import dec

_TICK_SIZE_MODE = 4  # ccxt.base.decimal_to_precision.TICK_SIZE


def _increment(value: Any, mode: int) -> Decimal:
    """A market's precision entry as the increment it allows."""
    if value is None:
        return ZERO
    if mode == _TICK_SIZE_MODE:
        return dec(value)
    return Decimal(1).scaleb(-int(value))


def _bound(limits: Mapping[str, Any], name: str, end: str) -> Decimal:
    return dec((limits.get(name) or {}).get(end))


def instrument_of(market: Mapping[str, Any], precision_mode: int, venue: str = "") -> Instrument:
    """The domain instrument of one ccxt market on ``venue`` (its qualifier: the id and
    both assets end in ``@venue`` unless the venue is the profile's first)."""
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    tick = _increment(precision.get("price"), precision_mode)
    step = _increment(precision.get("amount"), precision_mode)
    order_types = {OrderType.LIMIT, OrderType.MARKET}
    info = market.get("info") or {}
    # Binance names its order types in the market's info; other venues do not.
    for name in info.get("orderTypes", ()) if isinstance(info, Mapping) else ():
        if name in OrderType.__members__:
            order_types.add(OrderType(name))
    return Instrument(
        symbol=qualify(str(market["id"]), venue),
        base_asset=qualify(str(market["base"]), venue),
        quote_asset=qualify(str(market["quote"]), venue),
        status="TRADING" if market.get("active", True) is not False else "BREAK",
        order_types=frozenset(order_types),
        oco_allowed=False,
        iceberg_allowed=False,
        price_filter=PriceFilter(
            min_price=_bound(limits, "price", "min"),
            max_price=_bound(limits, "price", "max"),
            tick_size=tick,
        ),
        lot_size=LotSize(
            min_qty=_bound(limits, "amount", "min"),
            max_qty=_bound(limits, "amount", "max"),
            step_size=step,
        ),
        notional=Notional(
            min_notional=_bound(limits, "cost", "min"),
            max_notional=_bound(limits, "cost", "max"),
        ),
    )


def instruments_of(
    markets: Mapping[str, Mapping[str, Any]],
    precision_mode: int,
    wanted: Iterable[str],
    venue: str = "",
) -> dict[str, Instrument]:
    """The spot instruments among ``markets`` whose market id is in ``wanted``, by
    instrument id (the market id on ``venue``)."""
    want = set(wanted)
    return {
        qualify(str(m["id"]), venue): instrument_of(m, precision_mode, venue)
        for m in markets.values()
        if m.get("spot", True) and m.get("id") in want
    }


def symbol_map(markets: Mapping[str, Mapping[str, Any]], venue: str = "") -> dict[str, str]:
    """Instrument id (``ETHUSDT``, or ``ETHUSDT@kraken`` on a venue named so) to ccxt's
    unified symbol (``ETH/USDT``), spot markets only."""
    return {
        qualify(str(m["id"]), venue): str(m["symbol"])
        for m in markets.values()
        if m.get("spot", True)
    }


async def load_instruments(
    exchange: Any, wanted: Iterable[str], venue: str = ""
) -> dict[str, Instrument]:
    """``load_markets`` and the instruments of the wanted market ids, by instrument id."""
    markets = await exchange.load_markets()
    return instruments_of(markets, int(exchange.precisionMode), wanted, venue)
