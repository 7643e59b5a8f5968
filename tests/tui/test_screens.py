"""Screens and settings of the app on the seeded feed: diagnostics, log, help with key
overrides, themes, narrow layout, the palette's entries."""

from __future__ import annotations

import dataclasses
import logging

from omnitrade_tui.bus import Bus, each, topics
from omnitrade_tui.config import UISettings
from omnitrade_tui.domain.commands import EngageKillSwitch
from omnitrade_tui.domain.events import Diagnostics, StreamRate
from omnitrade_tui.logs import RingHandler
from omnitrade_tui.tui.app import OmniTradeApp
from omnitrade_tui.tui.screens.diagnostics import DiagnosticsScreen
from omnitrade_tui.tui.screens.help import HelpScreen
from omnitrade_tui.tui.screens.log import LogScreen
from omnitrade_tui.tui.widgets.row_table import RowTable
from tests.tui.seeded_feed import publish_feed, seeded_session


def app_with(**changes: object) -> OmniTradeApp:
    session = seeded_session(Bus())
    app = OmniTradeApp(dataclasses.replace(session, **changes))  # type: ignore[arg-type]
    app.animation_level = "none"
    return app


async def test_diagnostics_screen_shows_the_published_figures() -> None:
    app = app_with()
    async with app.run_test(size=(120, 40)) as pilot:
        publish_feed(app.bus)
        app.bus.publish(
            topics.DIAGNOSTICS,
            Diagnostics(
                time_ms=1,
                streams=[StreamRate(topic="md.book.BTCUSDT", per_second=812.5, total=9000)],
                queues=[],
                latencies=[],
                rate_limits=[],
                reconnects=3,
                resyncs=2,
            ),
        )
        await pilot.press("d")
        await pilot.pause(0.2)
        assert isinstance(app.screen, DiagnosticsScreen)
        shot = app.export_screenshot()
        assert "md.book.BTCUSDT" in shot
        assert "812.5" in shot
        await pilot.press("escape")
        assert not isinstance(app.screen, DiagnosticsScreen)


async def test_log_screen_shows_records_of_the_ring_at_the_chosen_level() -> None:
    ring = RingHandler()
    log = logging.getLogger("omnitrade_tui.test_screens")
    log.addHandler(ring)
    log.setLevel(logging.DEBUG)
    try:
        log.info("book resynced after a gap")
        log.debug("a detail")
        app = app_with(log_ring=ring)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("L")
            await pilot.pause(0.2)
            assert isinstance(app.screen, LogScreen)
            table = app.screen.query_one("#records", RowTable)
            messages = [row.cells[3][0] for row in table.rows]
            assert messages == ["book resynced after a gap"]
            await pilot.press("minus")
            await pilot.pause(0.1)
            messages = [row.cells[3][0] for row in table.rows]
            assert messages == ["book resynced after a gap", "a detail"]
    finally:
        log.removeHandler(ring)


async def test_key_override_from_the_config_adds_a_kill_switch_key_and_help_shows_it() -> None:
    app = app_with(ui=UISettings(keys={"kill_switch": "f12", "no_such_action": "f2"}))
    engaged: list[EngageKillSwitch] = []

    async def engage(cmd: EngageKillSwitch) -> str:
        engaged.append(cmd)
        return "done"

    app.bus.handle(EngageKillSwitch, engage)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.1)
        assert any("no_such_action" in n.message for n in app._notifications)
        await pilot.press("f12")
        await pilot.pause(0.2)
        assert len(engaged) == 1
        # The documented key stays bound too: in a panic the trader presses what the README
        # and the footer say.
        await pilot.press("ctrl+k")
        await pilot.pause(0.2)
        assert len(engaged) == 2
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert isinstance(app.screen, HelpScreen)
        lines = [" ".join(row) for row in app.screen.rows]
        kill = [line for line in lines if "KILL" in line]
        assert kill
        assert "f12" in kill[0]
        assert "lock trading" in kill[0]


async def test_theme_from_settings_and_an_unknown_one_falls_back_with_a_notice() -> None:
    amber = app_with(ui=UISettings(theme="omnitrade-amber"))
    async with amber.run_test(size=(100, 30)):
        assert amber.theme == "omnitrade-amber"
    unknown = app_with(ui=UISettings(theme="nope"))
    async with unknown.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.1)
        assert unknown.theme == "omnitrade-dark"
        assert any("nope" in n.message for n in unknown._notifications)


async def test_narrow_terminal_hides_the_watchlist_and_g_brings_the_chart() -> None:
    app = app_with()
    async with app.run_test(size=(80, 24)) as pilot:
        publish_feed(app.bus)
        await pilot.pause(0.2)
        assert not app.query_one("#watchlist").display
        assert not app.query_one("#chart").display
        await pilot.press("g")
        await pilot.pause(0.1)
        assert app.query_one("#chart").display
        assert not app.query_one("#blotter").display
        await pilot.press("w")
        await pilot.pause(0.1)
        assert app.state.active == "ETHUSDT"


async def test_palette_lists_symbols_intervals_themes_and_actions() -> None:
    from omnitrade_tui.tui.commands import TradingCommands

    app = app_with()
    async with app.run_test(size=(120, 40)):
        provider = TradingCommands(app.screen)
        titles = [title for title, _, _ in provider._entries()]
        for wanted in ("Symbol: ETHUSDT", "Interval: 4h", "Theme: omnitrade-amber", "KILL SWITCH"):
            assert wanted in titles


async def test_palette_entries_the_role_refuses_say_why_and_do_nothing() -> None:
    from omnitrade_tui.domain.commands import PlaceOrder
    from omnitrade_tui.tui.commands import TradingCommands
    from omnitrade_tui.tui.screens.ticket import OrderTicket

    reason = "placing orders needs the trader role; you are a viewer"
    app = app_with(refused={PlaceOrder.name: reason})
    async with app.run_test(size=(120, 40)) as pilot:
        entries = {t: (cb, h) for t, cb, h in TradingCommands(app.screen)._entries()}
        callback, help_text = entries["Buy ticket"]
        assert help_text == f"DISABLED: {reason}"
        assert entries["KILL SWITCH"][1].startswith("cancel all open orders")
        callback()
        await pilot.pause(0.1)
        assert not isinstance(app.screen, OrderTicket)
        assert any(reason in str(n.message) for n in app._notifications)


async def test_live_profile_is_unmistakable_and_always_confirms() -> None:
    from omnitrade_tui.tui.screens.ticket import OrderTicket
    from omnitrade_tui.tui.widgets.status_bar import StatusBar

    app = app_with(live=True, profile_label="LIVE")
    async with app.run_test(size=(120, 40)) as pilot:
        publish_feed(app.bus)
        await pilot.pause(0.2)
        status = app.query_one("#status", StatusBar)
        text = "".join(seg.text for seg in status.segments())
        assert text.startswith(" LIVE - REAL MONEY ")
        assert status.segments()[0].style == status.get_component_rich_style("status-bar--live")
        assert app.has_class("-live")
        await pilot.press("b", *"0.01")
        await pilot.pause(0.1)
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        assert ticket.confirm
        sent: list[object] = []
        app.bus.subscribe("cmd.>", each(lambda t, e: sent.append(e)))
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert sent == []
        assert "Press Enter again to SEND" in str(ticket.query_one("#confirm").render())
        await pilot.press("escape")  # back to editing, still nothing sent
        await pilot.pause(0.1)
        assert isinstance(app.screen, OrderTicket)
        assert sent == []


async def test_moving_in_the_watchlist_switches_the_symbol_everywhere() -> None:
    from omnitrade_tui.tui.widgets.ladder import Ladder

    app = app_with()
    async with app.run_test(size=(140, 40)) as pilot:
        publish_feed(app.bus)
        await pilot.pause(0.2)
        await pilot.press("w", "down")
        await pilot.pause(0.2)
        assert app.state.active == "ETHUSDT"
        assert app.query_one("#ladder", Ladder).symbol == "ETHUSDT"
        assert app.state.interval == "1m"
        await pilot.press("b")
        await pilot.pause(0.1)
        assert app.screen.instrument.symbol == "ETHUSDT"  # type: ignore[attr-defined]


async def test_a_crash_shows_no_local_variables() -> None:
    """Textual's own crash screen prints every frame's locals, a key among them perhaps."""
    from typing import ClassVar

    import pytest
    from textual.binding import Binding, BindingType

    class Crashing(OmniTradeApp):
        BINDINGS: ClassVar[list[BindingType]] = [
            *OmniTradeApp.BINDINGS,
            Binding("f9", "boom", "Crash"),
        ]

        def action_boom(self) -> None:
            api_secret = "s3cr3t-value-that-must-not-show"  # noqa: F841
            raise RuntimeError("boom")

    app = Crashing(seeded_session(Bus()))

    async def crash() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f9")
            await pilot.pause(0.2)

    with pytest.raises(RuntimeError, match="boom"):
        await crash()
    assert "RuntimeError: boom" in app.crash_text
    assert "s3cr3t-value" not in app.crash_text


async def test_the_status_bar_says_when_the_history_lacks_trades() -> None:
    """Gaps the venue could not fill are said on screen, not only in the database."""
    from omnitrade_tui.domain.events import RecorderStatus
    from omnitrade_tui.tui.widgets.status_bar import StatusBar

    app = app_with()
    async with app.run_test(size=(160, 40)) as pilot:
        publish_feed(app.bus)
        app.bus.publish(
            topics.RECORDER,
            RecorderStatus(
                state="ok",
                written_rows=10,
                backlog_rows=0,
                spilled_rows=0,
                spilled_total=0,
                lag_ms=0.0,
                trade_gaps=2,
                missing_trades=41,
            ),
        )
        await pilot.pause(0.3)
        text = "".join(seg.text for seg in app.query_one("#status", StatusBar).segments())
        assert "gaps 2 (41 trades)" in text
