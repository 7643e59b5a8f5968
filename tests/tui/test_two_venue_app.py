"""The trader's drill on two venues: the app on a run of the simulated venue (native
connector) and a second simulated venue reached through ccxt, driven by keyboard.

After each step what the screen holds (open orders, balances) is compared with what each
venue's own REST says: an order entered on each venue's symbol lands on that venue only,
and the kill switch (ctrl+k) cancels on both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
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
        # Each venue's rate-limit use is kept apart: ccxt's own throttle for the second.
        await until(pilot, lambda: "alt" in app.state.rate_limits, "the second venue's throttle")
        assert app.state.rate_limits["alt"].kind == "CCXT_QUEUE"
        assert app.state.rate_limit is None or app.state.rate_limit.kind != "CCXT_QUEUE"
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


async def test_the_ticket_opens_on_the_venue_with_the_best_price_and_can_switch(
    tmp_path: Path,
) -> None:
    async with two_venue_app(tmp_path) as (app, pilot, runtime):
        state = app.state
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, OrderTicket), "the ticket")
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        # b is not priced by a ladder row: the pair opens where the ask is lowest, whichever
        # symbol is active, and every venue's ask and free quote is on the ticket.
        asks = {
            i: state.symbols[i].top.asks[0].price  # type: ignore[union-attr]
            for i in ("BTCUSDT", "BTCUSDT@alt")
        }
        assert ticket.venue_ids == ["BTCUSDT", "BTCUSDT@alt"]
        opened = ticket.instrument.symbol
        assert asks[opened] <= max(asks.values())
        line = str(ticket.query_one("#venues").render())
        assert "sim ask" in line and "alt ask" in line and "◀ best" in line
        assert "free 100,000.00 USDT" in line
        # The venue row takes ←→ like the other choices: the other venue, its filters and
        # its balances from then on.
        for _ in range(12):
            if app.focused is not None and app.focused.id == "venue":
                break
            await pilot.press("shift+tab")
        assert app.focused is not None and app.focused.id == "venue"
        await pilot.press("right" if opened == "BTCUSDT" else "left")
        other = "BTCUSDT@alt" if opened == "BTCUSDT" else "BTCUSDT"
        await until(pilot, lambda: ticket.instrument.symbol == other, "the other venue")
        assert other in str(ticket.query_one("#title").render())
        # Sent from there, the order lands on that venue. Tab into a field selects its
        # text, so typing replaces it.
        # 5% under (inside the sim profile's 10% band), so it rests.
        price = Decimal(ticket.form.price) * Decimal("0.95")
        for field, text in (("price", f"{price:.2f}"), ("quantity", "0.01")):
            for _ in range(12):
                if app.focused is not None and app.focused.id == field:
                    break
                await pilot.press("tab")
            await pilot.press(*text)
        await pilot.press("enter")
        await until(
            pilot,
            lambda: not isinstance(app.screen, OrderTicket),
            "the ticket to close",
            timeout=15,
        )
        placed = [o for o in state.open_orders() if o.symbol == other]
        assert len(placed) == 1
        ids = await venue_open_ids(runtime)
        assert ids[venue_of(other)] == {placed[0].client_order_id}


async def test_the_ticket_says_what_a_ccxt_venue_lacks_and_refuses_an_oco_there(
    tmp_path: Path,
) -> None:
    async with two_venue_app(tmp_path) as (app, pilot, _runtime):
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, OrderTicket), "the ticket")
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)

        async def focus(field: str) -> None:
            for _ in range(12):
                if app.focused is not None and app.focused.id == field:
                    return
                await pilot.press("shift+tab")
            raise AssertionError(f"never reached {field}")

        await focus("venue")
        if ticket.instrument.symbol != "BTCUSDT@alt":
            await pilot.press("right")
        await until(pilot, lambda: ticket.instrument.symbol == "BTCUSDT@alt", "venue alt")
        assert "⚠ @alt via ccxt:binance: " in str(ticket.query_one("#venues").render())
        await pilot.press("tab", "tab")  # Side, then Type
        assert app.focused is not None and app.focused.id == "type"
        for _ in range(8):
            if ticket.form.oco:
                break
            await pilot.press("right")
        assert ticket.form.oco
        await until(
            pilot,
            lambda: ticket.check is not None and "type" in ticket.check.errors,
            "the OCO refused before Enter",
        )
        assert ticket.check is not None and ticket.check.request is None
        assert "no OCO lists on @alt (via ccxt:binance)" in ticket.check.errors["type"]
        await pilot.press("escape")
