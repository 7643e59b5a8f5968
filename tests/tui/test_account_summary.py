"""The account summary under the watchlist: what it shows, and that it lays the screen out
again only when that changed (a ``Static`` update reflows the whole screen, and the frame
loop asks it to draw with every watchlist refresh, four times a second)."""

from __future__ import annotations

from typing import Any

import msgspec
from textual.pilot import Pilot

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.tui.app import OmniTradeApp
from omnitrade_tui.tui.widgets.account_summary import AccountSummary
from tests.tui.seeded_feed import publish_feed, seeded_session, seeded_valuation
from tests.waiting import until


async def test_the_summary_redraws_only_when_what_it_shows_changed() -> None:
    app = OmniTradeApp(seeded_session(Bus()))
    app.animation_level = "none"
    async with app.run_test(size=(120, 40)) as pilot:
        publish_feed(app.bus)
        await pilot.pause(0.3)
        summary = app.query_one("#account", AccountSummary)
        updates: list[Any] = []
        plain_update = summary.update

        def counted(content: Any = "", **kwargs: Any) -> None:
            updates.append(content)
            plain_update(content, **kwargs)

        summary.update = counted  # type: ignore[method-assign]
        for _ in range(5):  # what the watchlist's refreshes do between two valuations
            summary.draw()
        assert updates == []
        value = seeded_valuation()
        app.bus.publish(
            topics.PORTFOLIO, msgspec.structs.replace(value, equity=value.equity + 1000)
        )
        await _until_drawn(pilot, updates)
        assert len(updates) == 1
        shown = str(app.export_screenshot())
        assert f"{value.equity + 1000:,.2f}" in shown


async def _until_drawn(pilot: Pilot[Any], updates: list[Any]) -> None:
    await until(lambda: bool(updates), "an update", 2.0, pause=pilot.pause, fail=False)
