"""Orders through the connector against the simulated venue: placing, refusals, cancels,
cancel-replace, and an UNKNOWN outcome settled by query, never by resending."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from omnitrade_tui.domain import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.venues.binance.execution import BinanceExecution, ReplaceFailed
from omnitrade_tui.venues.binance.rest import BinanceError, BinanceRest, Credentials
from omnitrade_tui.venues.sim.venue import SimVenue

D = Decimal


@pytest.fixture
async def venue() -> AsyncIterator[tuple[SimVenue, BinanceExecution]]:
    async with SimVenue.start(symbols=["ETHUSDT"], seed=31) as sim:
        rest = BinanceRest(sim.rest_url, Credentials(*sim.demo_key))
        try:
            yield sim, BinanceExecution(rest)
        finally:
            await rest.aclose()


def limit(sim: SimVenue, side: Side, away: str, qty: str = "0.1") -> OrderRequest:
    bid = sim.engine.books["ETHUSDT"].bids.best()
    assert bid is not None
    return OrderRequest(
        symbol="ETHUSDT",
        side=side,
        type=OrderType.LIMIT,
        price=(bid * D(away)).quantize(D("0.01")),
        quantity=D(qty),
        time_in_force=TimeInForce.GTC,
    )


async def test_place_query_cancel(venue: tuple[SimVenue, BinanceExecution]) -> None:
    sim, ex = venue
    req = limit(sim, Side.BUY, "0.9")
    order, fills = await ex.place(req)
    assert order.status is OrderStatus.NEW and fills == []
    assert order.client_order_id == req.client_order_id and order.price == req.price
    assert (await ex.query("ETHUSDT", req.client_order_id)).order_id == order.order_id
    canceled = await ex.cancel("ETHUSDT", req.client_order_id)
    assert canceled.status is OrderStatus.CANCELED
    with pytest.raises(BinanceError) as exc:
        await ex.cancel("ETHUSDT", req.client_order_id)
    assert exc.value.code == -2011 and "not open" in exc.value.explanation


async def test_market_fills_are_exact(venue: tuple[SimVenue, BinanceExecution]) -> None:
    _, ex = venue
    req = OrderRequest(symbol="ETHUSDT", side=Side.BUY, type=OrderType.MARKET, quantity=D("0.5"))
    order, fills = await ex.place(req)
    assert order.status is OrderStatus.FILLED
    assert sum(f.qty for f in fills) == D("0.5")
    assert sum(f.quote_qty for f in fills) == order.cum_quote_qty
    assert all(f.commission_asset == "ETH" for f in fills)


async def test_refusals_carry_the_venues_reason(venue: tuple[SimVenue, BinanceExecution]) -> None:
    sim, ex = venue
    with pytest.raises(BinanceError) as exc:
        await ex.place(limit(sim, Side.BUY, "0.9", qty="100"))  # ~240k USDT, 100k held
    assert exc.value.code == -2010 and exc.value.status == 400
    bad_tick = OrderRequest(
        symbol="ETHUSDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        price=D("1000.001"),
        quantity=D("0.1"),
        time_in_force=TimeInForce.GTC,
    )
    with pytest.raises(BinanceError) as exc:
        await ex.place(bad_tick)
    assert exc.value.code == -1013 and "filters" in exc.value.explanation


async def test_unknown_outcome_is_settled_by_query(
    venue: tuple[SimVenue, BinanceExecution],
) -> None:
    sim, ex = venue
    sim.faults.fail_orders = 1  # the venue accepts the order, then answers 503
    req = limit(sim, Side.BUY, "0.9")
    order, _ = await ex.place(req)
    assert order.status is OrderStatus.UNKNOWN and order.order_id is None
    settled = await ex.settle(order)
    assert settled.status is OrderStatus.NEW and settled.order_id is not None
    # Exactly one order exists: nothing was resent.
    account = sim.engine.accounts[sim.keys.lookup(sim.demo_key[0]).account_id]
    assert [o.client_order_id for o in sim.engine.open_orders(account)] == [req.client_order_id]


async def test_an_order_the_venue_never_saw_settles_as_rejected(
    venue: tuple[SimVenue, BinanceExecution],
) -> None:
    sim, ex = venue
    lost = BinanceExecution.unknown(limit(sim, Side.BUY, "0.9"))
    settled = await ex.settle(lost, pause_s=0.01)
    assert settled.status is OrderStatus.REJECTED
    assert settled.reject_reason == "the venue never received the order"


async def test_cancel_all_and_replace(venue: tuple[SimVenue, BinanceExecution]) -> None:
    sim, ex = venue
    first, _ = await ex.place(limit(sim, Side.BUY, "0.9"))
    new = limit(sim, Side.BUY, "0.89", qty="0.2")
    canceled, placed, fills = await ex.replace(first.client_order_id, new)
    assert canceled.status is OrderStatus.CANCELED and placed.status is OrderStatus.NEW
    assert placed.quantity == D("0.2") and fills == []
    await ex.place(limit(sim, Side.SELL, "1.2"))
    done = await ex.cancel_all("ETHUSDT")
    assert len(done) == 2 and all(o.status is OrderStatus.CANCELED for o in done)
    assert await ex.cancel_all("ETHUSDT") == []


async def test_a_refused_replace_says_which_half_failed(
    venue: tuple[SimVenue, BinanceExecution],
) -> None:
    """rest-api.md: -2021/-2022 carry ``data`` with both halves; the connector reads it."""
    sim, ex = venue
    first, _ = await ex.place(limit(sim, Side.BUY, "0.9"))
    ask = sim.engine.books["ETHUSDT"].asks.best()
    assert ask is not None
    taking = OrderRequest(
        symbol="ETHUSDT",
        side=Side.BUY,
        type=OrderType.LIMIT_MAKER,
        price=ask,
        quantity=D("0.1"),
    )
    with pytest.raises(ReplaceFailed) as exc:
        await ex.replace(first.client_order_id, taking)
    # Cancelled, not replaced: the new order's own refusal, and the cancelled order.
    assert (exc.value.replace_code, exc.value.code, exc.value.status) == (-2021, -2010, 409)
    assert exc.value.msg == "Order would immediately match and take."
    assert exc.value.canceled is not None
    assert exc.value.canceled.client_order_id == first.client_order_id
    assert exc.value.canceled.status is OrderStatus.CANCELED and exc.value.placed is None
    with pytest.raises(ReplaceFailed) as exc:
        await ex.replace(first.client_order_id, limit(sim, Side.BUY, "0.8"))
    # Nothing done: the cancel's refusal.
    assert (exc.value.replace_code, exc.value.code) == (-2022, -2011)
    assert exc.value.canceled is None and exc.value.placed is None


async def test_cancelling_an_oco_leg_gives_that_leg(
    venue: tuple[SimVenue, BinanceExecution],
) -> None:
    """The venue answers a leg's cancel with the whole list; the connector picks the leg."""
    sim, ex = venue
    bid = sim.engine.books["ETHUSDT"].bids.best()
    ask = sim.engine.books["ETHUSDT"].asks.best()
    assert bid is not None and ask is not None
    above = OrderRequest(
        symbol="ETHUSDT",
        side=Side.SELL,
        type=OrderType.LIMIT_MAKER,
        price=(ask * D("1.05")).quantize(D("0.01")),
        quantity=D("0.1"),
    )
    below = OrderRequest(
        symbol="ETHUSDT",
        side=Side.SELL,
        type=OrderType.STOP_LOSS_LIMIT,
        stop_price=(bid * D("0.95")).quantize(D("0.01")),
        price=(bid * D("0.94")).quantize(D("0.01")),
        quantity=D("0.1"),
        time_in_force=TimeInForce.GTC,
    )
    legs, _ = await ex.place_oco(above, below)
    canceled = await ex.cancel("ETHUSDT", below.client_order_id)
    assert canceled.client_order_id == below.client_order_id
    assert canceled.status is OrderStatus.CANCELED and canceled.order_id == legs[1].order_id
