"""The account in a few lines under the watchlist: equity in the quote asset, today's change
on what is held, and the free quote balance, as the engine values them (``acct.portfolio``).

A ``Static`` redrawn with the balances (the app's frame loop calls ``draw`` when they or the
valuation changed): the figures change at most once a second (the engine publishes its
valuation at most that often), so the Line API would buy nothing here.
"""

from __future__ import annotations

from decimal import Decimal

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from omnitrade_tui.tui.state import TerminalState


def _signed(value: Decimal | None) -> Text:
    if value is None:
        return Text("-", style="dim")
    return Text(f"{value:+,.2f}", style="green" if value > 0 else "red" if value < 0 else "")


class AccountSummary(Static):
    """Equity, today's change and the free quote balance; ``p`` opens the whole portfolio."""

    DEFAULT_CSS = """
    AccountSummary {
        height: auto;
        padding: 0 1;
        border-top: hkey $panel;
    }
    """

    def __init__(self, state: TerminalState, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = state

    def on_mount(self) -> None:
        """Draw what is known now."""
        self.draw()

    def draw(self) -> None:
        """Redraw from the latest valuation and balances."""
        value = self.state.valuation
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(style="dim")
        grid.add_column(justify="right")
        if value is None:
            grid.add_row("account", Text("waiting for the valuation", style="dim"))
            self.update(grid)
            return
        quote = value.quote_asset
        free = self.state.balances.get(quote)
        pct = f" ({value.day_change_pct:+.2f}%)" if value.day_change_pct is not None else ""
        money = self.state.numbers.money
        grid.add_row(f"equity {quote}", Text(money(quote, value.equity), style="bold"))
        grid.add_row("today", _signed(value.day_change) + Text(pct))
        grid.add_row(f"free {quote}", money(quote, free.free) if free is not None else "-")
        if value.unpriced:
            grid.add_row("unpriced", Text(", ".join(value.unpriced), style="dim"))
        self.update(grid)
