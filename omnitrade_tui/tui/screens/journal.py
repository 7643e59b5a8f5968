"""History: the trading journal of a time range, from the engine (``JournalSummary``).

Realized PnL per day as bars with the cumulative net as a line, the totals (fees, volume,
fills, win rate, average win and loss) and tables by day, symbol and venue. The range is
chosen by key; days are cut at local midnight. The figures are the engine's, computed from
the recorded fills, so an attached terminal shows the same journal as the trading box.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from omnitrade_tui.bus import Bus
from omnitrade_tui.domain.commands import JournalSummary
from omnitrade_tui.domain.journal import JournalRow, TradingJournal
from omnitrade_tui.tui.widgets.pnl_chart import PnlChart

DAY_MS = 86_400_000
#: Ranges by key: (label, days back; 0 = today only, None = everything).
RANGES: dict[str, tuple[str, int | None]] = {
    "t": ("today", 0),
    "w": ("7 days", 6),
    "m": ("30 days", 29),
    "y": ("365 days", 364),
    "a": ("all", None),
}


def local_offset_s(now: float | None = None) -> int:
    """This machine's UTC offset in seconds now (days are cut at local midnight)."""
    moment = time.localtime(now)
    return int(moment.tm_gmtoff)


def range_start_ms(days_back: int | None, now_ms: int, offset_s: int) -> int:
    """The first millisecond of the range: local midnight ``days_back`` days ago."""
    if days_back is None:
        return 0
    local = now_ms + offset_s * 1000
    midnight = local - local % DAY_MS
    return midnight - days_back * DAY_MS - offset_s * 1000


def money(value: Decimal | None, places: int = 2) -> str:
    """Money in the quote asset, thousands separated; '-' for nothing."""
    if value is None:
        return "-"
    return f"{value:,.{places}f}"


def _signed(value: Decimal, places: int = 2) -> Text:
    text = f"{value:+,.{places}f}" if value else money(value, places)
    return Text(text, style="green" if value > 0 else "red" if value < 0 else "")


class HistoryScreen(ModalScreen[None]):
    """The trading journal, by day, symbol and venue."""

    DEFAULT_CSS = """
    HistoryScreen { align: center middle; }
    HistoryScreen > Vertical {
        width: 120; max-width: 100%; height: 95%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    HistoryScreen #keys { color: $text-muted; }
    HistoryScreen PnlChart { height: 9; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,h", "dismiss", "Close"),
        *[Binding(key, f"range('{key}')", label, show=False) for key, (label, _) in RANGES.items()],
        Binding("left", "step(-1)", "Shorter", show=False),
        Binding("right", "step(1)", "Longer", show=False),
    ]

    def __init__(self, bus: Bus, quote_asset: str = "USDT", range_key: str = "m") -> None:
        super().__init__()
        self.bus = bus
        self.quote = quote_asset
        self.range_key = range_key
        self.journal: TradingJournal | None = None

    def compose(self) -> ComposeResult:
        """Keys, totals, the chart and the tables."""
        with Vertical():
            yield Static(id="keys")
            yield Static(id="totals")
            yield PnlChart(id="pnl")
            with VerticalScroll():
                yield Static(id="tables")

    def on_mount(self) -> None:
        """Ask for the journal."""
        self.reload()

    def action_range(self, key: str) -> None:
        """Another range."""
        self.range_key = key
        self.reload()

    def action_step(self, step: int) -> None:
        """The next shorter or longer range."""
        keys = list(RANGES)
        self.range_key = keys[max(0, min(len(keys) - 1, keys.index(self.range_key) + step))]
        self.reload()

    @work(exclusive=True, group="journal")
    async def reload(self) -> None:
        """Ask the engine for the range's journal and draw it."""
        label, days_back = RANGES[self.range_key]
        keys = Text.assemble(
            (f"History, {label}: ", "bold"),
            *[
                (f" {k} {name} ", "reverse" if k == self.range_key else "")
                for k, (name, _) in RANGES.items()
            ],
            " ←→ · Esc close",
        )
        self.query_one("#keys", Static).update(keys)
        offset = local_offset_s()
        since = range_start_ms(days_back, int(time.time() * 1000), offset)
        try:
            journal: TradingJournal = await self.bus.request(
                JournalSummary(since_ms=since, quote_asset=self.quote, utc_offset_s=offset),
                timeout=30.0,
            )
        except Exception as exc:
            self.query_one("#totals", Static).update(f"the journal is unavailable: {exc}")
            return
        self.show(journal)

    def show(self, journal: TradingJournal) -> None:
        """Draw a journal."""
        self.journal = journal
        t = journal.total
        totals = Table.grid(padding=(0, 2))
        totals.add_row(
            "net", _signed(t.net), "realized", _signed(t.realized), "fees", money(t.fees, 4)
        )
        rate = f"{t.win_rate * 100:.0f}%" if t.win_rate is not None else "-"
        totals.add_row(
            "volume",
            money(t.volume),
            "fills",
            f"{t.fills:,}",
            "win rate",
            f"{rate} ({t.wins} won, {t.losses} lost)",
        )
        totals.add_row(
            "avg win", money(t.avg_win), "avg loss", money(t.avg_loss), "in", journal.quote_asset
        )
        if journal.other_fees:
            other = ", ".join(
                f"{v.normalize():f} {a}" for a, v in sorted(journal.other_fees.items())
            )
            totals.add_row("fees in other assets", other, "", "", "", "")
        self.query_one("#totals", Static).update(totals)
        self.query_one("#pnl", PnlChart).set_days(
            [(d.day, d.net, d.cumulative_net) for d in journal.days]
        )
        days = Table(
            "day",
            "net",
            "realized",
            "fees",
            "volume",
            "fills",
            "cumulative",
            title="By day",
            title_justify="left",
            expand=True,
        )
        for d in reversed(journal.days):
            days.add_row(
                d.day,
                _signed(d.net),
                money(d.realized),
                money(d.fees, 4),
                money(d.volume),
                f"{d.fills:,}",
                _signed(d.cumulative_net),
            )
        body = Table.grid()
        body.add_row(days)
        body.add_row(_rows_table("By symbol", journal.symbols))
        body.add_row(_rows_table("By venue", journal.venues))
        self.query_one("#tables", Static).update(body)


def _rows_table(title: str, rows: list[JournalRow]) -> Table:
    table = Table(
        "",
        "net",
        "realized",
        "fees",
        "volume",
        "fills",
        "win rate",
        "avg win",
        "avg loss",
        title=title,
        title_justify="left",
        expand=True,
    )
    for r in rows:
        rate = f"{r.win_rate * 100:.0f}%" if r.win_rate is not None else "-"
        table.add_row(
            f"{r.key} ({r.quote_asset})" if r.quote_asset else r.key,
            _signed(r.net),
            money(r.realized),
            money(r.fees, 4),
            money(r.volume),
            f"{r.fills:,}",
            rate,
            money(r.avg_win),
            money(r.avg_loss),
        )
    return table
