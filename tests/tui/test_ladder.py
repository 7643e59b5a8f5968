"""The ladder a trader works from: it scrolls and recentres, shows our orders and stops at
their levels and those beyond the window at its edge, keeps the side's hue in a change
flash, and gives the bid/ask imbalance of the depth it shows; the depth chart toggles in
its place. On a hand-made book (fast) and on the simulated venue (an order 50 levels away).
"""

from __future__ import annotations

import colorsys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.color import Color
from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.strip import Strip

from omnitrade_tui.bus import Bus
from omnitrade_tui.domain.commands import PlaceOrder
from omnitrade_tui.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.domain.events import BookState, BookTop
from omnitrade_tui.domain.instrument import Instrument, LotSize, PriceFilter
from omnitrade_tui.domain.models import BookLevel, OrderRequest
from omnitrade_tui.tui.app import OmniTradeApp
from omnitrade_tui.tui.numbers import Numbers
from omnitrade_tui.tui.themes import default_variables
from omnitrade_tui.tui.widgets.depth_chart import DepthChart, depth_profile
from omnitrade_tui.tui.widgets.ladder import (
    Ladder,
    OwnOrder,
    bucket_price,
    build_rows,
    group_levels,
)
from omnitrade_tui.tui.widgets.styles import changed_span
from tests.tui.seeded_feed import publish_feed, seeded_session

GRID = 1.0
#: The test symbol's writer: prices to the cent, sizes to a thousandth.
NUMBERS = Numbers(
    {
        "TESTUSDT": Instrument(
            symbol="TESTUSDT",
            base_asset="TEST",
            quote_asset="USDT",
            price_filter=PriceFilter(tick_size=Decimal("0.01")),
            lot_size=LotSize(step_size=Decimal("0.001")),
        )
    }
)


class LadderApp(App[None]):
    """A ladder alone, with the app's theme variables."""

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(), **default_variables()}

    def compose(self) -> ComposeResult:
        yield Ladder(id="ladder")


def book(levels: int = 60, bid_qty: float = 1.0, ask_qty: float = 1.0) -> BookTop:
    """Bids from 99 down and asks from 101 up, one a price unit apart; sizes grow outward."""
    return BookTop(
        symbol="TESTUSDT",
        update_id=1,
        bids=[BookLevel(99.0 - i * GRID, bid_qty + i) for i in range(levels)],
        asks=[BookLevel(101.0 + i * GRID, ask_qty + 2 * i) for i in range(levels)],
    )


def screen_text(ladder: Ladder) -> list[str]:
    return [ladder.render_line(y).text for y in range(ladder.size.height)]


async def test_an_order_beyond_the_window_is_marked_at_the_edge_and_scrolled_to() -> None:
    app = LadderApp()
    async with app.run_test(size=(60, 24)) as pilot:
        ladder = app.query_one(Ladder)
        ladder.configure("TESTUSDT", Decimal("0.01"), NUMBERS)
        ladder.show_book(book(), BookState.LIVE)
        far = OwnOrder("far-bid", Side.BUY, 49.0, 0.5)  # the 51st bid level
        stop = OwnOrder("stop", Side.SELL, 140.0, 0.25, stop=True)  # above the asks' 40th
        ladder.set_own_orders([far, stop])
        ladder.focus()
        await pilot.pause()
        text = screen_text(ladder)
        assert "▼ 1 of my orders beyond · nearest 49.00" in text[-2]
        assert "▲ 1 of my orders beyond · nearest 140.00" in text[1]
        assert all(not r.mine for r in ladder.visible_rows)
        for _ in range(10):
            if any(r.own_qty for r in ladder.visible_rows):
                break
            await pilot.press("pagedown")
        [row] = [r for r in ladder.visible_rows if r.own_qty]
        assert (row.side, row.price, row.own_qty) == (Side.BUY, 49.0, 0.5)
        assert any("●0.5" in line and "49.00" in line for line in screen_text(ladder))
        assert ladder.orders_at(row) == [far]
        # Back on the spread with one key; the stop shows at its stop price once scrolled up.
        await pilot.press("z")
        assert ladder.scroll == 0
        assert any("spread" in line for line in screen_text(ladder))
        for _ in range(10):
            if any(r.stop_qty for r in ladder.visible_rows):
                break
            await pilot.press("pageup")
        [row] = [r for r in ladder.visible_rows if r.stop_qty]
        assert (row.side, row.price) == (Side.SELL, 140.0)
        assert any("◆0.25" in line and "140.00" in line for line in screen_text(ladder))


@pytest.mark.parametrize("width", [36, 30])
async def test_a_narrow_ladder_keeps_every_price_size_and_edge_whole(width: int) -> None:
    # At 80x24 the ladder gets 36 columns: its columns close up instead of cutting the
    # cumulative size, the edge mark keeps its price and the spread line its mid.
    app = LadderApp()
    async with app.run_test(size=(width, 24)) as pilot:
        ladder = app.query_one(Ladder)
        ladder.configure("TESTUSDT", Decimal("0.01"), NUMBERS)
        deep = book(bid_qty=1234.5)
        ladder.show_book(deep, BookState.LIVE)
        ladder.set_own_orders([OwnOrder("far-bid", Side.BUY, 49.0, 0.5)])
        await pilot.pause()
        text = screen_text(ladder)
        assert "▼ 1 mine beyond · 49.00" in text[-2]
        spread = next(line for line in text if "spread" in line)
        assert spread.rstrip().endswith("mid 100.000")
        for row in ladder.visible_rows:
            [line] = [t for t in text if NUMBERS.price("TESTUSDT", row.price) + " " in t]
            assert NUMBERS.qty("TESTUSDT", row.qty) in line
            cumulative = line.rstrip().split()[-1]
            if width >= 34:
                assert cumulative != NUMBERS.qty("TESTUSDT", row.qty)  # the last column: cum
            else:
                assert cumulative == NUMBERS.qty("TESTUSDT", row.qty)  # no room: size last


async def test_the_cursor_scrolls_the_window_to_stay_visible() -> None:
    app = LadderApp()
    async with app.run_test(size=(60, 16)) as pilot:
        ladder = app.query_one(Ladder)
        ladder.configure("TESTUSDT", Decimal("0.01"), NUMBERS)
        ladder.show_book(book(), BookState.LIVE)
        ladder.focus()
        await pilot.pause()
        await pilot.press(*["down"] * 30)
        row = ladder.cursor_row
        assert row is not None and row.price == 99.0 - 29
        assert row in ladder.visible_rows
        assert ladder.scroll > 0


def shifted(top: BookTop, by: float, drop_best_ask: int = 0) -> BookTop:
    """``top`` with every price moved by ``by``, less its best ``drop_best_ask`` asks."""
    return BookTop(
        symbol=top.symbol,
        update_id=top.update_id + 1,
        bids=[BookLevel(lv.price + by, lv.qty) for lv in top.bids],
        asks=[BookLevel(lv.price + by, lv.qty) for lv in top.asks[drop_best_ask:]],
    )


async def test_the_window_stays_on_its_prices_until_the_spread_leaves_its_middle() -> None:
    app = LadderApp()
    async with app.run_test(size=(60, 24)) as pilot:
        ladder = app.query_one(Ladder)
        ladder.configure("TESTUSDT", Decimal("0.01"), NUMBERS)
        top = book()
        ladder.show_book(top, BookState.LIVE)
        await pilot.pause()
        before = screen_text(ladder)
        spread_at = next(y for y, line in enumerate(before) if "spread" in line)
        # The best ask is taken: the asks above keep their lines (a centred-only ladder
        # would move each of them down one), the spread line moves up into its place.
        ladder.show_book(shifted(top, 0.0, drop_best_ask=1), BookState.LIVE)
        await pilot.pause()
        after = screen_text(ladder)
        # (Their price and size; the cumulative size lost the level taken.)
        assert [line[:32] for line in after[2 : spread_at - 1]] == [
            line[:32] for line in before[2 : spread_at - 1]
        ]
        assert "spread" in after[spread_at - 1]
        # A move of the whole book by 8 levels takes the spread out of the window's middle
        # half: the window recentres on it.
        ladder.show_book(shifted(top, -8 * GRID), BookState.LIVE)
        await pilot.pause()
        assert "spread" in screen_text(ladder)[spread_at]
        # Scrolled by the trader, the window keeps its prices whatever the book does.
        ladder.focus()
        await pilot.press("J", "J", "J")
        shown = [r.price for r in ladder.visible_rows]
        ladder.show_book(shifted(top, -14 * GRID), BookState.LIVE)
        await pilot.pause()
        assert [r.price for r in ladder.visible_rows][:5] == shown[:5]
        assert not ladder.following


def _hue_and_saturation(color: Color) -> tuple[float, float]:
    r, g, b = color.get_truecolor()
    h, _, s = colorsys.rgb_to_hls(r / 255, g / 255, b / 255)
    return h, s


async def test_change_flashes_keep_the_side_hue() -> None:
    app = LadderApp()
    async with app.run_test(size=(60, 24)) as pilot:
        ladder = app.query_one(Ladder)
        ladder.configure("TESTUSDT", Decimal("0.01"), NUMBERS)
        ladder.show_book(book(), BookState.LIVE)
        await pilot.pause()
        ladder.show_book(book(bid_qty=1.5, ask_qty=1.5), BookState.LIVE)
        await pilot.pause()
        for side, price in ((Side.BUY, "99.00"), (Side.SELL, "101.00")):
            [line] = [
                ladder.render_line(y) for y in range(24) if price in ladder.render_line(y).text
            ]
            [cell] = [seg for seg in line if price in seg.text]
            assert cell.style is not None and cell.style.bgcolor is not None, price
            hue, saturation = _hue_and_saturation(cell.style.bgcolor)
            side_color = ladder.get_component_rich_style(
                "ladder--bid" if side is Side.BUY else "ladder--ask"
            ).color
            assert side_color is not None
            side_hue, _ = _hue_and_saturation(side_color)
            assert saturation > 0.2, f"{side} flash is grey: {cell.style.bgcolor}"
            assert min(abs(hue - side_hue), 1 - abs(hue - side_hue)) < 0.05, side


async def test_imbalance_is_that_of_the_depth_shown() -> None:
    app = LadderApp()
    async with app.run_test(size=(60, 24)) as pilot:
        ladder = app.query_one(Ladder)
        ladder.configure("TESTUSDT", Decimal("0.01"), NUMBERS)
        top = book()
        ladder.show_book(top, BookState.LIVE)
        await pilot.pause()
        # 24 lines: title, two edges and the info line leave 20, the spread takes one.
        asks_shown, bids_shown = 9, 10
        bid = sum(lv.qty for lv in top.bids[:bids_shown])
        ask = sum(lv.qty for lv in top.asks[:asks_shown])
        expected = (bid - ask) / (bid + ask)
        assert ladder.imbalance == pytest.approx(expected)
        assert f"imb {expected:+.0%}" in screen_text(ladder)[0]
        # Scrolled down a page, the window holds only bids: +100%.
        ladder.focus()
        await pilot.press("pagedown", "pagedown")
        assert ladder.imbalance == pytest.approx(1.0)
        assert "imb +100%" in screen_text(ladder)[0]


def test_depth_profile_is_the_size_between_the_mid_and_each_price() -> None:
    top = book(levels=5)
    assert depth_profile(top.bids, [99.5, 99.0, 97.0, 90.0], bids=True) == [0.0, 1.0, 6.0, 15.0]
    assert depth_profile(top.asks, [100.5, 101.0, 103.0, 110.0], bids=False) == [
        0.0,
        1.0,
        9.0,
        25.0,
    ]


def _seeded_app() -> OmniTradeApp:
    app = OmniTradeApp(seeded_session(Bus()))
    app.animation_level = "none"
    return app


async def test_d_toggles_the_depth_chart_in_the_ladders_place() -> None:
    app = _seeded_app()
    async with app.run_test(size=(120, 40)) as pilot:
        publish_feed(app.bus)
        await pilot.pause(0.3)
        ladder = app.query_one("#ladder", Ladder)
        chart = app.query_one("#depth", DepthChart)
        assert not chart.display
        await pilot.press("D")
        await pilot.pause(0.1)
        # mypy keeps chart.display narrowed to False from the assert before the key press.
        assert chart.display and not ladder.display  # type: ignore[unreachable]
        columns = chart.columns  # type: ignore[unreachable]
        half = len(columns) // 2
        # Cumulative: the bids grow away from the mid (leftward), the asks rightward.
        assert columns[:half] == sorted(columns[:half], reverse=True)
        assert columns[half:] == sorted(columns[half:])
        assert columns[0] > 0 and columns[-1] > 0
        await pilot.press("D")
        await pilot.pause(0.1)
        assert ladder.display and not chart.display
        assert app.focused is ladder


@pytest.mark.slow
async def test_an_order_50_levels_away_on_the_venue_is_an_edge_mark_then_scrolled_to(
    tmp_path: Path,
) -> None:
    from tests.tui.test_app_trading import running_app, until

    async with running_app(tmp_path) as (app, pilot, _runtime):
        ladder = app.query_one("#ladder", Ladder)
        top = app.state.symbols["BTCUSDT"].top
        assert top is not None and len(top.bids) > 2
        grid = top.bids[0].price - top.bids[1].price
        price = Decimal(repr(round(top.bids[0].price - 50 * grid, 2)))
        request = OrderRequest(
            symbol="BTCUSDT",
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=Decimal("0.001"),
            price=price,
            time_in_force=TimeInForce.GTC,
        )
        await app.bus.request(PlaceOrder(request=request), 15.0)
        await until(
            pilot,
            lambda: any(o.status is OrderStatus.NEW for o in app.state.open_orders("BTCUSDT")),
            "the order to rest",
        )
        await pilot.press("l")
        await pilot.pause(0.2)
        expected = f"▼ 1 of my orders beyond · nearest {float(price):,.2f}"
        text: list[Any] = screen_text(ladder)
        assert any(expected in line for line in text), text
        for _ in range(20):
            if any(r.own_qty for r in ladder.visible_rows):
                break
            await pilot.press("pagedown")
            await pilot.pause(0.05)
        [row] = [r for r in ladder.visible_rows if r.own_qty]
        assert row.price == float(price) and row.own_qty == 0.001
        assert not any("of my orders beyond" in line for line in screen_text(ladder))


def test_a_changed_cell_repaints_its_segment_not_the_line() -> None:
    def strip(*texts: str) -> Strip:
        return Strip([Segment(t) for t in texts])

    old = strip(" 67,012.73", "  0.10478", "   0.105 ", "███  ")
    assert changed_span(old, strip(" 67,012.73", "  0.20000", "   0.105 ", "███  ")) == (10, 19)
    assert changed_span(old, strip(" 67,012.73", "  0.10478", "   0.205 ", "████ ")) == (19, 33)
    assert changed_span(old, strip("x")) == (0, 33)


def _depth_at(ladder: Ladder, price: str) -> tuple[str, str]:
    """(size, cumulative depth) as written on the row of ``price``."""
    for line in screen_text(ladder):
        cells = line.split()
        if cells and cells[0] == price:
            return cells[1], cells[2]
    raise AssertionError(f"no row at {price}: {screen_text(ladder)}")


async def test_sizes_are_live_and_the_depth_column_catches_up_on_its_beat() -> None:
    app = LadderApp()
    now = [100.0]  # beat 400 of CUM_HZ = 4
    async with app.run_test(size=(60, 24)) as pilot:
        ladder = app.query_one(Ladder)
        ladder.clock = lambda: now[0]
        ladder.configure("TESTUSDT", Decimal("0.01"), NUMBERS)
        ladder.show_book(book(), BookState.LIVE)
        await pilot.pause()
        assert _depth_at(ladder, "97.00") == ("3.000", "6")  # 1 + 2 + 3
        bigger = book()
        bigger.bids[0] = BookLevel(99.0, 6.0)
        now[0] = 100.1  # the same beat
        ladder.show_book(bigger, BookState.LIVE)
        await pilot.pause()
        assert _depth_at(ladder, "99.00") == ("6.000", "1")  # the size at once
        assert _depth_at(ladder, "97.00") == ("3.000", "6")  # the depth as of the beat
        assert not ladder.fade_flashes()  # nothing to catch up within the beat
        now[0] = 100.3  # the next beat, but the book painted 0.2 s ago: its next paint
        assert not ladder.fade_flashes()  # brings the depth up, with no frame of its own
        now[0] = 100.36  # a quiet quarter second: the depth catches up by itself
        assert ladder.fade_flashes()
        await pilot.pause()
        assert _depth_at(ladder, "97.00") == ("3.000", "11")
        assert _depth_at(ladder, "98.00") == ("2.000", "8")
        assert not ladder.fade_flashes()


@given(
    st.lists(st.tuples(st.integers(1, 100_000), st.floats(0.001, 50.0)), min_size=1, max_size=60),
    st.lists(st.tuples(st.integers(1, 100_000), st.floats(0.001, 50.0)), min_size=1, max_size=60),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from([1, 2, 5, 25, 1000]),
)
def test_a_remembered_bucket_is_the_bucket(
    first: list[tuple[int, float]], second: list[tuple[int, float]], side: Side, group: int
) -> None:
    memo: dict[float, float] = {}
    bucket = 0.01 * group
    for ticks in (first, second):  # the memo filled by one book serves the next
        levels = [(t * 0.01, q) for t, q in ticks]
        assert group_levels(levels, side, bucket, memo) == group_levels(levels, side, bucket)


@given(
    st.lists(
        st.tuples(st.integers(1, 5_000), st.floats(0.001, 50.0)),
        min_size=0,
        max_size=40,
        unique_by=lambda level: level[0],
    ),
    st.lists(st.integers(1, 5_000), max_size=3),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from([1, 5, 100]),
)
def test_rows_are_the_sorted_levels_with_their_running_depth(
    ticks: list[tuple[int, float]], own_ticks: list[int], side: Side, group: int
) -> None:
    bucket = 0.01 * group
    levels = sorted(((t * 0.01, q) for t, q in ticks), reverse=side is Side.BUY)
    own = {bucket_price(t * 0.01, side, bucket): 0.5 for t in own_ticks}
    rows = build_rows(levels, side, own, bucket, memo={})
    grouped: dict[float, float] = {}
    for price, qty in levels:
        key = bucket_price(price, side, bucket)
        grouped[key] = grouped.get(key, 0.0) + qty
    for price in own:
        grouped.setdefault(price, 0.0)
    prices = sorted(grouped, reverse=side is Side.BUY)
    assert [r.price for r in rows] == prices
    assert [r.qty for r in rows] == [grouped[p] for p in prices]
    assert [r.own_qty for r in rows] == [own.get(p, 0.0) for p in prices]
    depth = 0.0
    for row in rows:
        depth += row.qty
        assert row.cum_qty == pytest.approx(depth)
