"""A one-line choice among a few values, changed with left and right (no mouse, no popup).

Why not ``Select``: an overlay that needs Enter, arrows and Enter again is three key presses
for what a trader does in one (BUY to SELL, LIMIT to MARKET).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget


class Choice(Widget, can_focus=True):
    """Shows ``label: ◀ VALUE ▶``; left/right (or h/l, space) pick the previous/next value."""

    DEFAULT_CSS = """
    Choice {
        height: 1;
        width: 1fr;
        &:focus { background: $accent 30%; }
    }
    """

    BINDINGS = [
        Binding("left,h", "step(-1)", "Previous", show=False),
        Binding("right,l,space", "step(1)", "Next", show=False),
    ]

    class Changed(Message):
        """The value changed."""

        def __init__(self, choice: Choice, value: str) -> None:
            self.choice = choice
            self.value = value
            super().__init__()

        @property
        def control(self) -> Choice:
            """The choice that changed."""
            return self.choice

    def __init__(
        self,
        label: str,
        values: Sequence[str],
        value: str | None = None,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.label = label
        self.values = list(values)
        self.index = self.values.index(value) if value in self.values else 0

    @property
    def value(self) -> str:
        """The chosen value."""
        return self.values[self.index]

    def select(self, value: str) -> None:
        """Choose ``value`` (ignored when it is not offered)."""
        if value in self.values:
            self.index = self.values.index(value)
            self.refresh()

    def action_step(self, step: int) -> None:
        """Previous or next value, wrapping around."""
        self.index = (self.index + step) % len(self.values)
        self.refresh()
        self.post_message(self.Changed(self, self.value))

    def render(self) -> Text:
        """``label  ◀ VALUE ▶``."""
        text = Text(no_wrap=True)
        text.append(f"{self.label:<10}", "dim")
        text.append("◀ " if self.has_focus else "  ")
        text.append(self.value, "bold")
        text.append(" ▶" if self.has_focus else "  ")
        return text
