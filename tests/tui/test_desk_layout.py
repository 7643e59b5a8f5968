"""Issue 15, items 1, 5 and 9: each pane gets what it shows. The open-orders table shows
every column a trader needs at 120 columns and a compact set with a detail line at 80, never
a sideways scrollbar; OCO legs sit together, bracketed; a dialog's question and keys are on
screen; toasts stand above the status bar; the footer fits its labels."""

from __future__ import annotations

import pytest
from textual.widgets import Footer, Static
from textual.widgets._toast import Toast

from omnitrade_tui.domain.enums import OrderStatus, OrderType, Side
from omnitrade_tui.tui.screens.confirm import Confirm
from omnitrade_tui.tui.widgets.row_table import RowTable
from omnitrade_tui.tui.widgets.status_bar import StatusBar
from tests.tui.order_path import publish_order, seeded_app, started

FULL = ["Symbol", "Side", "Type", "Price", "Stop", "Qty", "Filled", "Status", "Time"]
COMPACT = ["Symbol", "Side", "Type", "Price", "Qty", "Status"]


def _shown_titles(table: RowTable) -> list[str]:
    return [table.columns[i].title for i in table.shown_columns]


@pytest.mark.parametrize(("size", "titles"), [((120, 40), FULL), ((80, 24), COMPACT)])
async def test_open_orders_show_what_fits_and_the_rest_in_a_detail_line(
    size: tuple[int, int], titles: list[str]
) -> None:
    app = seeded_app()
    async with started(app, size) as pilot:
        publish_order(
            app,
            "omt-stop",
            Side.SELL,
            "66450.00",
            kind=OrderType.STOP_LOSS_LIMIT,
            stop_price="66500.00",
            created_ms=2_000_000_000_000,
        )
        await pilot.press("o", "home")  # the newest: the stop order
        await pilot.pause(0.2)
        table = app.query_one("#orders", RowTable)
        shown = _shown_titles(table)
        assert shown[: len(titles)] == titles
        if size == (80, 24):
            assert shown == titles
        # No sideways scrolling: the table's content is exactly as wide as the table.
        assert table.virtual_size.width == table.size.width
        assert table.max_scroll_x == 0
        lines = [table.render_line(y).text for y in range(table.size.height)]
        stop = next(line for line in lines if "SL-L" in line)
        assert "BTCUSDT" in stop and "66,450.00" in stop
        if size == (120, 40):
            assert "66,500.00" in stop  # the stop price has its own column
        else:
            # The selected row's hidden columns, whole, on the table's last lines.
            assert lines[-2].strip() == "Stop 66,500.00 · Filled 0.00000"
            assert lines[-1].strip().startswith("Time ")
        assert all(len(line) <= table.size.width for line in lines)


async def test_oco_legs_sit_together_bracketed() -> None:
    app = seeded_app()
    async with started(app, (120, 40)) as pilot:
        publish_order(app, "omt-oco-lm", Side.SELL, "68000.00", kind=OrderType.LIMIT_MAKER,
                      order_list_id=7, created_ms=1_000)  # fmt: skip
        publish_order(app, "omt-between", Side.BUY, "66000.00", created_ms=2_000)
        publish_order(app, "omt-oco-sl", Side.SELL, "65990.00", kind=OrderType.STOP_LOSS_LIMIT,
                      stop_price="66000.00", order_list_id=7, created_ms=3_000)  # fmt: skip
        await pilot.pause(0.2)
        table = app.query_one("#orders", RowTable)
        keys = [row.key for row in table.rows]
        at = keys.index("omt-oco-sl")
        assert keys[at + 1] == "omt-oco-lm"
        types = {row.key: row.cells[2][0] for row in table.rows}
        assert types["omt-oco-sl"] == "┌SL-L"
        assert types["omt-oco-lm"] == "└LM"
        assert types["omt-between"] == "LMT"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_a_dialogs_question_and_keys_are_on_screen(size: tuple[int, int]) -> None:
    app = seeded_app()
    async with started(app, size) as pilot:
        await pilot.press("x")
        await pilot.pause(0.2)
        assert isinstance(app.screen, Confirm)
        screen = app.screen.region
        for part, text in (("#question", "Cancel all 2 open orders"), ("#hint", "y cancel")):
            widget = app.screen.query_one(part, Static)
            assert text in str(widget.render())
            region = widget.region
            assert region.height >= 1 and region.width >= len(text)
            assert screen.contains_region(region)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_toasts_stand_above_the_status_bar_and_the_footer_fits(
    size: tuple[int, int],
) -> None:
    app = seeded_app()
    async with app.run_test(size=size, notifications=True) as pilot:
        await pilot.pause(0.2)
        app.notify("a warning long enough to take a few lines of the toast rack " * 2)
        await pilot.pause(0.3)
        status = app.query_one(StatusBar).region
        toasts = [t.region for t in app.screen.query(Toast)]
        assert toasts
        assert all(t.bottom <= status.y for t in toasts)
        footer = app.query_one(Footer)
        keys = [k for k in footer.query("FooterKey") if k.display]
        assert sum(k.region.width for k in keys) <= footer.region.width
        assert all(k.region.right <= footer.region.right for k in keys)


async def test_order_status_codes_fit_the_status_column() -> None:
    app = seeded_app()
    async with started(app, (80, 24)) as pilot:
        publish_order(app, "omt-p", Side.BUY, "66000.00", status=OrderStatus.PARTIALLY_FILLED,
                      created_ms=2_000_000_000_000)  # fmt: skip
        await pilot.pause(0.2)
        table = app.query_one("#orders", RowTable)
        row = next(r for r in table.rows if r.key == "omt-p")
        assert row.cells[7][0] == "PARTIAL"
