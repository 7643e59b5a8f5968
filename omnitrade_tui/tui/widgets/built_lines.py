"""A widget drawn on Textual's Line API from lines built all at once.

The ladder, the depth chart and the venues view draw from one model snapshot a frame: each
builds every line in ``_build`` (a row needs its neighbours: cumulative sizes, the spread
line, edge markers), keeps them, hands them to ``render_line`` and, on new data, repaints
only the cells that changed (``repaint_changed``: over SSH the bytes are the cost). This
base holds that cycle once; a subclass writes ``_build`` and says when its data changed.
"""

from __future__ import annotations

from textual.strip import Strip
from textual.widget import Widget

from omnitrade_tui.tui.widgets.styles import StyleCache, refresh_changed


class BuiltLines(Widget):
    """Lines built by ``_build``, rebuilt whole on a new size or style, diffed on new data."""

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._lines: list[Strip] = []
        #: Rebuild every line at the next paint (a new size or style): no diff to make.
        self._stale_lines = True
        self._styles = StyleCache(self)
        self._diff_pending = False

    def _build(self) -> list[Strip]:
        """Every line of the widget at its size, top to bottom."""
        raise NotImplementedError

    def restyle(self) -> None:
        """Styles changed (theme, focus): forget every built line and paint again."""
        self._styles.clear()
        self._stale_lines = True
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.restyle()

    def on_resize(self) -> None:
        """A new size: rebuild every line."""
        self._stale_lines = True
        self.refresh()

    def render_line(self, y: int) -> Strip:
        """The ``y``-th built line (built now if they are stale)."""
        if self._stale_lines:
            self._lines = self._build()
            self._stale_lines = False
        if 0 <= y < len(self._lines):
            return self._lines[y]
        return Strip.blank(self.size.width, self._styles.base)

    def invalidate(self) -> None:
        """Rebuild the lines soon (once, however many updates come before), and repaint
        only those that changed: most book updates move a few levels, and over SSH every
        unchanged row sent is bytes for nothing."""
        if self._diff_pending:
            return
        self._diff_pending = True
        self.call_next(self._repaint_pending)

    def _repaint_pending(self) -> None:
        self._diff_pending = False
        self.repaint_changed()

    def repaint_changed(self) -> None:
        """Rebuild the lines and repaint the cells that changed (all, when stale)."""
        if not self.is_mounted or self.size.height <= 0 or self._stale_lines:
            self._stale_lines = True
            self.refresh()
            return
        old, self._lines = self._lines, self._build()
        refresh_changed(self, old, self._lines)
