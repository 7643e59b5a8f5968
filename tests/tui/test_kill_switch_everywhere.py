"""Issue 14, item 1: the kill switch engages from every screen, modal, the palette and a
focused field, and no widget may take its key; unlock asks, from anywhere."""

from __future__ import annotations

import pytest

from omnitrade_tui.bus import topics
from omnitrade_tui.config import UISettings
from omnitrade_tui.domain.commands import EngageKillSwitch, ReleaseKillSwitch
from omnitrade_tui.domain.events import KillSwitchChanged
from omnitrade_tui.tui.screens.confirm import Confirm
from tests.tui.order_path import recorder, seeded_app, until
from tests.tui.seeded_feed import publish_feed

#: Keys that open each screen from the main one (the seeded feed has two open orders, so
#: ``o a`` opens the amend dialog and ``x`` the cancel-all question).
OPENERS = {
    "main": (),
    "ticket": ("b",),
    "ticket field with text": ("b", *"0.01"),
    "amend": ("o", "a"),
    "confirm": ("x",),
    "help": ("question_mark",),
    "log": ("L",),
    "diagnostics": ("d",),
    "venues view": ("V",),
    "palette": ("ctrl+p",),
    "palette with a query": ("ctrl+p", *"kill"),
}


@pytest.mark.parametrize("key", ["ctrl+k", "f12"])
@pytest.mark.parametrize("where", list(OPENERS))
async def test_the_kill_switch_key_engages_from_every_screen(where: str, key: str) -> None:
    app = seeded_app(ui=UISettings(keys={"kill_switch": "f12"}))
    engaged = recorder(app, EngageKillSwitch)
    async with app.run_test(size=(120, 40)) as pilot:
        publish_feed(app.bus)
        await pilot.pause(0.1)
        await pilot.press(*OPENERS[where])
        await pilot.pause(0.2)
        screen = app.screen
        if where != "main":
            assert screen is not app.screen_stack[0], f"{where} did not open"
        value_before = [w.value for w in screen.query("Input")]  # type: ignore[attr-defined]
        await pilot.press(key)
        await until(pilot, lambda: len(engaged) == 1, f"the kill switch from {where}")
        # The key went to the kill switch, not to a field (ctrl+k deletes to the right).
        assert [w.value for w in screen.query("Input")] == value_before  # type: ignore[attr-defined]


@pytest.mark.parametrize("where", ["main", "ticket field with text", "help", "palette"])
async def test_unlock_asks_from_every_screen(where: str) -> None:
    app = seeded_app()
    released = recorder(app, ReleaseKillSwitch)
    async with app.run_test(size=(120, 40)) as pilot:
        publish_feed(app.bus)
        await pilot.pause(0.1)
        await pilot.press(*OPENERS[where])
        await pilot.pause(0.2)
        app.bus.publish(
            topics.KILL_SWITCH, KillSwitchChanged(engaged=True, detail="operator", time_ms=1)
        )
        await until(pilot, lambda: app.state.locked, "the lock")
        await pilot.press("ctrl+u")
        await until(pilot, lambda: isinstance(app.screen, Confirm), f"the question from {where}")
        assert released == []
        await pilot.press("y")
        await until(pilot, lambda: len(released) == 1, "the unlock")
