"""The trader's drill on two venues: the app on a run of the simulated venue (native
connector) and a second simulated venue reached through ccxt, driven by keyboard.

After each step what the screen holds (open orders, balances) is compared with what each
venue's own REST says: an order entered on each venue's symbol lands on that venue only,
and the kill switch (ctrl+k) cancels on both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from textual.pilot import Pilot

from omnitrade_tui.domain.events import BookState
from omnitrade_tui.domain.venue import venue_of
from omnitrade_tui.runtime import Runtime
from omnitrade_tui.tui.app import OmniTradeApp
from omnitrade_tui.tui.screens.ticket import OrderTicket
from omnitrade_tui.tui.widgets.status_bar import StatusBar
from tests.tui.test_app_trading import keys_drained_per_press, place_deep_bid, until
from tests.venues.multi.profiles import two_venue_settings

pytestmark = pytest.mark.slow


@asynccontextmanager
async def two_venue_app(
    tmp_path: Path,
) -> AsyncIterator[tuple[OmniTradeApp, Pilot[None], Runtime]]:
    """The app on both venues, both BTCUSDT books live and both accounts' balances in."""
    async with Runtime.start(two_venue_settings(tmp_path), seed=7, connect=False) as runtime:
        app = OmniTradeApp(runtime.session())
        async with app.run_test(size=(160, 45)) as pilot:
            with keys_drained_per_press(pilot):
                symbols = app.state.symbols
                await until(
                    pilot,
                    lambda: (
                        symbols["BTCUSDT"].book_state is BookState.LIVE
                        and symbols["BTCUSDT@alt"].book_state is BookState.LIVE
                        and {"BTC", "BTC@alt"} <= set(app.state.balances)
                    ),
                    "both books live and both venues' balances",
                    timeout=20,
                )
                yield app, pilot, runtime


async def venue_open_ids(runtime: Runtime) -> dict[str, set[str]]:
    """Each venue's open orders by its own REST, by venue qualifier."""
    first = await runtime.manager.port.open_orders()
    alt = await runtime.venues["alt"].execution.open_orders()
    return {"": {o.client_order_id for o in first}, "alt": {o.client_order_id for o in alt}}


def screen_open_ids(app: OmniTradeApp) -> dict[str, set[str]]:
    """The screen's open orders by venue."""
    out: dict[str, set[str]] = {"": set(), "alt": set()}
    for order in app.state.open_orders():
        out[venue_of(order.symbol)].add(order.client_order_id)
    return out


async def test_an_order_on_each_venue_by_keyboard_and_the_kill_switch_cancels_both(
    tmp_path: Path,
) -> None:
    async with two_venue_app(tmp_path) as (app, pilot, runtime):
        # The status bar says the second venue's links apart from the first's.
        status = app.query_one("#status", StatusBar)
        await until(
            pilot,
            lambda: "@alt ●" in "".join(seg.text for seg in status.segments()),
            "the second venue's links on the status bar",
        )
        # The watchlist groups the pair: BTCUSDT, then its second venue right under it.
        assert app.state.watchlist[:2] == ("BTCUSDT", "BTCUSDT@alt")
        first = await place_deep_bid(app, pilot, depth=8)
        # w: to the watchlist; down: the pair's second venue.
        await pilot.press("w", "down")
        await until(pilot, lambda: app.state.active == "BTCUSDT@alt", "the second venue")
        second = await place_deep_bid(app, pilot, depth=8)
        assert app.state.orders[second].symbol == "BTCUSDT@alt"
        expected = {"": {first}, "alt": {second}}
        # The venues' own answers, and the screen, agree: each order on its venue only.
        assert await venue_open_ids(runtime) == expected
        await until(pilot, lambda: screen_open_ids(app) == expected, "the screen's orders")
        # The account on the second venue shows under its own names.
        assert app.state.free("USDT@alt") > 0

        await pilot.press("ctrl+k")
        await until(pilot, lambda: app.state.locked, "the kill switch")
        await until(pilot, lambda: not app.state.open_orders(), "every order cancelled")
        assert await venue_open_ids(runtime) == {"": set(), "alt": set()}
        await pilot.press("b")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, OrderTicket), "no ticket while locked"
