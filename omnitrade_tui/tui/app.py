"""The terminal app: watchlist, ladder, tape, chart, blotter and status bar on one screen.

It talks to the engine only through the bus: it subscribes (``TerminalState``) and sends
commands (``bus.request``). Market data never becomes Textual messages; the state marks parts
dirty and a frame timer at the configured rate redraws only those (``docs/reference/textual.md``).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.driver import Driver
from textual.notifications import SeverityLevel
from textual.widget import Widget
from textual.widgets import Footer, TabbedContent, TabPane

from omnitrade_tui.bus import NoHandler
from omnitrade_tui.domain.alerts import AlertFired, AlertKind, AlertRule
from omnitrade_tui.domain.commands import (
    AddAlert,
    CancelAll,
    CancelOrder,
    CandleHistory,
    EngageKillSwitch,
    FillHistory,
    PlaceOrder,
    ReleaseKillSwitch,
    ReplaceOrder,
    VenueCandles,
)
from omnitrade_tui.domain.enums import OrderStatus, OrderType, Side
from omnitrade_tui.domain.models import Candle, Order
from omnitrade_tui.domain.venue import venue_of
from omnitrade_tui.logs import crash_report
from omnitrade_tui.tui import state as parts
from omnitrade_tui.tui.commands import TradingCommands
from omnitrade_tui.tui.desktop_notice import notification
from omnitrade_tui.tui.naming import order_name
from omnitrade_tui.tui.refusal import refusal_text
from omnitrade_tui.tui.rows import (
    BALANCE_COLUMNS,
    FILL_COLUMNS,
    LOG_COLUMNS,
    ORDER_COLUMNS,
    POSITION_COLUMNS,
    WATCH_COLUMNS,
    balance_rows,
    fill_rows,
    log_rows,
    order_rows,
    position_rows,
    watch_rows,
)
from omnitrade_tui.tui.screens.alerts import AlertsScreen
from omnitrade_tui.tui.screens.amend import AmendOrder
from omnitrade_tui.tui.screens.confirm import Confirm
from omnitrade_tui.tui.screens.consolidated import ConsolidatedScreen
from omnitrade_tui.tui.screens.diagnostics import DiagnosticsScreen
from omnitrade_tui.tui.screens.help import HelpScreen
from omnitrade_tui.tui.screens.journal import HistoryScreen
from omnitrade_tui.tui.screens.log import LogScreen
from omnitrade_tui.tui.screens.portfolio import PortfolioScreen
from omnitrade_tui.tui.screens.quit import QuitChoice, QuitWithOpenOrders
from omnitrade_tui.tui.screens.ticket import (
    OrderTicket,
    TicketResult,
    best_venue,
    venues_of_pair,
)
from omnitrade_tui.tui.session import TerminalSession
from omnitrade_tui.tui.state import TerminalState
from omnitrade_tui.tui.themes import DEFAULT_THEME, default_variables, load_themes
from omnitrade_tui.tui.widgets.account_summary import AccountSummary
from omnitrade_tui.tui.widgets.candle_chart import CandleChart
from omnitrade_tui.tui.widgets.depth_chart import DepthChart
from omnitrade_tui.tui.widgets.ladder import Ladder, LadderRow, OwnOrder
from omnitrade_tui.tui.widgets.order_history import OrderHistoryTable
from omnitrade_tui.tui.widgets.row_table import RowTable
from omnitrade_tui.tui.widgets.status_bar import StatusBar
from omnitrade_tui.tui.widgets.tape import Tape

INTERVALS = parts.CHART_INTERVALS
W = TypeVar("W", bound=Widget)
BLOTTER_TABS = ("orders", "fills", "balances", "positions", "log", "history")
#: Tab labels on a narrow terminal, where the full ones would be cut.
_SHORT_TABS = {
    "orders": "Ord",
    "fills": "Fill",
    "balances": "Bal",
    "positions": "Pos",
    "log": "Log",
    "history": "Hist",
}
#: How often the shown History tab reads the store again (orders end while it is shown).
_HISTORY_RELOAD_S = 5.0
#: Parts redrawn at most this many times a second, whatever the frame rate: the eye reads a
#: ladder at frame rate, but a tape scrolling past more than ten times a second is a blur,
#: and a chart, a watchlist and a status line are read much slower; each redraw costs CPU
#: and bytes over SSH.
#: The command each trading action ends in: attached to a gateway, an action whose command
#: the user's role may not send is shown disabled, with the role it needs.
ACTION_COMMANDS = {
    "ticket": PlaceOrder.name,
    "market_ticket": PlaceOrder.name,
    "cancel_selected": CancelOrder.name,
    "cancel_level": CancelOrder.name,
    "amend_selected": ReplaceOrder.name,
    "cancel_all": CancelAll.name,
    "kill_switch": EngageKillSwitch.name,
    "unlock": ReleaseKillSwitch.name,
    "price_alert": AddAlert.name,
}

#: Parts that change often but are read at a glance, drawn at most this many times a second.
#: Each is drawn on a beat of its rate (a multiple of the slowest), not a period from its own
#: last draw, so parts that share a rate land in the same frame: Textual renders a frame's
#: whole bounding box of changes, and the watchlist (top left), the status bar (bottom) and
#: the ladder (top right) drawn apart made two or three frames of nearly the whole screen
#: where one will do.
_SLOW_PARTS = {
    parts.CHART: 4.0,
    parts.WATCH: 4.0,
    parts.STATUS: 4.0,
    parts.GAUGES: 1.0,
    parts.TAPE: 10.0,
}
#: A slow part that is due waits up to this share of its beat for a frame that draws
#: something else (the book, most often): each frame costs the compositor a pass over every
#: screen line it touches, whatever changed on them, so one frame with the ladder and the
#: watchlist costs less than two. At a quiet market this removes about a third of the frames.
_SLOW_WAIT = 0.5
_REQUEST_TIMEOUT_S = 15.0
#: The names the help screen and the order ticket are installed under: both are built once
#: and shown again (see ``action_help`` and ``_open_ticket``).
_HELP_SCREEN = "help"
_TICKET_SCREEN = "ticket"
#: Keys that stay bound whatever ``[ui.keys]`` adds for the same action.
_ALWAYS_BOUND = {"kill_switch": "ctrl+k", "unlock": "ctrl+u"}


class OmniTradeApp(App[None]):
    """OmniTrade: a keyboard-first Binance spot terminal."""

    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "OmniTrade"
    COMMANDS = App.COMMANDS | {TradingCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "b",
            "ticket('BUY')",
            "Buy",
            id="buy",
            tooltip="order ticket to buy, priced at the best bid",
        ),
        Binding(
            "s",
            "ticket('SELL')",
            "Sell",
            id="sell",
            tooltip="order ticket to sell, priced at the best ask",
        ),
        Binding(
            "m",
            "market_ticket('BUY')",
            "Market buy",
            id="market",
            tooltip="MARKET buy ticket with expected price and slippage",
            show=False,
        ),
        Binding(
            "M",
            "market_ticket('SELL')",
            "Market sell",
            id="market_sell",
            tooltip="MARKET sell ticket with expected price and slippage",
            show=False,
        ),
        Binding(
            "c",
            "cancel_selected",
            "Cancel",
            id="cancel",
            tooltip="cancel the order selected in the Orders tab (o, then ↑↓)",
        ),
        Binding(
            "a",
            "amend_selected",
            "Amend",
            id="amend",
            tooltip="amend the order selected in the Orders tab (cancel-replace)",
        ),
        Binding(
            "C",
            "cancel_level",
            "Cancel at level",
            id="cancel_level",
            tooltip="ladder: cancel my orders at the level under the cursor",
            show=False,
        ),
        Binding(
            "x",
            "cancel_all",
            "Cancel all",
            id="cancel_all",
            tooltip="cancel every open order of the symbol",
            show=False,
        ),
        Binding(
            "ctrl+k",
            "kill_switch",
            "KILL",
            id="kill_switch",
            tooltip="cancel ALL open orders and lock trading (works on every screen)",
            # Priority: checked before any screen or widget (a modal, the palette, an
            # Input's own ctrl+k), so nothing can take the kill switch for itself.
            priority=True,
        ),
        Binding(
            "ctrl+u",
            "unlock",
            "Unlock",
            id="unlock",
            tooltip="release the kill switch (asks first, from any screen)",
            show=False,
            priority=True,
        ),
        Binding(
            "right_square_bracket",
            "group(1)",
            "Group+",
            id="group_coarser",
            tooltip="ladder: coarser price grouping",
            show=False,
        ),
        Binding(
            "left_square_bracket",
            "group(-1)",
            "Group-",
            id="group_finer",
            tooltip="ladder: finer price grouping",
            show=False,
        ),
        Binding(
            "i",
            "interval(1)",
            "Interval",
            id="interval_next",
            tooltip="chart: next interval (1s..1d)",
        ),
        Binding(
            "I",
            "interval(-1)",
            "Interval back",
            id="interval_prev",
            tooltip="chart: previous interval",
            show=False,
        ),
        Binding(
            "f",
            "tape_filter",
            "Tape filter",
            id="tape_filter",
            tooltip="tape: minimum trade notional in the quote asset, steps from the typical trade",
            show=False,
        ),
        Binding(
            "D",
            "depth_chart",
            "Depth",
            id="depth_chart",
            tooltip="cumulative depth chart of both sides in the ladder's place (and back)",
            show=False,
        ),
        Binding(
            "V",
            "consolidated",
            "Venues",
            id="consolidated",
            tooltip="the pair across venues: one merged ladder",
            show=False,
        ),
        Binding(
            "g",
            "toggle_chart",
            "Chart/tape",
            id="toggle_chart",
            tooltip="narrow screen: chart in place of the blotter",
            show=False,
        ),
        Binding(
            "w",
            "panel('watchlist')",
            "Watchlist",
            id="focus_watchlist",
            tooltip="to the watchlist (narrow: next symbol)",
            show=False,
        ),
        Binding(
            "l", "panel('ladder')", "Ladder", id="focus_ladder", tooltip="to the ladder", show=False
        ),
        Binding(
            "o",
            "panel('orders')",
            "Orders",
            id="focus_orders",
            tooltip="to the open orders",
            show=False,
        ),
        Binding(
            "v",
            "panel('chart')",
            "Chart",
            id="focus_chart",
            tooltip="to the chart (cursor with arrows)",
            show=False,
        ),
        Binding("1", "tab('orders')", "Orders tab", id="tab_orders", show=False),
        Binding("2", "tab('fills')", "Fills tab", id="tab_fills", show=False),
        Binding("3", "tab('balances')", "Balances tab", id="tab_balances", show=False),
        Binding("4", "tab('positions')", "Positions tab", id="tab_positions", show=False),
        Binding("5", "tab('log')", "Log tab", id="tab_log", show=False),
        Binding(
            "6",
            "tab('history')",
            "History tab",
            id="tab_history",
            tooltip="final orders: Enter detail, t symbol/all, e export CSV",
            show=False,
        ),
        Binding(
            "n",
            "alerts",
            "Alerts",
            id="alerts",
            tooltip="alert rules and what fired: add, edit, pause, delete",
            show=False,
        ),
        Binding(
            "h",
            "history",
            "History",
            id="history",
            tooltip="the trading journal: PnL by day and symbol, fees, win rate",
            show=False,
        ),
        Binding(
            "p",
            "portfolio",
            "Portfolio",
            id="portfolio",
            tooltip="equity in the quote asset, today's change, allocation",
            show=False,
        ),
        Binding(
            "A",
            "price_alert",
            "Price alert",
            id="price_alert",
            tooltip="an alert when the price crosses the ladder level under the cursor",
            show=False,
        ),
        Binding(
            "d",
            "diagnostics",
            "Diagnostics",
            id="diagnostics",
            tooltip="streams, queues, latencies, limits",
            show=False,
        ),
        Binding(
            "L",
            "log_screen",
            "App log",
            id="log_screen",
            tooltip="the app's own log records",
            show=False,
        ),
        Binding("question_mark", "help", "Help", id="help", tooltip="this screen"),
        Binding(
            "q",
            "quit",
            "Quit",
            id="quit",
            tooltip="leave; with orders open, asks: cancel them all / leave them / stay",
        ),
    ]

    def __init__(self, session: TerminalSession) -> None:
        super().__init__()
        self.session = session
        self.bus = session.bus
        self.state = TerminalState(session.bus, session.instruments, session.watchlist)
        self.state.numbers.utc = session.ui.utc_time
        self._candles_version = -1
        self._fills_shown = -1
        self._chart_first = False
        self._widgets: dict[str, Widget] = {}
        #: The order ticket, kept between orders (see ``_open_ticket``).
        self._ticket: OrderTicket | None = None
        self._drawn_at: dict[str, float] = {}
        #: The beat (``int(time * rate)``) on which each slow part was last drawn.
        self._drawn_beat: dict[str, int] = {}
        #: What the crash screen showed, if the app crashed (kept for the log and tests).
        self.crash_text = ""
        self.theme_errors: list[str] = []
        themes, self.theme_errors = load_themes(session.user_theme_dir)
        for theme in themes:
            self.register_theme(theme)
        self.our_themes = [t.name for t in themes]
        wanted = session.ui.theme
        self.theme = wanted if wanted in {t.name for t in themes} else DEFAULT_THEME
        if wanted != self.theme:
            self.theme_errors.append(f"theme {wanted!r} not found; using {DEFAULT_THEME}")

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """``$bid``, ``$ask``, ``$up``... defined under any theme, Textual's own included."""
        return {**super().get_theme_variable_defaults(), **default_variables()}

    # -- layout ----------------------------------------------------------------------------

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver, except that on Linux and macOS a lone Escape acts at once."""
        driver = super().get_driver_class()
        if sys.platform == "win32":
            return driver
        # Imported here: the Linux driver needs termios, which Windows lacks.
        from textual.drivers.linux_driver import LinuxDriver

        from omnitrade_tui.tui.key_input import EagerEscapeDriver

        return EagerEscapeDriver if driver is LinuxDriver else driver

    def compose(self) -> ComposeResult:
        """Watchlist over the account summary beside the chart, the blotter under both over
        the whole width it needs; ladder over tape on the right; status bar and keys below."""
        with Horizontal(id="main"):
            with Vertical(id="desk"):
                with Horizontal(id="top"):
                    with Vertical(id="left"):
                        yield RowTable(WATCH_COLUMNS, "no symbols", id="watchlist")
                        yield AccountSummary(self.state, id="account")
                    yield CandleChart(id="chart")
                with TabbedContent(id="blotter"):
                    with TabPane("Orders", id="orders-tab"):
                        yield RowTable(
                            ORDER_COLUMNS, "no open orders · b buy · s sell", id="orders"
                        )
                    with TabPane("Fills", id="fills-tab"):
                        yield RowTable(FILL_COLUMNS, "no fills yet", id="fills")
                    with TabPane("Balances", id="balances-tab"):
                        yield RowTable(BALANCE_COLUMNS, "waiting for balances", id="balances")
                    with TabPane("Positions", id="positions-tab"):
                        yield RowTable(POSITION_COLUMNS, "no positions yet", id="positions")
                    with TabPane("Log", id="log-tab"):
                        yield RowTable(LOG_COLUMNS, "no order events yet", id="log")
                    with TabPane("History", id="history-tab"):
                        yield OrderHistoryTable(
                            self.bus,
                            self.state.numbers,
                            lambda: self.state.active,
                            self.session.export_dir or Path.cwd(),
                            id="history",
                        )
            with Vertical(id="middle"):
                yield Ladder(id="ladder")
                yield DepthChart(id="depth")
                yield Tape(id="tape")
        yield StatusBar(
            self.state,
            self.session.profile_label,
            self.session.live,
            gateway=self.session.gateway,
            id="status",
        )
        yield Footer()

    def on_mount(self) -> None:
        """Start following the bus, draw the active symbol, and start the frame timer."""
        for selector in ("#ladder", "#tape", "#chart", "#watchlist", "#status", "#blotter"):
            self._main(selector)
        for table in BLOTTER_TABS:
            self._main(f"#{table}")
        self.state.notify = self._notify
        self.state.on_alert = self._alert
        self.state.start()
        if self.session.on_ready is not None:
            self.session.on_ready()
        self._apply_keymap()
        for problem in self.theme_errors:
            self.notify(problem, severity="error", timeout=10)
        if self.session.live:
            self.sub_title = "LIVE - REAL MONEY"
            self.add_class("-live")
        self._show_symbol(self.state.active)
        self._main("#ladder", Ladder).focus()
        self.set_interval(1 / self.session.ui.frame_rate, self._frame)
        self.set_interval(_HISTORY_RELOAD_S, self._reload_history_if_shown)
        if self.session.load_history:
            self._load_fills()

    def _main(self, selector: str, kind: type[W] = Widget) -> W:  # type: ignore[assignment]
        """A widget of the main screen, found once and kept: ``query_one`` on the app
        searches the active screen (a modal, perhaps), and while the app shuts down the
        frame timer may fire after the widgets have left the DOM."""
        found = self._widgets.get(selector)
        if found is None:
            found = self.screen_stack[0].query_one(selector, kind)
            self._widgets[selector] = found
        assert isinstance(found, kind)
        return found

    def on_unmount(self) -> None:
        """Leave the bus."""
        self.state.stop()

    def _apply_keymap(self) -> None:
        keys = self.session.ui.keys
        if not keys:
            return
        known = {b.id for b in self.BINDINGS if isinstance(b, Binding) and b.id}
        unknown = sorted(set(keys) - known)
        if unknown:
            self.notify(
                f"[ui.keys] has unknown actions: {', '.join(unknown)}; known: "
                f"{', '.join(sorted(known))}",
                severity="error",
                timeout=15,
            )
        keymap = {k: v for k, v in keys.items() if k in known}
        for action, key in _ALWAYS_BOUND.items():
            # A key the config gives the kill switch (or unlock) comes in addition to the
            # documented one: in a panic the trader presses what the footer and the README
            # say, whatever the config file adds.
            if action in keymap and key not in keymap[action].split(","):
                keymap[action] = f"{keymap[action]},{key}"
        self.set_keymap(keymap)

    # -- the frame -------------------------------------------------------------------------

    def _frame(self) -> None:
        """Redraw what changed since the last frame (at most ``frame_rate`` times a second)."""
        state = self.state
        now = time.monotonic()
        if state.held and now - self._drawn_at.get("held", 0.0) >= 1.0:
            # An order held for the rate limit counts down in the blotter's status column.
            self._drawn_at["held"] = now
            state.dirty.add(parts.ORDERS)
        dirty = state.take_dirty()
        ladder = self._main("#ladder", Ladder)
        faded = ladder.fade_flashes()
        if not dirty:
            return
        due: list[tuple[str, int]] = []
        anchored = faded or not dirty.issubset(_SLOW_PARTS)
        for part, hz in _SLOW_PARTS.items():
            if part in dirty:
                beats = now * hz
                beat = int(beats)
                if beat == self._drawn_beat.get(part):
                    dirty.discard(part)
                    state.dirty.add(part)  # drawn on the next beat
                else:
                    due.append((part, beat))
                    anchored = anchored or beats - beat >= _SLOW_WAIT
        for part, beat in due:
            if anchored:
                self._drawn_beat[part] = beat
            else:
                dirty.discard(part)
                state.dirty.add(part)  # drawn with the next frame that draws anything
        view = state.symbols[state.active]
        if parts.BOOK in dirty:
            ladder.show_book(view.top, view.book_state)
            depth = self._main("#depth", DepthChart)
            if depth.display:
                depth.show_book(view.top, view.book_state)
        if parts.ORDERS in dirty:
            ladder.set_own_orders(own_orders(state.open_orders(state.active)))
            self._main("#orders", RowTable).set_rows(order_rows(state))
        if parts.TAPE in dirty:
            tape = self._main("#tape", Tape)
            silent = view.stale.get("trade")
            tape.set_stale(silent.age_ms / 1000 if silent is not None else None)
            tape.show(view.trades)
        if parts.WATCH in dirty:
            self._main("#watchlist", RowTable).set_rows(watch_rows(state))
        if parts.CHART in dirty:
            self._draw_chart()
        if parts.FILLS in dirty:
            self._main("#fills", RowTable).set_rows(fill_rows(state))
        if parts.BALANCES in dirty or parts.FILLS in dirty or parts.WATCH in dirty:
            # Positions are marked at the last price, so they follow the (slow) watchlist.
            self._main("#balances", RowTable).set_rows(balance_rows(state))
            self._main("#positions", RowTable).set_rows(position_rows(state))
            self._main("#account", AccountSummary).draw()
        if parts.LOG in dirty:
            self._main("#log", RowTable).set_rows(log_rows(state))
        if parts.STATUS in dirty or parts.GAUGES in dirty or parts.LOG in dirty:
            self._main("#status", StatusBar).refresh()

    def _reload_history_if_shown(self) -> None:
        """Read the order history again while the trader looks at it (and only then)."""
        blotter = self._main("#blotter", TabbedContent)
        if (
            blotter.active == "history-tab"
            and blotter.display
            and self.screen is self.screen_stack[0]
        ):
            self._main("#history", OrderHistoryTable).reload()

    @on(TabbedContent.TabActivated, "#blotter")
    def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "history-tab":
            self._main("#history", OrderHistoryTable).reload()

    def on_resize(self, event: events.Resize) -> None:
        """Short tab labels on a narrow terminal, full ones from 110 columns."""
        try:
            blotter = self._main("#blotter", TabbedContent)
        except NoMatches:  # the first size comes before the main screen is composed
            return
        narrow = event.size.width < 110
        # The footer never cuts a label: compact keys, and the palette's key (in the help
        # screen) left out, below 110 columns.
        footer = self.screen_stack[0].query_one(Footer)
        footer.compact = narrow
        footer.show_command_palette = not narrow
        for name in BLOTTER_TABS:
            tab = blotter.get_tab(f"{name}-tab")
            tab.label = _SHORT_TABS[name] if narrow else name.capitalize()

    def _draw_chart(self) -> None:
        state = self.state
        chart = self._main("#chart", CandleChart)
        forming = state.forming
        if state.candles_version != self._candles_version:
            self._candles_version = state.candles_version
            series: list[Candle] = list(state.candles)
            if forming is not None and (not series or forming.open_ms > series[-1].open_ms):
                series.append(forming)
            chart.set_candles(series)
        elif forming is not None:
            chart.update_candle(forming)
        if len(state.fills) != self._fills_shown:
            self._fills_shown = len(state.fills)
            chart.set_fills(
                [
                    (f.time_ms, float(f.price), f.side)
                    for f in state.fills
                    if f.symbol == state.active
                ]
            )

    # -- symbol and chart ------------------------------------------------------------------

    def _show_symbol(self, symbol: str) -> None:
        state = self.state
        state.active = symbol
        inst = state.instruments[symbol]
        numbers = state.numbers
        self._main("#ladder", Ladder).configure(symbol, inst.tick_size, numbers)
        self._main("#depth", DepthChart).configure(symbol, numbers)
        self._main("#tape", Tape).configure(symbol, numbers, inst.quote_asset)
        chart = self._main("#chart", CandleChart)
        chart.price_text = lambda value: numbers.price(symbol, value)
        chart.utc = numbers.utc
        self._fills_shown = -1
        state.dirty.update(
            (parts.BOOK, parts.TAPE, parts.ORDERS, parts.CHART, parts.STATUS, parts.WATCH)
        )
        self._load_chart(symbol, state.interval)

    def switch_symbol(self, symbol: str) -> None:
        """Make ``symbol`` active everywhere (ladder, tape, chart, ticket defaults)."""
        if symbol in self.state.instruments and symbol != self.state.active:
            self._show_symbol(symbol)
            if not self._main("#history", OrderHistoryTable).all_symbols:
                self._reload_history_if_shown()

    def set_interval_name(self, interval: str) -> None:
        """Show the chart at ``interval``."""
        if interval in INTERVALS:
            self._load_chart(self.state.active, interval)

    def _load_chart(self, symbol: str, interval: str) -> None:
        self.state.set_chart(symbol, interval)
        chart = self._main("#chart", CandleChart)
        chart.interval = interval
        self._candles_version = -1
        self._backfill(symbol, interval)

    @work(exclusive=True, group="backfill", exit_on_error=False)
    async def _backfill(self, symbol: str, interval: str) -> None:
        """Seed the chart from the venue's klines (the open candle included), so it is right
        from its first second; from the stored history if the venue cannot answer."""
        try:
            venue: list[Candle] = await self.bus.request(
                VenueCandles(symbol=symbol, interval=interval, limit=300),
                timeout=_REQUEST_TIMEOUT_S,
            )
        except Exception as exc:
            why = "" if isinstance(exc, NoHandler) else f" ({refusal_text(exc)})"
            logging.getLogger(__name__).info("venue candles unavailable%s", why)
        else:
            self.state.seed_from_venue(symbol, interval, venue)
            return
        try:
            candles: list[Candle] = await self.bus.request(
                CandleHistory(symbol=symbol, interval=interval, limit=300),
                timeout=_REQUEST_TIMEOUT_S,
            )
        except Exception as exc:
            self.notify(f"no chart history for {symbol} {interval}: {exc}", severity="warning")
            return
        self.state.backfill(symbol, interval, candles)
        if why:
            self.notify(
                f"chart {symbol} {interval}: the venue's candles are unavailable{why}; the "
                "current candle counts only the trades seen since now",
                severity="warning",
            )

    @work(exclusive=True, group="fills", exit_on_error=False)
    async def _load_fills(self) -> None:
        since = int(time.time() * 1000) - 7 * 86_400_000
        try:
            fills = await self.bus.request(FillHistory(since_ms=since), timeout=_REQUEST_TIMEOUT_S)
        except Exception as exc:
            self.notify(f"recent fills unavailable: {exc}", severity="warning")
            return
        self.state.load_fills(list(reversed(fills)))

    @on(RowTable.CursorMoved, "#watchlist")
    def _watch_moved(self, event: RowTable.CursorMoved) -> None:
        self.switch_symbol(event.key)

    @on(Ladder.LevelSelected)
    def _level_selected(self, event: Ladder.LevelSelected) -> None:
        side = Side.BUY if event.side is Side.BUY else Side.SELL
        self._open_ticket(side, Decimal(repr(event.price)))

    # -- actions ---------------------------------------------------------------------------

    def action_ticket(self, side: str) -> None:
        """Open the ticket to buy or sell the active symbol (price: our side's best)."""
        self._open_ticket(Side(side), None)

    def action_market_ticket(self, side: str = "BUY") -> None:
        """Open a MARKET ticket to buy (``m``) or sell (``M``)."""
        self._open_ticket(Side(side), None, OrderType.MARKET)

    # -- what the user's role allows (attached to a gateway) ------------------------------

    def refusal_of(self, action: str) -> str | None:
        """Why ``action`` (a name, or as a binding writes it: ``ticket('BUY')``) is not
        allowed to this user, or ``None`` when it is."""
        command = ACTION_COMMANDS.get(action.split("(", 1)[0])
        return self.session.refused.get(command) if command is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Disable (show dimmed) the actions the user's role does not allow."""
        return None if self.refusal_of(action) else True

    def on_key(self, event: events.Key) -> None:
        """A key of a disabled action says why, rather than doing nothing."""
        if not self.session.refused or len(self.screen_stack) > 1:
            return  # nothing refused, or a modal (ticket, help) has the keys
        keymap: dict[str, str] = getattr(self, "_keymap", {}) or {}
        for binding in self.BINDINGS:
            if not isinstance(binding, Binding):
                continue
            keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
            if event.key in keys.split(","):
                reason = self.refusal_of(binding.action)
                if reason:
                    event.stop()
                    self.notify(f"{binding.description}: {reason}", severity="warning")
                return

    def _open_ticket(
        self, side: Side, price: Decimal | None, order_type: OrderType = OrderType.LIMIT
    ) -> None:
        reason = self.refusal_of("ticket")
        if reason:
            self.notify(f"Order ticket: {reason}", severity="warning")
            return
        if self.state.locked:
            self.notify("Trading is locked by the kill switch: ctrl+u unlocks", severity="error")
            return
        symbol = self.state.active
        allowed = self.session.trade_venues
        pair = venues_of_pair(self.state, symbol, allowed)
        if allowed and venue_of(symbol) not in allowed and (price is not None or not pair):
            # Said here, not by the gateway after Enter: a ticket the user cannot send.
            where = f"@{venue_of(symbol)}" if venue_of(symbol) else "the first venue"
            mine = ", ".join(f"@{v}" if v else "the first venue" for v in allowed)
            self.notify(
                f"Trading on {where} is not yours: you may trade on {mine}", severity="warning"
            )
            return
        if price is None:
            # Not priced from a ladder row: the pair on the venue with the best price for
            # this side (the ticket shows every venue's and lets the trader choose another).
            symbol = best_venue(self.state, pair, side) or pair[0]
        confirm = self.session.confirm_orders
        fee_rate = self.session.fee_rate
        sizes = self.session.ui.sizes.get(symbol)
        # One ticket is kept and reopened as a new intent (building it again on each key
        # took most of the time to the screen); another symbol or setting builds a new one.
        ticket = self._ticket
        if ticket is not None and (
            ticket.instrument.symbol == symbol
            and ticket.confirm == confirm
            and ticket.fee_rate == fee_rate
            and ticket.sizes == sizes
        ):
            ticket.reopen(side, price, order_type)
        else:
            if ticket is not None:
                self.uninstall_screen(_TICKET_SCREEN)
                ticket.remove()
            ticket = OrderTicket(
                self.bus,
                self.state,
                symbol,
                side,
                price,
                order_type,
                confirm=confirm,
                fee_rate=fee_rate,
                sizes=sizes,
                first_venue=self.session.first_venue,
                allowed_venues=allowed,
            )
            self._ticket = ticket
            self.install_screen(ticket, _TICKET_SCREEN)
        self.push_screen(_TICKET_SCREEN, self._ticket_done)

    def _ticket_done(self, result: TicketResult | None) -> None:
        if result is None:
            return
        for order in result.orders:
            qty = self.state.numbers.qty(order.symbol, order.filled_qty)
            filled = f", filled {qty}" if order.filled_qty else ""
            unknown = order.status is OrderStatus.UNKNOWN
            severity: SeverityLevel = "warning" if unknown else "information"
            self.notify(
                f"{order.status}{filled}: {order_name(order, self.state.instruments)}",
                title="OCO leg" if len(result.orders) > 1 else "Order",
                severity=severity,
            )

    def _selected_order(self, verb: str) -> Order | None:
        """The open order the trader can see selected: the cursor row of the Orders tab,
        while that tab is shown and has the keyboard. Anywhere else (the Fills tab, the
        ladder, a hidden blotter) nothing is acted on: the cursor of a table the trader is
        not looking at is not a choice they made."""
        table = self._main("#orders", RowTable)
        blotter = self._main("#blotter", TabbedContent)
        shown = blotter.active == "orders-tab" and blotter.display and table.display
        focused = self.screen_stack[0].focused is table
        how = f"select an order to {verb}: o (Orders tab), ↑↓ to the order, then the key again"
        if not (shown and focused):
            self.notify(how, severity="warning")
            return None
        key = table.cursor_key
        order = self.state.orders.get(key) if key is not None else None
        if order is None:
            self.notify(f"no open order to {verb}: the Orders tab is empty", severity="warning")
            return None
        if not order.status.is_open:
            name = order_name(order, self.state.instruments)
            self.notify(f"{order.status}, nothing to {verb}: {name}", severity="warning")
            return None
        return order

    def action_cancel_selected(self) -> None:
        """Cancel the order under the cursor in the orders tab."""
        order = self._selected_order("cancel")
        if order is not None:
            self._cancel(order)

    def _cancel(self, order: Order) -> None:
        name = order_name(order, self.state.instruments)
        self.notify(f"Cancel sent: {name}")
        command = CancelOrder(symbol=order.symbol, client_order_id=order.client_order_id)
        self._request(command, "Cancel", name)

    def action_amend_selected(self) -> None:
        """Amend price or quantity of the order under the cursor (cancel-replace)."""
        order = self._selected_order("amend")
        if order is None:
            return
        if order.order_list_id < 0:
            self.push_screen(AmendOrder(self.bus, self.state, order))
            return
        # A leg of an OCO: the list is amended whole, or not at all (never one leg alone,
        # which would cancel the other at the venue and drop the protective stop).
        legs = [
            o
            for o in self.state.open_orders(order.symbol)
            if o.order_list_id == order.order_list_id
        ]
        kinds = {o.type for o in legs}
        if len(legs) != 2 or OrderType.LIMIT_MAKER not in kinds:
            self.notify(
                f"amend refused: OCO list {order.order_list_id} has {len(legs)} open legs, "
                "not the two it needs (cancel it and place a new one): "
                f"{order_name(order, self.state.instruments)}",
                severity="warning",
                timeout=8,
            )
            return
        self.push_screen(AmendOrder(self.bus, self.state, order, legs))

    def _selected_level(self, key: str) -> tuple[Ladder, LadderRow] | None:
        """The ladder and the level under its cursor, when the ladder has the keyboard;
        else say how to select one (a key acts only on what the trader can see)."""
        ladder = self._main("#ladder", Ladder)
        row = ladder.cursor_row
        if self.screen_stack[0].focused is not ladder or row is None:
            self.notify(
                f"select a level first: l (ladder), ↑↓ to the level, then {key}",
                severity="warning",
            )
            return None
        return ladder, row

    def action_cancel_level(self) -> None:
        """Cancel my orders at the ladder level under the cursor (asks when more than one)."""
        selected = self._selected_level("C")
        if selected is None:
            return
        ladder, row = selected
        drawn = {o.client_order_id for o in ladder.orders_at(row)}
        mine = [o for o in self.state.open_orders(self.state.active) if o.client_order_id in drawn]
        price = self.state.numbers.price(self.state.active, row.price)
        if not mine:
            self.notify(f"no order of yours at {row.side} {price}", severity="warning")
            return
        if len(mine) == 1:
            self._cancel(mine[0])
            return

        def answered(yes: bool | None) -> None:
            if yes:
                for order in mine:
                    self._cancel(order)

        names = "\n".join(order_name(o, self.state.instruments) for o in mine)
        self.push_screen(
            Confirm(
                f"Cancel your {len(mine)} orders at {row.side} {price}?\n{names}",
                "y cancel them · n keep",
            ),
            answered,
        )

    def action_cancel_all(self) -> None:
        """Cancel every open order of the active symbol (asks first)."""
        symbol = self.state.active
        count = len(self.state.open_orders(symbol))

        def answered(yes: bool | None) -> None:
            if yes:
                self._request(CancelAll(symbol=symbol), "Cancel all")

        self.push_screen(
            Confirm(f"Cancel all {count} open orders on {symbol}?", "y cancel them · n keep"),
            answered,
        )

    def action_kill_switch(self) -> None:
        """Cancel every open order everywhere and lock trading (no question asked)."""
        self._request(EngageKillSwitch(reason="operator (ctrl+k)"), "Kill switch")

    def action_unlock(self) -> None:
        """Release the kill switch, after a confirmation."""
        if not self.state.locked:
            self.notify("trading is not locked")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._request(ReleaseKillSwitch(), "Unlock")

        self.push_screen(Confirm("Unlock trading?", "y unlock · n stay locked"), answered)

    @work(group="commands", exit_on_error=False)
    async def _request(self, command: Any, what: str, name: str = "") -> None:
        """Send ``command``; say how it went, naming the order (``name``) when there is one."""
        about = f" {name}" if name else ""
        try:
            result = await self.bus.request(command, timeout=_REQUEST_TIMEOUT_S)
        except Exception as exc:
            self.notify(f"{what} refused: {refusal_text(exc)}{about}", severity="error", timeout=8)
            return
        if isinstance(result, list):
            self.notify(f"{what}: {len(result)} orders")
        elif isinstance(result, str):
            self.notify(f"{what}: {result}{about}", severity="warning")
        else:
            status = getattr(result, "status", None)
            self.notify(f"{what}: {status}{about}" if status else f"{what}: done{about}")

    async def action_quit(self) -> None:
        """Quit; with orders open at the venue, ask first what becomes of them."""
        open_now = self.state.open_orders()
        if not open_now:
            self.exit()
            return
        self.push_screen(QuitWithOpenOrders(open_now), self._quit_answered)

    def _quit_answered(self, choice: QuitChoice | None) -> None:
        if choice == "leave":
            self.exit()
        elif choice == "cancel":
            self._cancel_all_and_quit(len(self.state.open_orders()))

    @work(exclusive=True, group="quit", exit_on_error=False)
    async def _cancel_all_and_quit(self, count: int) -> None:
        self.notify(f"Cancelling all {count} open orders before quitting…")
        try:
            await self.bus.request(CancelAll(), timeout=_REQUEST_TIMEOUT_S)
        except Exception as exc:
            # Not quitting: the trader must see that orders may still be open.
            self.notify(
                f"Cancel all refused: {refusal_text(exc)}; not quitting (q asks again)",
                severity="error",
                timeout=10,
            )
            return
        self.exit()

    def action_group(self, step: int) -> None:
        """Coarser or finer price grouping on the ladder."""
        self._main("#ladder", Ladder).regroup(step)

    def action_interval(self, step: int) -> None:
        """Next or previous chart interval."""
        i = INTERVALS.index(self.state.interval) if self.state.interval in INTERVALS else 1
        self.set_interval_name(INTERVALS[(i + step) % len(INTERVALS)])

    def action_tape_filter(self) -> None:
        """Next minimum trade size on the tape."""
        tape = self._main("#tape", Tape)
        trades = list(self.state.symbols[self.state.active].trades)
        tape.cycle_filter(trades)
        tape.show(trades)
        self.notify(f"tape: {tape.filter_label} (quote notional: price x quantity)")

    def action_depth_chart(self) -> None:
        """The cumulative depth chart in the ladder's place, and back."""
        ladder = self._main("#ladder", Ladder)
        depth = self._main("#depth", DepthChart)
        showing = not depth.display
        had_keys = self.screen_stack[0].focused is ladder
        depth.display = showing
        ladder.display = not showing
        if showing:
            view = self.state.symbols[self.state.active]
            depth.show_book(view.top, view.book_state)
        elif had_keys or self.screen_stack[0].focused is None:
            ladder.focus()

    def action_consolidated(self) -> None:
        """The active pair across venues: quotes, best, and the merged ladder."""
        self.push_screen(
            ConsolidatedScreen(
                self.state,
                self.state.active,
                self.session.first_venue,
                self.session.ui.frame_rate,
            )
        )

    def action_toggle_chart(self) -> None:
        """On a narrow terminal, show the chart in place of the blotter (and back)."""
        self._chart_first = not self._chart_first
        # Breakpoint classes (-narrow) sit on the screen, so this one goes there too.
        self.screen_stack[0].set_class(self._chart_first, "-chart-first")

    def action_panel(self, target: str) -> None:
        """Move the keyboard to a panel (on a narrow screen, w steps through the symbols)."""
        watchlist = self._main("#watchlist", RowTable)
        if target == "watchlist" and watchlist.styles.display == "none":
            symbols = self.state.watchlist
            nxt = symbols[(symbols.index(self.state.active) + 1) % len(symbols)]
            self.switch_symbol(nxt)
            self.notify(f"{nxt} (w: next symbol)", timeout=2)
            return
        if target == "orders":
            self.action_tab("orders")
        self._main(f"#{target}").focus()

    def action_tab(self, name: str) -> None:
        """Show a blotter tab and put the keyboard on it."""
        if name in BLOTTER_TABS:
            self._main("#blotter", TabbedContent).active = f"{name}-tab"
            self._main(f"#{name}", RowTable).focus()

    def action_help(self) -> None:
        """The keys, on one screen: built once (the keymap and the user's refusals are set
        when the app starts) and kept, so opening it again only draws it."""
        if not self.is_screen_installed(_HELP_SCREEN):
            self.install_screen(HelpScreen(self), _HELP_SCREEN)
        self.push_screen(_HELP_SCREEN)

    def action_alerts(self) -> None:
        """The alert rules and what fired."""
        self.push_screen(AlertsScreen(self.bus, self.state.active, self.state.numbers))

    def action_history(self) -> None:
        """The trading journal."""
        self.push_screen(HistoryScreen(self.bus))

    def action_portfolio(self) -> None:
        """The account valued in the quote asset."""
        self.push_screen(PortfolioScreen(self.state))

    def action_price_alert(self) -> None:
        """An alert when the price crosses the ladder level under the cursor (once)."""
        selected = self._selected_level("A")
        if selected is None:
            return
        _ladder, row = selected
        last = self.state.symbols[self.state.active].last
        direction = "any" if last is None else ("up" if row.price > last else "down")
        rule = AlertRule(
            kind=AlertKind.PRICE_CROSS,
            symbol=self.state.active,
            level=row.price,
            direction=direction,
        )
        self._add_alert(rule, self.state.numbers.price(self.state.active, row.price))

    @work(group="alerts")
    async def _add_alert(self, rule: AlertRule, shown_price: str) -> None:
        try:
            await self.bus.request(AddAlert(rule=rule), timeout=_REQUEST_TIMEOUT_S)
        except Exception as exc:
            self.notify(f"Alert not set: {refusal_text(exc)}", severity="error")
            return
        way = "" if rule.direction == "any" else f" {rule.direction}ward"
        self.notify(f"Alert set: {rule.symbol} crosses {shown_price}{way} (n lists alerts)")

    def _alert(self, fired: AlertFired) -> None:
        """An alert fired: a toast, the bell, and a desktop notification where the terminal
        takes one (over SSH too: the sequence travels with the screen's output)."""
        self.notify(fired.message, title="ALERT", severity="warning", timeout=10)
        self.bell()
        sequence = notification(
            "OmniTrade alert", fired.message, self.session.ui.desktop_notify, os.environ
        )
        if sequence is not None:
            self.write_to_terminal(sequence)

    def write_to_terminal(self, sequence: str) -> None:
        """Write an escape sequence straight to the terminal (not in a headless run)."""
        driver = self._driver
        if driver is not None and not self.is_headless:
            driver.write(sequence)
            driver.flush()

    def action_diagnostics(self) -> None:
        """Streams, queues, latencies and limits, live."""
        self.push_screen(DiagnosticsScreen(self.state))

    def action_log_screen(self) -> None:
        """The app's own log (redacted), newest last."""
        self.push_screen(LogScreen(self.session.log_ring, self.state.numbers))

    def _fatal_error(self) -> None:
        """A crash: the redacted traceback without locals (Textual's own shows local
        variables, which may hold keys), also written to the log file."""
        error = self._exception
        self.bell()
        if error is None:
            text = "the app stopped after an unexpected error; see the log file"
        else:
            logging.getLogger("omnitrade_tui.tui").error(
                "terminal app crashed", exc_info=(type(error), error, error.__traceback__)
            )
            text = crash_report(error)
        self.crash_text = text
        self._exit_renderables.append(Text(text))
        self._close_messages_no_wait()

    def _notify(self, message: str, severity: str) -> None:
        level: SeverityLevel = "information"
        if severity == "warning":
            level = "warning"
        elif severity == "error":
            level = "error"
        self.notify(message, severity=level)


def own_orders(orders: list[Order]) -> list[OwnOrder]:
    """Our open orders as the ladder draws them: a stop order (not in the book until it
    triggers) at its stop price, any other at its limit price."""
    out: list[OwnOrder] = []
    for o in orders:
        stop = o.type.has_stop and o.stop_price is not None
        price = o.stop_price if stop else o.price
        if price is not None:
            out.append(
                OwnOrder(o.client_order_id, o.side, float(price), float(o.remaining_qty), stop)
            )
    return out
