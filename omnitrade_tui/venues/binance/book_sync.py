"""Order-book sync for one symbol, by Binance's procedure (reference §3).

Buffer the diff stream, take a REST snapshot (again while it is older than the first
buffered event), drop what the snapshot already holds, bridge, then apply every event in
sequence. On a gap the old book stays on screen marked ``STALE``/``RESYNCING`` while a new
one is built beside it; it is swapped in only when it is live, so the book is never
blanked. Each applied update publishes the top of the book on ``md.book.<SYMBOL>``, and
every change of state publishes ``md.health.<SYMBOL>``.

A depth stream that goes silent while connected (the market stream's freshness watch says
when) turns the book ``STALE``: it is shown, not trusted. The venue's update id from a
small REST snapshot then decides: the book is behind (diffs were lost and nothing later
revealed the gap) and is resynced, or it is in step and is ``LIVE`` again; the next diff
that continues the sequence makes it ``LIVE`` too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.domain.book import DiffResult, OrderBook
from omnitrade_tui.domain.events import BookHealth, BookState, BookTop
from omnitrade_tui.domain.models import BookLevel
from omnitrade_tui.venues.binance.schemas import DepthSnapshot, DepthUpdate, Level

log = logging.getLogger(__name__)

SnapshotFetcher = Callable[[str], Awaitable[DepthSnapshot]]

_MAX_BUFFER = 10_000
_SNAPSHOT_RETRY_S = 0.25
_QUIET_S = 1.0


class BookSync:
    """Keeps one symbol's local book in step with the venue and publishes it."""

    def __init__(
        self, symbol: str, bus: Bus, fetch_snapshot: SnapshotFetcher, top_levels: int = 20
    ) -> None:
        self.symbol = symbol
        self.bus = bus
        self.fetch_snapshot = fetch_snapshot
        self.top_levels = top_levels
        self.book = OrderBook(symbol)
        self.state = BookState.SYNCING
        self.gaps = 0
        self.resyncs = 0
        self.snapshot_ms = 0
        self.latency_ms: float | None = None
        self._buffer: list[DepthUpdate] = []
        self._bids_top: list[BookLevel] | None = None
        self._asks_top: list[BookLevel] | None = None
        self._task: asyncio.Task[None] | None = None
        #: The book went STALE because its depth stream fell silent (not a gap or a drop).
        self._silent = False
        self._book_topic = topics.book(symbol)
        self._health_topic = topics.book_health(symbol)

    def on_diff(self, event: DepthUpdate, receipt_ms: float) -> None:
        """Handle one ``depthUpdate`` frame as it arrives."""
        self.latency_ms = receipt_ms - event.event_ms
        if self._silent:
            self._silent = False
            if self.state is BookState.STALE:
                # Stale for the silence alone: the sequence (checked below) says the rest.
                self.state = BookState.LIVE
                self._publish_health("depth stream flowing again")
        if self.state is not BookState.LIVE:
            self._buffer.append(event)
            if len(self._buffer) > _MAX_BUFFER:
                self._buffer = self._buffer[-_MAX_BUFFER:]
            self._ensure_snapshot()
            return
        result = self.book.apply_diff(
            event.first_update_id, event.final_update_id, event.bids, event.asks
        )
        if result is DiffResult.GAP:
            self.gaps += 1
            self.resync(
                f"gap: expected {self.book.last_update_id + 1}, got {event.first_update_id}"
            )
            self._buffer.append(event)
            return
        if result is not DiffResult.STALE:
            self._publish_top(event.event_ms, event)
        if result is DiffResult.CROSSED:
            self.resync("the book crossed")

    def depth_silent(self, age_ms: int) -> None:
        """The depth stream has said nothing for ``age_ms`` while connected: show the book
        ``STALE`` until a snapshot's update id or the next diff vouches for it."""
        if self.state is BookState.LIVE:
            self.state = BookState.STALE
            self._silent = True
            self._publish_health(f"depth stream silent for {age_ms / 1000:.1f}s")
            self._publish_top(0)

    @property
    def checkable(self) -> bool:
        """Whether a snapshot's update id can tell anything now: the book is shown as live,
        or stale for a silent depth stream alone (not mid-sync, not disconnected)."""
        return self.state is BookState.LIVE or (self.state is BookState.STALE and self._silent)

    def check_against(self, venue_update_id: int) -> bool:
        """While the depth stream is silent: compare with the update id of a fresh REST
        snapshot. Behind (diffs lost, and no later one came to reveal the gap): resync.
        In step: ``LIVE`` again, the silence being a quiet market. Whether it was behind.

        Does nothing while a sync is on its way, or while the stream is down (the
        reconnect resyncs)."""
        if not self.checkable:
            return False
        behind = venue_update_id - self.book.last_update_id
        if behind > 0:
            self.resync(f"depth stream silent and {behind} updates behind the venue")
            return True
        if self.state is BookState.STALE:
            self.state = BookState.LIVE
            self._publish_health("depth stream quiet; in step with the venue's snapshot")
            self._publish_top(0)
        return False

    def resync(self, reason: str) -> None:
        """Mark the book stale and rebuild it from a new snapshot (the old one stays shown)."""
        self._silent = False
        if self.state in (BookState.LIVE, BookState.STALE):
            self.state = BookState.RESYNCING if self.book.last_update_id else BookState.SYNCING
            self.resyncs += 1
            log.warning("book %s resyncing: %s", self.symbol, reason)
            self._publish_health(reason)
            self._publish_top(0)
        self._buffer = []
        self._ensure_snapshot()

    def stale(self, reason: str) -> None:
        """The stream went away: keep showing the book, marked stale, until it syncs again."""
        self._silent = False
        if self.state is BookState.LIVE:
            self.state = BookState.STALE
            self._publish_health(reason)
            self._publish_top(0)
        self._buffer = []
        self._cancel()

    def _ensure_snapshot(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._sync())

    def _cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    async def _sync(self) -> None:
        quiet = 0.0
        while True:
            if not self._buffer and quiet < _QUIET_S:
                await asyncio.sleep(0.05)  # wait for the first buffered event
                quiet += 0.05
                continue
            # A market quiet for a second (no diff since the resync began) is synced from
            # the snapshot alone: every later diff is checked against it by update id.
            try:
                snap = await self.fetch_snapshot(self.symbol)
            except Exception as exc:  # a failed snapshot is retried, and said
                self._publish_health(f"snapshot failed: {exc}")
                await asyncio.sleep(_SNAPSHOT_RETRY_S * 4)
                continue
            if self._buffer and snap.last_update_id + 1 < self._buffer[0].first_update_id:
                # Too old: updates between it and the first buffered one are missing.
                # (The reference says "lastUpdateId < U", but a snapshot that ends right
                # before the first buffered event, U == lastUpdateId + 1, bridges exactly.)
                await asyncio.sleep(_SNAPSHOT_RETRY_S)
                continue
            fresh = OrderBook(self.symbol)
            fresh.apply_snapshot(snap.last_update_id, snap.bids, snap.asks)
            ok = True
            for event in self._buffer:
                result = fresh.apply_diff(
                    event.first_update_id, event.final_update_id, event.bids, event.asks
                )
                if result is DiffResult.GAP:
                    ok = False
                    break
            if not ok:
                # The snapshot is newer than the buffer can bridge: keep buffering, retry.
                self._buffer = self._buffer[-1:]
                await asyncio.sleep(_SNAPSHOT_RETRY_S)
                continue
            self.book = fresh
            self._buffer = []
            self.state = BookState.LIVE
            self.snapshot_ms = int(time.time() * 1000)
            self._publish_health("in sync")
            self._publish_top(0)
            return

    def _publish_top(self, event_ms: int, event: DepthUpdate | None = None) -> None:
        book = self.book
        n = self.top_levels
        # A side's top n is rebuilt only when the diff touched a price inside it: most
        # diffs change levels further out, and rebuilding n levels costs more than the
        # diff's apply. (Without an event, after a snapshot or a state change: rebuild.)
        bids, asks = self._bids_top, self._asks_top
        if event is None or bids is None or len(bids) < n or _reaches(event.bids, bids[-1], 1):
            bids = self._bids_top = book.bids(n)
        if event is None or asks is None or len(asks) < n or _reaches(event.asks, asks[-1], -1):
            asks = self._asks_top = book.asks(n)
        self.bus.publish(
            self._book_topic,
            BookTop(
                symbol=self.symbol,
                update_id=book.last_update_id,
                bids=bids,
                asks=asks,
                event_ms=event_ms,
                state=self.state,
            ),
        )

    def _publish_health(self, detail: str) -> None:
        age = int(time.time() * 1000) - self.snapshot_ms if self.snapshot_ms else 0
        self.bus.publish(
            self._health_topic,
            BookHealth(
                symbol=self.symbol,
                state=self.state,
                last_update_id=self.book.last_update_id,
                gaps=self.gaps,
                resyncs=self.resyncs,
                snapshot_age_ms=age,
                latency_ms=self.latency_ms,
                detail=detail,
            ),
        )

    async def aclose(self) -> None:
        """Stop any snapshot in flight."""
        task = self._task
        self._cancel()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _reaches(updates: list[Level], worst: BookLevel, sign: int) -> bool:
    """Whether any update is at or better than ``worst`` (bids: sign 1, asks: -1)."""
    edge = worst.price
    if sign > 0:
        return any(price >= edge for price, _ in updates)
    return any(price <= edge for price, _ in updates)
