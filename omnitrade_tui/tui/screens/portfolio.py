"""Portfolio: the account valued in one quote asset, as the engine publishes it
(``acct.portfolio``): equity, today's change on what is held, and the allocation by asset.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from omnitrade_tui.domain.events import PortfolioValue
from omnitrade_tui.tui.state import TerminalState

_BAR = 12


def _change(value: Decimal | None, places: int = 2) -> Text:
    if value is None:
        return Text("-")
    return Text(f"{value:+,.{places}f}", style="green" if value > 0 else "red" if value < 0 else "")


def allocation_bar(share_pct: Decimal, width: int = _BAR) -> str:
    """A share of the equity as a bar of ``width`` cells (eighths of a cell)."""
    eighths = int(share_pct / 100 * width * 8)
    full, part = divmod(max(0, min(eighths, width * 8)), 8)
    return ("█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")).ljust(width)


class PortfolioScreen(ModalScreen[None]):
    """Equity, today's change and the allocation, refreshed every second."""

    DEFAULT_CSS = """
    PortfolioScreen { align: center middle; }
    PortfolioScreen > Vertical {
        width: 100; max-width: 100%; height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,p", "dismiss", "Close")]

    def __init__(self, state: TerminalState) -> None:
        super().__init__()
        self.state = state

    def compose(self) -> ComposeResult:
        """One body, redrawn every second."""
        with Vertical(), VerticalScroll():
            yield Static(id="portfolio")

    def on_mount(self) -> None:
        """Draw now and every second."""
        self._draw()
        self.set_interval(1.0, self._draw)

    #: The valuation drawn last (prices move between redraws, once a second).
    shown: PortfolioValue | None = None

    def _draw(self) -> None:
        body = self.query_one("#portfolio", Static)
        value = self.state.valuation
        if value is None:
            body.update("waiting for the engine's valuation (balances and prices)")
            return
        body.update(portfolio_table(value))
        self.shown = value


def portfolio_table(value: PortfolioValue) -> Table:
    """The portfolio as a table: the summary, then one row an asset."""
    q = value.quote_asset
    outer = Table.grid()
    summary = Text.assemble(
        ("equity ", "dim"),
        (f"{value.equity:,.2f} {q}", "bold"),
        ("    today ", "dim"),
        _change(value.day_change),
        f" ({value.day_change_pct:+.2f}%)" if value.day_change_pct is not None else "",
    )
    outer.add_row(summary)
    assets = Table(
        "asset",
        "quantity",
        "price",
        "value",
        "share",
        "",
        "today",
        title=f"Allocation (prices and values in {q})",
        title_justify="left",
        expand=True,
    )
    for a in value.assets:
        assets.add_row(
            a.asset,
            f"{a.quantity.normalize():,f}",
            f"{a.price.normalize():,f}" if a.price < 1 else f"{a.price:,.2f}",
            f"{a.value:,.2f}",
            f"{a.share_pct:.1f}%",
            allocation_bar(a.share_pct),
            _change(a.day_change),
        )
    outer.add_row(assets)
    if value.unpriced:
        outer.add_row(Text(f"no price in {q} yet, not counted: {', '.join(value.unpriced)}"))
    return outer
