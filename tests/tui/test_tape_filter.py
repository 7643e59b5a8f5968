"""The tape's filter is by quote notional, says so in its header, and its steps follow the
symbol's typical trade (multiples of the median notional, rounded to 1-2-5)."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from omnitrade_tui.bus import Bus
from omnitrade_tui.domain.models import Trade
from omnitrade_tui.tui.app import OmniTradeApp
from omnitrade_tui.tui.numbers import Numbers
from omnitrade_tui.tui.themes import default_variables
from omnitrade_tui.tui.widgets.tape import Tape, filter_steps, nice_step, short_amount
from tests.tui.seeded_feed import publish_feed, seeded_session


class TapeApp(App[None]):
    """A tape alone, with the app's theme variables."""

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(), **default_variables()}

    def compose(self) -> ComposeResult:
        yield Tape(id="tape")


def trades(symbol: str, price: float, notionals: list[float]) -> list[Trade]:
    return [
        Trade(
            symbol=symbol,
            trade_id=i,
            price=price,
            qty=n / price,
            time_ms=1_796_040_000_000 + i,
            buyer_is_maker=bool(i % 2),
        )
        for i, n in enumerate(notionals)
    ]


@pytest.mark.parametrize(
    ("value", "step"),
    [(180.0, 200.0), (140.0, 100.0), (900.0, 1_000.0), (3_300.0, 5_000.0), (0.37, 0.5)],
)
def test_nice_step_rounds_to_one_two_five(value: float, step: float) -> None:
    assert nice_step(value) == pytest.approx(step)


def test_steps_scale_with_the_median_trade() -> None:
    btc = trades("BTCUSDT", 67_000.0, [100.0, 180.0, 250.0, 4_000.0, 170.0])
    sol = trades("SOLUSDT", 143.0, [10.0, 20.0, 19.0, 500.0, 21.0])
    assert filter_steps(btc) == pytest.approx((200.0, 1_000.0, 5_000.0, 20_000.0))
    assert filter_steps(sol) == pytest.approx((20.0, 100.0, 500.0, 2_000.0))
    assert [short_amount(v) for v in (20.0, 1_000.0, 2_500.0, 20_000.0, 1e6)] == [
        "20",
        "1k",
        "2.5k",
        "20k",
        "1M",
    ]


async def test_the_header_says_the_notional_and_small_prints_are_hidden() -> None:
    app = TapeApp()
    async with app.run_test(size=(60, 20)) as pilot:
        tape = app.query_one(Tape)
        tape.configure("BTCUSDT", Numbers({}), "USDT")
        feed = trades("BTCUSDT", 67_000.0, [100.0, 180.0, 250.0, 4_000.0, 170.0, 1_500.0])
        tape.show(feed)
        await pilot.pause()
        assert "(all trades)" in tape.render_line(0).text
        assert tape.cycle_filter(feed) == 200.0
        tape.show(feed)
        await pilot.pause()
        assert "(≥ 200 USDT)" in tape.render_line(0).text
        assert sorted(round(t.price * t.qty) for t in tape.trades) == [250, 1_500, 4_000]
        assert tape.cycle_filter(feed) == 1_000.0
        tape.show(feed)
        await pilot.pause()
        assert "(≥ 1k USDT)" in tape.render_line(0).text
        assert sorted(round(t.price * t.qty) for t in tape.trades) == [1_500, 4_000]
        for _ in range(3):
            tape.cycle_filter(feed)
        assert tape.min_notional == 0.0
        # Narrow, the header keeps the filter and drops the column names.
        await pilot.resize_terminal(40, 20)
        tape.cycle_filter(feed)
        tape.show(feed)
        await pilot.pause()
        assert tape.render_line(0).text.rstrip() == " trades ≥ 200 USDT"
        # Another symbol starts at every trade again: its typical trade is another size.
        tape.cycle_filter(feed)
        tape.configure("SOLUSDT", Numbers({}), "USDT")
        assert tape.min_notional == 0.0 and tape.filter_label == "all trades"


async def test_f_on_the_main_screen_filters_by_the_symbols_typical_trade() -> None:
    app = OmniTradeApp(seeded_session(Bus()))
    app.animation_level = "none"
    async with app.run_test(size=(120, 40)) as pilot:
        publish_feed(app.bus)
        await pilot.pause(0.3)
        await pilot.press("f")
        await pilot.pause(0.3)
        tape = app.query_one("#tape", Tape)
        seen = list(app.state.symbols["BTCUSDT"].trades)
        assert tape.min_notional == filter_steps(seen)[0] > 0
        # Said in the quote asset, in the long "(≥ 2k USDT)" or the narrow "trades ≥ 2k USDT" form.
        assert f"≥ {short_amount(tape.min_notional)} USDT" in tape.render_line(0).text
        assert all(t.price * t.qty >= tape.min_notional for t in tape.trades)
