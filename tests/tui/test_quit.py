"""Issue 14, item 11: q with orders open at the venue asks (cancel them all / leave them /
stay) and says how many are open."""

from __future__ import annotations

from omnitrade_tui.domain.commands import CancelAll
from omnitrade_tui.tui.screens.quit import QuitWithOpenOrders
from tests.tui.order_path import recorder, seeded_app, started, until


async def test_q_with_open_orders_asks_and_stay_keeps_the_app() -> None:
    app = seeded_app()
    cancelled = recorder(app, CancelAll)
    async with started(app) as pilot:
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitWithOpenOrders), "the question")
        question = app.screen.question  # type: ignore[attr-defined]
        assert "2 orders are open at the venue (BTCUSDT 2)" in question
        await pilot.press("s")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, QuitWithOpenOrders)
        assert app.is_running
        assert cancelled == []


async def test_q_then_l_quits_leaving_the_orders() -> None:
    app = seeded_app()
    cancelled = recorder(app, CancelAll)
    async with started(app) as pilot:
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitWithOpenOrders), "the question")
        await pilot.press("l")
        await until(pilot, lambda: not app.is_running, "quit")
    assert cancelled == []


async def test_q_then_c_cancels_all_then_quits() -> None:
    app = seeded_app()
    cancelled = recorder(app, CancelAll, reply=[])
    async with started(app) as pilot:
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitWithOpenOrders), "the question")
        await pilot.press("c")
        await until(pilot, lambda: not app.is_running, "quit")
    assert [c.symbol for c in cancelled] == [None]


async def test_q_without_open_orders_quits_at_once() -> None:
    app = seeded_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "quit")
