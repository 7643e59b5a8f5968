"""Bus topics carried over Redis Streams, and the latest tickers and tops cached in Redis.

``RedisBridgePublisher`` takes chosen topics from this process's bus (a bounded queue
subscription) and appends them to one stream (``XADD`` with an approximate
``MAXLEN``, batched in pipelines, several events per entry). One stream for all topics
keeps one total order, so every ``RedisBridgeConsumer`` (in any process) republishes
exactly the same sequence on its own bus. An entry is ``b`` (a msgpack list of
``[topic, type name, value]``, the values being the msgspec-encoded domain structs),
``n`` (how many) and ``ns`` (publisher wall-clock ns, for measuring the bridge's lag).
``MAXLEN`` counts entries.

``RedisTopCache`` keeps the newest ticker and top of book per symbol under
``<prefix>:ticker:<SYMBOL>`` / ``<prefix>:top:<SYMBOL>`` with a TTL, for other processes
to read without subscribing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
import redis.asyncio as redis

from omnitrade_tui.bus import contract, topics
from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.bus.policy import Latest, OnFull, Queue
from omnitrade_tui.bus.subscription import (
    LatestSubscription,
    QueueSubscription,
    SubscriptionClosed,
)
from omnitrade_tui.bus.wire import WireTypes, enc_hook
from omnitrade_tui.domain.events import BookTop
from omnitrade_tui.domain.models import Ticker

log = logging.getLogger(__name__)

_encode = msgspec.msgpack.Encoder(enc_hook=enc_hook).encode
_decode_chunk = msgspec.msgpack.Decoder(list[tuple[str, str, msgspec.Raw]]).decode


class RedisBridgePublisher:
    """Carry bus topics from this process onto one Redis stream."""

    def __init__(
        self,
        bus: Bus,
        client: redis.Redis,
        stream: str,
        patterns: Iterable[str],
        maxlen: int = 1_000_000,
        batch: int = 1000,
        interval_s: float = 0.02,
        queue_bound: int = 100_000,
        per_entry: int = 250,
    ) -> None:
        self.bus = bus
        self.per_entry = per_entry
        self.client = client
        self.stream = stream
        self.maxlen = maxlen
        self.batch = batch
        self.interval_s = interval_s
        self.patterns = tuple(patterns)
        policy = Queue(bound=queue_bound, on_full=OnFull.BLOCK)
        # One queue for all patterns, so the stream keeps the bus's own order across topics.
        pattern = self.patterns[0] if len(self.patterns) == 1 else ">"
        self._filter = len(self.patterns) > 1
        self._subs = [bus.subscribe_queue(pattern, policy, name="redis-bridge")]
        self._tasks: list[asyncio.Task[None]] = []
        self.sent = 0
        self.failed_batches = 0
        self.last_error = ""

    async def start(self) -> None:
        """Start sending."""
        self._tasks = [asyncio.create_task(self._run(s)) for s in self._subs]

    async def stop(self) -> None:
        """Send what is queued, then stop."""
        for sub in self._subs:
            sub.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, sub: QueueSubscription[Any]) -> None:
        while True:
            try:
                items = await sub.get_batch(self.batch, self.interval_s)
            except SubscriptionClosed:
                return
            if not items:
                if sub.closed:
                    return
                continue
            if self._filter:
                items = [d for d in items if any(topics.matches(p, d.topic) for p in self.patterns)]
                if not items:
                    continue
            now = time.time_ns()
            pipe = self.client.pipeline(transaction=False)
            # Events go in chunks, one stream entry per chunk: one XADD per hundreds of
            # events is what lets the bridge carry tens of thousands of events a second.
            for at in range(0, len(items), self.per_entry):
                chunk = [
                    (d.topic, type(d.event).__name__, d.event)
                    for d in items[at : at + self.per_entry]
                ]
                pipe.xadd(
                    self.stream,
                    {"b": _encode(chunk), "n": len(chunk), "ns": now},
                    maxlen=self.maxlen,
                    approximate=True,
                )
            while True:
                try:
                    await pipe.execute()
                    break
                except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                    # Keep the batch and try again: the bus queue holds what comes next.
                    self.failed_batches += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("redis bridge: send failed, retrying: %s", self.last_error)
                    await asyncio.sleep(0.5)
            self.sent += len(items)


class RedisBridgeConsumer:
    """Read a bridge stream and publish its entries on this process's bus, in order."""

    def __init__(
        self,
        bus: Bus,
        client: redis.Redis,
        stream: str,
        start_id: str = "$",
        count: int = 1000,
        block_ms: int = 200,
    ) -> None:
        self.bus = bus
        self.client = client
        self.stream = stream
        self.last_id = start_id
        self.count = count
        self.block_ms = block_ms
        self.types = WireTypes()
        self.received = 0
        self.undecodable = 0
        self.lag_ns_max = 0
        self.lag_ns_sum = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def lag_ms_mean(self) -> float:
        """Mean publisher-to-consumer delay so far, in ms."""
        return self.lag_ns_sum / self.received / 1e6 if self.received else 0.0

    async def start(self) -> None:
        """Resolve ``$`` to the stream's current end, then start reading after it."""
        if self.last_id == "$":
            last: Any = await self.client.xrevrange(self.stream, count=1)
            entry_id = last[0][0] if last else b"0-0"
            self.last_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop reading."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                answer: Any = await self.client.xread(
                    {self.stream: self.last_id}, count=self.count, block=self.block_ms
                )
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                log.warning("redis bridge consumer: read failed, retrying: %r", exc)
                await asyncio.sleep(0.5)
                continue
            if not answer:
                continue
            now = time.time_ns()
            for _stream, entries in answer:
                for entry_id, fields in entries:
                    self._deliver(fields, now)
                    self.last_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id

    def _deliver(self, fields: dict[bytes, bytes], now: int) -> None:
        events = decode_entry(fields, self.types, keep=None)
        self.undecodable += events.undecodable
        lag = now - int(fields.get(b"ns", now))
        publish = self.bus.publish
        topic_named = contract.topic_named
        for topic, event in events.events:
            self.received += 1
            self.lag_ns_sum += lag
            if lag > self.lag_ns_max:
                self.lag_ns_max = lag
            publish(topic_named(topic), event)


class EntryEvents(msgspec.Struct):
    """The events of one stream entry, decoded, and how many could not be."""

    events: list[tuple[str, Any]]
    undecodable: int = 0


def decode_entry(
    fields: dict[bytes, bytes], types: WireTypes, keep: Callable[[str], bool] | None
) -> EntryEvents:
    """The ``(topic, event)`` pairs of one bridge entry whose topic ``keep`` accepts (all
    when None), in order; an undecodable entry or event is logged, counted and skipped."""
    try:
        chunk = _decode_chunk(fields[b"b"])
    except (KeyError, msgspec.DecodeError) as exc:
        log.error("redis bridge: undecodable entry skipped: %r", exc)
        return EntryEvents([], 1)
    out = EntryEvents([])
    for topic, kind, raw in chunk:
        if keep is not None and not keep(topic):
            continue
        try:
            out.events.append((topic, types.decoder(kind).decode(raw)))
        except (ValueError, msgspec.DecodeError) as exc:
            out.undecodable += 1
            log.error("redis bridge: undecodable %s on %s: %r", kind, topic, exc)
    return out


class RedisTopCache:
    """Keep the newest ticker and top of book per symbol in Redis, with a TTL."""

    def __init__(
        self,
        bus: Bus,
        client: redis.Redis,
        prefix: str = "omt",
        ttl_s: int = 30,
        interval_s: float = 0.1,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.interval_s = interval_s
        self._tickers: LatestSubscription[Ticker] = bus.subscribe_latest(
            contract.TICKER.all, Latest(), name="redis-cache:ticker"
        )
        self._tops: LatestSubscription[BookTop] = bus.subscribe_latest(
            contract.BOOK.all, Latest(), name="redis-cache:top"
        )
        self._task: asyncio.Task[None] | None = None
        self.writes = 0

    def key(self, kind: str, symbol: str) -> str:
        """The Redis key of one symbol's cached ``ticker`` or ``top``."""
        return f"{self.prefix}:{kind}:{symbol}"

    async def start(self) -> None:
        """Start writing the newest values every ``interval_s``."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Write what is pending and stop."""
        self._tickers.close()
        self._tops.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def flush(self) -> None:
        """Write the newest pending values now."""
        tickers, tops = self._tickers.drain(), self._tops.drain()
        if not tickers and not tops:
            return
        pipe = self.client.pipeline(transaction=False)
        for ticker in tickers:
            pipe.set(self.key("ticker", ticker.event.symbol), _encode(ticker.event), ex=self.ttl_s)
        for top in tops:
            pipe.set(self.key("top", top.event.symbol), _encode(top.event), ex=self.ttl_s)
        await pipe.execute()
        self.writes += len(tickers) + len(tops)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.flush()
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                log.warning("redis cache: write failed: %r", exc)


async def read_top(client: redis.Redis, symbol: str, prefix: str = "omt") -> BookTop | None:
    """The cached top of book of ``symbol``, if fresh."""
    raw: Any = await client.get(f"{prefix}:top:{symbol}")
    return None if raw is None else msgspec.msgpack.decode(raw, type=BookTop)


async def read_ticker(client: redis.Redis, symbol: str, prefix: str = "omt") -> Ticker | None:
    """The cached ticker of ``symbol``, if fresh."""
    raw: Any = await client.get(f"{prefix}:ticker:{symbol}")
    return None if raw is None else msgspec.msgpack.decode(raw, type=Ticker)
