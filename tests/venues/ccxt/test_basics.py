"""The ccxt venue against the sim without faults: instruments, book, orders, user data."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from omnitrade_tui.bus import each, topics
from omnitrade_tui.domain import OrderRequest, OrderStatus, OrderType, Side
from omnitrade_tui.domain.commands import CancelAll, CancelOrder, PlaceOrder, ReplaceOrder
from omnitrade_tui.domain.enums import TimeInForce
from omnitrade_tui.domain.events import RateLimitUsage
from omnitrade_tui.domain.models import Candle, Trade
from omnitrade_tui.venues.ccxt.exchange import capabilities
from omnitrade_tui.venues.ccxt.instruments import load_instruments
from tests.venues.ccxt.conftest import SYMBOLS, Rig


async def test_instruments_carry_the_venues_filters(rig: Rig) -> None:
    instruments = await load_instruments(rig.exchange, SYMBOLS)
    for venue_side in rig.sim.engine.instruments.values():
        ours = instruments[venue_side.symbol]
        assert ours.base_asset == venue_side.base_asset
        assert ours.quote_asset == venue_side.quote_asset
        assert ours.tick_size == venue_side.tick_size
        assert ours.step_size == venue_side.step_size
        assert ours.price_filter is not None and venue_side.price_filter is not None
        assert ours.price_filter.min_price == venue_side.price_filter.min_price
        assert ours.lot_size is not None and venue_side.lot_size is not None
        assert ours.lot_size.min_qty == venue_side.lot_size.min_qty
        assert ours.notional is not None and venue_side.notional is not None
        assert ours.notional.min_notional == venue_side.notional.min_notional


async def test_an_order_trades_and_its_fill_is_said_once(rig: Rig) -> None:
    await rig.wait_live()
    req = OrderRequest(
        symbol="ETHUSDT", side=Side.BUY, type=OrderType.MARKET, quantity=Decimal("0.01")
    )
    order = await rig.bus.request(PlaceOrder(request=req))
    assert order.client_order_id == req.client_order_id
    assert order.status is OrderStatus.FILLED
    await rig.wait_for(lambda: len(rig.said_fills) >= 1, 5, "the fill")
    venue = await rig.venue.my_trades()
    assert set(rig.said_fills) == set(venue)


def _resting(price: str, qty: str = "0.01") -> OrderRequest:
    return OrderRequest(
        symbol="ETHUSDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal(qty),
        price=Decimal(price),
        time_in_force=TimeInForce.GTC,
    )


async def test_orders_rest_amend_and_cancel_under_our_client_ids(rig: Rig) -> None:
    await rig.wait_live()
    first = await rig.bus.request(PlaceOrder(request=_resting("1000.00")))
    assert first.status is OrderStatus.NEW
    await rig.wait_for(
        lambda: rig.said_orders.get(first.client_order_id) is OrderStatus.NEW, 5, "NEW said"
    )
    amended = await rig.bus.request(
        ReplaceOrder(
            symbol="ETHUSDT", client_order_id=first.client_order_id, price=Decimal("1001.00")
        )
    )
    assert amended.price == Decimal("1001.00") and amended.status is OrderStatus.NEW
    await rig.wait_for(
        lambda: rig.said_orders.get(first.client_order_id) is OrderStatus.CANCELED,
        5,
        "the amended order cancelled",
    )
    second = await rig.bus.request(PlaceOrder(request=_resting("999.00")))
    cancelled = await rig.bus.request(
        CancelOrder(symbol="ETHUSDT", client_order_id=second.client_order_id)
    )
    assert cancelled.status is OrderStatus.CANCELED
    assert cancelled.client_order_id == second.client_order_id
    left = await rig.bus.request(CancelAll(symbol="ETHUSDT"))
    assert [o.client_order_id for o in left] == [amended.client_order_id]
    await rig.wait_for(
        lambda: all(s is OrderStatus.CANCELED for s in rig.said_orders.values()),
        5,
        "every order said cancelled",
    )
    truths = await rig.venue.orders([("ETHUSDT", cid) for cid in rig.said_orders])
    assert {cid: t[0] for cid, t in truths.items() if t} == dict(rig.said_orders)
    assert await rig.execution.open_orders() == []


async def test_trades_candles_and_the_throttle_reach_the_bus(rig: Rig) -> None:
    seen: dict[str, list[Any]] = {"trade": [], "candle": [], "limit": []}
    rig.bus.subscribe("md.trade.*", each(lambda t, e: seen["trade"].append(e)), name="t.trade")
    rig.bus.subscribe("md.candle.>", each(lambda t, e: seen["candle"].append(e)), name="t.kline")
    rig.bus.subscribe(topics.RATE_LIMIT, each(lambda t, e: seen["limit"].append(e)), name="t.limit")
    await rig.execution.balances()  # a request: the throttle is said again
    await rig.wait_for(lambda: all(seen[k] for k in seen), 10, "a trade, a candle and the throttle")
    trade = seen["trade"][0]
    assert isinstance(trade, Trade) and trade.symbol in SYMBOLS and trade.trade_id > 0
    candle = seen["candle"][0]
    assert isinstance(candle, Candle) and candle.interval == "1m"
    assert candle.close_ms - candle.open_ms == 59_999
    limit = seen["limit"][0]
    assert isinstance(limit, RateLimitUsage) and limit.venue == "ccxt:binance"
    assert limit.limit > 0
    ids = [t.trade_id for t in seen["trade"] if t.symbol == trade.symbol]
    assert ids == sorted(set(ids)), "a trade said twice or out of order"


async def test_the_capabilities_say_what_ccxt_cannot_promise(rig: Rig) -> None:
    caps = capabilities(rig.exchange)
    assert caps.venue == "ccxt:binance"
    missing = caps.missing()
    assert "prices via floats" in missing
    assert "silent book unchecked" in missing
    assert "no OCO" in missing
    assert "rate limit estimated by the client" in missing
    assert caps.user_data_before_reconcile and caps.replace and caps.own_client_ids
