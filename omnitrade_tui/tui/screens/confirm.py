"""Questions answered with one key: yes/no (``Confirm``), or a few named answers
(``Question`` subclasses such as the one before quitting with orders open)."""

from __future__ import annotations

from typing import Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

T = TypeVar("T")


class Question(ModalScreen[T], Generic[T]):
    """A question and the keys that answer it; subclasses bind the keys to ``dismiss``."""

    DEFAULT_CSS = """
    Question { align: center middle; }
    Question > Vertical {
        width: auto; max-width: 90%; height: auto;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    Question #question { text-style: bold; }
    Question #hint { color: $text-muted; }
    """

    def __init__(self, question: str, hint: str) -> None:
        super().__init__()
        self.question = question
        self.hint = hint

    def compose(self) -> ComposeResult:
        """The question and the keys."""
        with Vertical():
            yield Static(self.question, id="question")
            yield Static(self.hint, id="hint")


class Confirm(Question[bool]):
    """Ask once; dismissed with ``True`` for y, ``False`` for n or Esc."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, hint: str = "y yes · n no") -> None:
        super().__init__(question, hint)

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.dismiss(yes)
