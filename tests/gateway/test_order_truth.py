"""Issue 20, item 3, through the gateway: the engine owns order and position truth, so two
terminals attached at different times show the same orders and the same PnL, and the one
attaching late starts from the order book's snapshot and then takes every update above its
sequence, none missed and none twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from textual.pilot import Pilot

from omnitrade_tui.bus import Bus, each, topics
from omnitrade_tui.domain.enums import OrderStatus
from omnitrade_tui.domain.events import OrderBookSnapshot, OrderBookUpdate
from omnitrade_tui.gateway.service import RunningGateway
from omnitrade_tui.tui.app import OmniTradeApp
from tests.gateway.test_attached_terminals import attached_app
from tests.tui.test_app_trading import place_deep_bid, ticket_open, until

BookEvent = OrderBookUpdate | OrderBookSnapshot


@asynccontextmanager
async def attached(
    gateway: RunningGateway, user: str, tmp_path: Path, seen: list[BookEvent]
) -> AsyncIterator[tuple[OmniTradeApp, Pilot[None]]]:
    """The terminal app as ``omnitrade attach`` runs it; ``seen`` gets every ``exec.book``
    event its bus receives from the gateway, in order."""
    bus = Bus()
    bus.subscribe(topics.ORDER_BOOK, each(lambda topic, event: seen.append(event)))
    async with attached_app(gateway, user, tmp_path, bus) as (app, pilot, _client):
        yield app, pilot


def _in_sequence(seen: list[BookEvent]) -> list[int]:
    """The sequence numbers after the first snapshot; fails if the snapshot is not first."""
    assert seen and isinstance(seen[0], OrderBookSnapshot), "the snapshot comes first"
    return [e.seq for e in seen[1:] if isinstance(e, OrderBookUpdate)]


async def test_terminals_attached_at_different_times_show_the_same_orders_and_pnl(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    trader_seen: list[BookEvent] = []
    viewer_seen: list[BookEvent] = []
    async with attached(gateway, "tom", tmp_path, trader_seen) as (trader, tp):
        resting = await place_deep_bid(trader, tp)
        await tp.press("m")
        await until(tp, lambda: ticket_open(trader), "the trader's ticket")
        await tp.press(*"0.01")
        await tp.pause(0.2)
        await tp.press("enter")
        await until(tp, lambda: bool(trader.state.fills), "the trader's fill")
        await until(
            tp,
            lambda: trader.state.portfolio.position("BTCUSDT") is not None,
            "the engine's position on the trader's screen",
        )

        # The viewer attaches after the order and the fill: it saw neither happen.
        async with attached(gateway, "vic", tmp_path, viewer_seen) as (viewer, vp):
            await until(
                vp,
                lambda: (
                    viewer.state.orders_seq == trader.state.orders_seq
                    and viewer.state.orders == trader.state.orders
                ),
                "the same orders on both screens",
            )
            assert viewer.state.orders[resting].status is OrderStatus.NEW
            # The same positions and PnL, valued in the engine (marks move: both screens
            # get the same events, so they agree once both have drawn the newest).
            await until(
                vp,
                lambda: viewer.state.portfolio == trader.state.portfolio,
                "the same positions and PnL on both screens",
            )
            held = viewer.state.portfolio.position("BTCUSDT")
            assert held is not None and held.qty > 0
            assert not viewer.state.fills  # it saw no fill, yet shows the position

            # The trader cancels; both see it, the viewer by the updates above its snapshot.
            await tp.press("o")
            await tp.pause(0.1)
            await tp.press("c")
            await until(
                vp,
                lambda: (
                    viewer.state.orders.get(resting) is None
                    or viewer.state.orders[resting].status is OrderStatus.CANCELED
                ),
                "the cancel on the viewer",
            )
            await until(
                vp,
                lambda: (
                    viewer.state.orders == trader.state.orders
                    and viewer.state.orders_seq == trader.state.orders_seq
                ),
                "the same orders after the cancel",
            )

    # The late terminal: its snapshot, then every update above it, in order, each once.
    snapshot = viewer_seen[0]
    assert isinstance(snapshot, OrderBookSnapshot) and snapshot.seq > 0
    after = _in_sequence(viewer_seen)
    assert after == list(range(snapshot.seq + 1, snapshot.seq + 1 + len(after)))
    assert after, "the cancel came as updates above the snapshot"
    # The early terminal saw every update from its own (empty) snapshot on, also in order.
    early = _in_sequence(trader_seen)
    assert early == list(range(trader_seen[0].seq + 1, trader_seen[0].seq + 1 + len(early)))
    assert set(after) <= set(early)
