"""A read-only table drawn with the Line API: the blotter's tabs and the log use it.

Why not ``DataTable``: blotter rows change while the market moves (fills, order states),
and DataTable re-renders every visible cell on any change, with O(n) row removal
(``docs/reference/textual.md`` §B.7). This table keeps rows as plain tuples, paints only the
visible ones, and stays fast with thousands of rows: replacing all rows is one list
assignment and one refresh.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from omnitrade_tui.tui.widgets.styles import CURSOR_MARK, StyleCache, over


@dataclass(frozen=True)
class Column:
    """A column: its title, its widest width in cells, alignment (``<`` or ``>``), and
    ``drop``: 0 for a column always shown; otherwise the order in which columns give way
    when the table is too narrow (the highest first). A column that gave way is shown in
    the detail line of the selected row."""

    title: str
    width: int
    align: str = "<"
    drop: int = 0


#: A table at least this tall keeps two lines for the selected row's hidden columns.
_TWO_DETAIL_LINES_FROM = 8

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
        overflow-x: hidden;
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
        #: Each column's width fitted to its title and its widest cell (at most its width).
        self._fitted = tuple(len(c.title) for c in self.columns)
        self._layout_key: tuple[int, tuple[int, ...]] = (-1, ())
        self._shown: list[int] = []
        self._hidden: list[int] = []
        self._widths: dict[int, int] = {}
        self._squeezed: int | None = None
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
        """Replace every row; the cursor stays on the same key when it is still there.

        Only the lines whose row changed are repainted when the columns keep their widths:
        the watchlist is refilled four times a second and most of its rows (often all) are
        the same, and each repainted line costs the compositor and the terminal.
        """
        old, old_cursor, old_fitted = self.rows, self.cursor, self._fitted
        key = self.rows[self.cursor].key if 0 <= self.cursor < len(self.rows) else None
        self.rows = rows
        if key is not None:
            for i, row in enumerate(rows):
                if row.key == key:
                    self.cursor = i
                    break
        self.cursor = max(0, min(self.cursor, len(rows) - 1))
        fitted = [len(c.title) for c in self.columns]
        # Column by column (one pass of C-level zips): a refill of 1,000 rows stays cheap.
        for i, cells in enumerate(zip(*(row.cells for row in rows), strict=False)):
            if i >= len(fitted):
                break
            fitted[i] = max(fitted[i], max(len(text) for text, _ in cells))
        self._fitted = tuple(min(f, c.width) for f, c in zip(fitted, self.columns, strict=True))
        self._update_virtual_size()
        if len(rows) != len(old) or self.cursor != old_cursor or self._fitted != old_fitted:
            self.refresh()
            return
        changed = [i for i, (a, b) in enumerate(zip(old, rows, strict=True)) if a != b]
        if not changed:
            return
        width, height = self.size
        detail = self.detail_height
        if detail and self.cursor in changed:
            self.refresh()  # the detail lines show the selected row's hidden cells
            return
        top = int(self.scroll_offset.y)
        lines = [i - top + 1 for i in changed]
        self.refresh(*(Region(0, y, width, 1) for y in lines if 0 < y < height - detail))

    def on_resize(self) -> None:
        """Columns give way (or come back) with the width; never a sideways scrollbar."""
        self._update_virtual_size()

    def _update_virtual_size(self) -> None:
        # Lines for the detail of the selected row when columns gave way, so the last row
        # never hides behind it.
        detail = self.detail_height if self.rows else 0
        self.virtual_size = Size(self.size.width, len(self.rows) + 1 + detail)

    @property
    def detail_height(self) -> int:
        """Lines kept at the bottom for the selected row's hidden columns: none when every
        column fits, two on a table tall enough to spare them, else one."""
        return self._detail_height(self.size.height)

    def _detail_height(self, height: int) -> int:
        if not self.hidden_columns and self.squeezed_column is None:
            return 0
        return 2 if height >= _TWO_DETAIL_LINES_FROM else 1

    @property
    def shown_columns(self) -> list[int]:
        """Indexes of the columns that fit the table's width, in their order."""
        width = self.size.width
        key = (width, self._fitted)
        if key != self._layout_key:
            self._layout_key = key
            shown = list(range(len(self.columns)))
            # The gutter, then each column and the space after it.
            total = 1 + sum(self._fitted[i] + 1 for i in shown)
            order = sorted(
                (i for i, c in enumerate(self.columns) if c.drop),
                key=lambda i: (-self.columns[i].drop, -i),
            )
            for i in order:
                if total <= width:
                    break
                shown.remove(i)
                total -= self._fitted[i] + 1
            self._shown = shown
            kept = set(shown)
            self._hidden = [i for i in range(len(self.columns)) if i not in kept]
            self._widths = {i: self._fitted[i] for i in shown}
            self._squeezed = None
            # Not laid out yet (width 0): nothing is squeezed, or an auto-height table would
            # grow a detail line for a width it never has.
            if 0 < width < total and shown:
                # Still too wide: the last column takes what is left and its cut text ends
                # in "…"; the selected row's full text is in the detail lines.
                last = shown[-1]
                self._widths[last] = max(1, self._fitted[last] - (total - width))
                self._squeezed = last
        return self._shown

    @property
    def squeezed_column(self) -> int | None:
        """The last shown column when it is narrower than its widest cell, else None."""
        _ = self.shown_columns  # the layout of this width, squeezed column included
        return self._squeezed

    @property
    def hidden_columns(self) -> list[int]:
        """Indexes of the columns that gave way to the width."""
        _ = self.shown_columns  # the layout of this width
        return self._hidden

    def detail_lines(self, width: int = 10_000, lines: int = 1) -> list[str]:
        """The selected row's cells that the width hides: the text cut in the squeezed last
        column (word-wrapped over the lines), then the columns that gave way (``Title value
        · ...``), as many whole ones as fit ``lines`` lines of ``width`` cells."""
        if not 0 <= self.cursor < len(self.rows):
            return []
        cells = self.rows[self.cursor].cells
        out: list[str] = []
        squeezed = self.squeezed_column
        if squeezed is not None and squeezed < len(cells):
            text = cells[squeezed][0]
            if len(text) > self._widths[squeezed]:
                wrapped = textwrap.wrap(text, width) or [""]
                out = wrapped[:lines]
                if len(wrapped) > lines:
                    out[-1] = out[-1][: max(0, width - 1)] + "…"
        if not out:
            out = [""]
        for i in self.hidden_columns:
            if i >= len(cells) or not cells[i][0]:
                continue
            part = f"{self.columns[i].title} {cells[i][0]}"
            joined = f"{out[-1]} · {part}" if out[-1] else part
            if len(joined) <= width:
                out[-1] = joined
            elif len(out) < lines and len(part) <= width:
                out.append(part)
            else:
                break
        return out

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
        body = max(1, self.size.height - 1 - self.detail_height)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + body:
            self.scroll_to(y=self.cursor - body + 1, animate=False)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        """Line ``y`` of the view: the header, then rows from the scroll offset."""
        # The size once per line: each ``self.size`` looks the widget up in the screen's map.
        width, height = self.size
        styles = self._styles
        base = styles.base
        if y == 0:
            style = styles("row-table--header")
            cells = tuple((c.title, "") for c in self.columns)
            return self._line(cells, width, base + style)
        index = int(self.scroll_offset.y) + y - 1
        if not self.rows:
            if y == 1:
                style = styles("row-table--empty")
                return Strip([Segment(f" {self.empty}", style)]).adjust_cell_length(width, base)
            return Strip.blank(width, base)
        detail_height = self._detail_height(height)
        first_detail = height - detail_height
        if detail_height and y >= first_detail:
            style = base + styles("row-table--muted")
            lines = self.detail_lines(width - 1, detail_height)
            at = y - first_detail
            text = f" {lines[at]}" if at < len(lines) else ""
            return Strip([Segment(text, style)]).adjust_cell_length(width, base)
        if index >= len(self.rows):
            return Strip.blank(width, base)
        selected = index == self.cursor
        strip = self._line(self.rows[index].cells, width, base, selected)
        if selected:
            strip = over(strip, styles("row-table--cursor"))
        return strip

    def _line(
        self,
        cells: tuple[Cell, ...],
        width: int,
        base: Style,
        selected: bool = False,
    ) -> Strip:
        # A one-cell gutter: the cursor's mark lives there.
        segs: list[Segment] = []
        shown = self.shown_columns  # first: it sets the widths of this table width
        widths = self._widths
        for i in shown:
            if i >= len(cells):
                break
            column = self.columns[i]
            text, cls = cells[i]
            size = widths[i]
            style = base + self._styles(f"row-table--{cls}") if cls else base
            text = text if len(text) <= size else text[: size - 1] + "…"
            segs.append(Segment(f"{text:{column.align}{size}} ", style))
        strip = Strip(segs)
        gutter = Segment(CURSOR_MARK if selected else " ", base)
        return Strip([gutter, *strip]).adjust_cell_length(width, base)
