"""The terminal app driven by keyboard against the simulated venue, through the real
runtime (connector, order manager behind the risk gate, SQLite history).

Each test presses the keys the README documents and checks what the screen's state shows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import textual.app
from textual.pilot import Pilot

from omnitrade_tui.bus import each
from omnitrade_tui.config import Overrides, load_settings
from omnitrade_tui.domain.enums import OrderStatus, OrderType, Side
from omnitrade_tui.domain.events import BookState
from omnitrade_tui.runtime import Runtime
from omnitrade_tui.tui.app import OmniTradeApp
from omnitrade_tui.tui.screens.amend import AmendOrder
from omnitrade_tui.tui.screens.ticket import OrderTicket
from omnitrade_tui.tui.widgets.ladder import Ladder
from omnitrade_tui.tui.widgets.row_table import RowTable
from omnitrade_tui.tui.widgets.status_bar import StatusBar
from tests import waiting

# Each test starts the whole app on a venue and types into it: 11-28 s each on 2 cores.
pytestmark = pytest.mark.slow


@asynccontextmanager
async def running_app(
    tmp_path: Path, size: tuple[int, int] = (160, 45)
) -> AsyncIterator[tuple[OmniTradeApp, Pilot[None], Runtime]]:
    """The app on a fresh simulated venue, its book live."""
    env = {
        "OMNITRADE_CONFIG_DIR": str(tmp_path / "config"),
        "OMNITRADE_STATE_DIR": str(tmp_path / "state"),
        "OMNITRADE_DATA_DIR": str(tmp_path / "data"),
        "OMNITRADE_DB_URL": f"sqlite:///{tmp_path / 'history.db'}",
    }
    settings = load_settings(Overrides(), env=env)
    async with Runtime.start(settings, seed=11, connect=False) as runtime:
        app = OmniTradeApp(runtime.session())
        async with app.run_test(size=size) as pilot:
            with keys_drained_per_press(pilot):
                await until(
                    pilot,
                    lambda: (
                        app.state.symbols["BTCUSDT"].book_state is BookState.LIVE
                        and "BTC" in app.state.balances
                    ),
                    "the BTCUSDT book to go live and balances to arrive",
                )
                yield app, pilot, runtime


#: The pilots of the apps a test runs now, whose queues a key press waits for.
_PRESSING: list[Pilot[None]] = []


@contextmanager
def keys_drained_per_press(pilot: Pilot[None]) -> Iterator[None]:
    """Between the keys of ``pilot.press``, wait for the app and the screen to have handled
    every message queued so far, instead of Textual's wait for the process to look idle.

    Textual's wait compares CPU with wall time and gives up after a second; with the venue
    simulated in the same process the process never looks idle, so every key cost up to two
    seconds (a 280-key drill spent 200 s there). Draining the queues is the stronger
    guarantee anyway: each key (and what its binding pushed) is handled before the next.
    """

    async def drained(min_sleep: float = 0.0, max_sleep: float = 1.0) -> None:
        for each_pilot in list(_PRESSING):  # two apps in one test: either may be typed into
            await each_pilot._wait_for_screen()

    _PRESSING.append(pilot)
    try:
        with mock.patch.object(textual.app, "wait_for_idle", drained):
            yield
    finally:
        _PRESSING.remove(pilot)


async def until(
    pilot: Pilot[None], check: Callable[[], bool], what: str, timeout: float = 10.0
) -> None:
    """Wait (letting the app run) until ``check()`` holds."""

    def shown() -> str:
        # Pilot[None] types its app as App[None]; the pilots here drive an OmniTradeApp.
        log = [line.text for line in list(pilot.app.state.log)[-8:]]  # type: ignore[attr-defined]
        return f"screen {pilot.app.screen!r}; log {log}"

    await waiting.until(check, what, timeout, pause=pilot.pause, detail=shown)


def ticket_open(app: OmniTradeApp) -> bool:
    """The ticket is the screen and has mounted (its first check made, the focus of its
    first field asked for): keys pressed from now on reach its fields, not the screen below."""
    return isinstance(app.screen, OrderTicket) and app.screen.check is not None


def amend_open(app: OmniTradeApp) -> bool:
    """The amend dialog is the screen and its price field has the keyboard: arrows nudge it."""
    focused = app.focused
    return isinstance(app.screen, AmendOrder) and focused is not None and focused.id == "price"


def commands_seen(app: OmniTradeApp) -> list[Any]:
    """Every command journaled on the bus from now on."""
    seen: list[Any] = []
    app.bus.subscribe("cmd.>", each(lambda topic, event: seen.append(event)))
    return seen


async def place_deep_bid(app: OmniTradeApp, pilot: Pilot[None], depth: int = 8) -> str:
    """Group the ladder by 1000 ticks, walk ``depth`` rows into the bids, Enter: the ticket
    opens at that row's price; move the price further down (the simulated market moves
    fast), type a quantity, Enter. Returns the new order's client id."""
    before = set(app.state.orders)
    await pilot.press("l")
    ladder = app.query_one("#ladder", Ladder)
    while ladder.group < 1000:
        await pilot.press("right_square_bracket")
    for _ in range(depth):
        await pilot.press("down")
    await pilot.pause(0.1)
    # The row under the cursor is read from the last paint: let the new grouping be painted.
    await ladder.wait_for_refresh()
    row = ladder.cursor_row
    assert row is not None
    assert row.side is Side.BUY
    await pilot.press("enter")
    await until(pilot, lambda: ticket_open(app), "the ticket")
    ticket = app.screen
    assert isinstance(ticket, OrderTicket)
    assert ticket.form.side is Side.BUY
    # Rows are 10 USDT buckets, so the row under the cursor keeps its price as the book moves.
    assert Decimal(ticket.form.price) == Decimal(repr(row.price))
    deeper = Decimal(ticket.form.price) - 200 - depth
    # Tab into a field selects its text, so typing replaces it (ctrl+u is the unlock key).
    await pilot.press(*"0.01", "shift+tab", *str(deeper))
    await pilot.press("enter")
    await until(pilot, lambda: not isinstance(app.screen, OrderTicket), "the ticket to close")
    new = set(app.state.orders) - before
    assert len(new) == 1
    return new.pop()


async def test_limit_order_by_keyboard_shows_in_orders_and_on_the_ladder(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, runtime):
        cid = await place_deep_bid(app, pilot)
        await until(
            pilot, lambda: app.state.orders[cid].status is OrderStatus.NEW, "the order to be NEW"
        )
        order = app.state.orders[cid]
        await pilot.pause(0.2)
        orders = app.query_one("#orders", RowTable)
        assert [r.key for r in orders.rows] == [cid]
        ladder = app.query_one("#ladder", Ladder)
        assert ladder.own == {(Side.BUY, float(order.price or 0)): 0.01}
        own_rows = [r for r in ladder.rows if r.own_qty]
        assert [r.own_qty for r in own_rows] == [0.01]
        bucket = Decimal(repr(ladder.bucket))
        assert Decimal(repr(own_rows[0].price)) == (order.price or 0) // bucket * bucket
        # The venue holds exactly this order.
        venue = await runtime.manager.port.open_orders("BTCUSDT")
        assert [o.client_order_id for o in venue] == [cid]


async def test_amend_then_cancel_by_keyboard(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, runtime):
        cid = await place_deep_bid(app, pilot)
        old_price = app.state.orders[cid].price
        assert old_price is not None
        tick = app.state.instruments["BTCUSDT"].tick_size
        await pilot.press("o", "a")
        await until(pilot, lambda: amend_open(app), "the amend dialog")
        await pilot.press("down", "down", "down")
        await pilot.press("enter")
        await until(
            pilot,
            lambda: (
                app.state.orders[cid].status is OrderStatus.CANCELED
                and len(app.state.open_orders()) == 1
            ),
            "the cancel-replace",
        )
        new = app.state.open_orders()[0]
        assert new.client_order_id != cid
        assert new.price == old_price - 3 * tick
        await pilot.pause(0.2)
        orders = app.query_one("#orders", RowTable)
        assert orders.cursor_key == new.client_order_id
        await pilot.press("c")
        await until(pilot, lambda: not app.state.open_orders(), "the cancel")
        assert app.state.orders[new.client_order_id].status is OrderStatus.CANCELED
        await pilot.pause(0.2)
        assert app.query_one("#ladder", Ladder).own == {}
        assert await runtime.manager.port.open_orders("BTCUSDT") == []


async def test_market_order_fills_and_shows_in_fills_and_balances(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _runtime):
        btc_before = app.state.balances["BTC"].free
        await pilot.press("m")
        await until(pilot, lambda: ticket_open(app), "the ticket")
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        await pilot.press(*"0.02")
        await pilot.pause(0.1)
        assert ticket.check is not None
        assert any("expected avg" in line for line in ticket.check.preview.lines)
        await pilot.press("enter")
        await until(
            pilot,
            lambda: sum((f.qty for f in app.state.fills), Decimal(0)) == Decimal("0.02"),
            "fills of the whole 0.02",
        )
        fee_btc = sum(
            (f.commission for f in app.state.fills if f.commission_asset == "BTC"), Decimal(0)
        )
        await until(
            pilot,
            lambda: app.state.balances["BTC"].free == btc_before + Decimal("0.02") - fee_btc,
            "the BTC balance to grow by the fill, less the fee",
        )
        await pilot.press("2")
        await pilot.pause(0.2)
        assert len(app.query_one("#fills", RowTable).rows) == len(app.state.fills)
        balances = {r.key for r in app.query_one("#balances", RowTable).rows}
        assert {"BTC", "USDT"} <= balances
        positions = app.query_one("#positions", RowTable).rows
        assert [r.key for r in positions] == ["BTCUSDT"]


async def test_bad_price_shows_the_filter_reason_and_sends_nothing(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _runtime):
        seen = commands_seen(app)
        await pilot.press("b")
        await until(pilot, lambda: ticket_open(app), "the ticket")
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        await pilot.press(*"0.01")
        await pilot.press("shift+tab")  # back to the price
        await pilot.press(*"100.123")
        await pilot.pause(0.1)
        assert ticket.form.price == "100.123"
        assert ticket.check is not None
        reason = ticket.check.errors["price"]
        assert "PRICE_FILTER" in reason
        assert "100.12 or 100.13" in reason
        shown = ticket.query_one("#reason-price").render()
        assert "100.12 or 100.13" in str(shown)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, OrderTicket), "the ticket stays open for editing"
        await pilot.press("tab", "shift+tab", *"abc")
        await pilot.pause(0.1)
        assert "not a plain decimal number" in ticket.check.errors["price"]
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert seen == []
        assert app.state.orders == {}


async def test_kill_switch_cancels_all_and_locks_trading(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, runtime):
        await place_deep_bid(app, pilot, depth=8)
        await place_deep_bid(app, pilot, depth=10)
        await until(pilot, lambda: len(app.state.open_orders()) == 2, "two open orders")
        await pilot.press("ctrl+k")
        await until(pilot, lambda: app.state.locked, "the kill switch")
        await until(pilot, lambda: not app.state.open_orders(), "every order cancelled")
        assert await runtime.manager.port.open_orders() == []
        await pilot.press("b")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, OrderTicket), "no ticket while locked"
        status = "".join(seg.text for seg in app.query_one("#status", StatusBar).segments())
        assert "KILL SWITCH" in status
        await pilot.press("ctrl+u")
        await pilot.press("y")
        await until(pilot, lambda: not app.state.locked, "the unlock")


async def test_venue_rejection_keeps_the_ticket_with_the_reason(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _runtime):
        await pilot.press("s")
        await until(pilot, lambda: ticket_open(app), "the ticket")
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        # More BTC than the account holds: the ticket says so before Enter...
        await pilot.press(*"50")
        await pilot.pause(0.1)
        assert ticket.check is not None
        assert "insufficient BTC" in ticket.check.errors["quantity"]
        # ...and when the screen's balance is wrong (here: not known), the venue refuses.
        del app.state.balances["BTC"]
        await pilot.press("backspace", "0")
        await pilot.press("enter")
        await until(
            pilot, lambda: "REJECTED" in str(ticket.query_one("#problem").render()), "the rejection"
        )
        assert isinstance(app.screen, OrderTicket)
        assert "-2010" in str(ticket.query_one("#problem").render())


async def test_oco_by_keyboard_places_two_linked_legs(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, runtime):
        top = app.state.symbols["BTCUSDT"].top
        assert top is not None
        mid = Decimal(repr(top.bids[0].price))
        await pilot.press("s")
        await until(pilot, lambda: ticket_open(app), "the ticket")
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        await pilot.press(*"0.01")
        await pilot.press("shift+tab", "shift+tab")  # quantity -> price -> type
        await pilot.press(*["right"] * 5)  # LIMIT -> ... -> OCO
        await pilot.pause(0.1)
        assert ticket.form.oco
        await pilot.press("tab", *str(mid + 500))  # take profit well above
        await pilot.press("tab", *str(mid - 500))  # stop well below
        await pilot.press("tab", *str(mid - 510))  # its limit
        await pilot.pause(0.1)
        assert ticket.check is not None
        assert ticket.check.errors == {}
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, OrderTicket), "the ticket to close")
        await until(pilot, lambda: len(app.state.open_orders()) == 2, "two open legs")
        legs = app.state.open_orders()
        assert {o.type for o in legs} == {OrderType.LIMIT_MAKER, OrderType.STOP_LOSS_LIMIT}
        assert legs[0].order_list_id == legs[1].order_list_id >= 0
        venue = await runtime.manager.port.open_orders("BTCUSDT")
        assert len(venue) == 2
        await pilot.press("x", "y")  # cancel all on the symbol, confirmed
        await until(pilot, lambda: not app.state.open_orders(), "both legs cancelled")


@pytest.mark.slow
async def test_o_down_c_cancels_the_second_listed_order_at_the_venue(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, runtime):
        await place_deep_bid(app, pilot, depth=8)
        await place_deep_bid(app, pilot, depth=10)
        await until(pilot, lambda: len(app.state.open_orders()) == 2, "two open orders")
        await pilot.pause(0.2)
        listed = [r.key for r in app.query_one("#orders", RowTable).rows]
        assert len(listed) == 2
        await pilot.press("o", "down", "c")
        await until(pilot, lambda: len(app.state.open_orders()) == 1, "the cancel")
        venue = await runtime.manager.port.open_orders("BTCUSDT")
        assert [o.client_order_id for o in venue] == [listed[0]]
        sent = [str(n.message) for n in app._notifications if "Cancel sent" in str(n.message)]
        assert len(sent) == 1 and f"(cid {listed[1]})" in sent[0]
