"""Events: facts that happened, published on the bus. Pure data, encodable with msgspec.

Every event is a tagged ``msgspec.Struct`` so one decoder can carry any of them across a
process boundary (the Redis bridge, later the gateway).
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from omnitrade_tui.domain.models import Balance, BookLevel, ExecutionReport


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


class RecorderStatus(Event, frozen=True, kw_only=True):
    """The history recorder's state (topic ``sys.recorder``).

    ``state`` is ``ok`` (writing as it goes), ``degraded`` (the database refuses writes:
    rows are held in memory), ``spilling`` (memory bound reached: rows go to a local file
    and are replayed when the database is back) or ``stopped``. Nothing is ever dropped
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
    last_error: str = ""
    time_ms: int = 0
