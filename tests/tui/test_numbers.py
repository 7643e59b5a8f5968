"""Issue 15, items 6 and 7: one way to write each number (prices by the tick, quantities by
the step, money by the asset, thousands separated) and each time (local by default, UTC by
``[ui] utc_time``, the zone said in the status bar)."""

from __future__ import annotations

import os
import time
from decimal import Decimal
from pathlib import Path

import pytest

from omnitrade_tui.config import Overrides, load_settings
from omnitrade_tui.tui.numbers import Numbers
from omnitrade_tui.tui.rows import fill_rows, order_rows
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
