"""Quick size: a symbol's default quantity and presets from the config, chosen with 1..9 in
the ticket; a market sell on its own key (``M``), a market buy on ``m``."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest
from textual.widgets import Input

from omnitrade_tui.bus import Bus
from omnitrade_tui.config import ConfigError, Overrides, SizePresets, UISettings, load_settings
from omnitrade_tui.domain.enums import OrderType, Side
from omnitrade_tui.tui.app import OmniTradeApp
from omnitrade_tui.tui.screens.ticket import OrderTicket
from omnitrade_tui.tui.ticket_form import TicketForm
from omnitrade_tui.tui.widgets.choice import Choice
from tests.tui.seeded_feed import publish_feed, seeded_session

BTC_SIZES = SizePresets(
    default=Decimal("0.01"),
    presets=[Decimal("0.001"), Decimal("0.005"), Decimal("0.02"), Decimal("0.1")],
)


def _settings(tmp_path: Path, text: str) -> UISettings:
    config = tmp_path / "config.toml"
    config.write_text(text)
    env = {"OMNITRADE_CONFIG_DIR": str(tmp_path), "OMNITRADE_STATE_DIR": str(tmp_path)}
    return load_settings(Overrides(config_file=config), env=env).ui


def test_sizes_come_from_the_config_by_symbol(tmp_path: Path) -> None:
    ui = _settings(
        tmp_path,
        '[ui.sizes.btcusdt]\ndefault = "0.01"\npresets = ["0.001", 0.005, "0.02", "0.1"]\n',
    )
    assert ui.sizes == {"BTCUSDT": BTC_SIZES}


@pytest.mark.parametrize(
    "text",
    [
        "[ui.sizes.BTCUSDT]\npresets = [" + ", ".join(['"0.1"'] * 10) + "]\n",
        '[ui.sizes.BTCUSDT]\ndefault = "-1"\n',
        '[ui.sizes.BTCUSDT]\npresets = ["0"]\n',
    ],
    ids=["ten presets", "negative default", "zero preset"],
)
def test_sizes_the_keys_cannot_reach_are_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match=r"\[ui.sizes.BTCUSDT\]"):
        _settings(tmp_path, text)


def test_quick_size_sets_the_quantity_or_says_why_not() -> None:
    app = OmniTradeApp(seeded_session(Bus()))
    form = TicketForm(app.state.instruments["BTCUSDT"])
    form.by_quote = True
    assert form.quick_size(2, BTC_SIZES.presets) is None
    assert (form.quantity, form.by_quote) == ("0.005", False)
    assert form.quick_size(5, BTC_SIZES.presets) == "quick sizes are 1..4"
    assert "[ui.sizes.BTCUSDT]" in (form.quick_size(1, []) or "")


def _app(sizes: dict[str, SizePresets]) -> OmniTradeApp:
    session = seeded_session(Bus())
    app = OmniTradeApp(dataclasses.replace(session, ui=UISettings(sizes=sizes)))
    app.animation_level = "none"
    return app


async def test_the_ticket_opens_at_the_default_size_and_digits_pick_presets() -> None:
    app = _app({"BTCUSDT": BTC_SIZES})
    async with app.run_test(size=(120, 40)) as pilot:
        publish_feed(app.bus)
        await pilot.pause(0.3)
        await pilot.press("b")
        await pilot.pause(0.1)
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        quantity = ticket.query_one("#quantity", Input)
        assert quantity.value == "0.01" and ticket.form.quantity == "0.01"
        # Priced from the best bid: the keyboard is on the quick sizes, so a digit picks one.
        assert ticket.focused is ticket.query_one("#quick", Choice)
        await pilot.press("3")
        await pilot.pause(0.05)
        assert ticket.form.quantity == "0.02" and quantity.value == "0.02"
        assert ticket.query_one("#quick", Choice).value == "3: 0.02"
        assert "1-9 quick size" in str(ticket.query_one("#keys").render())
        # In a text field a digit is typed; alt+digit still picks a preset.
        quantity.focus()
        await pilot.press("alt+4")
        await pilot.pause(0.05)
        assert ticket.form.quantity == "0.1" and quantity.value == "0.1"
        await pilot.press("escape")


async def test_without_sizes_the_ticket_is_as_before() -> None:
    app = _app({})
    async with app.run_test(size=(120, 40)) as pilot:
        publish_feed(app.bus)
        await pilot.pause(0.3)
        await pilot.press("b")
        await pilot.pause(0.1)
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        assert ticket.form.quantity == ""
        assert not ticket.query("#quick")
        assert ticket.focused is ticket.query_one("#quantity", Input)


@pytest.mark.parametrize(("key", "side"), [("m", Side.BUY), ("M", Side.SELL)])
async def test_market_buy_and_market_sell_have_their_own_keys(key: str, side: Side) -> None:
    app = _app({})
    async with app.run_test(size=(120, 40)) as pilot:
        publish_feed(app.bus)
        await pilot.pause(0.3)
        await pilot.press(key)
        await pilot.pause(0.1)
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        assert (ticket.form.type, ticket.form.side) == (OrderType.MARKET, side)
