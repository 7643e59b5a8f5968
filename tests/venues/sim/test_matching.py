"""The matching engine, order type by order type, with Binance's answers."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from msgspec.structs import replace

from omnitrade_tui.domain import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.venues.sim.errors import SimError
from omnitrade_tui.venues.sim.matching import LevelChanged, OrderExecuted, TradePrinted
from tests.venues.sim.engine_helpers import limit, make_engine, market, totals


def test_limit_rests_and_locks_quote() -> None:
    engine, (a, _), events = make_engine()
    res = engine.place(a, limit(Side.BUY, "2000", "1.5"))
    assert res.order.status is OrderStatus.NEW and res.fills == []
    assert a.balance("USDT") == (D(1_000_000) - D(3000), D(3000))
    assert engine.books["ETHUSDT"].bids.depth(5) == [(D(2000), D("1.5"))]
    assert any(isinstance(e, LevelChanged) and e.qty == D("1.5") for e in events)


def test_cross_fills_at_the_makers_price_with_fees_in_the_asset_received() -> None:
    engine, (a, b), events = make_engine()
    engine.place(a, limit(Side.SELL, "2000", "2"))
    res = engine.place(b, limit(Side.BUY, "2010", "1.5"))
    assert res.order.status is OrderStatus.FILLED
    (fill,) = res.fills
    assert (fill.price, fill.qty) == (D(2000), D("1.5"))
    assert fill.commission == D("0.0015") and fill.commission_asset == "ETH"  # taker 0.1%
    # The buyer locked 2010 x 1.5 and got the difference back.
    assert b.balance("USDT") == (D(1_000_000) - D(3000), D(0))
    assert b.balance("ETH")[0] == D(1000) + D("1.5") - D("0.0015")
    # The seller still rests 0.5 and received quote less its maker fee.
    assert a.balance("ETH") == (D(998), D("0.5"))
    assert a.balance("USDT")[0] == D(1_000_000) + D(3000) - D(3)
    trades = [e for e in events if isinstance(e, TradePrinted)]
    assert len(trades) == 1 and not trades[0].buyer_is_maker


def test_price_time_priority() -> None:
    engine, (a, b, c), _ = make_engine(accounts=3)
    first = engine.place(a, limit(Side.SELL, "2000", "1")).order
    second = engine.place(b, limit(Side.SELL, "2000", "1")).order
    better = engine.place(b, limit(Side.SELL, "1999", "1")).order
    engine.place(c, limit(Side.BUY, "2000", "2"))
    assert better.status is OrderStatus.FILLED
    assert first.status is OrderStatus.FILLED
    assert second.status is OrderStatus.NEW


def test_ioc_expires_the_rest_and_fok_all_or_nothing() -> None:
    engine, (a, b), _ = make_engine()
    engine.place(a, limit(Side.SELL, "2000", "1"))
    ioc = engine.place(b, limit(Side.BUY, "2000", "3", tif="IOC")).order
    assert ioc.status is OrderStatus.EXPIRED and ioc.executed_qty == D(1)
    assert b.balance("USDT")[1] == 0  # nothing left locked
    engine.place(a, limit(Side.SELL, "2000", "1"))
    fok = engine.place(b, limit(Side.BUY, "2000", "2", tif="FOK")).order
    assert fok.status is OrderStatus.EXPIRED and fok.executed_qty == 0
    assert engine.books["ETHUSDT"].asks.depth(1) == [(D(2000), D(1))]
    fok2 = engine.place(b, limit(Side.BUY, "2000", "1", tif="FOK")).order
    assert fok2.status is OrderStatus.FILLED


def test_market_by_quantity_and_by_quote_amount() -> None:
    engine, (a, b), _ = make_engine()
    engine.place(a, limit(Side.SELL, "2000", "1"))
    engine.place(a, limit(Side.SELL, "2001", "1"))
    res = engine.place(b, market(Side.BUY, qty="1.5"))
    assert res.order.status is OrderStatus.FILLED
    assert res.order.cum_quote == D(2000) + D("2001") * D("0.5")
    res = engine.place(b, market(Side.BUY, quote="100.05"))  # 0.05 ETH at 2001
    assert res.order.executed_qty == D("0.05") and res.order.orig_qty == D("0.05")
    assert res.order.status is OrderStatus.FILLED
    assert b.balance("USDT")[1] == 0


def test_market_on_an_empty_side_is_refused() -> None:
    engine, (a, _), _ = make_engine()
    with pytest.raises(SimError) as exc:
        engine.place(a, market(Side.BUY, qty="1"))
    assert exc.value.code == -1112


def test_limit_maker_that_would_take_is_rejected() -> None:
    engine, (a, b), _ = make_engine()
    engine.place(a, limit(Side.SELL, "2000", "1"))
    req = OrderRequest(
        symbol="ETHUSDT", side=Side.BUY, type=OrderType.LIMIT_MAKER, price=D(2000), quantity=D(1)
    )
    with pytest.raises(SimError) as exc:
        engine.place(b, req)
    assert (exc.value.code, exc.value.msg) == (-2010, "Order would immediately match and take.")


def stop(side: Side, kind: OrderType, stop_px: str, price: str | None = None) -> OrderRequest:
    return OrderRequest(
        symbol="ETHUSDT",
        side=side,
        type=kind,
        stop_price=D(stop_px),
        price=D(price) if price else None,
        quantity=D(1),
        time_in_force=TimeInForce.GTC if price else None,
    )


def test_stops_trigger_on_the_last_price_and_refuse_immediate_triggers() -> None:
    engine, (a, b, c), _ = make_engine(accounts=3)
    engine.place(a, limit(Side.SELL, "2000", "5"))
    engine.place(b, limit(Side.BUY, "2000", "1"))  # last price 2000
    with pytest.raises(SimError, match="would trigger immediately"):
        engine.place(b, stop(Side.SELL, OrderType.STOP_LOSS, "2100"))
    sl = engine.place(b, stop(Side.SELL, OrderType.STOP_LOSS_LIMIT, "1990", "1980")).order
    assert sl.status is OrderStatus.NEW and sl.working_ms == -1
    assert b.balance("ETH")[1] == D(1)  # the stop-limit locks its quantity at once
    engine.place(a, limit(Side.BUY, "1990", "1"))  # rests; nothing traded yet
    assert sl.working_ms == -1
    engine.place(c, limit(Side.SELL, "1990", "0.5"))  # trades at 1990: trigger
    assert sl.triggered and sl.working_ms >= 0
    # Triggered as a limit at 1980: it sells into the remaining 0.5 bid at 1990.
    # mypy keeps sl.status narrowed to NEW from the assert above, though engine.place changed it.
    assert sl.executed_qty == D("0.5") and sl.status is OrderStatus.PARTIALLY_FILLED  # type: ignore[comparison-overlap]


def test_cancel_releases_funds_and_unknown_cancels_answer_2011() -> None:
    engine, (a, _), events = make_engine()
    order = engine.place(a, limit(Side.BUY, "2000", "1")).order
    engine.cancel(a, "ETHUSDT", client_order_id=order.client_order_id)
    assert order.status is OrderStatus.CANCELED
    assert a.balance("USDT") == (D(1_000_000), D(0))
    with pytest.raises(SimError) as exc:
        engine.cancel(a, "ETHUSDT", order_id=order.order_id)
    assert exc.value.code == -2011
    assert engine.books["ETHUSDT"].bids.depth(1) == []
    assert isinstance(events[-2], OrderExecuted) or isinstance(events[-1], OrderExecuted)


def test_cancel_all_and_cancel_replace() -> None:
    engine, (a, _), _ = make_engine()
    for p in ("1990", "1991", "1992"):
        engine.place(a, limit(Side.BUY, p, "1"))
    assert len(engine.cancel_all(a, "ETHUSDT")) == 3
    with pytest.raises(SimError) as exc:
        engine.cancel_all(a, "ETHUSDT")
    assert exc.value.code == -2011
    old = engine.place(a, limit(Side.BUY, "1990", "1")).order
    done = engine.cancel_replace(a, old.order_id, None, limit(Side.BUY, "1995", "2"))
    assert done.canceled is not None and done.canceled.status is OrderStatus.CANCELED
    assert done.placed is not None and done.placed.order.price == D(1995)
    # STOP_ON_FAILURE: the cancel fails, the new order is not attempted.
    again = engine.cancel_replace(a, old.order_id, None, limit(Side.BUY, "1996", "2"))
    assert again.cancel_error is not None and again.cancel_error.code == -2011
    assert again.placed is None and again.place_error is None
    # ALLOW_FAILURE: placed all the same.
    allowed = engine.cancel_replace(
        a, old.order_id, None, limit(Side.BUY, "1996", "2"), allow_failure=True
    )
    assert allowed.cancel_error is not None and allowed.placed is not None
    assert allowed.placed.order.status is OrderStatus.NEW


def test_self_trade_prevention_expires_the_taker_by_default() -> None:
    engine, (a, _), _ = make_engine()
    maker = engine.place(a, limit(Side.SELL, "2000", "1")).order
    taker = engine.place(a, limit(Side.BUY, "2000", "1")).order
    assert taker.status is OrderStatus.EXPIRED_IN_MATCH and taker.executed_qty == 0
    assert maker.status is OrderStatus.NEW
    assert a.balance("USDT")[1] == 0


def test_filters_answer_with_binance_codes() -> None:
    engine, (a, _), _ = make_engine()
    with pytest.raises(SimError) as exc:
        engine.place(a, limit(Side.BUY, "2000.001", "1"))
    assert (exc.value.code, exc.value.msg) == (-1013, "Filter failure: PRICE_FILTER")
    with pytest.raises(SimError) as exc:
        engine.place(a, limit(Side.BUY, "2000", "0.00001"))
    assert exc.value.msg == "Filter failure: LOT_SIZE"
    with pytest.raises(SimError) as exc:
        engine.place(a, limit(Side.BUY, "1", "1"))
    assert exc.value.msg == "Filter failure: NOTIONAL"
    with pytest.raises(SimError) as exc:
        engine.place(a, OrderRequest(symbol="ETHUSDT", side=Side.BUY, type=OrderType.LIMIT))
    assert exc.value.code == -1102
    with pytest.raises(SimError) as exc:
        engine.place(a, OrderRequest(symbol="NOPE", side=Side.BUY, type=OrderType.MARKET))
    assert exc.value.code == -1121


def test_insufficient_balance_is_2010_and_changes_nothing() -> None:
    engine, (a, _), _ = make_engine(balances={"USDT": "100"})
    before = totals(engine)
    with pytest.raises(SimError) as exc:
        engine.place(a, limit(Side.BUY, "2000", "1"))
    assert exc.value.code == -2010
    assert totals(engine) == before and a.balance("USDT") == (D(100), D(0))


def test_oco_one_leg_trading_ends_the_other() -> None:
    engine, (a, b), _ = make_engine()
    engine.place(a, limit(Side.SELL, "2000", "1"))
    engine.place(b, limit(Side.BUY, "2000", "1"))  # last 2000
    above = OrderRequest(
        symbol="ETHUSDT", side=Side.SELL, type=OrderType.LIMIT_MAKER, price=D(2100), quantity=D(1)
    )
    below = stop(Side.SELL, OrderType.STOP_LOSS_LIMIT, "1900", "1890")
    order_list = engine.place_oco(b, above, below)
    leg_a, leg_b = order_list.orders
    assert leg_a.order_list_id == leg_b.order_list_id == order_list.list_id
    assert b.balance("ETH")[1] == D(1)  # locked once for the list
    engine.place(a, limit(Side.BUY, "2100", "1"))  # takes the limit leg
    assert leg_a.status is OrderStatus.FILLED
    assert leg_b.status is OrderStatus.EXPIRED
    assert b.balance("ETH")[1] == 0


def test_oco_with_wrong_price_order_is_refused() -> None:
    engine, (a, b), _ = make_engine()
    engine.place(a, limit(Side.SELL, "2000", "1"))
    engine.place(b, limit(Side.BUY, "2000", "1"))
    above = OrderRequest(
        symbol="ETHUSDT", side=Side.SELL, type=OrderType.LIMIT_MAKER, price=D(1950), quantity=D(1)
    )
    with pytest.raises(SimError, match="relationship of the prices"):
        engine.place_oco(b, above, stop(Side.SELL, OrderType.STOP_LOSS_LIMIT, "1900", "1890"))


def test_a_triggered_stop_limit_queues_behind_orders_placed_before_its_trigger() -> None:
    """Found by the property test: the stop joins its level when it triggers, not when it
    was created, so bids placed between the two keep their priority over it."""
    engine, (a, b, c), _ = make_engine(accounts=3)
    engine.place(a, limit(Side.SELL, "2000.01", "1"))
    engine.place(a, limit(Side.BUY, "2000", "1"))  # last price stays unset: nothing traded
    engine.place(c, limit(Side.SELL, "2000", "0.5"))  # trades at 2000: last price 2000
    stop_limit = engine.place(b, stop(Side.BUY, OrderType.STOP_LOSS_LIMIT, "2000.01", "1999")).order
    later = engine.place(c, limit(Side.BUY, "1999", "1")).order
    engine.place(c, market(Side.BUY, "1"))  # takes the ask at 2000.01: the stop triggers
    assert stop_limit.triggered
    queue = list(engine.books["ETHUSDT"].bids.queues[D("1999")])
    assert [o.order_id for o in queue] == [later.order_id, stop_limit.order_id]


def iceberg(side: Side, price: str, qty: str, part: str) -> OrderRequest:
    return OrderRequest(
        symbol="ETHUSDT",
        side=side,
        type=OrderType.LIMIT,
        price=D(price),
        quantity=D(qty),
        iceberg_qty=D(part),
        time_in_force=TimeInForce.GTC,
    )


def test_an_iceberg_shows_its_visible_part_and_refills_behind_the_level() -> None:
    """rest-api.md: an iceberg shows ``icebergQty`` in the book; each part used up is
    replaced by the next, which queues behind the orders already at that price."""
    engine, (a, b, c), events = make_engine(accounts=3)
    ice = engine.place(a, iceberg(Side.SELL, "2000", "5", "1")).order
    asks = engine.books["ETHUSDT"].asks
    assert asks.depth(5) == [(D(2000), D(1))] and ice.visible == D(1)
    plain = engine.place(b, limit(Side.SELL, "2000", "2")).order
    assert asks.depth(5) == [(D(2000), D(3))]
    engine.place(c, limit(Side.BUY, "2000", "1.5", "IOC"))
    # The iceberg's part (1) traded first, then the plain order (0.5); the iceberg shows
    # its next part behind the plain order.
    assert (ice.executed_qty, plain.executed_qty) == (D(1), D("0.5"))
    assert list(asks.queues[D(2000)]) == [plain, ice]
    assert asks.depth(5) == [(D(2000), D("2.5"))]
    shown = [e.qty for e in events if isinstance(e, LevelChanged) and e.side is Side.SELL]
    assert max(shown) <= D(3)  # the hidden 4 never showed
    engine.place(c, market(Side.BUY, "5.5"))  # takes everything: 1.5 plain, then 4 parts
    assert ice.status is OrderStatus.FILLED and ice.executed_qty == D(5)
    assert asks.depth(5) == []


def test_iceberg_refusals_of_the_documents() -> None:
    engine, (a, _), _ = make_engine()
    for request, msg in (
        (iceberg(Side.SELL, "2000", "1", "1"), "IcebergQty exceeds QTY."),
        (
            replace(iceberg(Side.SELL, "2000", "2", "1"), time_in_force=TimeInForce.IOC),
            "Unsupported order combination",
        ),
    ):
        with pytest.raises(SimError) as exc:
            engine.place(a, request)
        assert (exc.value.code, exc.value.msg) == (-2010, msg)
