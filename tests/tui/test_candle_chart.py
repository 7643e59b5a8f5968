"""The candlestick chart: pure scaling math, and rendered rows inside a small host app."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rich.style import Style
from textual.app import App, ComposeResult
from textual.geometry import Region

from omnitrade_tui.domain.enums import Side
from omnitrade_tui.domain.models import Candle
from omnitrade_tui.tui.widgets.candle_chart import (
    AXIS_WIDTH,
    CandleChart,
    axis_rows,
    chart_layout,
    format_price,
    format_time,
    format_volume,
    price_range,
    price_to_row,
    price_to_subrow,
    row_price,
    title_text,
    visible_window,
    volume_cell,
    volume_eighths,
)

MINUTE = 60_000
SIZE = (60, 20)
# At 60x20: 50 candle columns + 10 axis columns; title row, 15 price rows, 4 volume rows.
PLOT_WIDTH = SIZE[0] - AXIS_WIDTH
PRICE_ROWS = 15
VOLUME_ROWS = 4
FIRST_VOLUME_Y = 1 + PRICE_ROWS
BODY_GLYPHS = set("█▀▄")
CANDLE_GLYPHS = BODY_GLYPHS | set("│╵╷")
OHLC = re.compile(r"O (\S+) H (\S+) L (\S+) C (\S+)")


def candle(
    i: int,
    o: float,
    h: float,
    lo: float,
    c: float,
    v: float = 10.0,
    *,
    interval: str = "1m",
) -> Candle:
    """Candle number ``i`` of a one-minute series."""
    return Candle(
        symbol="BTCUSDT",
        interval=interval,
        open_ms=i * MINUTE,
        close_ms=i * MINUTE + MINUTE - 1,
        open=o,
        high=h,
        low=lo,
        close=c,
        volume=v,
    )


def zigzag(count: int, start: int = 0) -> list[Candle]:
    """Alternating up and down candles around 100, every price distinct per candle."""
    out = []
    for i in range(start, start + count):
        base = 100.0 + (i % 7)
        if i % 2 == 0:
            out.append(candle(i, base, base + 2.5, base - 1.5, base + 1.25, 10.0 + i))
        else:
            out.append(candle(i, base + 1.25, base + 2.0, base - 2.0, base - 0.75, 10.0 + i))
    return out


class Host(App[None]):
    """Smallest app that shows one chart filling the screen."""

    def __init__(self, max_candles: int = 1000) -> None:
        super().__init__()
        self.max_candles = max_candles

    def compose(self) -> ComposeResult:
        yield CandleChart(interval="1m", max_candles=self.max_candles)


def cell(chart: CandleChart, x: int, y: int) -> tuple[str, Style]:
    """Glyph and style of one cell of the chart's rendered content."""
    segments = list(chart.render_line(y).crop(x, x + 1))
    assert segments, f"nothing rendered at ({x}, {y})"
    style = segments[0].style
    assert style is not None
    return segments[0].text, style


def column(chart: CandleChart, x: int, ys: range) -> str:
    """Glyphs of column ``x`` over rows ``ys``, top to bottom."""
    return "".join(cell(chart, x, y)[0] for y in ys)


def price_rows_of(chart: CandleChart) -> range:
    return range(1, 1 + PRICE_ROWS)


# ------------------------------------------------------------------------- pure functions


def test_price_to_subrow_maps_high_to_top_and_low_to_bottom() -> None:
    assert price_to_subrow(110.0, 100.0, 110.0, 30) == 0
    assert price_to_subrow(100.0, 100.0, 110.0, 30) == 29
    assert price_to_subrow(105.0, 100.0, 110.0, 30) in (14, 15)
    # Outside the scale sticks to the edges instead of escaping the chart.
    assert price_to_subrow(200.0, 100.0, 110.0, 30) == 0
    assert price_to_subrow(0.0, 100.0, 110.0, 30) == 29
    # A degenerate scale does not divide by zero.
    assert price_to_subrow(5.0, 5.0, 5.0, 30) == 0


def test_price_to_row_is_half_the_subrow_and_monotonic() -> None:
    rows = 15
    assert price_to_row(110.0, 100.0, 110.0, rows) == 0
    assert price_to_row(100.0, 100.0, 110.0, rows) == rows - 1
    previous = -1
    for step in range(101):
        row = price_to_row(110.0 - step / 10, 100.0, 110.0, rows)
        assert row >= previous
        previous = row
    # Each labelled row's price maps back onto that row.
    for row in range(rows):
        assert price_to_row(row_price(row, 100.0, 110.0, rows), 100.0, 110.0, rows) == row


def test_price_range_uses_extremes_and_widens_a_flat_market() -> None:
    assert price_range([candle(0, 10, 12, 9, 11), candle(1, 11, 15, 10, 14)]) == (9, 15)
    lo, hi = price_range([candle(0, 10, 10, 10, 10)])
    assert lo < 10 < hi
    with pytest.raises(ValueError):
        price_range([])


def test_visible_window_follows_latest_and_keeps_cursor_in_view() -> None:
    assert visible_window(0, 50, None, 0) == (0, 0)
    assert visible_window(10, 50, None, 0) == (0, 10)
    assert visible_window(100, 50, None, 0) == (50, 100)
    # Cursor inside the current window: the window does not move.
    assert visible_window(100, 50, 70, 100) == (50, 100)
    # Cursor left of the window: it slides just enough.
    assert visible_window(100, 50, 40, 100) == (40, 90)
    assert visible_window(100, 50, 0, 90) == (0, 50)
    # Cursor right of the window after being far left.
    assert visible_window(100, 50, 60, 50) == (11, 61)


def test_volume_eighths_and_cells() -> None:
    assert volume_eighths(100, 100, 4) == 32
    assert volume_eighths(50, 100, 4) == 16
    assert volume_eighths(0.01, 100, 4) == 1  # never invisible
    assert volume_eighths(0, 100, 4) == 0
    assert [volume_cell(12, row) for row in range(3)] == ["█", "▄", " "]


def test_axis_rows_label_three_to_six_rows_including_the_edges() -> None:
    for rows in range(3, 60):
        labels = axis_rows(rows)
        assert 3 <= len(labels) <= 6
        assert labels[0] == 0
        assert labels[-1] == rows - 1


def test_chart_layout_volume_is_a_fifth_with_at_least_two_rows() -> None:
    layout = chart_layout(*SIZE)
    assert layout == (PLOT_WIDTH, AXIS_WIDTH, PRICE_ROWS, VOLUME_ROWS)
    assert chart_layout(60, 8).volume_rows == 2
    assert chart_layout(12, 20).axis_width == 0


def test_formatting() -> None:
    assert format_price(97123.456, 5.0) == "97,123.5"
    assert format_price(0.000123, 0.000001) == "0.0001230"
    assert len(format_price(123456789.0, 0.001)) <= AXIS_WIDTH - 1
    assert format_volume(950) == "950"
    assert format_volume(12345) == "12.3k"
    assert format_volume(4_560_000) == "4.56M"
    ms = 1_764_540_000_000  # 2025-11-30 22:00:00 UTC
    assert format_time(ms, "1m") == "2025-11-30 22:00"
    assert format_time(ms, "1s") == "2025-11-30 22:00:00"
    assert format_time(ms, "1d") == "2025-11-30"
    assert format_time(ms, "1M") == "2025-11"


def test_title_text_drops_detail_to_fit() -> None:
    c = candle(0, 100, 110, 90, 105, 1234)
    wide, change = title_text(c, "1m", 0.1, 200)
    assert "BTCUSDT" in wide
    assert "V 1.23k" in wide
    assert change == "+5.00%"
    narrow, _ = title_text(c, "1m", 0.1, 50)
    assert "BTCUSDT" not in narrow
    assert OHLC.search(narrow)


# ------------------------------------------------------------------------- rendered widget


async def test_empty_state_is_centred() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(CandleChart)
        await pilot.pause()
        lines = [chart.render_line(y).text for y in range(SIZE[1])]
        hits = [line for line in lines if "waiting for candles" in line]
        assert len(hits) == 1
        line = hits[0]
        left = len(line) - len(line.lstrip())
        right = len(line) - len(line.rstrip())
        assert abs(left - right) <= 1
        assert lines.index(line) in (SIZE[1] // 2 - 1, SIZE[1] // 2)
        assert "1m" in lines[0]


async def test_highest_high_reaches_the_top_row_and_lowest_low_the_bottom() -> None:
    candles = [candle(i, 100, 101, 99, 100.5) for i in range(10)]
    candles[3] = candle(3, 100, 120, 99, 100.5)  # highest high
    candles[6] = candle(6, 100, 101, 80, 100.5)  # lowest low
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(CandleChart)
        chart.set_candles(candles)
        await pilot.pause()
        offset = PLOT_WIDTH - len(candles)
        top = chart.render_line(1).text
        bottom = chart.render_line(PRICE_ROWS).text
        assert top[offset + 3] in CANDLE_GLYPHS
        assert top[offset:PLOT_WIDTH].replace(top[offset + 3], "", 1).strip() == ""
        assert bottom[offset + 6] in CANDLE_GLYPHS
        assert bottom[offset:PLOT_WIDTH].replace(bottom[offset + 6], "", 1).strip() == ""
        # The axis labels the top with the highest high and the bottom with the lowest low.
        assert top[PLOT_WIDTH:].strip().lstrip("┤") == "120.0"
        assert bottom[PLOT_WIDTH:].strip().lstrip("┤") == "80.0"


async def test_up_and_down_bodies_have_different_styles() -> None:
    candles = [candle(0, 100, 110, 90, 108), candle(1, 108, 110, 90, 100)]
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(CandleChart)
        chart.set_candles(candles)
        await pilot.pause()
        up_x, down_x = PLOT_WIDTH - 2, PLOT_WIDTH - 1
        both = [
            y
            for y in price_rows_of(chart)
            if cell(chart, up_x, y)[0] == "█" and cell(chart, down_x, y)[0] == "█"
        ]
        assert both, "the two bodies overlap over 100..108, so some row has both"
        up_style = cell(chart, up_x, both[0])[1]
        down_style = cell(chart, down_x, both[0])[1]
        assert up_style.color != down_style.color
        assert up_style.color == chart.get_component_rich_style("candle-chart--up").color
        assert down_style.color == chart.get_component_rich_style("candle-chart--down").color


async def test_volume_histogram_fills_the_bottom_rows() -> None:
    candles = [candle(i, 100, 101, 99, 100.5, v) for i, v in enumerate([10, 40, 20, 80])]
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(CandleChart)
        chart.set_candles(candles)
        await pilot.pause()
        volume_ys = range(FIRST_VOLUME_Y, FIRST_VOLUME_Y + VOLUME_ROWS)
        assert max(volume_ys) == SIZE[1] - 1
        bars = [column(chart, PLOT_WIDTH - 4 + i, volume_ys) for i in range(4)]
        assert bars[3] == "████"  # the largest volume fills every volume row
        assert bars[1] == "  ██"  # half of it, two rows
        assert bars[0][-1] in "▁▂▃▄▅▆▇█" and bars[0][:-1].strip() == ""
        assert all(set(bar) <= set(" ▁▂▃▄▅▆▇█") for bar in bars)
        # The volume axis shows the largest volume at the top volume row.
        assert chart.render_line(FIRST_VOLUME_Y).text[PLOT_WIDTH:].strip() == "┤80"


async def test_cursor_keys_show_the_chosen_candle_in_the_top_line() -> None:
    candles = zigzag(30)
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(CandleChart)
        chart.set_candles(candles)
        chart.focus()
        await pilot.pause()

        def shown() -> tuple[float, ...]:
            match = OHLC.search(chart.render_line(0).text)
            assert match, chart.render_line(0).text
            return tuple(float(value) for value in match.groups())

        def ohlc(c: Candle) -> tuple[float, ...]:
            return (c.open, c.high, c.low, c.close)

        def cursor() -> int | None:
            # A function call, so the type checker does not narrow across key presses.
            return chart.cursor_index

        assert cursor() is None
        assert shown() == pytest.approx(ohlc(candles[-1]))

        await pilot.press("left")
        assert cursor() == 28
        assert shown() == pytest.approx(ohlc(candles[28]))

        await pilot.press("left", "left", "right")
        assert cursor() == 27
        assert shown() == pytest.approx(ohlc(candles[27]))
        # The cursor column is highlighted with the cursor background.
        cursor_bg = chart.get_component_rich_style("candle-chart--cursor").bgcolor
        x = PLOT_WIDTH - len(candles) + 27
        assert cell(chart, x, FIRST_VOLUME_Y + VOLUME_ROWS - 1)[1].bgcolor == cursor_bg
        assert cell(chart, x + 1, FIRST_VOLUME_Y + VOLUME_ROWS - 1)[1].bgcolor != cursor_bg

        await pilot.press("home")
        assert cursor() == 0
        assert shown() == pytest.approx(ohlc(candles[0]))
        assert "00:00" in chart.render_line(0).text

        await pilot.press("end")
        assert cursor() is None
        assert shown() == pytest.approx(ohlc(candles[-1]))


async def test_cursor_scrolls_the_view_back_past_the_left_edge() -> None:
    candles = zigzag(120)
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(CandleChart)
        chart.set_candles(candles)
        chart.focus()
        await pilot.pause()
        await pilot.press("home")
        # The oldest candle now sits in the first column.
        first = candles[0]
        rows = price_rows_of(chart)
        drawn = column(chart, 0, rows)
        assert set(drawn) & CANDLE_GLYPHS
        lo, hi = price_range(candles[:PLOT_WIDTH])
        assert drawn[price_to_row(first.high, lo, hi, PRICE_ROWS)] in CANDLE_GLYPHS


async def test_page_keys_and_click_move_the_cursor() -> None:
    candles = zigzag(200)
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(CandleChart)
        chart.set_candles(candles)
        chart.focus()
        await pilot.pause()

        def cursor() -> int | None:
            return chart.cursor_index

        await pilot.press("pageup")
        assert cursor() == 199 - (PLOT_WIDTH - 1)
        await pilot.press("pageup", "pagedown")
        assert cursor() == 199 - (PLOT_WIDTH - 1)
        # The cursor candle is on screen: its column carries the cursor background.
        cursor_bg = chart.get_component_rich_style("candle-chart--cursor").bgcolor
        bottom = SIZE[1] - 1
        highlighted = [
            x for x in range(PLOT_WIDTH) if cell(chart, x, bottom)[1].bgcolor == cursor_bg
        ]
        assert len(highlighted) == 1

        await pilot.press("end")
        assert cursor() is None
        await pilot.click(CandleChart, offset=(PLOT_WIDTH - 3, 5))
        assert cursor() == 197
        match = OHLC.search(chart.render_line(0).text)
        assert match
        assert float(match.group(1)) == pytest.approx(candles[197].open)


async def test_axis_marks_the_last_price_in_its_candle_colour() -> None:
    candles = [candle(i, 100, 110, 90, 100 + i) for i in range(5)]
    candles.append(candle(5, 105, 108, 95, 96))  # latest closes down at 96
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(CandleChart)
        chart.set_candles(candles)
        await pilot.pause()
        row = price_to_row(96, 90, 110, PRICE_ROWS)
        line = chart.render_line(1 + row).text
        assert line[PLOT_WIDTH:].strip() == "┤96.00"
        label_style = cell(chart, PLOT_WIDTH + 1, 1 + row)[1]
        assert label_style.reverse
        assert label_style.color == chart.get_component_rich_style("candle-chart--down").color


async def test_tiny_sizes_render_without_errors() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(CandleChart)
        chart.styles.min_height = 0
        chart.set_candles(zigzag(30))
        chart.set_fills([(5 * MINUTE, 101.0, Side.BUY)])
        for width, height in [(1, 1), (3, 2), (8, 3), (14, 4), (16, 6), (30, 1), (0, 5)]:
            chart.styles.width = width
            chart.styles.height = height
            await pilot.pause()
            assert tuple(chart.content_size) == (width, height)
            for y in range(height):
                assert chart.render_line(y).cell_length == width


async def test_resize_keeps_the_latest_candle_at_the_right_edge() -> None:
    candles = [candle(i, 100, 101, 99, 100.5) for i in range(99)]
    candles.append(candle(99, 100, 130, 99, 125, 500))  # latest: tallest, biggest volume
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(CandleChart)
        chart.set_candles(candles)
        await pilot.pause()
        assert chart.render_line(1).text[PLOT_WIDTH - 1] in CANDLE_GLYPHS

        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        width, height = chart.content_size
        assert (width, height) == (80, 24)
        layout = chart_layout(width, height)
        top = chart.render_line(1).text
        assert len(top) == width
        assert top[layout.plot_width - 1] in CANDLE_GLYPHS
        assert top[: layout.plot_width - 1].strip() == ""
        assert chart.render_line(height - 1).text[layout.plot_width - 1] == "█"

        await pilot.resize_terminal(40, 12)
        await pilot.pause()
        layout = chart_layout(*chart.content_size)
        assert chart.render_line(1).text[layout.plot_width - 1] in CANDLE_GLYPHS


async def test_fill_markers_appear_in_the_fill_candles_column() -> None:
    candles = zigzag(20)
    buy_candle, sell_candle = candles[5], candles[12]
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(CandleChart)
        chart.set_candles(candles)
        chart.set_fills(
            [
                (buy_candle.open_ms + 30_000, buy_candle.low, Side.BUY),
                (sell_candle.close_ms, sell_candle.high, Side.SELL),
                (candles[-1].close_ms + 5 * MINUTE, 100.0, Side.BUY),  # no candle: not drawn
            ]
        )
        await pilot.pause()
        offset = PLOT_WIDTH - len(candles)
        lines = [chart.render_line(y).text for y in price_rows_of(chart)]
        buys = [(line.index("▲"), y) for y, line in enumerate(lines) if "▲" in line]
        sells = [(line.index("▼"), y) for y, line in enumerate(lines) if "▼" in line]
        lo, hi = price_range(candles)
        assert buys == [(offset + 5, price_to_row(buy_candle.low, lo, hi, PRICE_ROWS))]
        assert sells == [(offset + 12, price_to_row(sell_candle.high, lo, hi, PRICE_ROWS))]
        buy_x, buy_row = buys[0]
        buy_style = cell(chart, buy_x, buy_row + 1)[1]
        assert buy_style.color == chart.get_component_rich_style("candle-chart--fill-buy").color


async def test_update_candle_replaces_the_forming_candle_and_appends_the_next() -> None:
    app = Host(max_candles=5)
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(CandleChart)
        chart.set_candles(zigzag(5))
        await pilot.pause()
        version = chart._data_version
        tick = candle(4, 104, 150, 90, 149, 77)
        chart.update_candle(tick)
        assert len(chart.candles) == 5
        assert chart.candles[-1] == tick
        assert chart._data_version == version + 1
        await pilot.pause()
        match = OHLC.search(chart.render_line(0).text)
        assert match
        assert float(match.group(4)) == pytest.approx(149)

        chart.update_candle(candle(5, 149, 151, 148, 150))
        assert [c.open_ms for c in chart.candles] == [i * MINUTE for i in range(1, 6)]
        # A stale message for a candle already dropped is ignored.
        chart.update_candle(candle(0, 1, 2, 0.5, 1))
        assert [c.open_ms for c in chart.candles] == [i * MINUTE for i in range(1, 6)]


async def test_cursor_stays_on_its_candle_when_old_candles_are_dropped() -> None:
    app = Host(max_candles=10)
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(CandleChart)
        chart.set_candles(zigzag(10))
        chart.focus()
        await pilot.pause()
        await pilot.press("left")
        picked = chart.candles[chart.cursor_index or 0]
        chart.update_candle(zigzag(1, start=10)[0])
        assert chart.cursor_index is not None
        assert chart.candles[chart.cursor_index] == picked


async def test_new_candle_scrolls_in_unless_the_view_is_back_in_history() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(CandleChart)
        chart.set_candles(zigzag(100))
        chart.focus()
        await pilot.pause()
        await pilot.press("left")
        newest = candle(100, 100, 200, 99, 150)  # tallest: reaches the top row when shown
        chart.update_candle(newest)
        await pilot.pause()
        assert chart.render_line(1).text[PLOT_WIDTH - 1] in CANDLE_GLYPHS
        assert chart.cursor_index == 98

        await pilot.press("home")
        chart.update_candle(candle(101, 150, 300, 149, 250))
        await pilot.pause()
        assert chart.cursor_index == 0
        assert "300" not in chart.render_line(1).text


async def test_interval_is_shown_in_the_title() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(CandleChart)
        chart.set_candles([candle(i, 1, 2, 0.5, 1.5, interval="1h") for i in range(3)])
        chart.interval = "1h"
        await pilot.pause()
        assert chart.render_line(0).text.startswith(" 1h ")


class ThemedHost(App[None]):
    """An app whose theme variables define $up and $down, as the terminal's themes do."""

    CSS = """
    CandleChart > .candle-chart--up { color: $up; }
    CandleChart > .candle-chart--down { color: $down; }
    """

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {"up": "#00ff00", "down": "#ff0000"}

    def compose(self) -> ComposeResult:
        yield CandleChart()


async def test_app_css_overrides_colours_and_theme_change_restyles() -> None:
    app = ThemedHost()
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(CandleChart)
        chart.set_candles([candle(0, 100, 110, 90, 108), candle(1, 108, 110, 90, 100)])
        await pilot.pause()
        glyphs = [cell(chart, PLOT_WIDTH - 2, y) for y in price_rows_of(chart)]
        up_style = next(style for glyph, style in glyphs if glyph == "█")
        assert up_style.color is not None
        assert up_style.color.triplet is not None
        assert up_style.color.triplet.hex == "#00ff00"

        # A theme switch restyles the widget: the cached strips must not survive it.
        before = chart.render_line(1).text, cell(chart, PLOT_WIDTH - 1, 1)[1].bgcolor
        app.theme = "textual-light"
        await pilot.pause()
        after = chart.render_line(1).text, cell(chart, PLOT_WIDTH - 1, 1)[1].bgcolor
        assert before[0] == after[0]
        assert before[1] != after[1]


async def test_candles_that_arrive_between_two_paints_are_repainted() -> None:
    """The chart repaints only the lines that changed since its last paint: two updates
    between paints (the second also moving the view) must still repaint the title."""
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(CandleChart)
        await pilot.pause()
        height = chart.content_size.height
        painted = [chart.render_line(y).text for y in range(height)]  # as a paint does
        assert "waiting for candles" in "".join(painted)
        asked: list[tuple[Region, ...]] = []
        real_refresh = chart.refresh

        def refresh(*regions: Region, **kwargs: Any) -> CandleChart:
            asked.append(regions)
            return real_refresh(*regions, **kwargs)

        chart.refresh = refresh  # type: ignore[method-assign]
        chart.set_fills([])
        chart.set_candles(zigzag(30))
        # A whole repaint (no regions), or one that covers the title line.
        assert any(not regions or any(r.y == 0 for r in regions) for regions in asked)
        assert OHLC.search(chart.render_line(0).text) is not None


async def test_ticks_of_the_forming_candle_draw_what_a_fresh_chart_draws() -> None:
    """Each tick redraws only the forming candle's column when the scale holds; the lines
    must be those of a chart drawn from scratch, through ticks that keep the scale, one
    that sets a new high, fills marked, and the cursor moved off and back."""
    series = zigzag(60)
    last = series[-1]
    ticks = [
        (last.close + 0.25, last.high, 3.0),
        (last.close, last.close + 0.1, 1.0),  # a corrected kline: a shorter candle
        (last.close + 0.25, last.high, 3.0),
        (last.close - 0.5, last.high, 4.0),
        (last.close - 0.5, last.high + 30.0, 5.0),  # a new high: a new scale
        (last.close + 1.0, last.high + 30.0, 6.0),
        (last.close + 1.5, last.high + 30.0, 6.5),
    ]
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(CandleChart)
        chart.set_candles(series)
        chart.set_fills([(last.open_ms + 1_000, last.close, Side.BUY)])
        await pilot.pause()
        for close, high, volume in ticks:
            chart.update_candle(candle(59, last.open, high, last.low, close, volume))
            chart.action_cursor_left()
            chart.action_cursor_end()
            await pilot.pause()
            rows = range(chart.content_size.height)
            shown = [list(chart.render_line(y)) for y in rows]
            chart.notify_style_update()  # forget every frame and row: draw from scratch
            assert shown == [list(chart.render_line(y)) for y in rows]
