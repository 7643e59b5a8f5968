"""A yes/no question answered with one key (y or n; Esc is no)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class Confirm(ModalScreen[bool]):
    """Ask once; dismissed with ``True`` for y, ``False`` for n or Esc."""

    DEFAULT_CSS = """
    Confirm { align: center middle; }
    Confirm > Vertical {
        width: auto; max-width: 90%; height: auto;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    Confirm #question { text-style: bold; }
    Confirm #hint { color: $text-muted; }
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, hint: str = "y yes · n no") -> None:
        super().__init__()
        self.question = question
        self.hint = hint

    def compose(self) -> ComposeResult:
        """The question and the keys."""
        with Vertical():
            yield Static(self.question, id="question")
            yield Static(self.hint, id="hint")

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.dismiss(yes)
