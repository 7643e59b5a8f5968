"""Make the README's pictures: ``python -m tests.tui.screenshots`` writes SVG screenshots of
the main screen and the order ticket to ``docs/`` from the same seeded feed, size (120x40)
and keys as the snapshot tests (``test_desk_snapshots``), so the pictures always show the app
as it is.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from omnitrade_tui.bus import Bus
from omnitrade_tui.tui.app import OmniTradeApp
from tests.tui.seeded_feed import publish_feed, seeded_session

DOCS = Path(__file__).resolve().parents[2] / "docs"


async def shoot(name: str, keys: tuple[str, ...], size: tuple[int, int] = (120, 40)) -> Path:
    """Run the app on the seeded feed, press ``keys``, save ``docs/<name>.svg``."""
    app = OmniTradeApp(seeded_session(Bus()))
    app.animation_level = "none"
    async with app.run_test(size=size) as pilot:
        publish_feed(app.bus)
        await pilot.pause(0.3)
        if keys:
            await pilot.press(*keys)
            await pilot.pause(0.3)
        path = app.save_screenshot(filename=f"{name}.svg", path=str(DOCS))
    return Path(path)


async def main() -> int:
    """Write every picture; print where."""
    DOCS.mkdir(exist_ok=True)
    for name, keys in (("main-screen", ()), ("order-ticket", ("b", *"0.015"))):
        print(await shoot(name, keys))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
