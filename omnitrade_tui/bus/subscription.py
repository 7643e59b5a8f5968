"""Subscriptions: the subscriber's end of the bus, one class per delivery policy."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable
from typing import Any, Generic, NamedTuple, TypeVar

from omnitrade_tui.bus.metrics import SubscriberMetrics
from omnitrade_tui.bus.policy import EventCallback, KeyFunction, OnFull

T = TypeVar("T")


class Delivery(NamedTuple, Generic[T]):
    """One event as a queue or conflating subscriber receives it."""

    topic: str
    event: T
    published_ns: int


class SubscriptionClosed(Exception):
    """The subscription was closed (by its owner or by the bus)."""


class QueueOverflow(Exception):
    """A queue subscription with ``on_full=ERROR`` overflowed and was closed."""


class Subscription:
    """Common part: a name, a topic pattern, counters, and a way to leave the bus."""

    kind = "subscription"

    def __init__(self, name: str, pattern: str, unsubscribe: Callable[[Subscription], None]):
        self.name = name
        self.pattern = str(pattern)  # a plain name, whatever Topic it was given as
        self._unsubscribe = unsubscribe
        self.closed = False
        self.delivered = 0
        self.dropped = 0
        self.errors = 0
        self.worst_lag_s = 0.0

    def deliver(self, topic: str, event: Any) -> None:
        """Hand one event to the subscriber (called by the bus)."""
        raise NotImplementedError

    def close(self) -> None:
        """Leave the bus; pending events of a queue may still be drained."""
        if not self.closed:
            self.closed = True
            self._unsubscribe(self)
            self._wake()

    def _wake(self) -> None:
        """Wake a waiting consumer (queue and conflating subscriptions)."""

    @property
    def depth(self) -> int:
        """Events waiting to be consumed."""
        return 0

    def metrics(self) -> SubscriberMetrics:
        """A snapshot of this subscriber's counters."""
        return SubscriberMetrics(
            name=self.name,
            pattern=self.pattern,
            kind=self.kind,
            delivered=self.delivered,
            dropped=self.dropped,
            errors=self.errors,
            depth=self.depth,
            worst_lag_s=self.worst_lag_s,
        )


class CallbackSubscription(Subscription):
    """``each``: the bus calls ``callback(topic, event)`` inside ``publish``.

    ``delivered`` is credited by the bus per route rather than per call, to keep the hot
    path free of bookkeeping.
    """

    kind = "each"

    def __init__(
        self,
        name: str,
        pattern: str,
        unsubscribe: Callable[[Subscription], None],
        callback: EventCallback[Any],
    ) -> None:
        super().__init__(name, pattern, unsubscribe)
        self.callback = callback

    def deliver(self, topic: str, event: Any) -> None:
        self.callback(topic, event)


class _Waiting:
    """A consumer's single-waiter wake-up, cheaper than ``asyncio.Event`` per event."""

    __slots__ = ("waiter",)

    def __init__(self) -> None:
        self.waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)
        self.waiter = None

    def arm(self) -> asyncio.Future[None]:
        """Create the wake-up future now, so a wake that comes before the await is kept."""
        self.waiter = asyncio.get_running_loop().create_future()
        return self.waiter

    async def wait(self) -> None:
        try:
            await self.arm()
        finally:
            self.waiter = None


class QueueSubscription(Subscription, Generic[T]):
    """``queue``: a bounded FIFO the subscriber drains with ``get``/``get_batch``; its
    deliveries carry the events (``T``) of the topic it follows."""

    kind = "queue"

    def __init__(
        self,
        name: str,
        pattern: str,
        unsubscribe: Callable[[Subscription], None],
        bound: int,
        on_full: OnFull,
        on_overflow: Callable[[Subscription, str], None],
    ) -> None:
        super().__init__(name, pattern, unsubscribe)
        self.bound = bound
        self.on_full = on_full
        self.overflowed = 0  # BLOCK: events accepted past the bound by a sync publish
        self._items: deque[Delivery[T]] = deque()
        self._consumer = _Waiting()
        self._space: list[asyncio.Future[None]] = []
        self._on_overflow = on_overflow
        self._failure: Exception | None = None

    @property
    def depth(self) -> int:
        return len(self._items)

    @property
    def full(self) -> bool:
        """Whether the queue holds ``bound`` events or more."""
        return len(self._items) >= self.bound

    def deliver(self, topic: str, event: T) -> None:
        items = self._items
        if len(items) >= self.bound:
            policy = self.on_full
            if policy is OnFull.DROP_OLDEST:
                items.popleft()
                self.dropped += 1
            elif policy is OnFull.ERROR:
                self.dropped += 1
                self._failure = QueueOverflow(
                    f"subscription {self.name!r} overflowed its bound of {self.bound}"
                )
                self._on_overflow(self, topic)
                self.close()
                return
            else:
                self.overflowed += 1
        items.append(Delivery(topic, event, time.perf_counter_ns()))
        self.delivered += 1
        self._consumer.wake()

    def _wake(self) -> None:
        self._consumer.wake()
        self._release_space()

    def _release_space(self) -> None:
        if len(self._items) < self.bound or self.closed:
            waiters, self._space = self._space, []
            for w in waiters:
                if not w.done():
                    w.set_result(None)

    async def wait_for_space(self) -> None:
        """Wait until the queue has room (used by ``Bus.publish_wait`` for ``BLOCK``)."""
        while len(self._items) >= self.bound and not self.closed:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._space.append(fut)
            await fut

    def _take(self) -> Delivery[T]:
        item = self._items.popleft()
        lag = (time.perf_counter_ns() - item.published_ns) / 1e9
        if lag > self.worst_lag_s:
            self.worst_lag_s = lag
        if self._space:
            self._release_space()
        return item

    def _check_open(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self.closed:
            raise SubscriptionClosed(self.name)

    def get_nowait(self) -> Delivery[T] | None:
        """The oldest event, or ``None`` when the queue is empty."""
        if self._items:
            return self._take()
        self._check_open()
        return None

    async def get(self) -> Delivery[T]:
        """Wait for and return the oldest event.

        Raises:
            QueueOverflow: the subscription overflowed with ``on_full=ERROR``.
            SubscriptionClosed: the subscription was closed and is drained.
        """
        while not self._items:
            self._check_open()
            await self._consumer.wait()
        return self._take()

    async def get_batch(self, max_items: int, timeout: float) -> list[Delivery[T]]:
        """Wait up to ``timeout`` seconds for events and return up to ``max_items``.

        Returns as soon as ``max_items`` are waiting, or when the timeout passes with fewer
        (possibly none). This is the recorder's "500 rows or 200 ms" loop.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self._items) < max_items:
            if self.closed:
                if not self._items:
                    self._check_open()
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            # Arm before awaiting: wait_for would start a task whose future a close() or a
            # publish arriving in between could miss, sleeping out the whole timeout.
            armed = self._consumer.arm()
            try:
                await asyncio.wait_for(armed, remaining)
            except TimeoutError:
                break
            finally:
                self._consumer.waiter = None
        batch = []
        for _ in range(min(max_items, len(self._items))):
            batch.append(self._take())
        return batch

    async def __aiter__(self) -> AsyncIterator[Delivery[T]]:
        try:
            while True:
                yield await self.get()
        except SubscriptionClosed:
            return


class LatestSubscription(Subscription, Generic[T]):
    """``latest``: only the newest event (``T``) per key waits; older ones are conflated away."""

    kind = "latest"

    def __init__(
        self,
        name: str,
        pattern: str,
        unsubscribe: Callable[[Subscription], None],
        key: KeyFunction | None,
    ) -> None:
        super().__init__(name, pattern, unsubscribe)
        self._key = key
        self._pending: dict[Hashable, Delivery[T]] = {}
        self._consumer = _Waiting()

    @property
    def depth(self) -> int:
        return len(self._pending)

    def deliver(self, topic: str, event: T) -> None:
        key = topic if self._key is None else self._key(topic, event)
        if key in self._pending:
            self.dropped += 1  # conflated: replaced before it was read
        self._pending[key] = Delivery(topic, event, time.perf_counter_ns())
        self.delivered += 1
        self._consumer.wake()

    def _wake(self) -> None:
        self._consumer.wake()

    def drain(self) -> list[Delivery[T]]:
        """Take every pending event (the newest per key), oldest key first."""
        pending = self._pending
        if not pending:
            return []
        self._pending = {}
        now = time.perf_counter_ns()
        out = list(pending.values())
        lag = (now - min(d.published_ns for d in out)) / 1e9
        if lag > self.worst_lag_s:
            self.worst_lag_s = lag
        return out

    async def wait(self) -> list[Delivery[T]]:
        """Wait until something is pending, then drain it."""
        while not self._pending:
            if self.closed:
                raise SubscriptionClosed(self.name)
            await self._consumer.wait()
        return self.drain()
