"""Rich styles of a widget's component classes, looked up once per theme or focus change.

``Widget.get_component_rich_style`` and ``Widget.rich_style`` walk the CSS and the DOM on
every call (about 0.2-0.5 ms each here); a ladder asking for them per row spent most of
its frame there. The Line API widgets ask this cache instead and clear it when Textual
says their styles changed.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

#: Drawn in the first cell of a selected row: the selection shows even where a theme's
#: cursor colour is close to a row's own, and on a terminal with few colours.
CURSOR_MARK = "▶"


def over(strip: Strip, style: Style) -> Strip:
    """``strip`` with ``style`` applied on top of each segment's own style, so it wins.

    ``Strip.apply_style`` puts the style *under* the segments' (their background wins);
    a cursor drawn that way disappears under every cell that has a background.
    """
    return Strip(Segment.apply_style(list(strip), post_style=style), strip.cell_length)


class StyleCache:
    """Component and base styles of one widget, until ``clear()``."""

    def __init__(self, widget: Widget) -> None:
        self.widget = widget
        self._components: dict[str, Style] = {}
        self._base: Style | None = None

    def __call__(self, name: str) -> Style:
        """The style of component class ``name``."""
        style = self._components.get(name)
        if style is None:
            style = self.widget.get_component_rich_style(name)
            self._components[name] = style
        return style

    @property
    def base(self) -> Style:
        """The widget's own style (background and colour)."""
        if self._base is None:
            self._base = self.widget.rich_style
        return self._base

    def clear(self) -> None:
        """Forget everything (a theme, CSS or focus change)."""
        self._components.clear()
        self._base = None


def refresh_changed(widget: Widget, old: list[Strip], new: list[Strip]) -> None:
    """Repaint the cells of ``widget`` that differ between ``old`` and ``new`` (everything
    when the line count changed).

    Over SSH the bytes are the cost: Textual writes a refreshed region's segments and no
    more, so a size that changed on a ladder row sends that column, not the row.
    """
    if len(old) != len(new):
        widget.refresh()
        return
    changed = [
        Region(x0, y, x1 - x0, 1)
        for y, (a, b) in enumerate(zip(old, new, strict=True))
        if a != b
        for x0, x1 in [changed_span(a, b)]
        if x1 > x0
    ]
    if changed:
        widget.refresh(*changed)


def changed_span(old: Strip, new: Strip) -> tuple[int, int]:
    """The cells ``[x0, x1)`` from the first to the last segment that differ between two
    strips of one width (the whole width when their widths differ)."""
    a, b = list(old), list(new)
    width = new.cell_length
    if old.cell_length != width:
        return 0, max(width, old.cell_length)
    n = min(len(a), len(b))
    i, x0 = 0, 0
    while i < n and a[i] == b[i]:
        x0 += b[i].cell_length
        i += 1
    j, x1 = 0, width
    while j < n - i and a[-1 - j] == b[-1 - j]:
        x1 -= b[-1 - j].cell_length
        j += 1
    return x0, max(x0, x1)
