"""SVG snapshots of the main screen (120x40 and 80x24), the depth chart (80x24, 120x40,
200x60), the order ticket and the help screen, on a seeded frozen feed (``seeded_feed``):
identical on every run.

Update after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update``
and look at the report before committing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from textual.pilot import Pilot

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.domain.commands import (
    CancelAll,
    CancelOrder,
    EngageKillSwitch,
    PlaceOrder,
    ReleaseKillSwitch,
    ReplaceOrder,
)
from omnitrade_tui.domain.events import ConnectionChanged, LinkState
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


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_depth_chart(snap_compare: Any, size: tuple[int, int]) -> None:
    """D: the cumulative depth chart of both sides in the ladder's place."""

    async def open_depth(pilot: Pilot[Any]) -> None:
        await feed(pilot)
        await pilot.press("D")
        await pilot.pause(0.2)

    assert snap_compare(make_app(), terminal_size=size, run_before=open_depth)


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


def test_main_screen_attached_as_a_viewer(snap_compare: Any) -> None:
    """Attached to a gateway as a viewer: the gateway link and who is attached where in the
    status bar, and the order keys disabled in the footer."""
    bus = Bus()
    session = dataclasses.replace(
        seeded_session(bus),
        profile_label="TESTNET via gateway",
        gateway="vic (viewer) @ tradebox:8765 SHA256:0LAXm5wQHO32105G…",
        refused={
            name: f"{what} needs the trader role; you are a viewer"
            for name, what in (
                (PlaceOrder.name, "placing orders"),
                (CancelOrder.name, "cancelling orders"),
                (ReplaceOrder.name, "amending orders"),
            )
        }
        | {
            name: f"{what} needs the admin role; you are a viewer"
            for name, what in (
                (CancelAll.name, "cancelling all orders"),
                (EngageKillSwitch.name, "engaging the kill switch"),
                (ReleaseKillSwitch.name, "releasing the kill switch"),
            )
        },
    )
    app = OmniTradeApp(session)
    app.animation_level = "none"

    async def attached(pilot: Pilot[Any]) -> None:
        bus.publish(
            topics.CONNECTION,
            ConnectionChanged(venue="gateway", link="gateway", state=LinkState.CONNECTED),
        )
        await feed(pilot)

    assert snap_compare(app, terminal_size=(160, 40), run_before=attached)
