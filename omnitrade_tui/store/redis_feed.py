"""Market data from the Redis Streams feed instead of a venue connection.

A recorder (``omnitrade record --redis URL --from-redis``) on another machine takes what
one publishing run (``omnitrade record --redis URL``, the bridge of ``redis_bridge.py``)
puts on the stream, and publishes it on its own bus, where the recorder keeps it as if it
had come from the venue:

* alone (no group): every entry, in the stream's order (``RedisBridgeConsumer``), from the
  newest on: the same sequence the publisher's bus carried, so the same book;
* in a consumer group (``--redis-group NAME``): each entry goes to one member only
  (``XREADGROUP``), so several recorders share the work and each trade is stored once
  between them. A member acknowledges an entry (``XACK``) once its events are on its bus
  (the recorder journals what the database has not taken, so a crash after that loses
  nothing); entries a dead member took and never acknowledged are claimed by the others
  after ``claim_idle_ms`` (``XAUTOCLAIM``). A new group starts at the beginning of what
  the stream keeps (its ``MAXLEN``); every write is idempotent, so a replay is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import redis.asyncio as redis

from omnitrade_tui.bus import contract, topics
from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.bus.wire import WireTypes
from omnitrade_tui.domain.events import ConnectionChanged, LinkState
from omnitrade_tui.store.errors import StoreError
from omnitrade_tui.store.redis_bridge import decode_entry

log = logging.getLogger(__name__)

#: Transient Redis failures: retried, never fatal.
_REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, OSError)


def symbol_of(topic: str) -> str | None:
    """The symbol a market-data topic names (``md.trade.ETHUSDT``, ``md.candle.ETHUSDT.1m``)."""
    parts = topic.split(".")
    if len(parts) < 3 or parts[0] != "md":
        return None
    return parts[2]


class RedisFeed:
    """Reads a bridge stream (alone, or as one member of a consumer group) onto a bus."""

    def __init__(
        self,
        bus: Bus,
        client: redis.Redis,
        stream: str,
        *,
        group: str | None = None,
        consumer: str = "",
        symbols: frozenset[str] | None = None,
        count: int = 100,
        block_ms: int = 200,
        claim_idle_ms: int = 30_000,
    ) -> None:
        self.bus = bus
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer or f"record-{id(self):x}"
        self.symbols = symbols
        self.count = count
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.types = WireTypes()
        self.last_id = "$"
        #: Entries read, events published, and entries or events that could not be decoded.
        self.entries = 0
        self.published = 0
        self.undecodable = 0
        self.claimed = 0

    async def prepare(self) -> None:
        """Join the group (made at the stream's start if new), or find the stream's end."""
        if self.group is None:
            last: Any = await self.client.xrevrange(self.stream, count=1)
            self.last_id = _text(last[0][0]) if last else "0-0"
            return
        try:
            await self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _link(self, state: LinkState, detail: str = "") -> None:
        # The feed is this run's market link: the status bar, /readyz and the metrics
        # follow it as they follow a venue's stream.
        self.bus.publish(
            topics.CONNECTION,
            ConnectionChanged(
                venue="redis",
                link="market",
                state=state,
                detail=detail,
                time_ms=int(time.time() * 1000),
            ),
        )

    async def run(self) -> int:
        """Read and publish until cancelled; returns the events published."""
        next_claim = time.monotonic()
        self._link(LinkState.CONNECTED, self.stream)
        up = True
        while True:
            try:
                if self.group is not None and time.monotonic() >= next_claim:
                    await self._claim_stale()
                    next_claim = time.monotonic() + self.claim_idle_ms / 2000
                entries = await self._read()
            except _REDIS_DOWN as exc:
                log.warning("redis feed: read failed, retrying: %r", exc)
                if up:
                    self._link(LinkState.RECONNECTING, str(exc))
                    up = False
                await asyncio.sleep(0.5)
                continue
            if not up:
                self._link(LinkState.CONNECTED, self.stream)
                up = True
            await self._deliver_all(entries)

    async def _read(self) -> list[tuple[Any, dict[bytes, bytes]]]:
        answer: Any
        if self.group is None:
            answer = await self.client.xread(
                {self.stream: self.last_id}, count=self.count, block=self.block_ms
            )
        else:
            answer = await self.client.xreadgroup(
                self.group,
                self.consumer,
                {self.stream: ">"},
                count=self.count,
                block=self.block_ms,
            )
        return [entry for _stream, entries in answer or [] for entry in entries]

    async def _claim_stale(self) -> None:
        """Take over entries a member read and never acknowledged (it died)."""
        assert self.group is not None
        answer: Any = await self.client.xautoclaim(
            self.stream, self.group, self.consumer, self.claim_idle_ms, "0-0", count=self.count
        )
        entries = [e for e in answer[1] if e[1]]  # trimmed entries come back empty
        if entries:
            self.claimed += len(entries)
            log.info("redis feed: claimed %d entries a silent member left", len(entries))
            await self._deliver_all(entries)

    async def _deliver_all(self, entries: list[tuple[Any, dict[bytes, bytes]]]) -> None:
        for entry_id, fields in entries:
            await self._deliver(fields)
            self.entries += 1
            self.last_id = _text(entry_id)
            if self.group is not None:
                try:
                    await self.client.xack(self.stream, self.group, entry_id)
                except _REDIS_DOWN as exc:  # left pending: claimed again, written again
                    log.warning("redis feed: ack failed: %r", exc)

    def _wanted(self, topic: str) -> bool:
        # Market data only: executions and balances belong to the publisher's account.
        if not topic.startswith("md."):
            return False
        return self.symbols is None or symbol_of(topic) in self.symbols

    async def _deliver(self, fields: dict[bytes, bytes]) -> None:
        decoded = decode_entry(fields, self.types, keep=self._wanted)
        self.undecodable += decoded.undecodable
        for topic, event in decoded.events:
            # Waits while the recorder's queue is full: back-pressure, not loss.
            await self.bus.publish_wait(contract.topic_named(topic), event)
            self.published += 1


def _text(entry_id: Any) -> str:
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def redis_feed_source(feed: RedisFeed) -> Callable[[Bus], Coroutine[Any, Any, int]]:
    """``record``'s market-data source: the feed, joined, read until cancelled."""

    async def run(bus: Bus) -> int:
        await feed.prepare()
        return await feed.run()

    return run


async def open_market_feed(
    stack: contextlib.AsyncExitStack, bus: Bus, redis_url: str, stream: str
) -> RedisFeed:
    """A run's market data from the feed at ``redis_url``/``stream`` (``market_data =
    "redis"``), from its newest entry on; closed with ``stack`` (an ``AsyncExitStack``).

    Raises:
        StoreError: Redis does not answer.
    """
    client = redis.Redis.from_url(redis_url)
    stack.push_async_callback(client.aclose)
    feed = RedisFeed(bus, client, stream)
    try:
        await feed.prepare()
    except _REDIS_DOWN as exc:
        raise StoreError(f"cannot reach the market-data feed in Redis: {exc}") from exc
    return feed
