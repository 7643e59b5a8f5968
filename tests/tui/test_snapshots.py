"""SVG snapshots of the main screen (120x40 and 80x24), the order ticket and the help
screen, on a seeded frozen feed (``seeded_feed``): identical on every run.

Update after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update``
and look at the report before committing.
"""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from omnitrade_tui.bus import Bus
from omnitrade_tui.tui.app import OmniTradeApp
from tests.tui.seeded_feed import publish_feed, seeded_session


def make_app() -> OmniTradeApp:
    """The app on a fresh bus with the seeded history handler, animations off."""
    app = OmniTradeApp(seeded_session(Bus()))
    app.animation_level = "none"
    return app


async def feed(pilot: Pilot[Any]) -> None:
    """Publish the frozen market and let a few frames draw it."""
    app = pilot.app
    assert isinstance(app, OmniTradeApp)
    publish_feed(app.bus)
    await pilot.pause(0.3)


def test_main_screen_120x40(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=feed)


def test_main_screen_80x24(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=feed)


def test_order_ticket(snap_compare: Any) -> None:
    async def open_ticket(pilot: Pilot[Any]) -> None:
        await feed(pilot)
        await pilot.press("b", *"0.015")
        await pilot.pause(0.2)

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=open_ticket)


def test_help_screen(snap_compare: Any) -> None:
    async def open_help(pilot: Pilot[Any]) -> None:
        await feed(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=open_help)
