"""The ccxt venue against the sim without faults: instruments, book, orders, user data."""

from __future__ import annotations

from decimal import Decimal

from omnitrade_tui.domain import OrderRequest, OrderStatus, OrderType, Side
from omnitrade_tui.domain.commands import PlaceOrder
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
