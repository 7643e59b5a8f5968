"""Alerts on the screen, through the app's keys: a price alert set from the ladder level
under the cursor, the Alerts screen adding, pausing and deleting rules, and a firing told by
a toast, the bell and (only where the terminal takes one) a desktop notification."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from textual.pilot import Pilot

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.domain.alerts import AlertFired, AlertKind, AlertRule, price_text
from omnitrade_tui.domain.commands import AddAlert, ListAlerts
from omnitrade_tui.domain.models import Trade
from omnitrade_tui.engine.alerts import AlertService
from omnitrade_tui.tui.app import OmniTradeApp
from omnitrade_tui.tui.desktop_notice import detect, notification
from omnitrade_tui.tui.screens.alerts import AlertForm, AlertsScreen
from omnitrade_tui.tui.widgets.ladder import Ladder
from tests.tui.seeded_feed import T0_MS, publish_feed, seeded_session


@pytest.fixture
async def app_with_alerts() -> AsyncIterator[tuple[OmniTradeApp, Pilot[None], AlertService]]:
    bus = Bus()
    app = OmniTradeApp(seeded_session(bus))
    app.animation_level = "none"
    service = AlertService(bus)
    await service.start()
    async with app.run_test(size=(120, 40)) as pilot:
        publish_feed(bus)
        await pilot.pause(0.3)
        yield app, pilot, service
    await service.stop()


async def _rules(app: OmniTradeApp) -> list[AlertRule]:
    rules: list[AlertRule] = await app.bus.request(ListAlerts())
    return rules


async def test_a_price_alert_from_the_ladder_fires_with_toast_bell_and_desktop_notice(
    app_with_alerts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, pilot, _ = app_with_alerts
    monkeypatch.setenv("TERM_PROGRAM", "iTerm.app")
    monkeypatch.delenv("TMUX", raising=False)
    written: list[str] = []
    rings: list[bool] = []
    monkeypatch.setattr(app, "write_to_terminal", written.append)
    monkeypatch.setattr(app, "bell", lambda: rings.append(True))
    await pilot.press("A")  # not on the ladder yet: says how
    await pilot.pause(0.1)
    assert await _rules(app) == []
    await pilot.press("l", "down", "down", "down", "A")
    await pilot.pause(0.3)
    ladder = app.query_one("#ladder", Ladder)
    row = ladder.cursor_row
    assert row is not None
    rules = await _rules(app)
    assert [(r.kind, r.symbol, r.level, r.repeat) for r in rules] == [
        (AlertKind.PRICE_CROSS, "BTCUSDT", row.price, False)
    ]
    level = row.price
    way = rules[0].direction  # set towards the market: up when the level is above it
    assert way in ("up", "down")
    sign = 1 if way == "up" else -1
    for i, price in enumerate((level - sign * 50, level + sign * 50, level + sign * 60)):
        trade = Trade(
            symbol="BTCUSDT",
            trade_id=10_000 + i,
            price=price,
            qty=0.01,
            time_ms=T0_MS + i,
            buyer_is_maker=False,
        )
        app.bus.publish(topics.trade("BTCUSDT"), trade)
    await pilot.pause(0.3)
    shown = [n.message for n in app._notifications]
    assert any(f"crossed {price_text(level)} {way}" in m for m in shown), shown
    assert rings == [True]
    assert len(written) == 1
    assert written[0].startswith("\x1b]9;OmniTrade alert: BTCUSDT crossed")
    assert any("ALERT" in line.text for line in app.state.log)


async def test_the_alerts_screen_adds_pauses_and_deletes(app_with_alerts: Any) -> None:
    app, pilot, _ = app_with_alerts
    await pilot.press("n")
    await pilot.pause(0.2)
    assert isinstance(app.screen, AlertsScreen)
    await pilot.press("n")
    await pilot.pause(0.2)
    form = app.screen
    assert isinstance(form, AlertForm)
    await pilot.press("right")  # kind: price_cross -> move_pct
    await pilot.press("tab", "tab", *"1.5")  # symbol (prefilled BTCUSDT), threshold
    await pilot.press("enter")
    await pilot.pause(0.3)
    assert isinstance(app.screen, AlertsScreen)
    rules = await _rules(app)
    assert [(r.kind, r.symbol, r.threshold) for r in rules] == [
        (AlertKind.MOVE_PCT, "BTCUSDT", 1.5)
    ]
    await pilot.press("space")
    await pilot.pause(0.3)
    assert [r.enabled for r in await _rules(app)] == [False]
    await pilot.press("space")
    await pilot.pause(0.3)
    assert [r.enabled for r in await _rules(app)] == [True]
    await pilot.press("x")
    await pilot.pause(0.3)
    assert await _rules(app) == []


async def test_a_rule_the_engine_would_refuse_keeps_the_form_open_with_the_reason(
    app_with_alerts: Any,
) -> None:
    app, pilot, _ = app_with_alerts
    await pilot.press("n", "n")
    await pilot.pause(0.2)
    await pilot.press("enter")  # a price alert with no level
    await pilot.pause(0.2)
    form = app.screen
    assert isinstance(form, AlertForm)
    assert "needs a level" in str(form.query_one("#problem").render())
    assert await _rules(app) == []


def test_desktop_notices_go_only_to_terminals_that_take_them() -> None:
    assert detect({"TERM": "xterm-256color"}) == "off"
    assert notification("t", "b", "auto", {"TERM": "xterm-256color"}) is None
    assert notification("t", "b", "auto", {"TERM": "screen"}) is None
    assert notification("t", "b", "off", {"TERM_PROGRAM": "iTerm.app"}) is None
    assert notification("t", "b", "auto", {"TERM_PROGRAM": "WezTerm"}) == "\x1b]9;t: b\x07"
    assert notification("A;B", "x;y", "auto", {"TERM": "foot"}) == "\x1b]777;notify;A,B;x,y\x07"
    # A message cannot end the sequence early and smuggle commands to the terminal.
    evil = notification("t", "a\x07\x1b]52;c;cGF3bmVk\x07", "osc9", {})
    assert evil is not None and evil.count("\x07") == 1 and evil.count("\x1b") == 1
    # Inside tmux: wrapped for its passthrough, escapes doubled.
    wrapped = notification("t", "b", "osc9", {"TMUX": "/tmp/tmux-0/default,1,0"})
    assert wrapped == "\x1bPtmux;\x1b\x1b]9;t: b\x07\x1b\\"
    with pytest.raises(ValueError):
        notification("t", "b", "loud", {})


async def _alerts_open(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, OmniTradeApp)
    publish_feed(app.bus)
    service = AlertService(app.bus, clock_ms=lambda: T0_MS)
    await service.start()
    for rule in (
        AlertRule(kind=AlertKind.PRICE_CROSS, symbol="BTCUSDT", level=68_000.0, direction="up"),
        AlertRule(
            kind=AlertKind.SPREAD_BPS, symbol="ETHUSDT", threshold=8, repeat=True, label="wide"
        ),
        AlertRule(kind=AlertKind.KILL_SWITCH, repeat=True, cooldown_s=0, delivery=("phone",)),
    ):
        await app.bus.request(AddAlert(rule=rule))
    await service.store.record_fired(
        AlertFired(
            rule_id="al-1",
            kind=AlertKind.OWN_FILL,
            symbol="BTCUSDT",
            message="filled BUY 0.02 BTCUSDT @ 66989.44 (omt-1)",
            time_ms=T0_MS,
        )
    )
    await pilot.press("n")
    await asyncio.sleep(0.3)
    await pilot.pause(0.2)


def _snapshot_app() -> OmniTradeApp:
    app = OmniTradeApp(seeded_session(Bus()))
    app.animation_level = "none"
    return app


def test_alerts_screen_120x40(snap_compare: Any) -> None:
    assert snap_compare(_snapshot_app(), terminal_size=(120, 40), run_before=_alerts_open)


def test_alerts_screen_80x24(snap_compare: Any) -> None:
    assert snap_compare(_snapshot_app(), terminal_size=(80, 24), run_before=_alerts_open)
