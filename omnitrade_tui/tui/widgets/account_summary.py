"""The account in a few lines under the watchlist: equity in the quote asset, today's change
on what is held, and the free quote balance, as the engine values them (``acct.portfolio``).

A ``Static`` redrawn with the balances (the app's frame loop calls ``draw`` when they, the
valuation or the watchlist changed): the figures change at most once a second (the engine
publishes its valuation at most that often), so the Line API would buy nothing here. A
``Static`` update lays the whole screen out again, so ``draw`` updates only when what it
shows changed (the watchlist alone asks four times a second), and lays out only when its
rows changed (new figures in the same rows keep its height).
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
        #: The rows last drawn, as text: a redraw that would show the same is skipped.
        self._shown: tuple[tuple[str, str], ...] | None = None

    def on_mount(self) -> None:
        """Draw what is known now."""
        self.draw()

    def draw(self) -> None:
        """Redraw from the latest valuation and balances."""
        value = self.state.valuation
        rows: list[tuple[str, Text]] = []
        if value is None:
            rows.append(("account", Text("waiting for the valuation", style="dim")))
        else:
            quote = value.quote_asset
            free = self.state.balances.get(quote)
            pct = f" ({value.day_change_pct:+.2f}%)" if value.day_change_pct is not None else ""
            money = self.state.numbers.money
            rows.append((f"equity {quote}", Text(money(quote, value.equity), style="bold")))
            rows.append(("today", _signed(value.day_change) + Text(pct)))
            free_text = money(quote, free.free) if free is not None else "-"
            rows.append((f"free {quote}", Text(free_text)))
            if value.unpriced:
                rows.append(("unpriced", Text(", ".join(value.unpriced), style="dim")))
        shown = tuple((label, text.markup) for label, text in rows)
        if shown == self._shown:
            return
        # The height follows the rows: a new figure in the same rows (the equity moved)
        # keeps it, so only the rows are repainted, without laying the screen out again.
        # The unpriced assets' row may wrap: a change there lays out too.
        before = self._shown
        same_height = before is not None and [
            (label, text if label == "unpriced" else "") for label, text in before
        ] == [(label, text if label == "unpriced" else "") for label, text in shown]
        self._shown = shown
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(style="dim")
        grid.add_column(justify="right")
        for label, text in rows:
            grid.add_row(label, text)
        self.update(grid, layout=not same_height)
