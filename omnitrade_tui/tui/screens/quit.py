"""The question before quitting with orders open at the venue: they keep working there after
the terminal is gone, so the trader chooses: cancel them all, leave them, or stay."""

from __future__ import annotations

from collections import Counter
from typing import Literal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from omnitrade_tui.domain.models import Order

#: What the trader chose: cancel every open order then quit, quit leaving them, or stay.
QuitChoice = Literal["cancel", "leave", "stay"]


class QuitWithOpenOrders(ModalScreen[QuitChoice]):
    """``c`` cancel them all and quit · ``l`` leave them and quit · ``s``/Esc stay."""

    DEFAULT_CSS = """
    QuitWithOpenOrders { align: center middle; }
    QuitWithOpenOrders > Vertical {
        width: auto; max-width: 90%; height: auto;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    QuitWithOpenOrders #question { text-style: bold; }
    QuitWithOpenOrders #hint { color: $text-muted; }
    """

    BINDINGS = [
        Binding("c", "choose('cancel')", "Cancel them all, quit"),
        Binding("l", "choose('leave')", "Leave them, quit"),
        Binding("s,escape,n", "choose('stay')", "Stay"),
    ]

    def __init__(self, orders: list[Order]) -> None:
        super().__init__()
        self.orders = orders

    @property
    def question(self) -> str:
        """How many orders are open, and on which symbols."""
        count = len(self.orders)
        symbols = Counter(o.symbol for o in self.orders)
        where = ", ".join(f"{s} {n}" for s, n in sorted(symbols.items()))
        noun = "order is" if count == 1 else "orders are"
        return f"{count} {noun} open at the venue ({where}); they keep working after you quit."

    def compose(self) -> ComposeResult:
        """The question and the three answers."""
        with Vertical():
            yield Static(self.question, id="question")
            yield Static(
                "c cancel them all, then quit · l leave them open and quit · s / Esc stay",
                id="hint",
            )

    def action_choose(self, choice: QuitChoice) -> None:
        """Close with the choice."""
        self.dismiss(choice)
