"""The command palette's trading entries: symbols, intervals, themes and every action."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from omnitrade_tui.tui.state import CHART_INTERVALS

if TYPE_CHECKING:
    from omnitrade_tui.tui.app import OmniTradeApp

_ACTIONS = (
    ("Buy ticket", "ticket('BUY')", "open an order ticket to buy the active symbol"),
    ("Sell ticket", "ticket('SELL')", "open an order ticket to sell the active symbol"),
    ("Market buy ticket", "market_ticket('BUY')", "a MARKET buy with the expected fill price"),
    ("Market sell ticket", "market_ticket('SELL')", "a MARKET sell with the expected fill price"),
    ("Cancel selected order", "cancel_selected", "cancel the order selected in Orders"),
    ("Amend selected order", "amend_selected", "the selected order (an OCO: the whole list)"),
    ("Cancel my orders at level", "cancel_level", "the ladder level under the cursor"),
    ("Cancel all on symbol", "cancel_all", "cancel every open order of the active symbol"),
    ("KILL SWITCH", "kill_switch", "cancel all open orders everywhere and lock trading"),
    ("Unlock trading", "unlock", "release the kill switch"),
    ("Alerts", "alerts", "alert rules and what fired: add, edit, pause, delete"),
    ("Price alert at ladder level", "price_alert", "alert when the price crosses it"),
    ("History (trading journal)", "history", "PnL by day and symbol, fees, volume, win rate"),
    ("Portfolio", "portfolio", "equity in the quote asset, today's change, allocation"),
    ("Diagnostics", "diagnostics", "streams, queues, latencies, rate limits"),
    ("App log", "log_screen", "the app's own log records"),
    ("Help: keys", "help", "every key on one screen"),
    ("Tape filter", "tape_filter", "minimum trade notional on the tape (≥ 10k USDT)"),
    ("Swap chart and tape", "toggle_chart", "on a narrow terminal"),
    ("Depth chart", "depth_chart", "cumulative depth of both sides in the ladder's place"),
)


class TradingCommands(Provider):
    """Symbols, intervals, themes and actions of the trading screen."""

    def _entries(self) -> list[tuple[str, Any, str]]:
        app: OmniTradeApp = self.app  # type: ignore[assignment]
        entries: list[tuple[str, Any, str]] = []
        for symbol in app.state.watchlist:
            entries.append(
                (f"Symbol: {symbol}", partial(app.switch_symbol, symbol), "make it active")
            )
        for interval in CHART_INTERVALS:
            entries.append(
                (
                    f"Interval: {interval}",
                    partial(app.set_interval_name, interval),
                    "chart interval",
                )
            )
        for name in app.our_themes:
            entries.append((f"Theme: {name}", partial(setattr, app, "theme", name), "theme"))
        for title, action, help_text in _ACTIONS:
            refused = app.refusal_of(action)
            if refused:  # attached to a gateway with a role that may not: say so, do nothing
                notice = partial(app.notify, f"{title}: {refused}", severity="warning")
                entries.append((title, notice, f"DISABLED: {refused}"))
            else:
                entries.append((title, partial(app.run_action, action), help_text))
        return entries

    async def discover(self) -> Hits:
        """Everything, when nothing is typed yet."""
        for title, callback, help_text in self._entries():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        """Entries whose title matches what is typed."""
        matcher = self.matcher(query)
        for title, callback, help_text in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
