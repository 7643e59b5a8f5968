"""The keys, on one screen: built from the live bindings, so overrides show as they are."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from omnitrade_tui.tui.screens.kept import KeptScreen

#: Keys that belong to panels or the ticket rather than the app's bindings.
PANEL_KEYS = (
    (
        "Ladder",
        "↑ ↓ / k j walk levels (▶ marks the level) · Enter ticket at level · C cancel my orders "
        "at the level · Esc leave cursor · [ ] group",
    ),
    (
        "Venues view (V)",
        "the active pair on every venue: each one's best bid and ask, the best across them, "
        "one ladder of all their levels marked with their venue · ↑ ↓ / k j scroll · PgUp PgDn "
        "· z centre on the spread · » best across venues · × crosses another venue · Esc close",
    ),
    ("Chart", "← → cursor over candles · Home/End · i / I next/previous interval"),
    ("Tables", "↑ ↓ move (▶ marks the row c and a act on, in Orders) · PgUp PgDn · Home End"),
    ("Watchlist", "↑ ↓ switches the active symbol everywhere"),
    (
        "History tab (6)",
        "final orders, newest first · Enter detail and status timeline · t this symbol or all "
        "· e export what is shown to CSV (the toast says where) · r read again",
    ),
    (
        "Ticket",
        "Tab next field (selects its text: typing replaces it) · ↑ ↓ nudge price by tick, "
        "quantity by step · ← → change a choice · "
        "ctrl+s buy/sell · Enter send (twice with confirmation; then no keys but ctrl+k "
        "until the answer; after a timeout Enter resends the same order, same id) · Esc close",
    ),
    ("Palette", "ctrl+p: symbols, intervals, themes and every action"),
    ("Everywhere", "ctrl+k kill switch and ctrl+u unlock work on every screen, dialog and field"),
)


class HelpScreen(KeptScreen[None]):
    """Every key of the app and its panels."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90; max-width: 100%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    HelpScreen .section { text-style: bold; color: $accent; padding: 1 0 0 0; }
    HelpScreen .hint { color: $text-muted; }
    """

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, app: App[None]) -> None:
        super().__init__()
        self._target = app
        #: The key lines shown: (keys, what they do, the id [ui.keys] rebinds).
        self.rows: list[tuple[str, str, str]] = []

    def compose(self) -> ComposeResult:
        """Application keys from the live keymap, then the panels' keys."""
        with VerticalScroll():
            yield Static("Esc or ? closes · ↑ ↓ PgUp PgDn scroll", classes="hint")
            yield Static("Keys", classes="section")
            # A grid, not one line per key: a long tooltip wraps inside its own column, under
            # itself, and the [id] (one word) moves whole to the next line, never split.
            grid = Table.grid(padding=(0, 1), expand=True)
            grid.add_column(no_wrap=True, min_width=8)
            grid.add_column(ratio=1)
            for binding in self._target.BINDINGS:
                if not isinstance(binding, Binding):
                    continue
                keys = self._keys_of(binding)
                tip = f" - {binding.tooltip}" if binding.tooltip else ""
                refusal_of = getattr(self._target, "refusal_of", None)
                refused = refusal_of(binding.action) if refusal_of else None
                if refused:
                    tip = f" - DISABLED: {refused}"
                # The id is what [ui.keys] in the config file rebinds.
                ident = f"[{binding.id}]" if binding.id else ""
                self.rows.append((keys, f"{binding.description}{tip}", ident))
                line = Text(f"{binding.description}{tip}")
                if ident:
                    line.append(f"  {ident}", style="dim")
                grid.add_row(f" {keys}", line)
            yield Static(grid, id="keys")
            for title, text in PANEL_KEYS:
                yield Static(title, classes="section")
                yield Static(f"  {text}")

    def on_screen_resume(self) -> None:
        """Open at the top each time: the app keeps this screen between openings."""
        self.query_one(VerticalScroll).scroll_home(animate=False)

    def _keys_of(self, binding: Binding) -> str:
        keymap = getattr(self._target, "_keymap", {}) or {}
        keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
        return ", ".join(self._target.get_key_display(Binding(k, "")) for k in keys.split(","))
