"""Rich styles of a widget's component classes, looked up once per theme or focus change.

``Widget.get_component_rich_style`` and ``Widget.rich_style`` walk the CSS and the DOM on
every call (about 0.2-0.5 ms each here); a ladder asking for them per row spent most of
its frame there. The Line API widgets ask this cache instead and clear it when Textual
says their styles changed.
"""

from __future__ import annotations

from rich.style import Style
from textual.widget import Widget


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
