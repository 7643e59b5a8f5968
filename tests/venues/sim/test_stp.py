"""Self-trade prevention, mode by mode, from the scenarios of Binance's STP FAQ
(``faqs/stp_faq.md``): what each order keeps, what expires, and what the venue says."""

from __future__ import annotations

import time
from decimal import Decimal as D
from typing import Any

import aiohttp
import msgspec
import pytest

from omnitrade_tui.domain import OrderStatus, Side
from omnitrade_tui.domain.enums import ExecutionType, SelfTradePreventionMode
from omnitrade_tui.venues.binance.exchange_info import instrument_of, symbol_entry
from omnitrade_tui.venues.sim.errors import SimError
from omnitrade_tui.venues.sim.matching import OrderExecuted, SimEvent
from omnitrade_tui.venues.sim.render import execution_report, placed_order
from omnitrade_tui.venues.sim.venue import SimVenue
from tests.venues.sim.engine_helpers import limit, make_engine, market, totals
from tests.venues.sim.test_matching_properties import check_invariants
from tests.venues.sim.test_wire import signed

STP = SelfTradePreventionMode


def reports(events: list[SimEvent], order_id: int) -> list[dict[str, Any]]:
    return [
        execution_report(e)
        for e in events
        if isinstance(e, OrderExecuted) and e.order.order_id == order_id
    ]


@pytest.mark.parametrize("mode", [STP.DECREMENT, STP.TRANSFER])
def test_decrement_against_a_larger_maker_expires_the_taker_only(mode: STP) -> None:
    """Scenario G: maker BUY 6, taker SELL 2 with DECREMENT: both prevent 2; the taker,
    the smaller, expires in match; the maker rests with 4 (TRANSFER within one account
    is DECREMENT)."""
    engine, (a, _), events = make_engine()
    initial = totals(engine)
    maker = engine.place(a, limit(Side.BUY, "2000", "6")).order
    placed = engine.place(a, limit(Side.SELL, "2000", "2", stp_mode=mode))
    taker = placed.order
    assert taker.status is OrderStatus.EXPIRED_IN_MATCH and taker.executed_qty == 0
    assert maker.status is OrderStatus.NEW and maker.is_open
    assert (maker.prevented_qty, taker.prevented_qty) == (D(2), D(2))
    assert maker.prevented_match_id == taker.prevented_match_id == 0
    assert engine.books["ETHUSDT"].bids.depth(5) == [(D(2000), D(4))]
    assert a.balance("USDT")[1] == D(8000)  # the maker's lock shrank with it
    assert a.balance("ETH")[1] == 0
    check_invariants(engine, initial)

    body = placed_order(placed, "FULL")
    assert body["status"] == "EXPIRED_IN_MATCH" and body["fills"] == []
    assert body["preventedQuantity"] == "2.00000000"
    assert body["preventedMatches"] == [
        {
            "preventedMatchId": 0,
            "makerOrderId": maker.order_id,
            "price": "2000.00000000",
            "takerPreventedQuantity": "2.00000000",
            "makerPreventedQuantity": "2.00000000",
        }
    ]
    (*_, last) = reports(events, taker.order_id)
    assert (last["x"], last["X"]) == ("TRADE_PREVENTION", "EXPIRED_IN_MATCH")
    assert (last["v"], last["A"], last["B"], last["U"]) == (0, "2.00000000", "2.00000000", 1)
    (*_, maker_last) = reports(events, maker.order_id)
    assert (maker_last["x"], maker_last["X"], maker_last["B"]) == (
        "TRADE_PREVENTION",
        "NEW",
        "2.00000000",
    )


def test_decrement_against_smaller_makers_expires_them_and_trades_on() -> None:
    engine, (a, b), events = make_engine()
    initial = totals(engine)
    mine = engine.place(a, limit(Side.BUY, "2001", "1")).order
    theirs = engine.place(b, limit(Side.BUY, "2000", "1")).order
    placed = engine.place(a, limit(Side.SELL, "2000", "3", stp_mode=STP.DECREMENT))
    taker = placed.order
    assert mine.status is OrderStatus.EXPIRED_IN_MATCH and mine.prevented_qty == D(1)
    assert theirs.status is OrderStatus.FILLED
    assert taker.status is OrderStatus.PARTIALLY_FILLED and taker.is_open
    assert (taker.executed_qty, taker.prevented_qty, taker.remaining) == (D(1), D(1), D(1))
    assert engine.books["ETHUSDT"].asks.depth(5) == [(D(2000), D(1))]
    assert a.balance("ETH")[1] == D(1)  # only what still rests stays locked
    decremented = [
        e.execution_type
        for e in events
        if isinstance(e, OrderExecuted) and e.order is taker and e.prevented_qty
    ]
    assert decremented == [ExecutionType.TRADE_PREVENTION]
    check_invariants(engine, initial)


def test_decrement_of_equal_orders_expires_both() -> None:
    engine, (a, _), _ = make_engine()
    maker = engine.place(a, limit(Side.SELL, "2000", "1.5")).order
    taker = engine.place(a, limit(Side.BUY, "2000", "1.5", stp_mode=STP.DECREMENT)).order
    assert maker.status is taker.status is OrderStatus.EXPIRED_IN_MATCH
    assert engine.books["ETHUSDT"].asks.depth(5) == []
    assert a.balance("USDT")[1] == a.balance("ETH")[1] == 0


def test_decrement_market_orders_by_quantity_and_by_amount_end() -> None:
    engine, (a, b), _ = make_engine()
    initial = totals(engine)
    engine.place(a, limit(Side.SELL, "2000", "1"))
    engine.place(b, limit(Side.SELL, "2001", "5"))
    taker = engine.place(a, market(Side.BUY, qty="2", stp_mode=STP.DECREMENT))
    assert taker.order.prevented_qty == D(1) and taker.order.executed_qty == D(1)
    engine.place(a, limit(Side.SELL, "2000.5", "1"))
    quote_taker = engine.place(a, market(Side.BUY, quote="4002", stp_mode=STP.TRANSFER)).order
    assert not quote_taker.is_open
    assert quote_taker.cum_quote + quote_taker.prevented_quote <= D(4002)
    check_invariants(engine, initial)


@pytest.mark.timeout(20)
def test_decrement_never_spins_the_matching_loop() -> None:
    """Issue 19: ``_execute`` used to ``continue`` without taking the maker off the book,
    so DECREMENT and TRANSFER spun for ever and the whole venue hung."""
    import threading

    engine, (a, _), _ = make_engine()
    engine.place(a, limit(Side.BUY, "2000", "1"))
    done = threading.Event()

    def cross() -> None:
        engine.place(a, limit(Side.SELL, "2000", "1", stp_mode=STP.DECREMENT))
        done.set()

    # A daemon thread, so a regression fails this test instead of hanging the run.
    threading.Thread(target=cross, daemon=True).start()
    assert done.wait(5), "the matching loop spins on DECREMENT"


def test_expire_maker_and_expire_taker_carry_the_prevented_fields() -> None:
    """Scenarios B and C: the expired orders say which match and how much."""
    engine, (a, _), events = make_engine()
    m1 = engine.place(a, limit(Side.BUY, "2002", "1.2")).order
    m2 = engine.place(a, limit(Side.BUY, "2001", "1.3")).order
    placed = engine.place(a, limit(Side.SELL, "2001", "3", stp_mode=STP.EXPIRE_MAKER))
    assert m1.status is m2.status is OrderStatus.EXPIRED_IN_MATCH
    assert (m1.prevented_match_id, m2.prevented_match_id) == (0, 1)
    assert placed.order.status is OrderStatus.NEW
    assert [
        p["makerPreventedQuantity"] for p in placed_order(placed, None)["preventedMatches"]
    ] == [
        "1.20000000",
        "1.30000000",
    ]
    engine.place(a, limit(Side.BUY, "1999", "1"))
    taker = engine.place(a, limit(Side.SELL, "1999", "1", stp_mode=STP.EXPIRE_TAKER)).order
    (*_, last) = reports(events, taker.order_id)
    assert (last["x"], last["X"], last["B"], last["v"]) == (
        "TRADE_PREVENTION",
        "EXPIRED_IN_MATCH",
        "1.00000000",
        2,
    )


def test_a_mode_the_symbol_does_not_allow_is_1013() -> None:
    engine, (a, _), _ = make_engine()
    inst = engine.instruments["ETHUSDT"]
    engine.instruments["ETHUSDT"] = msgspec.structs.replace(
        inst, allowed_stp_modes=("NONE", "EXPIRE_TAKER")
    )
    with pytest.raises(SimError) as exc:
        engine.place(a, limit(Side.BUY, "2000", "1", stp_mode=STP.DECREMENT))
    assert (exc.value.code, exc.value.msg) == (
        -1013,
        "This symbol does not allow the specified self-trade prevention mode.",
    )
    engine.place(a, limit(Side.BUY, "2000", "1", stp_mode=STP.EXPIRE_TAKER))


@pytest.mark.timeout(60)
async def test_decrement_over_rest_answers_and_the_venue_keeps_serving() -> None:
    async with (
        SimVenue.start(symbols=["ETHUSDT"], seed=3, generate=False) as sim,
        aiohttp.ClientSession() as http,
    ):
        info = symbol_entry(sim.engine.instruments["ETHUSDT"])
        assert "DECREMENT" in info["allowedSelfTradePreventionModes"]
        price = "2000"
        common = {"symbol": "ETHUSDT", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1"}
        status, rest, _ = await signed(
            http, sim, "POST", "order", {**common, "side": "BUY", "price": price}
        )
        assert status == 200, rest
        started = time.monotonic()
        status, body, _ = await signed(
            http,
            sim,
            "POST",
            "order",
            {
                **common,
                "side": "SELL",
                "price": price,
                "quantity": "0.4",
                "selfTradePreventionMode": "DECREMENT",
                "newOrderRespType": "FULL",
            },
        )
        assert status == 200, body
        assert time.monotonic() - started < 5
        assert body["status"] == "EXPIRED_IN_MATCH"
        assert body["preventedMatches"][0]["makerOrderId"] == rest["orderId"]
        status, maker, _ = await signed(
            http, sim, "GET", "order", {"symbol": "ETHUSDT", "orderId": rest["orderId"]}
        )
        assert (maker["status"], maker["preventedQuantity"]) == ("NEW", "0.40000000")
        async with http.get(f"{sim.rest_url}/v3/ping") as resp:
            assert resp.status == 200


def test_the_allowed_modes_go_through_exchange_info_and_back() -> None:
    engine, _, _ = make_engine()
    inst = engine.instruments["ETHUSDT"]
    assert instrument_of(symbol_entry(inst)) == inst
    limited = {**symbol_entry(inst), "allowedSelfTradePreventionModes": ["NONE"]}
    assert instrument_of(limited).allowed_stp_modes == ("NONE",)
