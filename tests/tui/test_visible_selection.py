"""Issue 14, item 2: nothing acts on what the trader cannot see. The selected row of the
blotter and the ladder is drawn over every cell in every shipped theme; order keys act only
on the visibly selected open order of the Orders tab; every notice names the order; C on
the ladder cancels my orders at the level under the cursor."""

from __future__ import annotations

import msgspec
from textual.strip import Strip
from textual.widget import Widget

from omnitrade_tui.domain.commands import CancelOrder
from omnitrade_tui.domain.enums import OrderStatus, Side
from omnitrade_tui.tui.screens.amend import AmendOrder
from omnitrade_tui.tui.screens.confirm import Confirm
from omnitrade_tui.tui.widgets.ladder import Ladder
from omnitrade_tui.tui.widgets.row_table import RowTable
from omnitrade_tui.tui.widgets.styles import CURSOR_MARK
from tests.tui.order_path import (
    answer,
    commands_seen,
    notices,
    publish_order,
    recorder,
    seeded_app,
    started,
    until,
)


def lines_of(widget: Widget) -> list[Strip]:
    """Every line the widget draws now."""
    return [widget.render_line(y) for y in range(widget.size.height)]


def assert_one_selected_line(widget: Widget, cursor_class: str) -> None:
    """Exactly one line carries the cursor mark, and the cursor's background is on every
    one of its cells (not under them, where a cell's own background would hide it)."""
    lines = lines_of(widget)
    marked = [line for line in lines if line.text.startswith(CURSOR_MARK)]
    assert len(marked) == 1, [line.text for line in lines]
    cursor_bg = widget.get_component_rich_style(cursor_class).bgcolor
    base_bg = widget.rich_style.bgcolor
    assert cursor_bg is not None and cursor_bg != base_bg
    backgrounds = {seg.style.bgcolor for seg in marked[0] if seg.style is not None}
    assert backgrounds == {cursor_bg}
    others = [line for line in lines if line is not marked[0]]
    assert all(
        seg.style is None or seg.style.bgcolor != cursor_bg for line in others for seg in line
    )


async def test_the_selected_row_is_drawn_over_every_cell_in_every_shipped_theme() -> None:
    app = seeded_app()
    async with started(app) as pilot:
        assert len(app.our_themes) >= 3
        for theme in app.our_themes:
            app.theme = theme
            await pilot.press("o", "down")
            await pilot.pause(0.1)
            assert_one_selected_line(app.query_one("#orders", RowTable), "row-table--cursor")
            await pilot.press("l", "down")
            await pilot.pause(0.1)
            assert_one_selected_line(app.query_one("#ladder", Ladder), "ladder--cursor")


async def test_order_keys_outside_the_orders_tab_say_how_to_select_and_do_nothing() -> None:
    app = seeded_app()
    async with started(app) as pilot:
        seen = commands_seen(app)
        await pilot.press("o", "down")  # a cursor on an order, then look elsewhere
        for elsewhere in ("2", "l", "w"):  # the Fills tab, the ladder, the watchlist
            await pilot.press(elsewhere, "c", "a")
            await pilot.pause(0.1)
            assert seen == [], elsewhere
            assert not isinstance(app.screen, AmendOrder)
        assert sum("select an order to cancel" in n for n in notices(app)) == 3
        assert sum("select an order to amend" in n for n in notices(app)) == 3


async def test_o_down_c_cancels_the_second_order_and_the_notices_name_it() -> None:
    app = seeded_app()

    async def cancel(cmd: CancelOrder) -> object:
        order = app.state.orders[cmd.client_order_id]
        return msgspec.structs.replace(order, status=OrderStatus.CANCELED)

    answer(app, CancelOrder, cancel)
    seen = commands_seen(app)
    async with started(app) as pilot:
        rows = [r.key for r in app.query_one("#orders", RowTable).rows]
        assert rows == ["omt-seeded-1", "omt-seeded-0"]
        await pilot.press("o", "down", "c")
        await until(pilot, lambda: len(notices(app)) >= 2, "the cancel's notices")
        assert [c.client_order_id for c in seen if isinstance(c, CancelOrder)] == ["omt-seeded-0"]
        name = "BUY 0.01000 BTCUSDT LIMIT @ 66,900.00 (cid omt-seeded-0)"
        assert notices(app)[-2:] == [f"Cancel sent: {name}", f"Cancel: CANCELED {name}"]


async def test_C_on_the_ladder_cancels_my_orders_at_the_level_after_asking() -> None:
    app = seeded_app()
    async with started(app) as pilot:
        seen = recorder(app, CancelOrder)
        top = app.state.symbols["BTCUSDT"].top
        assert top is not None
        best_bid = f"{top.bids[0].price:.2f}"
        publish_order(app, "omt-at-bid-1", Side.BUY, best_bid)
        publish_order(app, "omt-at-bid-2", Side.BUY, best_bid, "0.02")
        await pilot.pause(0.2)
        await pilot.press("C")  # the ladder has no cursor yet: nothing
        await pilot.pause(0.1)
        assert seen == []
        assert "select a level first" in notices(app)[-1]
        await pilot.press("l", "down")  # the cursor starts at the best bid
        await pilot.pause(0.1)
        assert app.query_one("#ladder", Ladder).cursor_row.price == float(best_bid)  # type: ignore[union-attr]
        await pilot.press("C")
        await until(pilot, lambda: isinstance(app.screen, Confirm), "the question")
        assert "2 orders" in app.screen.question  # type: ignore[attr-defined]
        await pilot.press("y")
        await until(pilot, lambda: len(seen) == 2, "two cancels")
        assert {c.client_order_id for c in seen} == {"omt-at-bid-1", "omt-at-bid-2"}
