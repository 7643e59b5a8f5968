"""A read-only table drawn with the Line API: the blotter's tabs and the log use it.

Why not ``DataTable``: blotter rows change while the market moves (fills, order states),
and DataTable re-renders every visible cell on any change, with O(n) row removal
(``docs/reference/textual.md`` §B.7). This table keeps rows as plain tuples, paints only the
visible ones, and stays fast with thousands of rows: replacing all rows is one list
assignment and one refresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from omnitrade_tui.tui.widgets.styles import CURSOR_MARK, StyleCache, over


@dataclass(frozen=True)
class Column:
    """A column: its title, width in cells, and alignment (``<`` or ``>``)."""

    title: str
    width: int
    align: str = "<"


#: A cell: its text, and the name of a component class to style it ("" for plain).
Cell = tuple[str, str]


@dataclass(frozen=True)
class Row:
    """A row: its cells and a key the app uses to find what it shows (an order id...)."""

    key: str
    cells: tuple[Cell, ...]


class RowTable(ScrollView, can_focus=True):
    """A fast, keyboard-driven table of rows of styled text."""

    COMPONENT_CLASSES = {
        "row-table--header",
        "row-table--cursor",
        "row-table--buy",
        "row-table--sell",
        "row-table--up",
        "row-table--down",
        "row-table--muted",
        "row-table--warn",
        "row-table--error",
        "row-table--empty",
    }

    DEFAULT_CSS = """
    RowTable {
        height: 1fr;
        & > .row-table--header { text-style: bold; color: $text-muted; }
        & > .row-table--cursor { background: $accent 40%; }
        &:focus > .row-table--cursor { background: $accent 70%; text-style: bold; }
        & > .row-table--buy { color: $bid; }
        & > .row-table--sell { color: $ask; }
        & > .row-table--up { color: $up; }
        & > .row-table--down { color: $down; }
        & > .row-table--muted { color: $text-muted; }
        & > .row-table--warn { color: $warning; }
        & > .row-table--error { color: $error; text-style: bold; }
        & > .row-table--empty { color: $text-muted; text-style: italic; }
    }
    """

    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "move(-10)", "Page up", show=False),
        Binding("pagedown", "move(10)", "Page down", show=False),
        Binding("left", "scroll_left", "Left", show=False),
        Binding("right", "scroll_right", "Right", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
    ]

    class CursorMoved(Message):
        """The cursor moved to the row with ``key`` (by a key press)."""

        def __init__(self, table: RowTable, key: str) -> None:
            self.table = table
            self.key = key
            super().__init__()

        @property
        def control(self) -> RowTable:
            """The table whose cursor moved."""
            return self.table

    def __init__(
        self,
        columns: Sequence[Column],
        empty: str = "nothing yet",
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.columns = list(columns)
        self.empty = empty
        self.rows: list[Row] = []
        self.cursor = 0
        self._styles = StyleCache(self)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def on_focus(self) -> None:
        """The cursor's style depends on focus."""
        self._styles.clear()
        self.refresh()

    def on_blur(self) -> None:
        """See ``on_focus``."""
        self._styles.clear()
        self.refresh()

    def set_rows(self, rows: list[Row]) -> None:
        """Replace every row; the cursor stays on the same key when it is still there."""
        key = self.rows[self.cursor].key if 0 <= self.cursor < len(self.rows) else None
        self.rows = rows
        if key is not None:
            for i, row in enumerate(rows):
                if row.key == key:
                    self.cursor = i
                    break
        self.cursor = max(0, min(self.cursor, len(rows) - 1))
        width = 1 + sum(c.width + 1 for c in self.columns)
        self.virtual_size = Size(width, len(rows) + 1)
        self.refresh()

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor."""
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor].key
        return None

    def action_move(self, step: int) -> None:
        """Move the cursor by ``step`` rows and keep it in view."""
        self._place(self.cursor + step)

    def action_jump(self, index: int) -> None:
        """Jump to the first (0) or last (-1) row."""
        self._place(len(self.rows) - 1 if index < 0 else index)

    def _place(self, index: int) -> None:
        if not self.rows:
            return
        before = self.cursor
        self.cursor = max(0, min(len(self.rows) - 1, index))
        if self.cursor != before:
            self.post_message(self.CursorMoved(self, self.rows[self.cursor].key))
        body = max(1, self.size.height - 1)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + body:
            self.scroll_to(y=self.cursor - body + 1, animate=False)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        """Line ``y`` of the view: the header, then rows from the scroll offset."""
        width = self.size.width
        styles = self._styles
        base = styles.base
        scroll_x = int(self.scroll_offset.x)
        if y == 0:
            style = styles("row-table--header")
            cells = tuple((c.title, "") for c in self.columns)
            return self._line(cells, width, base + style, scroll_x)
        index = int(self.scroll_offset.y) + y - 1
        if not self.rows:
            if y == 1:
                style = styles("row-table--empty")
                return Strip([Segment(f" {self.empty}", style)]).adjust_cell_length(width, base)
            return Strip.blank(width, base)
        if index >= len(self.rows):
            return Strip.blank(width, base)
        selected = index == self.cursor
        strip = self._line(self.rows[index].cells, width, base, scroll_x, selected)
        if selected:
            strip = over(strip, styles("row-table--cursor"))
        return strip

    def _line(
        self,
        cells: tuple[Cell, ...],
        width: int,
        base: Style,
        scroll_x: int,
        selected: bool = False,
    ) -> Strip:
        # A one-cell gutter that does not scroll sideways: the cursor's mark lives there.
        segs: list[Segment] = []
        for column, (text, cls) in zip(self.columns, cells, strict=False):
            style = base + self._styles(f"row-table--{cls}") if cls else base
            text = text if len(text) <= column.width else text[: column.width - 1] + "…"
            cell = f"{text:{column.align}{column.width}} "
            segs.append(Segment(cell, style))
        strip = Strip(segs)
        if scroll_x:
            strip = strip.crop(scroll_x, scroll_x + width)
        gutter = Segment(CURSOR_MARK if selected else " ", base)
        return Strip([gutter, *strip]).adjust_cell_length(width, base)
