"""The app's own log, newest last: the same (redacted) records as the JSON log file."""

from __future__ import annotations

import logging

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from omnitrade_tui.logs import RingHandler
from omnitrade_tui.tui.numbers import Numbers
from omnitrade_tui.tui.widgets.row_table import Column, Row, RowTable

_LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)
_CLS = {"WARNING": "warn", "ERROR": "error", "CRITICAL": "error", "DEBUG": "muted"}


class LogScreen(ModalScreen[None]):
    """Records from the in-memory ring handler; ``+``/``-`` change the minimum level."""

    DEFAULT_CSS = """
    LogScreen { align: center middle; }
    LogScreen > Vertical {
        width: 95%; height: 90%; border: thick $primary; background: $surface;
    }
    LogScreen #log-title { color: $text-muted; }
    """

    BINDINGS = [
        Binding("escape,q,L", "dismiss", "Close"),
        Binding("plus", "level(1)", "Fewer"),
        Binding("minus", "level(-1)", "More"),
    ]

    def __init__(self, ring: RingHandler | None, numbers: Numbers | None = None) -> None:
        super().__init__()
        self.ring = ring
        #: How times are written (local or UTC, as the rest of the screen); UTC without it.
        self.numbers = numbers or Numbers({}, utc=True)
        self.min_level = logging.INFO
        self._version = -1

    def compose(self) -> ComposeResult:
        """A title line and the records."""
        with Vertical():
            yield Static(id="log-title")
            yield RowTable(
                [
                    Column("Time", 8),
                    Column("Level", 7),
                    Column("Logger", 28),
                    Column("Message", 300),
                ],
                "no records at this level",
                id="records",
            )

    def on_mount(self) -> None:
        """Show the records and follow new ones."""
        self.query_one("#records", RowTable).focus()
        self._draw()
        self.set_interval(0.5, self._draw)

    def action_level(self, step: int) -> None:
        """Show more (``-``) or fewer (``+``) records."""
        i = _LEVELS.index(self.min_level) if self.min_level in _LEVELS else 1
        self.min_level = _LEVELS[max(0, min(len(_LEVELS) - 1, i + step))]
        self._version = -1
        self._draw()

    def _draw(self) -> None:
        title = self.query_one("#log-title", Static)
        level = logging.getLevelName(self.min_level)
        if self.ring is None:
            title.update("logging is not set up in this run · Esc close")
            return
        if self.ring.version == self._version:
            return
        self._version = self.ring.version
        entries = self.ring.entries(self.min_level)
        title.update(f" {len(entries)} records at {level} or above · + fewer · - more · Esc close")
        rows = [
            Row(
                str(i),
                (
                    (self.numbers.clock(int(e.ts * 1000)), "muted"),
                    (e.level, _CLS.get(e.level, "")),
                    (e.logger.removeprefix("omnitrade_tui."), "muted"),
                    (
                        e.msg + (f" | {e.exc.splitlines()[-1]}" if e.exc else ""),
                        _CLS.get(e.level, ""),
                    ),
                ),
            )
            for i, e in enumerate(entries)
        ]
        table = self.query_one("#records", RowTable)
        follow = table.cursor >= len(table.rows) - 1
        table.set_rows(rows)
        if follow:
            table.action_jump(-1)
