"""Filter validation tables: each filter of reference §4.4, passing and failing cases."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from omnitrade_tui.domain import (
    OrderRequest,
    OrderType,
    Side,
    TimeInForce,
    ValidationContext,
    validate_order,
)
from omnitrade_tui.venues.binance.exchange_info import instrument_of, symbol_entry

# The reference's illustrative BTCUSDT entry (docs/reference/binance-spot.md §4.3), as
# exchangeInfo sends it.
BTCUSDT: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "status": "TRADING",
    "baseAsset": "BTC",
    "baseAssetPrecision": 8,
    "quoteAsset": "USDT",
    "quotePrecision": 8,
    "quoteAssetPrecision": 8,
    "orderTypes": [
        "LIMIT",
        "LIMIT_MAKER",
        "MARKET",
        "STOP_LOSS",
        "STOP_LOSS_LIMIT",
        "TAKE_PROFIT",
        "TAKE_PROFIT_LIMIT",
    ],
    "icebergAllowed": True,
    "ocoAllowed": True,
    "quoteOrderQtyMarketAllowed": True,
    "filters": [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": "0.01000000",
            "maxPrice": "1000000.00000000",
            "tickSize": "0.01000000",
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": "0.00001000",
            "maxQty": "9000.00000000",
            "stepSize": "0.00001000",
        },
        {"filterType": "ICEBERG_PARTS", "limit": 100},
        {
            "filterType": "MARKET_LOT_SIZE",
            "minQty": "0.00000000",
            "maxQty": "119.23000000",
            "stepSize": "0.00000000",
        },
        {
            "filterType": "TRAILING_DELTA",
            "minTrailingAboveDelta": 10,
            "maxTrailingAboveDelta": 2000,
            "minTrailingBelowDelta": 10,
            "maxTrailingBelowDelta": 2000,
        },
        {
            "filterType": "PERCENT_PRICE_BY_SIDE",
            "bidMultiplierUp": "5",
            "bidMultiplierDown": "0.2",
            "askMultiplierUp": "5",
            "askMultiplierDown": "0.2",
            "avgPriceMins": 5,
        },
        {
            "filterType": "NOTIONAL",
            "minNotional": "5.00000000",
            "applyMinToMarket": True,
            "maxNotional": "9000000.00000000",
            "applyMaxToMarket": False,
            "avgPriceMins": 5,
        },
        {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
    ],
}

INST = instrument_of(BTCUSDT)
CTX = ValidationContext(avg_price=D("60000"), open_orders=0, open_algo_orders=0)


def limit(price: str, qty: str, side: Side = Side.BUY, **kw: Any) -> OrderRequest:
    return OrderRequest(
        symbol="BTCUSDT",
        side=side,
        type=OrderType.LIMIT,
        price=D(price),
        quantity=D(qty),
        time_in_force=TimeInForce.GTC,
        **kw,
    )


def market(qty: str | None = None, quote: str | None = None) -> OrderRequest:
    return OrderRequest(
        symbol="BTCUSDT",
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=D(qty) if qty else None,
        quote_order_qty=D(quote) if quote else None,
    )


def names(req: OrderRequest, ctx: ValidationContext = CTX) -> list[str]:
    return [v.filter for v in validate_order(INST, req, ctx)]


def test_instrument_is_parsed_exactly() -> None:
    assert INST.tick_size == D("0.01")
    assert INST.step_size == D("0.00001")
    assert INST.notional is not None and INST.notional.min_notional == D(5)
    assert INST.market_lot_size is not None and INST.market_lot_size.max_qty == D("119.23")
    assert INST.max_num_orders == 200 and INST.iceberg_parts == 100
    assert INST.price_decimals == 2 and INST.quantity_decimals == 5


def test_instrument_round_trips_through_exchange_info() -> None:
    again = instrument_of(symbol_entry(INST))
    assert again == INST


def test_a_good_limit_order_passes() -> None:
    assert validate_order(INST, limit("60000.01", "0.001"), CTX) == []


@pytest.mark.parametrize(
    ("price", "reason"),
    [
        ("0.001", "is below the minimum 0.01"),
        ("1000000.01", "is above the maximum 1000000"),
        ("60000.015", "is not a multiple of the tick 0.01; nearest valid: 60000.01 or 60000.02"),
    ],
)
def test_price_filter(price: str, reason: str) -> None:
    found = [v for v in validate_order(INST, limit(price, "1")) if v.filter == "PRICE_FILTER"]
    assert len(found) == 1
    assert found[0].field == "price"
    assert reason in found[0].message


def test_price_filter_message_matches_the_issue_example() -> None:
    inst = instrument_of(
        {
            "symbol": "X",
            "baseAsset": "A",
            "quoteAsset": "B",
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": "0",
                    "maxPrice": "0",
                    "tickSize": "0.01",
                }
            ],
        }
    )
    req = OrderRequest(
        symbol="X",
        side=Side.BUY,
        type=OrderType.LIMIT,
        price=D("100.123"),
        quantity=D(1),
        time_in_force=TimeInForce.GTC,
    )
    (v,) = validate_order(inst, req)
    assert v.message == (
        "price 100.123 is not a multiple of the tick 0.01; nearest valid: 100.12 or 100.13"
    )


def test_price_filter_applies_to_the_stop_price_too() -> None:
    req = OrderRequest(
        symbol="BTCUSDT",
        side=Side.SELL,
        type=OrderType.STOP_LOSS_LIMIT,
        price=D("59000"),
        stop_price=D("59000.001"),
        quantity=D("0.001"),
        time_in_force=TimeInForce.GTC,
    )
    found = validate_order(INST, req, CTX)
    assert [(v.filter, v.field) for v in found] == [("PRICE_FILTER", "stop_price")]


@pytest.mark.parametrize(
    ("qty", "reason"),
    [
        ("0.000001", "is below the minimum 0.00001"),
        ("9000.00001", "is above the maximum 9000"),
        ("0.000015", "is not a multiple of the step 0.00001; nearest valid: 0.00001 or 0.00002"),
    ],
)
def test_lot_size(qty: str, reason: str) -> None:
    found = [v for v in validate_order(INST, limit("1", qty), CTX) if v.filter == "LOT_SIZE"]
    assert len(found) == 1 and reason in found[0].message


def test_market_lot_size_applies_to_market_orders_only() -> None:
    assert "MARKET_LOT_SIZE" in names(market(qty="120"))
    assert "MARKET_LOT_SIZE" not in names(market(qty="119.23"))
    assert "MARKET_LOT_SIZE" not in names(limit("60000", "120"))


def test_notional_min_and_max() -> None:
    assert "NOTIONAL" in names(limit("4.99", "1"))  # 4.99 USDT < 5
    assert "NOTIONAL" not in names(limit("5.00", "1"))  # exactly the minimum passes
    assert "NOTIONAL" in names(limit("1000000", "9.00001"))  # > 9,000,000
    assert "NOTIONAL" not in names(limit("1000000", "9"))


def test_notional_of_market_orders_uses_avg_price_and_apply_flags() -> None:
    # 0.00008 BTC * 60000 = 4.8 USDT: below min, and applyMinToMarket is on.
    assert "NOTIONAL" in names(market(qty="0.00008"))
    assert "NOTIONAL" not in names(market(qty="0.0001"))  # 6 USDT
    # By quote amount the notional is the amount itself.
    assert "NOTIONAL" in names(market(quote="4.99"))
    assert "NOTIONAL" not in names(market(quote="5"))
    # applyMaxToMarket is off: a huge market order passes NOTIONAL (MARKET_LOT_SIZE stops it).
    assert "NOTIONAL" not in names(market(quote="10000000"))


def test_legacy_min_notional() -> None:
    entry = dict(BTCUSDT)
    entry["filters"] = [{"filterType": "MIN_NOTIONAL", "minNotional": "10", "applyToMarket": False}]
    inst = instrument_of(entry)
    assert [v.filter for v in validate_order(inst, limit("9.99", "1"))] == ["MIN_NOTIONAL"]
    assert validate_order(inst, limit("10", "1")) == []
    # applyToMarket false: market orders skip it.
    assert validate_order(inst, market(quote="1"), CTX) == []


@pytest.mark.parametrize(
    ("side", "price", "ok"),
    [
        (Side.BUY, "12000", True),  # avg 60000 x 0.2
        (Side.BUY, "11999.99", False),
        (Side.BUY, "300000", True),  # avg x 5
        (Side.BUY, "300000.01", False),
        (Side.SELL, "12000", True),
        (Side.SELL, "11999.99", False),
    ],
)
def test_percent_price_by_side(side: Side, price: str, ok: bool) -> None:
    found = "PERCENT_PRICE_BY_SIDE" in names(limit(price, "0.001", side=side))
    assert found is not ok


def test_percent_price_by_side_needs_the_average_price() -> None:
    assert "PERCENT_PRICE_BY_SIDE" not in names(limit("1", "10"), ValidationContext())


def test_max_num_orders() -> None:
    at_limit = ValidationContext(avg_price=D(60000), open_orders=199)
    over = ValidationContext(avg_price=D(60000), open_orders=200)
    assert "MAX_NUM_ORDERS" not in names(limit("60000", "0.001"), at_limit)
    assert "MAX_NUM_ORDERS" in names(limit("60000", "0.001"), over)


def test_max_num_algo_orders_counts_stop_orders_only() -> None:
    ctx = ValidationContext(avg_price=D(60000), open_orders=0, open_algo_orders=5)
    stop = OrderRequest(
        symbol="BTCUSDT",
        side=Side.SELL,
        type=OrderType.STOP_LOSS,
        stop_price=D("59000"),
        quantity=D("0.001"),
    )
    assert "MAX_NUM_ALGO_ORDERS" in names(stop, ctx)
    assert "MAX_NUM_ALGO_ORDERS" not in names(limit("60000", "0.001"), ctx)


def test_iceberg_parts() -> None:
    ok = limit("60000", "1", iceberg_qty=D("0.01"))  # 100 parts: the limit
    bad = limit("60000", "1", iceberg_qty=D("0.00999"))  # 101 parts
    assert "ICEBERG_PARTS" not in names(ok)
    assert "ICEBERG_PARTS" in names(bad)


def test_every_violation_is_reported_not_just_the_first() -> None:
    found = validate_order(INST, limit("60000.001", "0.0000001"), CTX)
    assert {v.filter for v in found} == {"PRICE_FILTER", "LOT_SIZE", "NOTIONAL"}
    assert all(v.message for v in found)


@pytest.mark.parametrize(
    ("request_kwargs", "field"),
    [
        ({"type": OrderType.LIMIT, "quantity": D(1), "time_in_force": TimeInForce.GTC}, "price"),
        ({"type": OrderType.LIMIT, "quantity": D(1), "price": D(1)}, "time_in_force"),
        ({"type": OrderType.MARKET}, "quantity"),
        ({"type": OrderType.MARKET, "quantity": D(1), "price": D(1)}, "price"),
        ({"type": OrderType.STOP_LOSS, "quantity": D(1)}, "stop_price"),
        (
            {"type": OrderType.LIMIT, "quantity": D(-1), "price": D(1), "time_in_force": "GTC"},
            "quantity",
        ),
    ],
)
def test_malformed_requests_are_explained(request_kwargs: dict[str, Any], field: str) -> None:
    req = OrderRequest(symbol="BTCUSDT", side=Side.BUY, **request_kwargs)
    found = [v for v in validate_order(INST, req, CTX) if v.filter == "ORDER"]
    assert field in [v.field for v in found]
