"""The blotter with 1,000 rows: our Line API ``RowTable`` against Textual's ``DataTable``.

Goal (issue 6): the blotter stays fast with 1,000 rows. Each round replaces every row (as
the app does when orders change) and lets the app render the frame headless at 160x45;
the figure is CPU milliseconds per round. The baseline, in the same run, is Textual's ``DataTable``
refilled with the same rows (``clear`` + ``add_rows``), the widget the reference measures
as ~50x dearer for tick-level updates (``docs/reference/textual.md`` §0).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from textual.app import App
from textual.widget import Widget
from textual.widgets import DataTable

from benchmarks.harness import Result
from omnitrade_tui.tui.rows import ORDER_COLUMNS
from omnitrade_tui.tui.themes import default_variables
from omnitrade_tui.tui.widgets.row_table import Row, RowTable

ROWS = 1_000
GOAL_MS = 50.0  # a round must fit well inside one 20 fps frame budget


def _rows(round_no: int) -> list[Row]:
    out = []
    for i in range(ROWS):
        side = "BUY" if i % 2 else "SELL"
        out.append(
            Row(
                f"omt-{i:06d}",
                (  # the Orders tab's columns (ORDER_COLUMNS), in their order
                    ("BTCUSDT", ""),
                    (side, "buy" if i % 2 else "sell"),
                    ("LMT", ""),
                    (f"{67000 + i * 0.01 + round_no:,.2f}", "buy" if i % 2 else "sell"),
                    ("", "warn"),
                    (f"{0.001 * (i % 50 + 1):.5f}", ""),
                    ("0.00000", ""),
                    ("NEW", "muted"),
                    ("12:00:00", "muted"),
                    (f"omt-{i:06d}", "muted"),
                ),
            )
        )
    return out


class _Host(App[None]):
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(), **default_variables()}


Fill = Callable[[int], None]


async def _time_rounds(make: Callable[[], tuple[Widget, Fill]], rounds: int) -> float:
    host = _Host()
    async with host.run_test(size=(160, 45)) as pilot:
        widget, fill = make()
        await host.mount(widget)
        fill(0)
        await pilot.pause()
        # CPU time, not wall time: ``pause`` waits for the app to go idle, which includes
        # the frame the refill causes, plus idle waiting that costs no CPU.
        start = time.process_time()
        for r in range(1, rounds + 1):
            fill(r)
            await pilot.pause()
        took = time.process_time() - start
    return took / rounds * 1000


def run(quick: bool = False) -> list[Result]:
    """Milliseconds per full refill + frame with 1,000 rows, ours and DataTable's."""
    rounds = 5 if quick else 20
    prepared = {r: _rows(r) for r in range(rounds + 1)}

    def ours() -> tuple[Widget, Fill]:
        table = RowTable(ORDER_COLUMNS)
        return table, lambda r: table.set_rows(prepared[r])

    def theirs() -> tuple[Widget, Fill]:
        grid: DataTable[str] = DataTable()
        grid.add_columns(*(c.title for c in ORDER_COLUMNS))

        def refill(r: int) -> None:
            grid.clear()
            grid.add_rows([tuple(text for text, _ in row.cells) for row in prepared[r]])

        return grid, refill

    ours_ms = asyncio.run(_time_rounds(ours, rounds))
    theirs_ms = asyncio.run(_time_rounds(theirs, rounds))
    return [
        Result(
            name="blotter_1000_rows",
            figures={
                "rows": ROWS,
                "rounds": rounds,
                "ours_ms_per_refill_and_frame": round(ours_ms, 2),
                "datatable_ms_per_refill_and_frame": round(theirs_ms, 2),
            },
            baseline="textual DataTable refilled with the same rows (clear + add_rows)",
            ratio=theirs_ms / ours_ms if ours_ms else 0.0,
            goal=f"<= {GOAL_MS:.0f} ms per refill and frame with {ROWS} rows",
            met=ours_ms <= GOAL_MS,
        )
    ]
