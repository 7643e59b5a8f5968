"""SVG snapshot of the main screen attached to a gateway as a viewer, on a seeded frozen feed
(``seeded_feed``): identical on every run. The main screen, the ticket, the blotter's tabs and
the dialogs at every size are in ``test_desk_snapshots``, which shares ``make_app`` and ``feed``;
the depth chart (``D``) is here at every size.

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
from tests.waiting import until


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
    # Parts that redraw a few times a second (tape, watchlist, status) may still be due
    # under load: wait until every part is drawn, so the picture is the same on every run.
    await until(lambda: not app.state.dirty, "every part drawn", 2.0, pause=pilot.pause, fail=False)
    await pilot.pause(0.05)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_depth_chart(snap_compare: Any, size: tuple[int, int]) -> None:
    """D: the cumulative depth chart of both sides in the ladder's place."""

    async def open_depth(pilot: Pilot[Any]) -> None:
        await feed(pilot)
        await pilot.press("D")
        await pilot.pause(0.2)

    assert snap_compare(make_app(), terminal_size=size, run_before=open_depth)


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
