"""Issue 15, items 6 and 7: one way to write each number (prices by the tick, quantities by
the step, money by the asset, thousands separated) and each time (local by default, UTC by
``[ui] utc_time``, the zone said in the status bar)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from omnitrade_tui.config import Overrides, load_settings
from omnitrade_tui.domain.models import Trade
from omnitrade_tui.tui.numbers import Numbers
from omnitrade_tui.tui.rows import fill_rows, order_rows
from omnitrade_tui.tui.widgets.ladder import Ladder
from omnitrade_tui.tui.widgets.tape import Tape
from omnitrade_tui.venues.sim.symbols import default_instruments
from tests.tui.order_path import seeded_app, started

NUMBERS = Numbers({i.symbol: i for i in default_instruments(["BTCUSDT", "ETHUSDT"])})


def test_prices_by_tick_quantities_by_step_money_by_asset() -> None:
    assert NUMBERS.price("BTCUSDT", Decimal("65097.6188312")) == "65,097.62"
    assert NUMBERS.price("BTCUSDT", 66989.44) == "66,989.44"
    assert NUMBERS.qty("BTCUSDT", Decimal("0.02")) == "0.02000"
    assert NUMBERS.qty("BTCUSDT", Decimal("1234.5")) == "1,234.50000"
    assert NUMBERS.money("USDT", Decimal("98659.4123")) == "98,659.41"
    assert NUMBERS.money("USDT", Decimal("-410.2"), signed=True) == "-410.20"
    assert NUMBERS.money("USDT", Decimal("410.2"), signed=True) == "+410.20"
    assert NUMBERS.money("BTC", Decimal("0.00002")) == "0.00002"
    assert NUMBERS.money_with_asset("USDT", Decimal("1.34")) == "1.34 USDT"
    assert NUMBERS.price("BTCUSDT", None) == "-"


def test_an_asset_no_instrument_steps_is_written_with_the_places_it_needs() -> None:
    # A balance in a coin the app does not trade (BNB, SOL beside a BTC/ETH watchlist).
    assert NUMBERS.money("BNB", Decimal("50.00000000")) == "50"
    assert NUMBERS.money("SOL", Decimal("1234.00250000")) == "1,234.0025"
    assert NUMBERS.money("SOL", Decimal("0E-8")) == "0"
    assert NUMBERS.price("XYZUSDT", 0.000123) == "0.000123"


def test_places_follow_an_instrument_replaced_by_new_exchange_info() -> None:
    btc = default_instruments(["BTCUSDT"])[0]
    instruments = {"BTCUSDT": btc}
    numbers = Numbers(instruments)
    assert numbers.price("BTCUSDT", 67_000.5) == "67,000.50"
    assert btc.price_filter is not None
    coarser = msgspec.structs.replace(
        btc, price_filter=msgspec.structs.replace(btc.price_filter, tick_size=Decimal("0.1"))
    )
    instruments["BTCUSDT"] = coarser
    assert numbers.price("BTCUSDT", 67_000.5) == "67,000.5"


def test_times_are_local_by_default_and_utc_by_the_setting() -> None:
    ms = 1_796_040_000_000  # 2026-11-30 12:00:00 UTC
    assert Numbers({}, utc=True).clock(ms) == "12:00:00"
    assert Numbers({}, utc=True).zone() == "UTC"
    local = Numbers({})
    assert local.clock(ms) == time.strftime("%H:%M:%S", time.localtime(ms / 1000))
    assert local.zone() == (time.strftime("%Z", time.localtime()) or "local")


@pytest.mark.parametrize(("text", "utc"), [("", False), ("[ui]\nutc_time = true\n", True)])
def test_utc_time_is_a_ui_setting(tmp_path: Path, text: str, utc: bool) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text(text)
    env = {**os.environ, "OMNITRADE_CONFIG_DIR": str(tmp_path / "config")}
    env["OMNITRADE_STATE_DIR"] = str(tmp_path / "state")
    env["OMNITRADE_DATA_DIR"] = str(tmp_path / "data")
    assert load_settings(Overrides(), env=env).ui.utc_time is utc


async def test_the_blotter_and_the_log_write_numbers_one_way() -> None:
    app = seeded_app()
    async with started(app, (120, 40)) as pilot:
        await pilot.pause(0.2)
        orders = {row.key: row.cells for row in order_rows(app.state)}
        assert orders["omt-seeded-1"][3][0] == "67,120.50"
        assert orders["omt-seeded-1"][5][0] == "0.01000"
        fill = fill_rows(app.state)[0].cells
        assert fill[2][0] == "67,010.00"
        assert fill[4][0] == "0.00002 BTC"
        assert fill[6][0] == "1,340.20"
        log = [line.text for line in app.state.log]
        assert any("fill BUY 0.02000 BTCUSDT @ 67,010.00 fee 0.00002 BTC" in t for t in log)
        assert "UTC" in app.query_one("#status").render_line(0).text


@pytest.fixture
def kolkata_time() -> Iterator[None]:
    """Local time set to UTC+05:30 (no summer time), so a clock in UTC reads differently."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kolkata"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.mark.usefixtures("kolkata_time")
async def test_the_tape_tells_the_time_as_the_blotter_does() -> None:
    app = seeded_app()
    app.state.numbers.utc = False
    async with started(app, (120, 40)) as pilot:
        fill = app.state.fills[0]
        blotter_time = fill_rows(app.state)[0].cells[5][0]
        assert blotter_time == time.strftime("%H:%M:%S", time.localtime(fill.time_ms / 1000))
        tape = app.query_one("#tape", Tape)
        print_ = Trade(
            symbol=fill.symbol,
            trade_id=10**12,
            price=float(fill.price),
            qty=float(fill.qty),
            time_ms=fill.time_ms,
            buyer_is_maker=False,
        )
        tape.show([print_])
        await pilot.pause()
        assert tape.render_line(1).text.split()[0] == blotter_time
        assert NUMBERS.price(fill.symbol, fill.price) in tape.render_line(1).text


async def test_the_ladder_writes_prices_as_the_numbers_do() -> None:
    app = seeded_app()
    async with started(app, (120, 40)) as pilot:
        await pilot.pause(0.2)
        ladder = app.query_one("#ladder", Ladder)
        lines = [ladder.render_line(y).text for y in range(ladder.size.height)]
        top = app.state.symbols["BTCUSDT"].top
        assert top is not None
        for level in (*top.bids[:3], *top.asks[:3]):
            price = NUMBERS.price("BTCUSDT", level.price)
            assert "," in price  # BTC trades in the tens of thousands
            assert any(f" {price} " in line for line in lines), (price, lines)
        # A level under the cursor: its cumulative size by the symbol's step, as a quantity
        # is written everywhere, not to significant digits.
        ladder.focus()
        await pilot.press("down")
        await pilot.pause()
        row = ladder.cursor_row
        assert row is not None
        info = ladder.render_line(ladder.size.height - 1).text
        assert (
            f"{NUMBERS.price('BTCUSDT', row.price)}: cum {NUMBERS.qty('BTCUSDT', row.cum_qty)}"
            in info
        )
