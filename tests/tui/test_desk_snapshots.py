"""Issue 15's pictures: the main screen, the ticket, each blotter tab and each dialog at
80x24, 120x40 and 200x60 (the main screen also in each shipped theme), on the seeded frozen
feed. Sizes are grouped in one parametrized test per subject; each run costs seconds.

Update after an intended change with ``--snapshot-update`` and look at the pictures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from omnitrade_tui.tui.app import OmniTradeApp
from tests.tui.test_app_trading import amend_open, ticket_open, until
from tests.tui.test_snapshots import feed, make_app

SIZES = [(80, 24), (120, 40), (200, 60)]
SIZE_IDS = ["80x24", "120x40", "200x60"]


def _keys(*keys: str, ready: Callable[[OmniTradeApp], bool] | None = None) -> Any:
    async def run(pilot: Pilot[Any]) -> None:
        await feed(pilot)
        await pilot.press(*keys)
        await pilot.pause(0.3)
        if ready is not None:
            # A dialog that takes its focus after mounting is drawn with it, on every run.
            app = pilot.app
            assert isinstance(app, OmniTradeApp)
            await until(pilot, lambda: ready(app), "the dialog ready for keys", timeout=10.0)
            await pilot.pause(0.1)

    return run


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_main_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=feed)


@pytest.mark.parametrize("theme", ["omnitrade-dark", "omnitrade-light", "omnitrade-amber"])
def test_main_screen_in_theme(snap_compare: Any, theme: str) -> None:
    app = make_app()
    app.theme = theme
    assert snap_compare(app, terminal_size=(120, 40), run_before=feed)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_ticket(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(
        make_app(), terminal_size=size, run_before=_keys("b", *"0.015", ready=ticket_open)
    )


@pytest.mark.parametrize(
    ("tab", "size"),
    [
        *((tab, (80, 24)) for tab in "12345"),
        ("6", (80, 24)),
        ("6", (120, 40)),
        ("6", (200, 60)),
        ("2", (120, 40)),
        ("4", (200, 60)),
    ],
    ids=lambda v: v if isinstance(v, str) else f"{v[0]}x{v[1]}",
)
def test_blotter_tab(snap_compare: Any, tab: str, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=_keys(tab))


DIALOGS = {
    "cancel-all": ("x",),
    "order-detail": ("6", "down", "enter"),
    "help": ("question_mark",),
    "quit": ("q",),
    "amend": ("o", "a"),
    "diagnostics": ("d",),
    "app-log": ("L",),
}


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("dialog", list(DIALOGS))
def test_dialog(snap_compare: Any, dialog: str, size: tuple[int, int]) -> None:
    ready = amend_open if dialog == "amend" else None
    assert snap_compare(
        make_app(), terminal_size=size, run_before=_keys(*DIALOGS[dialog], ready=ready)
    )
