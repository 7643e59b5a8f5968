"""What the screen shows, as plain Python state fed by the bus (no Textual here).

Bus subscribers are cheap ``each`` callbacks that store the latest value and mark a part of
the screen dirty; the app redraws dirty parts at its frame rate. So a burst of 2,000 book
updates a second costs 2,000 assignments, not 2,000 repaints (``docs/reference/textual.md`` §0).

Orders and positions are the engine's: the screen holds what the order book of record
published (``exec.book``, applied by sequence) and the positions the engine valued
(``acct.positions``), so an attached terminal shows the same as the engine's own screen,
whichever events it happened to see.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from omnitrade_tui.bus import Bus, contract, each
from omnitrade_tui.bus.subscription import Subscription
from omnitrade_tui.domain.alerts import AlertFired
from omnitrade_tui.domain.candles import CandleBuilder, candle_open
from omnitrade_tui.domain.capabilities import VenueCapabilities
from omnitrade_tui.domain.enums import OrderStatus
from omnitrade_tui.domain.events import (
    BalancesChanged,
    BookHealth,
    BookState,
    BookTop,
    CircuitChanged,
    ConnectionChanged,
    Diagnostics,
    FeedFreshness,
    KillSwitchChanged,
    LatencySample,
    LinkState,
    OrderBookSnapshot,
    OrderBookUpdate,
    OrderHeld,
    OrderRejected,
    PortfolioValue,
    PositionsChanged,
    RateLimitUsage,
    Reconciled,
    RecorderStatus,
    RiskLimitsInForce,
    VenuesInForce,
)
from omnitrade_tui.domain.instrument import Instrument
from omnitrade_tui.domain.models import Balance, Candle, Fill, Order, Ticker, Trade
from omnitrade_tui.domain.recent import SeenTrades
from omnitrade_tui.domain.risk_limits import RiskLimits
from omnitrade_tui.domain.venue import venue_of
from omnitrade_tui.engine.book_of_record import KEEP_FILLS
from omnitrade_tui.tui.numbers import Numbers

#: Parts of the screen a change can make dirty. ``GAUGES`` is the status bar's measured
#: figures (latency, rate-limit use), which change with every sample and are read at a
#: glance; ``STATUS`` is a change of state there (a link, the kill switch, the circuit).
PARTS = BOOK, TAPE, WATCH, ORDERS, FILLS, BALANCES, LOG, STATUS, GAUGES, CHART = (
    "book",
    "tape",
    "watch",
    "orders",
    "fills",
    "balances",
    "log",
    "status",
    "gauges",
    "chart",
)

#: Chart intervals offered by key and in the palette, in order.
CHART_INTERVALS = ("1s", "1m", "5m", "15m", "1h", "4h", "1d")

TAPE_LENGTH = 500
SPARK_LENGTH = 60
MAX_FILLS = 5_000
MAX_LOG = 2_000
MAX_CANDLES = 1_000
#: Order actions held for the rate limit at once: a few in practice (the governor releases
#: them within a minute); more than this and the oldest notices are dropped.
MAX_HELD = 200


@dataclass
class SymbolView:
    """The latest market state of one symbol."""

    symbol: str
    top: BookTop | None = None
    health: BookHealth | None = None
    ticker: Ticker | None = None
    trades: deque[Trade] = field(default_factory=lambda: deque(maxlen=TAPE_LENGTH))
    spark: deque[float] = field(default_factory=lambda: deque(maxlen=SPARK_LENGTH))
    #: The streams (``depth``, ``trade``, ``kline``, ``ticker``) the engine last said are
    #: stale, with how long they had been silent; a stream live again leaves.
    stale: dict[str, FeedFreshness] = field(default_factory=dict)

    @property
    def last(self) -> float | None:
        """The last trade price, else the ticker's close."""
        if self.trades:
            return self.trades[-1].price
        return self.ticker.last if self.ticker else None

    @property
    def book_state(self) -> BookState:
        """The book's health as last published (``SYNCING`` before anything arrived); a
        book whose depth stream went silent is ``STALE`` whatever its last health said."""
        if self.health is not None:
            state = self.health.state
        else:
            state = self.top.state if self.top is not None else BookState.SYNCING
        if state is BookState.LIVE and "depth" in self.stale:
            return BookState.STALE
        return state


@dataclass(frozen=True)
class LogLine:
    """One line of the order event log."""

    time_ms: int
    text: str
    severity: str = "information"


Notify = Callable[[str, str], None]


class TerminalState:
    """Everything the screen reads, kept current by bus subscriptions."""

    def __init__(
        self,
        bus: Bus,
        instruments: Mapping[str, Instrument],
        watchlist: tuple[str, ...],
        interval: str = "1m",
    ) -> None:
        self.bus = bus
        self.instruments = dict(instruments)
        #: How prices, quantities, money and times are written (the app sets UTC or local).
        self.numbers = Numbers(self.instruments)
        self.watchlist = watchlist
        self.symbols = {s: SymbolView(s) for s in watchlist}
        self.active = watchlist[0]
        self.interval = interval
        #: The orders of the engine's book of record, as it published them (open ones and
        #: its bounded window of final ones: what it lets go of, this lets go of too), and
        #: the sequence number of the last update applied.
        self.orders: dict[str, Order] = {}
        self.orders_seq = 0
        self.fills: deque[Fill] = deque(maxlen=MAX_FILLS)
        #: The newest ``KEEP_FILLS`` fill keys, and per symbol the highest trade id let go
        #: of: the fills table merges the history's fills with live ones, each once.
        self._fill_keys = SeenTrades(KEEP_FILLS)
        self.balances: dict[str, Balance] = {}
        #: Positions, PnL and fees as the engine's portfolio published them last.
        self.portfolio = PositionsChanged()
        self.log: deque[LogLine] = deque(maxlen=MAX_LOG)
        self.links: dict[str, ConnectionChanged] = {}
        self.latency_ms: float | None = None
        #: Every venue's rate-limit use by qualifier (``""``: the first, ``rate_limit``).
        self.rate_limits: dict[str, RateLimitUsage] = {}
        self.recorder: RecorderStatus | None = None
        self.circuit: CircuitChanged | None = None
        self.kill_switch: KillSwitchChanged | None = None
        self.diagnostics: Diagnostics | None = None
        #: Order actions the engine holds for the rate limit, by client id: the event and
        #: when it arrived (monotonic), so the wait counts down on screen.
        self.held: dict[str, tuple[OrderHeld, float]] = {}
        #: The pre-trade limits the engine says are in force, by venue qualifier (each
        #: venue trades under its own; ``""``: the first, ``risk_limits``).
        self.venue_risk_limits: dict[str, RiskLimits] = {}
        #: The run's venues by qualifier (``""``: the first) and what each can promise.
        self.venues: dict[str, VenueCapabilities] = {}
        self.candles: list[Candle] = []
        #: Grows whenever ``candles`` gains or loses a candle (not on a forming tick).
        self.candles_version = 0
        self._builder = CandleBuilder(self.active, interval)
        #: Whether the chart's series came (from the venue or history) since the last switch.
        self._seeded = False
        self.dirty: set[str] = set(PARTS)
        self.notify: Notify = lambda message, severity: None
        #: The account valued by the engine (``acct.portfolio``), latest.
        self.valuation: PortfolioValue | None = None
        #: Told of every alert that fires (the app: a toast, the bell, a desktop notice).
        self.on_alert: Callable[[AlertFired], None] = lambda fired: None
        self._subs: list[Subscription] = []

    # -- wiring ----------------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe to everything the screen shows."""
        sub = self.bus.subscribe
        # Each handler is typed by its topic (``Topic[T]``): the bus contract says which
        # event flows where, so the handlers take that type without checking it again.
        # These are exactly ``contract.SCREEN``, the set an attached terminal asks the
        # gateway for (tests/bus/test_contract.py holds the two equal).
        self._subs = [
            sub(contract.BOOK.all, each(self._on_book), name="tui.book"),
            sub(contract.BOOK_HEALTH.all, each(self._on_health), name="tui.health"),
            sub(contract.TRADE.all, each(self._on_trade), name="tui.trade"),
            sub(contract.TICKER.all, each(self._on_ticker), name="tui.ticker"),
            sub(contract.FRESHNESS.all, each(self._on_freshness), name="tui.fresh"),
            sub(contract.ORDER_BOOK, each(self._on_order_book), name="tui.order"),
            sub(contract.REJECT, each(self._on_reject), name="tui.reject"),
            sub(contract.BALANCE, each(self._on_balance), name="tui.balance"),
            sub(contract.RECONCILE, each(self._on_reconcile), name="tui.reconcile"),
            sub(contract.CONNECTION, each(self._on_link), name="tui.link"),
            sub(contract.LATENCY, each(self._on_latency), name="tui.latency"),
            sub(contract.RATE_LIMIT, each(self._on_rate_limit), name="tui.ratelimit"),
            sub(contract.RECORDER, each(self._on_recorder), name="tui.recorder"),
            sub(contract.CIRCUIT, each(self._on_circuit), name="tui.circuit"),
            sub(contract.KILL_SWITCH, each(self._on_kill_switch), name="tui.killswitch"),
            sub(contract.DIAGNOSTICS, each(self._on_diagnostics), name="tui.diagnostics"),
            sub(contract.HELD, each(self._on_held), name="tui.held"),
            sub(contract.RISK_LIMITS, each(self._on_risk_limits), name="tui.risklimits"),
            sub(contract.VENUES, each(self._on_venues), name="tui.venues"),
            sub(contract.ALERT, each(self._on_alert), name="tui.alert"),
            sub(contract.PORTFOLIO, each(self._on_valuation), name="tui.portfolio"),
            sub(contract.POSITIONS, each(self._on_positions), name="tui.positions"),
        ]

    def stop(self) -> None:
        """Leave the bus."""
        for s in self._subs:
            s.close()
        self._subs = []

    def take_dirty(self) -> set[str]:
        """The parts changed since the last call (and forget them)."""
        dirty, self.dirty = self.dirty, set()
        return dirty

    # -- market data -----------------------------------------------------------------------

    def _on_book(self, topic: str, event: BookTop) -> None:
        view = self.symbols.get(event.symbol)
        if view is not None:
            view.top = event
            if event.symbol == self.active:
                self.dirty.add(BOOK)

    def _on_health(self, topic: str, event: BookHealth) -> None:
        view = self.symbols.get(event.symbol)
        if view is not None:
            before, view.health = view.health, event
            # Health is published on every check; the screen shows its state and counts.
            if before is None or _shown_health(before) != _shown_health(event):
                self.dirty.add(STATUS)
                if event.symbol == self.active:
                    self.dirty.add(BOOK)

    def _on_trade(self, topic: str, event: Trade) -> None:
        view = self.symbols.get(event.symbol)
        if view is None:
            return
        view.trades.append(event)
        if event.symbol == self.active:
            self.dirty.add(TAPE)
            for closed in self._builder.add(event):
                self._push_candle(closed)
            self.dirty.add(CHART)
        self.dirty.add(WATCH)

    def _on_ticker(self, topic: str, event: Ticker) -> None:
        view = self.symbols.get(event.symbol)
        if view is not None:
            view.ticker = event
            view.spark.append(event.last)
            self.dirty.add(WATCH)

    def _on_freshness(self, topic: str, event: FeedFreshness) -> None:
        view = self.symbols.get(event.symbol)
        if view is None:
            return
        if event.stale:
            if event.stream in view.stale:
                # Still silent: only its age moves (the status bar's, and the tape's).
                view.stale[event.stream] = event
                self.dirty.add(GAUGES)
                if event.symbol == self.active:
                    self.dirty.add(TAPE)
                return
            view.stale[event.stream] = event
        elif view.stale.pop(event.stream, None) is None:
            return  # live, and already shown live
        self.dirty.add(STATUS)
        if event.symbol == self.active:
            self.dirty.update((BOOK, TAPE))

    # -- candles ---------------------------------------------------------------------------

    def set_chart(self, symbol: str, interval: str) -> None:
        """Show ``symbol`` at ``interval``: forget the old series until a backfill arrives.

        Until the venue's candles arrive no current candle is shown: one built from the
        trades seen since the switch alone would be wrong (a flat 1h candle with a minute
        of volume)."""
        self.interval = interval
        self.candles = []
        self.candles_version += 1
        self._builder = CandleBuilder(symbol, interval)
        self._seeded = False
        self.dirty.add(CHART)

    def seed_from_venue(self, symbol: str, interval: str, candles: list[Candle]) -> None:
        """The venue's own candles, oldest first, the current (open) one last: the chart
        shows them, and trades from now on update the current one."""
        if symbol != self.active or interval != self.interval:
            return  # an answer for a chart the user has already left
        closed = [c for c in candles if c.closed]
        forming = candles[-1] if candles and not candles[-1].closed else None
        current = self._builder.current
        if forming is not None and (current is None or current.open_ms <= forming.open_ms):
            # The venue's candle already holds every trade up to its answer.
            self._builder = CandleBuilder(symbol, interval, seed=forming)
            last = forming.open_ms - 1
        else:
            if forming is not None:
                # Candles closed while the answer travelled (a 1s chart): the venue's open
                # one is closed now, and the newer ones the trades built are kept.
                closed.append(msgspec.structs.replace(forming, closed=True))
            elif closed and current is None:
                self._builder = CandleBuilder(symbol, interval, seed=closed[-1])
            last = closed[-1].open_ms if closed else -1
        newer = [c for c in self.candles if c.open_ms > last]
        self.candles = (closed + newer)[-MAX_CANDLES:]
        self.candles_version += 1
        self._seeded = True
        self.dirty.add(CHART)

    def backfill(self, symbol: str, interval: str, candles: list[Candle]) -> None:
        """Closed candles from history, oldest first; live ones already built are kept.

        The fallback when the venue cannot answer: the current candle is then built from
        the trades seen since the switch (the app says so)."""
        if symbol != self.active or interval != self.interval:
            return  # an answer for a chart the user has already left
        live_from = self.candles[0].open_ms if self.candles else None
        older = [c for c in candles if live_from is None or c.open_ms < live_from]
        self.candles = (older + self.candles)[-MAX_CANDLES:]
        self.candles_version += 1
        current = self._builder.current
        if current is None and older:
            # Start the forming candle from the last close, so it does not open on a gap.
            self._builder = CandleBuilder(symbol, interval, seed=older[-1])
        self._seeded = True
        self.dirty.add(CHART)

    def _push_candle(self, candle: Candle) -> None:
        self.candles_version += 1
        if self.candles and self.candles[-1].open_ms >= candle.open_ms:
            self.candles[-1] = candle
        else:
            self.candles.append(candle)
            if len(self.candles) > MAX_CANDLES:
                del self.candles[0]

    @property
    def forming(self) -> Candle | None:
        """The candle still open, if a trade has been seen in it."""
        current = self._builder.current
        if current is None or not self._seeded:
            return None
        now_open = candle_open(int(time.time() * 1000), self.interval)
        return current if current.open_ms <= now_open else None

    # -- account ---------------------------------------------------------------------------

    def _on_order_book(self, topic: str, event: OrderBookUpdate | OrderBookSnapshot) -> None:
        if isinstance(event, OrderBookSnapshot):
            # Where a terminal attaching (or attaching again) starts: the whole book as of
            # its sequence, whatever this screen held before.
            self.orders = {o.client_order_id: o for o in event.orders}
            self.orders_seq = event.seq
            self.dirty.update((ORDERS, BOOK))
            return
        if event.seq <= self.orders_seq:
            return  # in the snapshot already
        self.orders_seq = event.seq
        report = event.report
        order = report.order
        cid = order.client_order_id
        known = self.orders.get(cid)
        self.orders[cid] = order
        for let_go in event.dropped:
            self.orders.pop(let_go, None)
        if known is not None and known.status is not order.status:
            # It moved (sent, cancelled, filled): whatever was held has gone.
            self.held.pop(cid, None)
        fill = report.fill
        if fill is not None and self._count_fill(fill):
            self.fills.append(fill)
            self.dirty.update((FILLS, BALANCES, CHART))
            n = self.numbers
            self._log(
                f"fill {fill.side} {n.qty(fill.symbol, fill.qty)} {fill.symbol} @ "
                f"{n.price(fill.symbol, fill.price)} fee "
                f"{n.money_with_asset(fill.commission_asset, fill.commission)} "
                f"({order.client_order_id})",
                time_ms=fill.time_ms,
            )
        if known is None or known.status is not order.status:
            self._log(
                _describe(order, self.numbers),
                _severity(order.status),
                order.updated_ms or report.time_ms,
            )
            if order.status in (OrderStatus.UNKNOWN, OrderStatus.EXPIRED):
                self.notify(_describe(order, self.numbers), "warning")
        self.dirty.update((ORDERS, BOOK, LOG))

    def load_fills(self, fills: list[Fill]) -> None:
        """Fills from history, oldest first, for the fills table (those already seen are
        skipped; positions are the engine's, ``acct.positions``)."""
        for fill in fills:
            if self._count_fill(fill):
                self.fills.append(fill)
        self.dirty.update((FILLS, BALANCES, CHART))

    def _count_fill(self, fill: Fill) -> bool:
        """Remember ``fill``; whether it is new (by symbol and trade id)."""
        return self._fill_keys.add(fill.symbol, fill.trade_id)

    def _on_positions(self, topic: str, event: PositionsChanged) -> None:
        self.portfolio = event
        self.dirty.add(BALANCES)

    def _on_valuation(self, topic: str, event: PortfolioValue) -> None:
        self.valuation = event
        # Valued at the last prices: drawn on the watchlist's beat, as the positions are.
        self.dirty.add(WATCH)

    def _on_alert(self, topic: str, event: AlertFired) -> None:
        self._log(f"ALERT {event.message}", "warning")
        self.dirty.add(LOG)
        self.on_alert(event)

    def _on_reject(self, topic: str, event: OrderRejected) -> None:
        who = "risk" if event.source == "risk" else "venue"
        code = f" [{event.code}]" if event.code is not None else ""
        self._log(f"REJECTED by {who}{code} {event.symbol}: {event.reason}", "error")
        self.dirty.add(LOG)

    def _on_balance(self, topic: str, event: BalancesChanged) -> None:
        for b in event.balances:
            self.balances[b.asset] = b
        self.dirty.add(BALANCES)

    def _on_reconcile(self, topic: str, event: Reconciled) -> None:
        if event.orders_changed or event.fills_added:
            self._log(f"reconciled with the venue: {event.detail}", "warning")
            self.notify(f"Reconciled: {event.detail}", "warning")
            self.dirty.add(LOG)

    def _log(self, text: str, severity: str = "information", time_ms: int = 0) -> None:
        """Log ``text`` at ``time_ms`` (when it happened at the venue), or now."""
        self.log.append(LogLine(time_ms or int(time.time() * 1000), text, severity))
        self.dirty.add(LOG)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders, newest first."""
        rows = [
            o
            for o in self.orders.values()
            if o.status.is_open and (symbol is None or o.symbol == symbol)
        ]
        rows.sort(key=lambda o: o.created_ms or o.updated_ms, reverse=True)
        return rows

    def free(self, asset: str) -> Decimal:
        """The free balance of an asset (zero when unknown)."""
        b = self.balances.get(asset)
        return b.free if b is not None else Decimal(0)

    # -- system ----------------------------------------------------------------------------

    def _on_link(self, topic: str, event: ConnectionChanged) -> None:
        before = self.links.get(event.link)
        self.links[event.link] = event
        self.dirty.add(STATUS)
        if (
            before is not None
            and before.state is LinkState.CONNECTED
            and (event.state is not LinkState.CONNECTED)
        ):
            self._log(f"{event.link} link {event.state}: {event.detail}", "warning")

    def _on_latency(self, topic: str, event: LatencySample) -> None:
        if event.kind == "exchange_to_receipt":
            self.latency_ms = event.seconds * 1000
            self.dirty.add(GAUGES)

    def _on_rate_limit(self, topic: str, event: RateLimitUsage) -> None:
        self.rate_limits[venue_of(event.venue)] = event
        self.dirty.add(GAUGES)

    def _on_recorder(self, topic: str, event: RecorderStatus) -> None:
        before, self.recorder = self.recorder, event
        # A new state is news; the row counts of the same state are a gauge.
        self.dirty.add(STATUS if before is None or before.state != event.state else GAUGES)

    def _on_circuit(self, topic: str, event: CircuitChanged) -> None:
        self.circuit = event
        self.dirty.add(STATUS)
        if event.state != "closed":
            self.notify(f"REST circuit {event.state}: {event.detail}", "error")

    def _on_kill_switch(self, topic: str, event: KillSwitchChanged) -> None:
        self.kill_switch = event
        state = "ENGAGED" if event.engaged else "released"
        self._log(
            f"kill switch {state}: {event.detail}", "error" if event.engaged else "information"
        )
        self.dirty.update((STATUS, LOG))

    def _on_risk_limits(self, topic: str, event: RiskLimitsInForce) -> None:
        self.venue_risk_limits[event.venue] = event.limits

    @property
    def rate_limit(self) -> RateLimitUsage | None:
        """The first venue's rate-limit use (``None`` until it says)."""
        return self.rate_limits.get("")

    @property
    def risk_limits(self) -> RiskLimits | None:
        """The first venue's limits in force (``None`` until the engine says)."""
        return self.venue_risk_limits.get("")

    def open_orders_on_venue_of(self, symbol: str) -> int:
        """How many orders are open on the venue ``symbol`` trades on (what its venue's
        ``max_open_orders`` counts)."""
        venue = venue_of(symbol)
        return sum(1 for o in self.open_orders() if venue_of(o.symbol) == venue)

    def limits_for(self, symbol: str) -> RiskLimits | None:
        """The limits an order on ``symbol`` is checked against (its venue's), if said."""
        return self.venue_risk_limits.get(venue_of(symbol), self.risk_limits)

    def _on_venues(self, topic: str, event: VenuesInForce) -> None:
        for venue in event.venues:
            if venue.name not in self.venues and venue.notice():
                # Said once per venue, where the trader reads what the engine says.
                self._log(venue.notice(), "warning")
            self.venues[venue.name] = venue

    def venue_notice(self, symbol: str) -> str:
        """What the venue of ``symbol`` cannot promise, as one line (empty: nothing)."""
        venue = self.venues.get(venue_of(symbol))
        return venue.notice() if venue is not None else ""

    def _on_held(self, topic: str, event: OrderHeld) -> None:
        self.held.pop(event.client_order_id, None)
        if event.held:
            self.held[event.client_order_id] = (event, time.monotonic())
            while len(self.held) > MAX_HELD:
                del self.held[next(iter(self.held))]
            self._log(
                f"held: {event.reason}, {event.retry_in_s:.0f} s: {event.action} "
                f"{event.symbol} ({event.client_order_id})",
                "warning",
            )
        self.dirty.add(ORDERS)

    def held_for(self, client_ids: tuple[str, ...] | str) -> tuple[str, float] | None:
        """Why and for how many more seconds an action on one of ``client_ids`` is held
        for the rate limit, or ``None`` when none is."""
        ids = (client_ids,) if isinstance(client_ids, str) else client_ids
        for cid in ids:
            mark = self.held.get(cid)
            if mark is not None:
                event, since = mark
                return event.reason, max(0.0, event.retry_in_s - (time.monotonic() - since))
        return None

    def _on_diagnostics(self, topic: str, event: Diagnostics) -> None:
        self.diagnostics = event

    @property
    def locked(self) -> bool:
        """Whether the kill switch holds trading."""
        return self.kill_switch is not None and self.kill_switch.engaged


def _describe(order: Order, numbers: Numbers) -> str:
    sym = order.symbol
    price = f" @ {numbers.price(sym, order.price)}" if order.price is not None else ""
    filled = f" filled {numbers.qty(sym, order.filled_qty)}" if order.filled_qty else ""
    reason = f": {order.reject_reason}" if order.reject_reason else ""
    return (
        f"{order.status} {order.side} {order.type} {numbers.qty(sym, order.quantity)} {sym}"
        f"{price}{filled} ({order.client_order_id}){reason}"
    )


def _severity(status: OrderStatus) -> str:
    if status in (OrderStatus.REJECTED, OrderStatus.UNKNOWN):
        return "error"
    if status in (OrderStatus.EXPIRED, OrderStatus.CANCELED):
        return "warning"
    return "information"


def _shown_health(health: BookHealth) -> tuple[BookState, int, int]:
    """What the screen shows of a book's health (the rest is for diagnostics)."""
    return health.state, health.gaps, health.resyncs
