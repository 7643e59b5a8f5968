"""The recorder: a bus subscriber that keeps everything in the history store.

One bounded queue subscription per topic family feeds an intake task, which turns events
into rows and cuts a batch every ``batch_rows`` rows or ``batch_interval_s`` seconds. A
single writer task sends batches to the ``HistoryWriter`` (merging queued ones, up to
``max_write_rows`` per transaction, when it is behind). Intake never waits on the database.

Rows wait in memory only while the database takes them. From the first failed write on,
every held batch is journaled to the spill directory (``SpillFiles``: append-only, flushed
to the OS each batch) as it is held, so a ``kill -9`` during an outage loses at most the
batch being cut. The writer replays the journal, oldest first, when writes succeed again,
and a restarted recorder replays a journal left by a dead run before anything newer (new
batches queue behind it on disk until it is written). A writer that merely falls behind a
healthy database journals past ``max_memory_rows`` the same way. Every write is
idempotent, so a replay of rows the database already had is harmless. The state is
published on ``sys.recorder``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc

from omnitrade_tui.bus import contract, topics
from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.bus.policy import OnFull, Queue
from omnitrade_tui.bus.subscription import QueueSubscription, SubscriptionClosed
from omnitrade_tui.domain.backoff import Backoff
from omnitrade_tui.domain.events import RecorderStatus, TradeGap
from omnitrade_tui.store.repository import HistoryWriter
from omnitrade_tui.store.rows import Batch, RowBuilder, batch_size, new_batch
from omnitrade_tui.store.spill import SpillFiles

log = logging.getLogger(__name__)

#: What the recorder keeps, as the venue and the engine publish it.
RECORDED_PATTERNS = contract.RECORDED


# SQLSTATE classes meaning "these rows are wrong", not "the database is away":
# 22 data exception, 23 integrity constraint violation, 42 syntax error or access rule.
_DATA_SQLSTATE_CLASSES = ("22", "23", "42")


def is_data_error(exc: BaseException) -> bool:
    """Whether the database refused the rows themselves (so retrying cannot help)."""
    orig = getattr(exc, "orig", None)
    for candidate in (exc, orig, getattr(orig, "__cause__", None)):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str) and state:
            return state[:2] in _DATA_SQLSTATE_CLASSES
    return isinstance(exc, sa_exc.IntegrityError | sa_exc.DataError | sa_exc.ProgrammingError)


@dataclass
class RecorderConfig:
    """Batching, bounds and retry timing of the recorder."""

    spill_dir: Path
    batch_rows: int = 500
    batch_interval_s: float = 0.2
    queue_bound: int = 50_000
    max_memory_rows: int = 200_000
    max_write_rows: int = 20_000
    retry_initial_s: float = 0.2
    retry_max_s: float = 5.0
    status_every_s: float = 1.0
    patterns: tuple[str, ...] = field(default=RECORDED_PATTERNS)


@dataclass
class _Pending:
    batch: Batch
    rows: int
    born: float


class Recorder:
    """Subscribe, batch, write, spill, replay; publish ``RecorderStatus``."""

    def __init__(self, bus: Bus, writer: HistoryWriter, config: RecorderConfig) -> None:
        self.bus = bus
        self.writer = writer
        self.config = config
        self.spill = SpillFiles(config.spill_dir)
        #: Rows the database refused (bad data, not an outage): kept here, never replayed.
        self.rejected = SpillFiles(config.spill_dir / "rejected")
        self._subs: list[QueueSubscription[Any]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._writer_task: asyncio.Task[None] | None = None
        self._pending: deque[_Pending] = deque()
        self._memory_rows = 0
        self._wake = asyncio.Event()
        self._builder = RowBuilder()
        self.written_rows = 0
        self.batches = 0
        self.spilled_total = 0
        self.rejected_rows = 0
        #: Gaps in the public trades recorded this run, and the trade ids they span.
        self.trade_gaps = 0
        self.missing_trades = 0
        self.state = "ok"
        self.last_error = ""
        self._stopping = False
        #: True while batches must go to the journal, not memory: the database failed, or
        #: the journal still holds rows that must be written before anything newer.
        self._journaling = False

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to the recorded topics and start writing (spill files left by an
        earlier run are replayed first)."""
        self.spill.rotate()
        if self.spill.rows_on_disk:
            # A dead run's journal goes first: newer batches queue behind it on disk.
            self._journaling = True
            self.state = "spilling"
        policy = Queue(bound=self.config.queue_bound, on_full=OnFull.BLOCK)
        for pattern in self.config.patterns:
            sub = self.bus.subscribe_queue(pattern, policy, name=f"recorder:{pattern}")
            self._subs.append(sub)
            self._tasks.append(asyncio.create_task(self._intake(sub)))
        self._writer_task = asyncio.create_task(self._write_loop())
        self._tasks.append(asyncio.create_task(self._status_loop()))
        if self.spill.rows_on_disk:
            self._wake.set()

    async def stop(self, timeout: float = 10.0) -> None:
        """Take what is queued, write it (or spill it when the database is away), stop."""
        for sub in self._subs:
            sub.close()
        await asyncio.gather(*self._tasks[: len(self._subs)], return_exceptions=True)
        self._stopping = True
        self._wake.set()
        if self._writer_task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._writer_task), timeout)
            except TimeoutError:
                self._writer_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._writer_task
        # Whatever the database did not take is kept on disk for the next start.
        self._journal_pending()
        self.spill.close()
        self.rejected.close()
        for task in self._tasks[len(self._subs) :]:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.state = "stopped"
        self._publish_status()

    # -- intake ----------------------------------------------------------------------------

    async def _intake(self, sub: QueueSubscription[Any]) -> None:
        cfg = self.config
        builder = self._builder
        while True:
            try:
                items = await sub.get_batch(cfg.batch_rows, cfg.batch_interval_s)
            except SubscriptionClosed:
                return
            if not items:
                if sub.closed:
                    return
                continue
            batch = new_batch()
            rows = 0
            for item in items:
                rows += builder.add(batch, item.topic, item.event)
                if isinstance(item.event, TradeGap):
                    self.trade_gaps += 1
                    self.missing_trades += item.event.missing
            if rows:
                self._enqueue(batch, rows)

    def _enqueue(self, batch: Batch, rows: int) -> None:
        if self._journaling or self._memory_rows + rows > self.config.max_memory_rows:
            self._journal(batch)
        else:
            self._pending.append(_Pending(batch, rows, time.monotonic()))
            self._memory_rows += rows
        self._wake.set()

    def _journal(self, batch: Batch) -> None:
        """Put a held batch on disk now, behind every batch held before it."""
        self._journaling = True
        self.spilled_total += self.spill.append(batch)
        if self.state == "ok":
            self.state = "spilling"
            self._publish_status()

    def _journal_pending(self) -> None:
        """The database failed: move what memory holds to the journal, in order, so a crash
        during the outage cannot take it."""
        while self._pending:
            item = self._pending.popleft()
            self._memory_rows -= item.rows
            self._journal(item.batch)

    # -- writing ---------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        most = self.config.retry_max_s
        # The cap wins over a first wait set above it (as the waits were before Backoff,
        # which refuses first > most: the writer task died of it and the recorder hung).
        waits = Backoff(min(self.config.retry_initial_s, most), most)
        while True:
            if not self._pending and not self.spill.rows_on_disk:
                if self._stopping:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            ok = await self._write_once()
            if ok:
                waits.reset()
                continue
            if self._stopping:
                return
            await asyncio.sleep(waits.next())

    async def _write_once(self) -> bool:
        if self._pending:
            taken: list[_Pending] = []
            rows = 0
            while self._pending and (
                not taken or rows + self._pending[0].rows <= self.config.max_write_rows
            ):
                item = self._pending.popleft()
                taken.append(item)
                rows += item.rows
            merged = new_batch()
            for item in taken:
                for table, table_rows in item.batch.items():
                    merged[table].extend(table_rows)
            if await self._send(merged, rows):
                self._memory_rows -= rows
                return True
            self._pending.extendleft(reversed(taken))
            self._journal_pending()
            return False
        return await self._replay_spill()

    async def _replay_spill(self) -> bool:
        self.spill.rotate()
        for path in self.spill.closed_segments():
            rows_done = 0
            for batch in self.spill.read(path):
                rows = batch_size(batch)
                if not await self._send(batch, rows):
                    return False
                rows_done += rows
            self.spill.done(path, rows_done)
        if not self.spill.rows_on_disk:
            # Nothing was held while the last segment was written: memory may hold again.
            self._journaling = False
            if self.state != "ok":
                self._recovered()
        return True

    async def _send(self, batch: Batch, rows: int) -> bool:
        try:
            await self.writer.write_batch(batch)
        except Exception as exc:
            self.last_error = (
                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            )
            if is_data_error(exc):
                # The database is there but refuses these rows: retrying would block the
                # recorder forever. Write what it accepts, keep the refused rows in a file.
                await self._isolate(batch)
                return True
            if self.state == "ok":
                self.state = "degraded"
                log.warning("recorder: database write failed, holding rows: %s", self.last_error)
                self._publish_status()
            return False
        self.written_rows += rows
        self.batches += 1
        if self.state != "ok" and not self.spill.rows_on_disk:
            self._recovered()
        return True

    def _recovered(self) -> None:
        """Writing as it goes again: the last outage's error is history, not the state."""
        self.state = "ok"
        self.last_error = ""
        self._publish_status()

    async def _isolate(self, batch: Batch) -> None:
        for table, rows in batch.items():
            try:
                await self.writer.write_batch({table: rows})
                self.written_rows += len(rows)
                continue
            except Exception as exc:
                if not is_data_error(exc):
                    raise
            for row in rows:
                try:
                    await self.writer.write_batch({table: [row]})
                    self.written_rows += 1
                except Exception as exc:
                    if not is_data_error(exc):
                        raise
                    self.rejected_rows += self.rejected.append({table: [row]})
                    log.error(
                        "recorder: %s refused a row, kept in %s: %r",
                        table,
                        self.rejected.folder,
                        exc,
                    )
        self._publish_status()

    # -- status ----------------------------------------------------------------------------

    def status(self) -> RecorderStatus:
        """The recorder's state now."""
        queued = sum(s.depth for s in self._subs)
        lag = (time.monotonic() - self._pending[0].born) * 1000.0 if self._pending else 0.0
        return RecorderStatus(
            state=self.state,
            written_rows=self.written_rows,
            backlog_rows=self._memory_rows + queued,
            spilled_rows=self.spill.rows_on_disk,
            spilled_total=self.spilled_total,
            lag_ms=lag,
            batches=self.batches,
            rejected_rows=self.rejected_rows,
            trade_gaps=self.trade_gaps,
            missing_trades=self.missing_trades,
            last_error=self.last_error,
            time_ms=int(time.time() * 1000),
        )

    def _publish_status(self) -> None:
        self.bus.publish(topics.RECORDER, self.status())

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.status_every_s)
            self._publish_status()
