"""Issue 14, item 8: the ticket says before Enter what Enter would meet, live as the trader
types: the free balance after the order (insufficient is a reason), each risk limit the
engine publishes, a stop that would trigger at once; and the MARKET preview follows the
book while the ticket is open."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from omnitrade_tui.bus import topics
from omnitrade_tui.domain.events import BookTop, RiskLimitsInForce
from omnitrade_tui.domain.models import BookLevel
from omnitrade_tui.domain.risk_limits import RiskLimits
from omnitrade_tui.tui.screens.ticket import OrderTicket
from tests.tui.order_path import commands_seen, seeded_app, started, until


def preview(ticket: OrderTicket) -> str:
    """The ticket's preview lines as shown."""
    return str(ticket.query_one("#preview").render())


async def test_an_unaffordable_buy_is_a_reason_before_enter_and_the_balance_after_shows() -> None:
    app = seeded_app()
    async with started(app) as pilot:
        seen = commands_seen(app)
        await pilot.press("b", *"0.01")
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        await pilot.pause(0.1)
        assert "USDT free 98,659.41 -> 97,98" in preview(ticket)
        await pilot.press("shift+tab", "tab", "2")  # 2 BTC: about 134,000 USDT
        await pilot.pause(0.1)
        assert ticket.form.quantity == "2"
        assert ticket.check is not None
        assert "insufficient USDT" in ticket.check.errors["quantity"]
        assert "insufficient USDT" in str(ticket.query_one("#reason-quantity").render())
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert seen == []


async def test_the_risk_limits_in_force_are_checked_while_typing() -> None:
    app = seeded_app()
    async with started(app) as pilot:
        app.bus.publish(
            topics.RISK_LIMITS,
            RiskLimitsInForce(
                limits=RiskLimits(
                    max_order_notional=Decimal("1000"),
                    price_band_pct=Decimal("1"),
                    max_open_orders=10,
                )
            ),
        )
        await pilot.press("b", *"0.01")
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        await pilot.pause(0.1)
        shown = preview(ticket)
        assert "risk: notional 670" in shown and "of 1,000.00" in shown
        assert "open orders 3 of 10" in shown
        await pilot.press("backspace", *"2")  # 0.02 BTC: about 1,340 USDT
        await pilot.pause(0.1)
        assert ticket.check is not None
        assert "max_order_notional" in ticket.check.errors["quantity"]
        await pilot.press("backspace", *"1", "shift+tab", *"60000")  # 10% below the mid
        await pilot.pause(0.1)
        assert "price_band_pct" in ticket.check.errors["price"]


async def test_a_stop_that_would_trigger_at_once_is_said_before_enter() -> None:
    app = seeded_app()
    async with started(app) as pilot:
        last = app.state.symbols["BTCUSDT"].last
        assert last is not None
        await pilot.press("b", *"0.01", "shift+tab", "shift+tab", "right", "right", "right")
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        await pilot.pause(0.1)
        assert ticket.form.type.value == "STOP_LOSS_LIMIT"
        stop = Decimal(repr(last)) - 50  # a buy stop below the market: reached already
        await pilot.press("tab", *str(stop + 10), "tab", *str(stop))
        await pilot.pause(0.1)
        assert ticket.check is not None
        reason = ticket.check.errors["stop_price"]
        assert reason.startswith("this stop would trigger at once: last ")
        assert f"≥ stop {stop:,.2f}" in reason


async def test_the_market_preview_follows_the_book_without_a_key() -> None:
    app = seeded_app()
    async with started(app) as pilot:
        await pilot.press("m", *"0.02")
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        await pilot.pause(0.1)
        assert ticket.check is not None and ticket.check.preview.avg_price is not None
        before = ticket.check.preview.avg_price
        top = app.state.symbols["BTCUSDT"].top
        assert top is not None
        moved = BookTop(
            symbol="BTCUSDT",
            update_id=top.update_id + 1,
            bids=[BookLevel(lv.price + 100, lv.qty) for lv in top.bids],
            asks=[BookLevel(lv.price + 100, lv.qty) for lv in top.asks],
            event_ms=top.event_ms + 1,
        )
        app.bus.publish(topics.book("BTCUSDT"), moved)
        await until(
            pilot,
            lambda: (
                ticket.check is not None
                and ticket.check.preview.avg_price is not None
                and abs(ticket.check.preview.avg_price - before - 100) < 0.01
            ),
            "the preview to follow the book",
            timeout=2.0,
        )


@pytest.mark.slow
async def test_the_app_knows_the_limits_in_force_from_its_first_ticket(tmp_path: Path) -> None:
    """Through the real runtime: the gate's limits reach a screen that subscribed after the
    gate started (they are said again when the screen connects), so the first ticket
    already checks against them."""
    from tests.tui.test_app_trading import running_app

    async with running_app(tmp_path) as (app, pilot, runtime):
        assert app.state.risk_limits == runtime.gate.risk.limits
        await pilot.press("b", *"0.01")
        await pilot.pause(0.2)
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        shown = preview(ticket)
        assert "band 10%" in shown and "open orders 1 of 200" in shown
