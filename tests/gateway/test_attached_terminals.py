"""Two terminal apps attached to one gateway, driven by keyboard (``App.run_test``): a
trader's orders and fills show on a viewer's screen as they happen; the viewer's order
keys are disabled, and pressing one says which role it needs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from textual.pilot import Pilot

from omnitrade_tui.bus import Bus
from omnitrade_tui.cli.attach import attached_session
from omnitrade_tui.domain.enums import OrderStatus
from omnitrade_tui.domain.events import BookState
from omnitrade_tui.gateway.client import GatewayClient
from omnitrade_tui.gateway.service import RunningGateway
from omnitrade_tui.tui.app import OmniTradeApp
from omnitrade_tui.tui.screens.help import HelpScreen
from omnitrade_tui.tui.screens.ticket import OrderTicket
from omnitrade_tui.tui.widgets.status_bar import StatusBar
from tests.gateway.conftest import PASSWORD
from tests.test_runtime import sim_settings
from tests.tui.test_app_trading import (
    keys_drained_per_press,
    place_deep_bid,
    ticket_open,
    until,
)


@asynccontextmanager
async def attached_app(
    gateway: RunningGateway, user: str, tmp_path: Path, bus: Bus | None = None
) -> AsyncIterator[tuple[OmniTradeApp, Pilot[None], GatewayClient]]:
    """The terminal app as ``omnitrade attach`` runs it, its BTCUSDT book live; ``bus`` is
    the terminal's own (a test subscribes to it first to see everything it is sent)."""
    bus = bus if bus is not None else Bus()
    client = GatewayClient(gateway.url, user, bus)
    welcome = await client.start(PASSWORD, follow=False)
    follow: list[asyncio.Future[None]] = []
    session = attached_session(
        welcome,
        bus,
        sim_settings(tmp_path / user),
        gateway.url,
        on_ready=lambda: follow.append(asyncio.ensure_future(client.follow())),
    )
    app = OmniTradeApp(session)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            with keys_drained_per_press(pilot):
                await until(
                    pilot,
                    lambda: (
                        app.state.symbols["BTCUSDT"].book_state is BookState.LIVE
                        and "BTC" in app.state.balances
                    ),
                    f"{user}'s book to go live and balances to arrive",
                )
                yield app, pilot, client
    finally:
        await client.aclose()


def _notices(app: OmniTradeApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


@pytest.mark.slow  # 28 s on 2 cores: two apps, a gateway and a venue
async def test_two_terminals_see_the_same_orders_and_fills_and_the_viewer_cannot_trade(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    async with (
        attached_app(gateway, "tom", tmp_path) as (trader, tp, _),
        attached_app(gateway, "vic", tmp_path) as (viewer, vp, _),
    ):
        # Who is attached where, in the status bar.
        bar = viewer.query_one("#status", StatusBar)
        text = "".join(seg.text for seg in bar.segments())
        assert "SIM via gateway" in text and "vic (viewer) @ 127.0.0.1:" in text
        # Every link's state arrives (one topic carries several links: never conflated).
        await until(
            vp,
            lambda: {"gateway", "market", "user"} <= set(viewer.state.links),
            "the gateway, market and user links",
        )

        # The trader places a limit order by keyboard; it shows on the viewer's screen.
        cid = await place_deep_bid(trader, tp)
        await until(vp, lambda: cid in viewer.state.orders, "the order on the viewer")
        assert viewer.state.orders[cid].status is OrderStatus.NEW

        # A market buy fills; the fill reaches both blotters.
        await tp.press("m")
        await until(tp, lambda: ticket_open(trader), "the trader's ticket")
        await tp.press(*"0.01")
        await tp.pause(0.2)
        await tp.press("enter")
        await until(tp, lambda: bool(trader.state.fills), "the trader's fill")
        fill_ids = {f.trade_id for f in trader.state.fills}
        await until(
            vp,
            lambda: fill_ids <= {f.trade_id for f in viewer.state.fills},
            "the fill on the viewer",
        )

        # The viewer's order keys are disabled, and say why when pressed.
        assert viewer.check_action("ticket", ()) is None
        assert trader.check_action("ticket", ()) is True
        await vp.press("b")
        await vp.pause(0.2)
        assert not isinstance(viewer.screen, OrderTicket)
        assert any("needs the trader role" in n for n in _notices(viewer))
        await vp.press("x")  # cancel all: the admin's
        await vp.pause(0.2)
        assert any("cancelling all orders needs the admin role" in n for n in _notices(viewer))
        # The help screen lists them as disabled, with the reason.
        await vp.press("question_mark")
        await until(vp, lambda: isinstance(viewer.screen, HelpScreen), "the help screen")
        help_screen = viewer.screen
        assert isinstance(help_screen, HelpScreen)
        # The help is a grid now: what it lists is its rows (keys, text, id).
        shown = " ".join(" ".join(row) for row in help_screen.rows)
        assert "DISABLED: placing orders needs the trader role" in shown
        await vp.press("escape")

        # The trader cancels by keyboard; the viewer sees it go.
        await tp.press("o")
        await tp.pause(0.1)
        await tp.press("c")
        await until(
            vp,
            lambda: (
                viewer.state.orders.get(cid) is None
                or viewer.state.orders[cid].status is OrderStatus.CANCELED
            ),
            "the cancel on the viewer",
        )


async def test_a_terminal_attaching_late_is_given_the_current_state(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    async with attached_app(gateway, "tom", tmp_path) as (trader, tp, _):
        cid = await place_deep_bid(trader, tp)
        usdt = trader.state.balances["USDT"]
        async with attached_app(gateway, "vic", tmp_path) as (viewer, vp, _):
            await until(vp, lambda: cid in viewer.state.orders, "the open order, replayed")
            assert viewer.state.balances["USDT"].locked == usdt.locked
            assert viewer.state.balances["USDT"].locked > Decimal(0)
