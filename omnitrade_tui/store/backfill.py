"""Trade backfill: the history keeps every trade the venue printed, or says where it cannot.

A stream that reconnects (a dropped connection, a renewal, a resync) misses the trades
printed meanwhile, and a recorder started again misses those printed while it was away.
Public trade ids are consecutive per symbol on Binance, so a jump in the ids that arrive is
a gap. The filler watches the ids on ``md.trade.<SYMBOL>``; for each gap (and, at start,
for the span since the last stored id) it asks the venue for the missing trades by id
(``VenueTrades`` on the bus, ``historicalTrades`` with ``fromId`` on Binance) and publishes
them on ``md.backfill.<SYMBOL>``, which the recorder stores and the tape does not show.
What the venue cannot give back (too old, refused, not answered after retries) is published
as a ``TradeGap`` on ``md.gap.<SYMBOL>`` and stored as a gap row, so an export and the
status line say the history is not whole there. The one-minute candles that closed during a
gap are asked of the venue too (``VenueCandles``) and published on ``md.candle`` for the
recorder, so the candles table has no hole where the stream was away.

One worker fills the gaps in the order they were seen, within a bounded queue; a gap that
does not fit is recorded as a gap at once rather than held without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from omnitrade_tui.bus import each, topics
from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.bus.subscription import Subscription
from omnitrade_tui.domain.backoff import Backoff
from omnitrade_tui.domain.commands import VenueCandles, VenueTrades
from omnitrade_tui.domain.events import TradeGap
from omnitrade_tui.domain.models import Trade

log = logging.getLogger(__name__)

#: A venue answers at most this many trades (or candles) a request (Binance: 1,000).
PAGE = 1000
MINUTE_MS = 60_000
#: After a minute closes, how long before its candle is asked of the venue.
CANDLE_SETTLE_S = 2.0
#: Gaps whose candles may wait for their minute to close at once.
MAX_CANDLE_FETCHES = 64


@dataclass(frozen=True)
class Missing:
    """Trade ids ``first_id``..``last_id`` of ``symbol``, printed between ``from_ms`` (the
    last trade seen before) and ``to_ms`` (the first seen after)."""

    symbol: str
    first_id: int
    last_id: int
    from_ms: int
    to_ms: int


@dataclass
class BackfillConfig:
    """Limits of the filler.

    ``enabled`` False records every gap as such without asking the venue (a test hook, and
    a setting for a venue whose history must not be spent weight on). ``max_trades`` is the
    most one gap may be filled with (more is recorded as a gap: a restart after days must
    not walk the venue's whole history); ``retries`` and ``retry_s`` govern a refused or
    unanswered request; ``queue`` bounds the gaps waiting.
    """

    enabled: bool = True
    max_trades: int = 20_000
    retries: int = 3
    retry_s: float = 1.0
    timeout_s: float = 10.0
    queue: int = 1_000


class TradeGapFiller:
    """Watch trade ids, fetch what the stream missed, record what cannot be had."""

    def __init__(
        self,
        bus: Bus,
        config: BackfillConfig | None = None,
        last_stored: Callable[[str], Awaitable[int | None]] | None = None,
    ) -> None:
        self.bus = bus
        self.config = config or BackfillConfig()
        self._last_stored = last_stored
        self._last: dict[str, Trade] = {}
        self._queue: asyncio.Queue[Missing] = asyncio.Queue(maxsize=self.config.queue)
        self._sub: Subscription | None = None
        self._worker: asyncio.Task[None] | None = None
        self._candle_tasks: set[asyncio.Task[None]] = set()
        self.filled = 0
        self.candles = 0
        self.gaps = 0
        self.missing = 0

    def start(self) -> None:
        """Subscribe to the trades and start the worker."""
        self._sub = self.bus.subscribe(
            topics.trade.all, each(self._on_trade), name="store.trade-backfill"
        )
        self._worker = asyncio.create_task(self._work(), name="trade-backfill")

    async def stop(self) -> None:
        """Stop watching; a gap being filled is abandoned (the next start finds it again
        from the last stored id)."""
        if self._sub is not None:
            self._sub.close()
            self._sub = None
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        for task in list(self._candle_tasks):
            task.cancel()
        await asyncio.gather(*self._candle_tasks, return_exceptions=True)

    # -- watching --------------------------------------------------------------------------

    def _on_trade(self, topic: str, event: Trade) -> None:
        last = self._last.get(event.symbol)
        if last is None:
            self._last[event.symbol] = event
            if self._last_stored is not None:
                self._submit_since_stored(event)
            return
        if event.trade_id <= last.trade_id:
            return  # a repeat (the stream after a make-before-break switch), or older
        self._last[event.symbol] = event
        if event.trade_id > last.trade_id + 1:
            self._submit(
                Missing(
                    event.symbol,
                    last.trade_id + 1,
                    event.trade_id - 1,
                    last.time_ms,
                    event.time_ms,
                )
            )

    def _submit_since_stored(self, first: Trade) -> None:
        """At start: the trades between the last one stored and the first one seen."""
        task = asyncio.ensure_future(self._since_stored(first))
        task.add_done_callback(_log_failure)

    async def _since_stored(self, first: Trade) -> None:
        assert self._last_stored is not None
        stored = await self._last_stored(first.symbol)
        if stored is None or stored >= first.trade_id - 1:
            return
        self._submit(Missing(first.symbol, stored + 1, first.trade_id - 1, 0, first.time_ms))

    def _submit(self, missing: Missing) -> None:
        try:
            self._queue.put_nowait(missing)
        except asyncio.QueueFull:
            self._gap(missing, missing.first_id, missing.last_id, "too many gaps waiting")

    # -- filling ---------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            missing = await self._queue.get()
            try:
                await self._fill(missing)
            except Exception:
                log.exception("trade backfill of %s failed", missing)
                self._gap(missing, missing.first_id, missing.last_id, "backfill failed")
            if self.config.enabled:
                self._candles_later(missing)

    async def _fill(self, missing: Missing) -> None:
        cfg = self.config
        span = missing.last_id - missing.first_id + 1
        if not cfg.enabled:
            self._gap(missing, missing.first_id, missing.last_id, "backfill is off")
            return
        if span > cfg.max_trades:
            self._gap(
                missing,
                missing.first_id,
                missing.last_id,
                f"{span} trades missing, more than the backfill limit of {cfg.max_trades}",
            )
            return
        next_id = missing.first_id
        before_ms = missing.from_ms
        while next_id <= missing.last_id:
            want = min(PAGE, missing.last_id - next_id + 1)
            page = await self._page(missing.symbol, next_id, want)
            if isinstance(page, str):
                self._gap(missing, next_id, missing.last_id, page, before_ms)
                return
            page = [t for t in page if next_id <= t.trade_id <= missing.last_id]
            if not page:
                self._gap(missing, next_id, missing.last_id, "the venue no longer has them")
                return
            for trade in page:
                if trade.trade_id > next_id:
                    # The venue skipped ids inside the span: those it cannot give.
                    self._gap(
                        missing,
                        next_id,
                        trade.trade_id - 1,
                        "the venue skipped them",
                        before_ms,
                        trade.time_ms,
                    )
                await self.bus.publish_wait(topics.backfill(trade.symbol), trade)
                self.filled += 1
                next_id = trade.trade_id + 1
                before_ms = trade.time_ms

    def _candles_later(self, missing: Missing) -> None:
        """Fetch the gap's one-minute candles once the last of them has closed (a gap of a
        few seconds lies in a minute still open when it is found)."""
        if missing.from_ms <= 0:
            return  # a gap since the last run: its span is not known in time
        if len(self._candle_tasks) >= MAX_CANDLE_FETCHES:
            log.warning("candles of %s for a gap not backfilled: too many waiting", missing)
            return
        closes_ms = (missing.to_ms // MINUTE_MS + 1) * MINUTE_MS
        delay_s = max(0.0, (closes_ms - missing.to_ms) / 1000) + CANDLE_SETTLE_S
        task = asyncio.ensure_future(self._fill_candles(missing, delay_s))
        self._candle_tasks.add(task)
        task.add_done_callback(self._candle_tasks.discard)

    async def _fill_candles(self, missing: Missing, delay_s: float = 0.0) -> None:
        """The one-minute candles the gap spanned, closed, from the venue."""
        await asyncio.sleep(delay_s)
        minutes = (missing.to_ms - missing.from_ms) // MINUTE_MS + 2
        if minutes > PAGE:
            log.warning("candles of %s over %d minutes not backfilled", missing.symbol, minutes)
            return
        try:
            answer = await self.bus.request(
                VenueCandles(symbol=missing.symbol, interval="1m", limit=minutes + 1),
                timeout=self.config.timeout_s,
            )
        except Exception as exc:
            log.warning("candles of %s for a gap not backfilled: %s", missing.symbol, exc)
            return
        topic = topics.candle(missing.symbol, "1m")
        for candle in answer:
            if (
                candle.closed
                and candle.close_ms >= missing.from_ms
                and candle.open_ms <= missing.to_ms
            ):
                await self.bus.publish_wait(topic, candle)
                self.candles += 1

    async def _page(self, symbol: str, from_id: int, limit: int) -> list[Trade] | str:
        """One page of trades from the venue, or why it could not be had."""
        reason = ""
        waits = Backoff(self.config.retry_s)
        for attempt in range(self.config.retries):
            if attempt:
                await asyncio.sleep(waits.next())
            try:
                answer = await self.bus.request(
                    VenueTrades(symbol=symbol, from_id=from_id, limit=limit),
                    timeout=self.config.timeout_s,
                )
            except Exception as exc:
                reason = f"the venue did not give them: {type(exc).__name__}: {exc}"[:300]
                continue
            return answer
        return reason

    def _gap(
        self,
        missing: Missing,
        first_id: int,
        last_id: int,
        reason: str,
        from_ms: int | None = None,
        to_ms: int | None = None,
    ) -> None:
        gap = TradeGap(
            symbol=missing.symbol,
            first_id=first_id,
            last_id=last_id,
            from_ms=missing.from_ms if from_ms is None else from_ms,
            to_ms=missing.to_ms if to_ms is None else to_ms,
            reason=reason,
            time_ms=int(time.time() * 1000),
        )
        self.gaps += 1
        self.missing += gap.missing
        log.warning(
            "trades %s %d..%d (%d) not in the history: %s",
            gap.symbol,
            first_id,
            last_id,
            gap.missing,
            reason,
        )
        self.bus.publish(topics.trade_gap(gap.symbol), gap)


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("trade backfill at start failed", exc_info=task.exception())
