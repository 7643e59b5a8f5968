"""The in-process event bus: topics, publish, subscribe with a delivery policy, commands.

``publish`` is synchronous and cheap. Routes (topic -> subscribers) are resolved once per
topic and cached until the set of subscriptions changes, so a publish is a dict lookup and
one call per subscriber. Per-subscriber delivery counts of ``each`` subscribers are credited
per route when metrics are read, not per event.

An exception raised by one subscriber is caught, counted and published as a
``SubscriberFailed`` event on ``sys.bus.error``; delivery to the others goes on.

Which event type flows on which topic, and which reply a command gives, is the contract in
``bus/contract.py``: ``publish`` takes a ``Topic[T]`` and a ``T``, a subscriber of a
``Topic[T]`` receives ``T``, ``request`` of a ``Command[R]`` returns ``R``. With
``check_contract`` on (tests and debugging: ``OMNITRADE_BUS_CHECK=1``) the bus also checks
each event and each reply at run time; off, a publish costs what it did before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

from omnitrade_tui.bus import contract, topics
from omnitrade_tui.bus.contract import Topic
from omnitrade_tui.bus.metrics import BusMetrics, SubscriberMetrics, TopicMetrics
from omnitrade_tui.bus.policy import Each, Latest, Policy, Queue
from omnitrade_tui.bus.subscription import (
    CallbackSubscription,
    LatestSubscription,
    QueueSubscription,
    Subscription,
)
from omnitrade_tui.domain.commands import AnyCommand, Command
from omnitrade_tui.domain.events import SubscriberFailed

log = logging.getLogger(__name__)

C = TypeVar("C", bound=AnyCommand)
R = TypeVar("R")
T = TypeVar("T")
CommandHandler = Callable[[C], Awaitable[Any]]

#: Set to 1 to have every bus check the contract at run time (the test suite does).
CHECK_ENV = "OMNITRADE_BUS_CHECK"

# One callback in this many is timed, to find slow subscribers without paying for a clock
# read on every call.
_SAMPLE_EVERY = 64


class NoHandler(LookupError):
    """Nobody handles this command."""


class CommandTimeout(TimeoutError):
    """The command's handler did not answer in time (it may still complete)."""


class _Route:
    """Subscribers of one concrete topic, and how many events it has carried."""

    __slots__ = ("callbacks", "credited", "name", "others", "published", "subs")

    def __init__(self, name: str, subs: list[Subscription]) -> None:
        # Subscribers get the plain name, not the publisher's Topic object: what they
        # store or encode (msgspec, the database) is then a plain str.
        self.name = str(name)
        self.subs = subs
        self.callbacks = [(s, s.callback) for s in subs if isinstance(s, CallbackSubscription)]
        self.others = [s.deliver for s in subs if not isinstance(s, CallbackSubscription)]
        self.published = 0
        self.credited = 0


class Bus:
    """Publish events to topics, subscribe with a policy, send commands and await replies."""

    def __init__(self, *, check_contract: bool | None = None) -> None:
        self._subs: list[Subscription] = []
        self._routes: dict[str, _Route] = {}
        self._published_total: dict[str, int] = {}
        self._handlers: dict[str, Callable[[Any], Awaitable[Any]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sample = 0
        if check_contract is None:
            check_contract = os.environ.get(CHECK_ENV, "") == "1"
        self.checks_contract = check_contract
        if check_contract:
            # An instance attribute, so the unchecked bus pays nothing for the option.
            setattr(self, "publish", self._publish_checked)  # noqa: B010

    # -- publishing ------------------------------------------------------------------------

    def publish(self, topic: Topic[T], event: T) -> None:
        """Deliver ``event`` to every subscriber of ``topic``, now, without awaiting."""
        route = self._routes.get(topic)
        if route is None:
            route = self._resolve(topic)
        route.published += 1
        name = route.name
        if route.callbacks:
            self._sample += 1
            if self._sample >= _SAMPLE_EVERY:
                self._sample = 0
                self._publish_timed(route, name, event)
            else:
                for sub, callback in route.callbacks:
                    try:
                        callback(name, event)
                    except Exception as exc:
                        self._failed(sub, name, exc)
        for deliver in route.others:
            deliver(name, event)

    def _publish_checked(self, topic: Topic[T], event: T) -> None:
        contract.check_event(topic, event)
        Bus.publish(self, topic, event)

    def _publish_timed(self, route: _Route, topic: str, event: Any) -> None:
        clock = time.perf_counter
        for sub, callback in route.callbacks:
            start = clock()
            try:
                callback(topic, event)
            except Exception as exc:
                self._failed(sub, topic, exc)
            took = clock() - start
            if took > sub.worst_lag_s:
                sub.worst_lag_s = took

    async def publish_wait(self, topic: Topic[T], event: T) -> None:
        """Publish, first waiting for room in every full ``BLOCK`` queue of this topic.

        Producers that may go faster than their slowest consumer (a replay, a backfill)
        use this; live feeds use ``publish`` and never wait.
        """
        route = self._routes.get(topic)
        if route is None:
            route = self._resolve(topic)
        for sub in route.subs:
            if isinstance(sub, QueueSubscription) and sub.on_full == "block" and sub.full:
                await sub.wait_for_space()
        self.publish(topic, event)

    def _resolve(self, topic: str) -> _Route:
        route = _Route(topic, [s for s in self._subs if topics.matches(s.pattern, topic)])
        self._published_total.setdefault(route.name, 0)
        self._routes[topic] = route
        return route

    # -- subscribing -----------------------------------------------------------------------

    @overload
    def subscribe(
        self, pattern: Topic[T], policy: Each[T], name: str | None = None
    ) -> Subscription: ...

    @overload
    def subscribe(self, pattern: str, policy: Policy, name: str | None = None) -> Subscription: ...

    def subscribe(self, pattern: str, policy: Policy, name: str | None = None) -> Subscription:
        """Subscribe to ``pattern`` with a delivery policy (``each``, ``queue``, ``latest``).

        A ``Topic[T]`` (``topics.ORDER``, ``topics.book.all``) makes the callback's event a
        ``T``; a plain string pattern is still accepted, untyped, for the call sites not yet
        moved to the contract's topics.

        Returns the subscription; for ``queue`` and ``latest`` it is the object the
        subscriber reads from (``QueueSubscription``/``LatestSubscription``).
        """
        topics.validate_pattern(pattern)
        label = name or f"sub{len(self._subs) + 1}:{pattern}"
        sub: Subscription
        if isinstance(policy, Each):
            sub = CallbackSubscription(label, pattern, self._remove, policy.callback)
        elif isinstance(policy, Queue):
            sub = QueueSubscription(
                label, pattern, self._remove, policy.bound, policy.on_full, self._overflowed
            )
        elif isinstance(policy, Latest):
            sub = LatestSubscription(label, pattern, self._remove, policy.key)
        else:  # pragma: no cover - the Policy union is closed
            raise TypeError(f"unknown delivery policy {policy!r}")
        self._fold_counts()
        self._subs.append(sub)
        return sub

    @overload
    def subscribe_queue(
        self, pattern: Topic[T], policy: Queue, name: str | None = None
    ) -> QueueSubscription[T]: ...

    @overload
    def subscribe_queue(
        self, pattern: str, policy: Queue, name: str | None = None
    ) -> QueueSubscription[Any]: ...

    def subscribe_queue(
        self, pattern: str, policy: Queue, name: str | None = None
    ) -> QueueSubscription[Any]:
        """``subscribe`` with a queue policy, typed as the queue it returns (of the
        topic's events when ``pattern`` is a ``Topic``)."""
        sub = self.subscribe(pattern, policy, name)
        assert isinstance(sub, QueueSubscription)
        return sub

    @overload
    def subscribe_latest(
        self, pattern: Topic[T], policy: Latest, name: str | None = None
    ) -> LatestSubscription[T]: ...

    @overload
    def subscribe_latest(
        self, pattern: str, policy: Latest, name: str | None = None
    ) -> LatestSubscription[Any]: ...

    def subscribe_latest(
        self, pattern: str, policy: Latest, name: str | None = None
    ) -> LatestSubscription[Any]:
        """``subscribe`` with a conflating policy, typed as what it returns."""
        sub = self.subscribe(pattern, policy, name)
        assert isinstance(sub, LatestSubscription)
        return sub

    def _remove(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._fold_counts()
            self._subs.remove(sub)

    def _credit(self) -> None:
        """Move counts of cached routes into the per-topic and per-subscriber totals."""
        totals = self._published_total
        for route in self._routes.values():
            delta = route.published - route.credited
            if delta:
                route.credited = route.published
                totals[route.name] = totals.get(route.name, 0) + delta
                for sub, _ in route.callbacks:
                    sub.delivered += delta

    def _fold_counts(self) -> None:
        """Credit cached routes, then drop them (the set of subscriptions changed)."""
        self._credit()
        self._routes = {}

    # -- failures --------------------------------------------------------------------------

    def _failed(self, sub: Subscription, topic: str, exc: Exception) -> None:
        sub.errors += 1
        log.error("bus subscriber %s failed on %s: %r", sub.name, topic, exc)
        if topic == topics.BUS_ERROR:
            return  # a failing error handler must not feed itself
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        self.publish(
            topics.BUS_ERROR,
            SubscriberFailed(
                subscriber=sub.name, topic=topic, error=type(exc).__name__, detail=detail
            ),
        )

    def _overflowed(self, sub: Subscription, topic: str) -> None:
        log.error("bus queue subscriber %s overflowed on %s and was closed", sub.name, topic)
        self.publish(
            topics.BUS_ERROR,
            SubscriberFailed(
                subscriber=sub.name,
                topic=topic,
                error="QueueOverflow",
                detail=f"queue bound reached; subscription {sub.name!r} closed",
            ),
        )

    # -- commands --------------------------------------------------------------------------

    def handle(self, command: type[C], handler: CommandHandler[C]) -> None:
        """Register the one handler of a command type (replacing none: a second is an error)."""
        if command.name in self._handlers:
            raise ValueError(f"command {command.name!r} already has a handler")
        self._handlers[command.name] = handler

    def unhandle(self, command: type[AnyCommand]) -> None:
        """Remove the handler of a command type."""
        self._handlers.pop(command.name, None)

    def handles(self, command: type[AnyCommand]) -> bool:
        """Whether a handler is registered for the command type."""
        return command.name in self._handlers

    async def request(self, command: Command[R], timeout: float = 5.0) -> R:
        """Send a command and wait up to ``timeout`` seconds for its handler's reply, of the
        type the command declares (``Command[R]``).

        The command is first published on ``cmd.<name>`` (the journal records it). On a
        timeout the handler is *not* cancelled (an order may be half way to the venue);
        its outcome arrives later as events.

        Raises:
            NoHandler: nobody handles this command.
            CommandTimeout: no reply in time.
            Exception: whatever the handler raised (a rejection, a validation error).
        """
        handler = self._handlers.get(command.name)
        if handler is None:
            raise NoHandler(f"no handler for command {command.name!r}")
        self.publish(topics.command(command.name), command)
        task = asyncio.ensure_future(handler(command))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            # asyncio.timeout, not wait_for: on 3.11, wait_for swallows a cancellation that
            # lands as the reply arrives, and a requester being stopped then runs on.
            async with asyncio.timeout(timeout):
                reply: R = await asyncio.shield(task)
        except TimeoutError:
            task.add_done_callback(_log_late_failure)
            raise CommandTimeout(
                f"command {command.name!r} got no reply within {timeout:g}s; "
                "its outcome will arrive as events"
            ) from None
        if self.checks_contract:
            contract.check_reply(command, reply)
        return reply

    # -- metrics ---------------------------------------------------------------------------

    def metrics(self) -> BusMetrics:
        """Counters per topic and per subscriber, at this moment."""
        self._credit()
        topic_rows = []
        for topic, published in sorted(self._published_total.items()):
            n = sum(1 for s in self._subs if topics.matches(s.pattern, topic))
            topic_rows.append(TopicMetrics(topic, published, n))
        subs: list[SubscriberMetrics] = [s.metrics() for s in self._subs]
        return BusMetrics(topic_rows, subs)

    @property
    def subscriptions(self) -> list[Subscription]:
        """The live subscriptions."""
        return list(self._subs)

    async def aclose(self) -> None:
        """Close every subscription and wait for pending command handlers."""
        for sub in list(self._subs):
            sub.close()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _log_late_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("command handler failed after its requester timed out: %r", task.exception())
