"""The ccxt venue against the sim with its faults on: the book converges after gaps and
dropped connections, no fill is lost or said twice, a lost answer is UNKNOWN until a query
settles it, and every reconnect of the user stream reconciles."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from omnitrade_tui.bus import each
from omnitrade_tui.domain import OrderRequest, OrderStatus, OrderType, Side
from omnitrade_tui.domain.commands import PlaceOrder
from omnitrade_tui.domain.events import BookState, BookTop
from omnitrade_tui.engine.order_manager import OrderRefused
from omnitrade_tui.venues.sim.venue import Faults
from tests.venues.ccxt.conftest import SYMBOLS, Rig, ccxt_rig
from tests.waiting import until


def _keep_tops(rig: Rig) -> dict[str, BookTop]:
    tops: dict[str, BookTop] = {}

    def keep(topic: str, event: Any) -> None:
        if isinstance(event, BookTop):
            tops[event.symbol] = event

    rig.bus.subscribe("md.book.*", each(keep), name="test.books")
    return tops


async def _book_equals_venue(rig: Rig, tops: dict[str, BookTop], symbol: str) -> bool:
    venue_id, bids, asks = await rig.venue.book(symbol)
    top = tops.get(symbol)
    if top is None or top.state is not BookState.LIVE or top.update_id != venue_id:
        return False
    return {b.price: b.qty for b in top.bids} == bids and {a.price: a.qty for a in top.asks} == asks


async def _converged(rig: Rig, tops: dict[str, BookTop]) -> None:
    for symbol in SYMBOLS:

        async def equal(symbol: str = symbol) -> bool:
            return await _book_equals_venue(rig, tops, symbol)

        await until(equal, f"{symbol} to converge", 3.0, fail=False)
        assert await _book_equals_venue(rig, tops, symbol), (
            f"{symbol} did not converge: {rig.market.books[symbol].state}"
        )


async def test_the_book_converges_after_gaps_and_dropped_connections() -> None:
    async with ccxt_rig(Faults(gap_every_s=0.4, close_every_s=1.5)) as rig:
        tops = _keep_tops(rig)
        await asyncio.sleep(4.0)
        assert sum(b.gaps for b in rig.market.books.values()) >= 2
        assert sum(b.resyncs for b in rig.market.books.values()) >= 2
        assert rig.market.reconnects >= 1
        # Faults off, the market still moving: the next diff after the last gap reveals it
        # (ccxt never checks a silent book against a snapshot; see VenueCapabilities).
        await rig.venue.set_faults(gap_every_s=0, close_every_s=0)
        await asyncio.sleep(1.0)
        await rig.venue.freeze()
        await _converged(rig, tops)


def _market(side: Side, qty: str = "0.01") -> OrderRequest:
    return OrderRequest(symbol="ETHUSDT", side=side, type=OrderType.MARKET, quantity=Decimal(qty))


async def _settled(rig: Rig) -> None:
    """Until no order the bus told of is UNKNOWN or PENDING_NEW."""
    await rig.wait_for(
        lambda: (
            not any(
                s in (OrderStatus.UNKNOWN, OrderStatus.PENDING_NEW)
                for s in rig.said_orders.values()
            )
        ),
        10,
        "every order settled",
    )


async def _check_fills_and_orders(rig: Rig) -> None:
    venue = await rig.venue.my_trades()
    assert set(rig.said_fills) == set(venue), (
        f"lost {sorted(set(venue) - set(rig.said_fills))[:5]}, "
        f"extra {sorted(set(rig.said_fills) - set(venue))[:5]}"
    )
    assert rig.said_fills == venue, "a fill's quantity or price differs from the venue's"
    assert set(rig.manager.fills) == set(venue)  # each counted once by the engine
    refs = [("ETHUSDT", cid) for cid in rig.said_orders]
    truths = await rig.venue.orders(refs)
    for cid, status in rig.said_orders.items():
        truth = truths[cid]
        if truth is None:
            assert status is OrderStatus.REJECTED, f"{cid}: the venue never saw it"
        else:
            assert status is truth[0], f"{cid}: said {status}, venue {truth[0]}"


async def test_a_lost_answer_is_unknown_then_settled_by_query(rig: Rig) -> None:
    await rig.wait_live()
    await rig.venue.fail_next_orders(1)
    order = await rig.bus.request(PlaceOrder(request=_market(Side.BUY)))
    assert order.status is OrderStatus.UNKNOWN
    await _settled(rig)
    assert rig.said_orders[order.client_order_id] is OrderStatus.FILLED
    await rig.wait_for(lambda: len(rig.said_fills) == 1, 5, "the settled order's fill")
    await _check_fills_and_orders(rig)


@pytest.mark.slow
async def test_no_fill_lost_or_said_twice_through_dropped_connections_and_lost_answers() -> None:
    async with ccxt_rig(Faults(close_every_s=1.2, gap_every_s=1.0)) as rig:
        await rig.wait_live()
        tops = _keep_tops(rig)
        placed = 0
        for i in range(16):
            if i % 5 == 2:
                await rig.venue.fail_next_orders(1)
            side = Side.BUY if i % 2 == 0 else Side.SELL
            try:
                await rig.bus.request(PlaceOrder(request=_market(side)), timeout=10)
                placed += 1
            except OrderRefused:
                pass  # refused while a link was down: never sent twice, checked below
            await asyncio.sleep(0.3)
        await rig.venue.set_faults(close_every_s=0, gap_every_s=0)
        # What traded while the link was last down comes with the reconciliation after it.
        await asyncio.sleep(0.5)
        await rig.wait_for(lambda: rig.user.connected, 10, "the user stream back")
        await _settled(rig)
        await asyncio.sleep(1.0)  # the user stream's last trades in flight land
        await rig.venue.freeze()
        await _check_fills_and_orders(rig)
        await _converged(rig, tops)
        assert placed >= 10
        assert rig.unknown_said >= 2
        assert rig.user.sessions >= 2 and rig.user.reconciled >= 2


async def test_a_reconnect_reconciles_a_fill_made_while_the_user_stream_was_down(
    rig: Rig,
) -> None:
    await rig.wait_live()
    reconciled = rig.user.reconciled
    # The account trades elsewhere (another terminal, a bot) while our link is cut.
    await rig.venue.set_faults(close_every_s=0.3)
    await rig.wait_for(lambda: rig.user.sessions >= 2, 5, "the user stream to drop")
    await rig.venue.set_faults(close_every_s=0)
    other = rig.exchange
    raw = await other.create_order(
        "ETH/USDT", "market", "buy", 0.02, None, {"clientOrderId": "elsewhere-1"}
    )
    assert raw["status"] == "closed"
    await rig.wait_for(lambda: rig.user.reconciled > reconciled, 10, "a reconciliation")
    await rig.wait_for(
        lambda: rig.said_orders.get("elsewhere-1") is OrderStatus.FILLED, 5, "the order's fill"
    )
    await _check_fills_and_orders(rig)
