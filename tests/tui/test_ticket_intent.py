"""Issue 14, items 3 and 7 (the screen's part): one client order id per intent, kept across
a resend after a timeout (ticket, OCO, amend); after Enter the ticket takes no keys but the
kill switch until the answer; an order held for the rate limit says so, counting down, in
the ticket and the blotter."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from textual.color import Color
from textual.widgets import Input, Static

from omnitrade_tui.bus import topics
from omnitrade_tui.domain.commands import EngageKillSwitch, PlaceOco, PlaceOrder, ReplaceOrder
from omnitrade_tui.domain.enums import OrderStatus, Side
from omnitrade_tui.domain.events import OrderHeld
from omnitrade_tui.domain.models import Order
from omnitrade_tui.tui.screens.amend import AmendOrder
from omnitrade_tui.tui.screens.ticket import OrderTicket
from omnitrade_tui.tui.widgets.choice import Choice
from omnitrade_tui.tui.widgets.row_table import RowTable
from tests.tui.order_path import (
    accepted,
    answer,
    publish_order,
    recorder,
    seeded_app,
    started,
    until,
)


def held(cid: str, retry_in_s: float, still: bool = True) -> OrderHeld:
    """The governor's notice that a new order waits (or no longer waits) for the limit."""
    return OrderHeld(
        client_order_id=cid,
        symbol="BTCUSDT",
        action="place",
        reason="rate limit",
        retry_in_s=retry_in_s,
        held=still,
    )


def slow_first(received: list[Any], reply: Any) -> Any:
    """A handler that answers too late the first time and at once after."""

    async def handle(cmd: Any) -> Any:
        received.append(cmd)
        if len(received) == 1:
            await asyncio.sleep(1.0)
        return reply(cmd)

    return handle


async def test_a_second_enter_after_a_timeout_resends_the_same_client_order_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(OrderTicket, "timeout_s", 0.3)
    app = seeded_app()
    sent: list[PlaceOrder] = []
    answer(app, PlaceOrder, slow_first(sent, lambda cmd: accepted(cmd.request)))
    async with started(app) as pilot:
        await pilot.press("b")
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        fixed = ticket.form.client_order_id
        await pilot.press(*"0.01", "enter")
        problem = ticket.query_one("#problem")
        await until(pilot, lambda: "no answer" in str(problem.render()), "the timeout")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, OrderTicket), "the ticket to close")
        assert [c.request.client_order_id for c in sent] == [fixed, fixed]


async def test_an_oco_resent_after_a_timeout_keeps_its_list_and_leg_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(OrderTicket, "timeout_s", 0.3)
    app = seeded_app()
    sent: list[PlaceOco] = []
    answer(app, PlaceOco, slow_first(sent, lambda cmd: [accepted(cmd.above), accepted(cmd.below)]))
    async with started(app) as pilot:
        mid = Decimal("67012.06")
        await pilot.press("s", *"0.01", "shift+tab", "shift+tab", *["right"] * 5)
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        assert ticket.form.oco
        await pilot.press("tab", *str(mid + 500), "tab", *str(mid - 500), "tab", *str(mid - 510))
        await pilot.pause(0.1)
        assert ticket.check is not None and ticket.check.errors == {}
        await pilot.press("enter")
        problem = ticket.query_one("#problem")
        await until(pilot, lambda: "no answer" in str(problem.render()), "the timeout")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, OrderTicket), "the ticket to close")
        ids = [
            (c.list_client_order_id, c.above.client_order_id, c.below.client_order_id) for c in sent
        ]
        assert len(ids) == 2 and ids[0] == ids[1]
        assert ids[0][0] is not None and len(set(ids[0])) == 3


async def test_an_amend_resent_after_a_timeout_keeps_the_replacement_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(AmendOrder, "timeout_s", 0.3)
    app = seeded_app()
    sent: list[ReplaceOrder] = []

    def replaced(cmd: ReplaceOrder) -> Order:
        order = app.state.orders[cmd.client_order_id]
        return Order(
            symbol=order.symbol,
            client_order_id=cmd.new_client_order_id or "?",
            side=order.side,
            type=order.type,
            status=OrderStatus.NEW,
            quantity=order.quantity,
            price=cmd.price,
        )

    answer(app, ReplaceOrder, slow_first(sent, replaced))
    async with started(app) as pilot:
        await pilot.press("o", "a")
        dialog = app.screen
        assert isinstance(dialog, AmendOrder)
        await pilot.press("up", "enter")
        problem = dialog.query_one("#problem")
        await until(pilot, lambda: "no answer" in str(problem.render()), "the timeout")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, AmendOrder), "the dialog to close")
        ids = [c.new_client_order_id for c in sent]
        assert len(ids) == 2 and ids[0] == ids[1] == dialog.new_client_order_id
        assert ids[0] is not None


async def test_after_enter_the_ticket_takes_no_keys_but_the_kill_switch() -> None:
    app = seeded_app()
    go = asyncio.Event()
    sent: list[PlaceOrder] = []

    async def place(cmd: PlaceOrder) -> Order:
        sent.append(cmd)
        await go.wait()
        return accepted(cmd.request)

    answer(app, PlaceOrder, place)
    engaged = recorder(app, EngageKillSwitch)
    async with started(app) as pilot:
        await pilot.press("b", *"0.01", "enter")
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        await until(pilot, lambda: len(sent) == 1, "the order to be sent")
        await pilot.press("5", "backspace", "up", "ctrl+s", "tab", "escape", "enter")
        await pilot.pause(0.2)
        assert app.screen is ticket
        # For mypy: the `is` above narrows ticket to app.screen's type, Screen[object].
        assert isinstance(ticket, OrderTicket)
        assert ticket.form.quantity == "0.01"
        assert ticket.form.side is Side.BUY
        assert len(sent) == 1
        await pilot.press("ctrl+k")
        await until(pilot, lambda: len(engaged) == 1, "the kill switch")
        go.set()
        await until(pilot, lambda: not isinstance(app.screen, OrderTicket), "the ticket to close")


async def test_an_order_held_for_the_rate_limit_counts_down_in_the_ticket_and_the_blotter() -> None:
    app = seeded_app()
    go = asyncio.Event()

    async def place(cmd: PlaceOrder) -> Order:
        await go.wait()
        return accepted(cmd.request)

    answer(app, PlaceOrder, place)
    async with started(app) as pilot:
        await pilot.press("b", *"0.01", "enter")
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        cid = ticket.form.client_order_id
        # The order manager publishes the order as PENDING_NEW, the governor holds it.
        publish_order(app, cid, Side.BUY, ticket.form.price, status=OrderStatus.PENDING_NEW)
        app.bus.publish(topics.HELD, held(cid, 12.0))
        confirm = ticket.query_one("#confirm")
        await until(pilot, lambda: "held: rate limit, 12 s" in str(confirm.render()), "held")
        table = app.screen_stack[0].query_one("#orders", RowTable)

        status = [c.title for c in table.columns].index("Status")

        def status_of_ours() -> str:
            return next(r.cells[status][0] for r in table.rows if r.key == cid)

        await until(pilot, lambda: status_of_ours().startswith("held 1"), "held in the blotter")
        await until(pilot, lambda: "10 s" in str(confirm.render()), "the countdown")
        app.bus.publish(topics.HELD, held(cid, 0.0, still=False))
        await until(pilot, lambda: status_of_ours() == "PENDING", "the hold to end")
        go.set()
        await until(pilot, lambda: not isinstance(app.screen, OrderTicket), "the ticket to close")


async def test_the_ticket_kept_between_orders_opens_each_time_as_a_new_one() -> None:
    """The app keeps one ticket and reopens it (building it took most of the time to the
    screen): each opening is a new intent, with nothing of the last one left."""
    app = seeded_app()
    sent: list[PlaceOrder] = []

    async def place(cmd: PlaceOrder) -> Order:
        sent.append(cmd)
        return accepted(cmd.request)

    answer(app, PlaceOrder, place)
    async with started(app) as pilot:
        await pilot.press("b")
        first = app.screen
        assert isinstance(first, OrderTicket)
        first_id = first.form.client_order_id
        await pilot.press(*"0.01")
        await pilot.press("shift+tab", "shift+tab", "shift+tab", "right")  # Type: MARKET
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, OrderTicket), "the ticket closed")
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, OrderTicket), "the ticket again")
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        assert ticket.form.side is Side.SELL
        assert ticket.form.client_order_id != first_id
        assert ticket.query_one("#quantity", Input).value == ""
        assert ticket.query_one("#type", Choice).value == "LIMIT"
        assert ticket.query_one("#side", Choice).value == "SELL"
        assert str(ticket.query_one("#reason-quantity", Static).render()) == ""
        best_ask = app.state.symbols["BTCUSDT"].top
        assert best_ask is not None
        assert Decimal(ticket.query_one("#price", Input).value) == Decimal(
            repr(best_ask.asks[0].price)
        )
        await until(pilot, lambda: app.focused is not None, "a field to have the keyboard")
        assert app.focused is not None and app.focused.id == "quantity"
        # Sent, then opened again: the sent intent's id is not reused, the fields take keys.
        await pilot.press(*"0.02", "enter")
        await until(pilot, lambda: not isinstance(app.screen, OrderTicket), "sent and closed")
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, OrderTicket), "the third ticket")
        again = app.screen
        assert isinstance(again, OrderTicket)
        assert again.form.client_order_id != sent[0].request.client_order_id
        await until(pilot, lambda: app.focused is not None, "a field to have the keyboard")
        await pilot.press(*"0.03", "enter")
        await until(pilot, lambda: len(sent) == 2, "the second order")
        assert sent[1].request.quantity == Decimal("0.03")
        assert sent[1].request.side is Side.BUY


async def test_the_kept_ticket_takes_a_theme_chosen_while_it_was_closed() -> None:
    """Reopening skips restyling when the app looks the same; a new theme restyles it."""
    app = seeded_app()
    async with started(app) as pilot:
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, OrderTicket), "the ticket")
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        dark = ticket.query_one("#ticket").styles.background
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, OrderTicket), "the ticket closed")
        app.theme = "omnitrade-light"
        await pilot.pause(0.1)
        await pilot.press("b")
        await until(pilot, lambda: app.screen is ticket, "the same ticket again")
        await pilot.pause(0.1)
        light = ticket.query_one("#ticket").styles.background
        assert light != dark
        assert light == Color.parse(app.get_css_variables()["surface"])
