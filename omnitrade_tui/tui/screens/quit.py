"""The question before quitting with orders open at the venue: they keep working there after
the terminal is gone, so the trader chooses: cancel them all, leave them, or stay."""

from __future__ import annotations

from collections import Counter
from typing import Literal

from textual.binding import Binding

from omnitrade_tui.domain.models import Order
from omnitrade_tui.tui.screens.confirm import Question

#: What the trader chose: cancel every open order then quit, quit leaving them, or stay.
QuitChoice = Literal["cancel", "leave", "stay"]


class QuitWithOpenOrders(Question[QuitChoice]):
    """``c`` cancel them all and quit · ``l`` leave them and quit · ``s``/Esc stay."""

    BINDINGS = [
        Binding("c", "choose('cancel')", "Cancel them all, quit"),
        Binding("l", "choose('leave')", "Leave them, quit"),
        Binding("s,escape,n", "choose('stay')", "Stay"),
    ]

    def __init__(self, orders: list[Order]) -> None:
        super().__init__(
            how_many_open(orders),
            "c cancel them all, then quit · l leave them open and quit · s / Esc stay",
        )
        self.orders = orders

    def action_choose(self, choice: QuitChoice) -> None:
        """Close with the choice."""
        self.dismiss(choice)


def how_many_open(orders: list[Order]) -> str:
    """How many orders are open, and on which symbols."""
    count = len(orders)
    symbols = Counter(o.symbol for o in orders)
    where = ", ".join(f"{s} {n}" for s, n in sorted(symbols.items()))
    noun = "order is" if count == 1 else "orders are"
    return f"{count} {noun} open at the venue ({where}); they keep working after you quit."
