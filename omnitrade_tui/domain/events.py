"""Events: facts that happened, published on the bus. Pure data, encodable with msgspec.

Every event is a tagged ``msgspec.Struct`` so one decoder can carry any of them across a
process boundary (the Redis bridge, later the gateway).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec

from omnitrade_tui.domain.capabilities import VenueCapabilities
from omnitrade_tui.domain.models import Balance, BookLevel, ExecutionReport, Order
from omnitrade_tui.domain.risk_limits import RiskLimits


class LinkState(StrEnum):
    """State of one connection to a venue."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"
    FAILED = "failed"


class BookState(StrEnum):
    """Health of a local order book."""

    SYNCING = "syncing"  # waiting for the first snapshot: nothing to show yet
    LIVE = "live"  # in sequence with the venue
    STALE = "stale"  # a gap or a silent stream: shown, but not to be trusted
    RESYNCING = "resyncing"  # stale, and a new snapshot is on its way


class Event(msgspec.Struct, frozen=True, tag=True, kw_only=True):
    """Base of every bus event."""


class ConnectionChanged(Event, frozen=True, kw_only=True):
    """A venue connection changed state (topic ``sys.connection``)."""

    venue: str
    link: str
    state: LinkState
    detail: str = ""
    time_ms: int = 0


class BookTop(Event, frozen=True, kw_only=True, gc=False):
    """The top of a local book after an update (topic ``md.book.<SYMBOL>``)."""

    symbol: str
    update_id: int
    bids: list[BookLevel]
    asks: list[BookLevel]
    event_ms: int = 0
    state: BookState = BookState.LIVE


class BookHealth(Event, frozen=True, kw_only=True):
    """Sync health of a local book (topic ``md.health.<SYMBOL>``)."""

    symbol: str
    state: BookState
    last_update_id: int
    gaps: int = 0
    resyncs: int = 0
    snapshot_age_ms: int = 0
    latency_ms: float | None = None
    detail: str = ""


class OrderUpdated(Event, frozen=True, kw_only=True):
    """An order changed state, with the fill if it traded (topic ``exec.order``)."""

    report: ExecutionReport


class OrderBookUpdate(Event, frozen=True, kw_only=True):
    """One change the engine's order book of record accepted (topic ``exec.book``).

    ``seq`` grows by one with every update of the book, so a reader that holds a snapshot
    at ``seq`` S applies exactly the updates above S, each once. ``report.order`` is the
    order's state of record after the change (a late report never rolls it back), and
    ``report.fill`` the fill it brought, if any: each fill comes once. ``dropped`` names
    final orders the book let go of at this step (it keeps the open ones and a bounded
    window of final ones), which a reader drops too.
    """

    seq: int
    report: ExecutionReport
    dropped: list[str] = msgspec.field(default_factory=list)


class OrderBookSnapshot(Event, frozen=True, kw_only=True):
    """Every order the book of record holds (open ones, then the window of final ones), as
    of update ``seq``: what a terminal attaching late starts from (topic ``exec.book``, and
    the reply to ``OrderBookState``)."""

    seq: int
    orders: list[Order]


class BalancesChanged(Event, frozen=True, kw_only=True):
    """Balances of one or more assets changed (topic ``acct.balance``)."""

    balances: list[Balance]
    time_ms: int = 0


class OrderRejected(Event, frozen=True, kw_only=True):
    """The venue or a risk check refused an order (topic ``exec.reject``)."""

    client_order_id: str
    symbol: str
    code: int | None
    reason: str
    source: str = "venue"


class KillSwitchChanged(Event, frozen=True, kw_only=True):
    """The kill switch was engaged or released (topic ``risk.kill_switch``).

    While engaged, every new order is refused. ``detail`` says how the cancel-all went.
    """

    engaged: bool
    reason: str = ""
    detail: str = ""
    time_ms: int = 0


class RateLimitUsage(Event, frozen=True, kw_only=True):
    """A venue's rate-limit counter as its last response reported it (topic ``sys.ratelimit``).

    ``kind`` is Binance's ``rateLimitType`` (REQUEST_WEIGHT, ORDERS, RAW_REQUESTS) and
    ``interval`` e.g. ``1m`` or ``10s``.
    """

    venue: str
    kind: str
    interval: str
    used: int
    limit: int


class LatencySample(Event, frozen=True, kw_only=True):
    """One measured delay, in seconds (topic ``sys.latency``); venues publish a sample of them.

    ``kind``: ``exchange_to_receipt`` (venue event time to our socket read),
    ``frame_to_subscriber`` (socket read to bus delivery) or ``order_round_trip``.
    """

    kind: str
    source: str
    seconds: float


class StreamRate(msgspec.Struct, frozen=True, kw_only=True):
    """Events per second on one topic over the last diagnostics interval."""

    topic: str
    per_second: float
    total: int


class QueueStat(msgspec.Struct, frozen=True, kw_only=True):
    """One bus subscriber's backlog and losses."""

    subscriber: str
    kind: str
    depth: int
    dropped: int
    errors: int
    worst_lag_s: float


class LatencyStat(msgspec.Struct, frozen=True, kw_only=True):
    """Recent delays of one kind (``exchange_to_receipt``, ``order_round_trip``, ...)."""

    kind: str
    count: int
    p50_s: float
    p99_s: float
    max_s: float


class RateLimitStat(msgspec.Struct, frozen=True, kw_only=True):
    """The last reported use of one venue rate limit."""

    venue: str
    kind: str
    interval: str
    used: int
    limit: int


class Diagnostics(Event, frozen=True, kw_only=True):
    """What the diagnostics screen shows, once a second (topic ``sys.diagnostics``).

    The same figures the Prometheus endpoint serves, as one event the screen can read
    through the bus (it never imports the metrics module).
    """

    time_ms: int
    streams: list[StreamRate]
    queues: list[QueueStat]
    latencies: list[LatencyStat]
    rate_limits: list[RateLimitStat]
    reconnects: int = 0
    resyncs: int = 0
    gaps: int = 0
    recorder_lag_s: float | None = None
    kill_switch: bool = False


class RecorderStatus(Event, frozen=True, kw_only=True):
    """The history recorder's state (topic ``sys.recorder``).

    ``state`` is ``ok`` (writing as it goes), ``degraded`` (the database refuses writes:
    held rows are journaled to a local file as they come, so a crash loses at most the
    batch being cut), ``spilling`` (rows wait on disk, left by an earlier run or past the
    memory bound of a writer that fell behind, and are replayed oldest first) or
    ``stopped``. Nothing is ever dropped
    without a count here.
    """

    state: str
    written_rows: int
    backlog_rows: int
    spilled_rows: int
    spilled_total: int
    lag_ms: float
    batches: int = 0
    rejected_rows: int = 0
    #: Gaps in the public trades the venue could not give back, recorded this run, and the
    #: trade ids they span (the history is not whole there; the gap rows say where).
    trade_gaps: int = 0
    missing_trades: int = 0
    last_error: str = ""
    time_ms: int = 0


class Reconciled(Event, frozen=True, kw_only=True):
    """The local order state was compared with the venue's (topic ``exec.reconcile``).

    Each difference has also been published as its own order or balance event; this says
    what changed while the link was down, for the screen and the log.
    """

    orders_changed: list[str]
    fills_added: int
    balances: int
    detail: str = ""
    time_ms: int = 0


class CircuitChanged(Event, frozen=True, kw_only=True):
    """A venue client's circuit breaker changed state (topic ``sys.circuit``).

    ``open``: requests fail fast until ``retry_in_s`` has passed, after repeated failures;
    ``half_open``: one trial request goes through; ``closed``: normal service.
    """

    venue: str
    state: str
    failures: int
    retry_in_s: float = 0.0
    detail: str = ""


class FeedFreshness(Event, frozen=True, kw_only=True):
    """How fresh one of a symbol's market streams is (topic ``md.fresh.<SYMBOL>``).

    ``stream`` is ``depth``, ``trade``, ``kline`` or ``ticker``; ``age_ms`` is the time since
    its last message. Published when a stream turns stale (silent longer than the configured
    limit, 2 s by default) or live again, and once a second while it stays stale, so the
    screen can mark the ladder, the tape and the status bar within the limit of going silent.
    """

    symbol: str
    stream: str
    age_ms: int
    stale: bool
    time_ms: int = 0


class OrderHeld(Event, frozen=True, kw_only=True):
    """An order action waits for the venue's rate limit (topic ``exec.held``).

    ``held`` is true while it waits, with ``retry_in_s`` until it may go (the venue's
    ``Retry-After`` or the weight window's reset) and ``reason`` (``rate limit``); a second
    event with ``held`` false says it was sent. The ticket and the blotter show it, so no
    order is ever held silently.
    """

    client_order_id: str
    symbol: str
    action: str  # "place", "cancel", "replace", "cancel_all"
    reason: str
    retry_in_s: float
    held: bool = True
    time_ms: int = 0


class TradeGap(Event, frozen=True, kw_only=True):
    """Public trades the history lacks and the venue could not give back (topic
    ``md.gap.<SYMBOL>``): the ids ``first_id`` to ``last_id`` (inclusive), printed between
    ``from_ms`` and ``to_ms``. Recorded as a gap row, so an export and the screen can say
    the history is not whole there instead of looking complete.
    """

    symbol: str
    first_id: int
    last_id: int
    from_ms: int
    to_ms: int
    reason: str
    time_ms: int = 0

    @property
    def missing(self) -> int:
        """How many trade ids the gap spans."""
        return self.last_id - self.first_id + 1


class AssetValue(msgspec.Struct, frozen=True, kw_only=True):
    """One asset of the portfolio: what is held (free + locked), its price in the portfolio's
    quote asset, its value and its share of the equity (percent)."""

    asset: str
    quantity: Decimal
    price: Decimal
    value: Decimal
    share_pct: Decimal
    day_change: Decimal | None = None


class PortfolioValue(Event, frozen=True, kw_only=True):
    """The account valued in one quote asset (topic ``acct.portfolio``), at most once a
    second while something changes: equity across every balance at the mid (the last trade
    where there is no book), today's change on what is held (against each asset's price at
    the venue's day open), and the allocation. ``unpriced`` lists assets with no price yet,
    left out of the equity rather than counted as zero value silently."""

    quote_asset: str
    equity: Decimal
    day_change: Decimal | None
    day_change_pct: Decimal | None
    assets: list[AssetValue]
    unpriced: list[str]
    time_ms: int


class PositionValue(msgspec.Struct, frozen=True, kw_only=True):
    """One symbol's position as the engine accounts it (average cost, exact): the net base
    quantity our fills moved, its average price, the mark it is valued at, realized and
    unrealized PnL in the quote asset, fees (in the quote asset; fees in a third asset apart,
    by asset) and the net of it all."""

    symbol: str
    base_asset: str
    quote_asset: str
    qty: Decimal
    avg_price: Decimal
    mark: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees_quote: Decimal
    fees_other: dict[str, Decimal] = msgspec.field(default_factory=dict)
    net_pnl: Decimal
    bought: Decimal
    sold: Decimal


class PositionsChanged(Event, frozen=True, kw_only=True):
    """Every position of the account and its PnL, as the engine's portfolio keeps them (topic
    ``acct.positions``): at once after a fill, and at most once a second while marks move.
    Every terminal shows these numbers, so all show the same."""

    positions: list[PositionValue] = msgspec.field(default_factory=list)
    time_ms: int = 0

    def position(self, symbol: str) -> PositionValue | None:
        """The position in ``symbol``, if any fill was seen."""
        for position in self.positions:
            if position.symbol == symbol:
                return position
        return None


class ListOrderRef(msgspec.Struct, frozen=True, kw_only=True):
    """One order of an order list, as the venue names it."""

    symbol: str
    order_id: int
    client_order_id: str


class OrderListUpdated(Event, frozen=True, kw_only=True):
    """An order list (an OCO) changed state at the venue (topic ``exec.list``): Binance's
    ``listStatus``. ``list_status_type`` is ``RESPONSE``, ``EXEC_STARTED`` or
    ``ALL_DONE``; ``list_order_status`` is ``EXECUTING``, ``ALL_DONE`` or ``REJECT``. The
    legs' own states come as ``OrderUpdated`` events; this says what the list as a whole
    is, so the screen can group and close it."""

    symbol: str
    order_list_id: int
    list_client_order_id: str
    contingency_type: str
    list_status_type: str
    list_order_status: str
    reject_reason: str | None
    orders: list[ListOrderRef]
    time_ms: int = 0


class VenuesInForce(Event, frozen=True, kw_only=True):
    """The venues a run trades and what each can promise (topic ``sys.venues``): published
    when the streams open, so a screen says where a guarantee of the native connector is
    missing (a venue reached through ccxt) instead of implying it."""

    venues: list[VenueCapabilities]
    time_ms: int = 0


class RiskLimitsInForce(Event, frozen=True, kw_only=True):
    """The pre-trade limits the risk gate applies now (topic ``sys.risk_limits``): published
    when the gate starts and after every change, so a screen can say, before Enter, which
    limit an order would meet."""

    limits: RiskLimits
    #: The venue these limits are of (its qualifier; ``""``: the profile's first).
    venue: str = ""
    time_ms: int = 0


class SubscriberFailed(Event, frozen=True, kw_only=True):
    """A bus subscriber raised, or a queue subscriber overflowed (topic ``sys.bus.error``)."""

    subscriber: str
    topic: str
    error: str
    detail: str = ""
