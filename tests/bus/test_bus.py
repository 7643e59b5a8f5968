"""Bus semantics: order, wildcards, each policy, conflation, isolation, commands, metrics."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from omnitrade_tui.bus import (
    Bus,
    CommandTimeout,
    NoHandler,
    OnFull,
    QueueOverflow,
    SubscriberFailed,
    SubscriptionClosed,
    Topic,
    each,
    latest,
    queue,
    topics,
)
from omnitrade_tui.domain.commands import Command


def ints(name: str) -> Topic[int]:
    """A topic of ints: these tests are about routing, not the contract's event types."""
    return Topic(name, int)


class Ping(Command[int], frozen=True, kw_only=True):
    name: ClassVar[str] = "test.ping"
    value: int


class Slow(Command[str], frozen=True, kw_only=True):
    name: ClassVar[str] = "test.slow"


def collect(bus: Bus, pattern: str) -> list[tuple[str, Any]]:
    got: list[tuple[str, Any]] = []
    bus.subscribe(pattern, each(lambda t, e: got.append((t, e))))
    return got


def test_order_per_topic_is_publish_order() -> None:
    bus = Bus(check_contract=False)  # routing semantics, on ints
    got = collect(bus, "md.trade.BTCUSDT")
    for i in range(1000):
        bus.publish(ints("md.trade.BTCUSDT"), i)
    assert [e for _, e in got] == list(range(1000))


def test_wildcards() -> None:
    bus = Bus(check_contract=False)  # routing semantics, on ints
    one = collect(bus, "md.book.*")
    rest = collect(bus, "md.>")
    exact = collect(bus, "md.book.ETHUSDT")
    bus.publish(ints("md.book.BTCUSDT"), 1)
    bus.publish(ints("md.book.ETHUSDT"), 2)
    bus.publish(ints("md.candle.BTCUSDT.1m"), 3)
    bus.publish(ints("exec.order"), 4)
    assert [e for _, e in one] == [1, 2]
    assert [e for _, e in rest] == [1, 2, 3]
    assert exact == [("md.book.ETHUSDT", 2)]


def test_bad_patterns_are_refused() -> None:
    with pytest.raises(ValueError, match="empty segment"):
        Bus().subscribe("md..book", each(lambda t, e: None))
    with pytest.raises(ValueError, match="last segment"):
        Bus().subscribe("md.>.x", each(lambda t, e: None))


def test_subscribing_later_sees_later_events_only_and_unsubscribe_stops_delivery() -> None:
    bus = Bus()
    bus.publish(ints("a.b"), 0)
    got: list[Any] = []
    sub = bus.subscribe("a.b", each(lambda t, e: got.append(e)))
    bus.publish(ints("a.b"), 1)
    sub.close()
    bus.publish(ints("a.b"), 2)
    assert got == [1]


def test_a_raising_subscriber_is_isolated_and_reported() -> None:
    bus = Bus()
    errors = collect(bus, topics.BUS_ERROR)
    before = collect(bus, "x.y")

    def boom(topic: str, event: Any) -> None:
        raise RuntimeError("subscriber bug")

    bus.subscribe("x.y", each(boom), name="boom")
    after = collect(bus, "x.y")
    bus.publish(ints("x.y"), 1)
    bus.publish(ints("x.y"), 2)
    assert [e for _, e in before] == [1, 2]
    assert [e for _, e in after] == [1, 2]
    assert len(errors) == 2
    failed = errors[0][1]
    assert isinstance(failed, SubscriberFailed)
    assert failed.subscriber == "boom" and failed.topic == "x.y"
    assert "subscriber bug" in failed.detail
    assert bus.metrics().subscriber("boom").errors == 2


def test_a_failing_error_handler_does_not_recurse() -> None:
    bus = Bus()

    def boom(topic: str, event: Any) -> None:
        raise RuntimeError("again")

    bus.subscribe(topics.BUS_ERROR, each(boom), name="bad-error-handler")
    bus.subscribe("x", each(boom), name="bad")
    bus.publish(ints("x"), 1)  # must return, not recurse forever
    assert bus.metrics().subscriber("bad-error-handler").errors == 1


async def test_queue_delivers_in_order_and_in_batches() -> None:
    bus = Bus(check_contract=False)  # routing semantics, on ints
    sub = bus.subscribe_queue("md.trade.*", queue(1000), name="recorder")
    for i in range(700):
        bus.publish(ints("md.trade.X"), i)
    first = await sub.get_batch(500, timeout=0.2)
    second = await sub.get_batch(500, timeout=0.05)
    assert [d.event for d in first] == list(range(500))
    assert [d.event for d in second] == list(range(500, 700))
    assert all(d.topic == "md.trade.X" for d in first)


async def test_get_batch_returns_at_timeout_with_what_it_has() -> None:
    bus = Bus()
    sub = bus.subscribe_queue("t", queue(10))
    loop = asyncio.get_running_loop()
    loop.call_later(0.01, bus.publish, Topic("t", str), "a")
    start = loop.time()
    batch = await sub.get_batch(5, timeout=0.1)
    assert [d.event for d in batch] == ["a"]
    assert 0.09 <= loop.time() - start < 1.0


async def test_queue_drop_oldest_keeps_the_newest_and_counts_drops() -> None:
    bus = Bus()
    sub = bus.subscribe_queue("t", queue(3, OnFull.DROP_OLDEST), name="q")
    for i in range(10):
        bus.publish(ints("t"), i)
    assert [d.event for d in await sub.get_batch(10, timeout=0)] == [7, 8, 9]
    m = bus.metrics().subscriber("q")
    assert m.dropped == 7 and m.delivered == 10 and m.depth == 0


async def test_queue_error_policy_fails_the_subscription_not_the_publisher() -> None:
    bus = Bus()
    errors = collect(bus, topics.BUS_ERROR)
    others = collect(bus, "t")
    sub = bus.subscribe_queue("t", queue(2, OnFull.ERROR), name="strict")
    for i in range(5):
        bus.publish(ints("t"), i)  # never raises
    assert [e for _, e in others] == [0, 1, 2, 3, 4]
    assert len(errors) == 1 and errors[0][1].error == "QueueOverflow"
    assert (await sub.get()).event == 0  # what was queued can still be read
    assert (await sub.get()).event == 1
    with pytest.raises(QueueOverflow):
        await sub.get()
    assert sub.closed


async def test_queue_block_policy_makes_publish_wait_wait_for_room() -> None:
    bus = Bus()
    sub = bus.subscribe_queue("t", queue(2, OnFull.BLOCK))
    await bus.publish_wait(ints("t"), 1)
    await bus.publish_wait(ints("t"), 2)
    third = asyncio.create_task(bus.publish_wait(ints("t"), 3))
    await asyncio.sleep(0.02)
    assert not third.done() and sub.depth == 2  # the producer is held back
    assert (await sub.get()).event == 1
    await asyncio.wait_for(third, 1.0)
    assert [d.event for d in await sub.get_batch(5, timeout=0)] == [2, 3]


async def test_a_slow_queue_subscriber_does_not_delay_the_others() -> None:
    bus = Bus()
    fast: list[int] = []
    bus.subscribe("t", each(lambda t, e: fast.append(e)))
    slow = bus.subscribe_queue("t", queue(100_000))

    async def slow_consumer() -> int:
        seen = 0
        while seen < 50:
            await slow.get()
            seen += 1
            await asyncio.sleep(0.001)
        return seen

    task = asyncio.create_task(slow_consumer())
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(10_000):
        bus.publish(ints("t"), i)
    took = loop.time() - start
    assert len(fast) == 10_000  # delivered during publish, not after the slow one
    assert slow.depth >= 10_000 - 1
    assert took < 1.0
    assert await task == 50


async def test_latest_conflates_per_key() -> None:
    bus = Bus(check_contract=False)  # routing semantics, on ints
    screen = bus.subscribe_latest("md.book.*", latest(), name="screen")
    for i in range(100):
        bus.publish(ints("md.book.BTCUSDT"), i)
        bus.publish(ints("md.book.ETHUSDT"), -i)
    got = {d.topic: d.event for d in screen.drain()}
    assert got == {"md.book.BTCUSDT": 99, "md.book.ETHUSDT": -99}
    assert screen.drain() == []
    assert bus.metrics().subscriber("screen").dropped == 198


async def test_latest_with_a_key_function_and_wait() -> None:
    bus = Bus()
    sub = bus.subscribe_latest("t", latest(key=lambda t, e: e["sym"]))
    loop = asyncio.get_running_loop()
    rows: Topic[dict[str, object]] = Topic("t", dict)
    loop.call_soon(bus.publish, rows, {"sym": "A", "v": 1})
    loop.call_soon(bus.publish, rows, {"sym": "A", "v": 2})
    loop.call_soon(bus.publish, rows, {"sym": "B", "v": 3})
    await asyncio.sleep(0)
    got = await asyncio.wait_for(sub.wait(), 1.0)
    assert sorted(d.event["v"] for d in got) == [2, 3]


async def test_closed_subscriptions_raise_when_drained() -> None:
    bus = Bus()
    sub = bus.subscribe_queue("t", queue(5))
    bus.publish(ints("t"), 1)
    sub.close()
    bus.publish(ints("t"), 2)
    assert (await sub.get()).event == 1
    with pytest.raises(SubscriptionClosed):
        await sub.get()


async def test_command_reply() -> None:
    bus = Bus()
    journal = collect(bus, "cmd.>")

    async def handle(cmd: Ping) -> int:
        return cmd.value * 2

    bus.handle(Ping, handle)
    assert await bus.request(Ping(value=21)) == 42
    assert journal == [("cmd.test.ping", Ping(value=21))]


async def test_command_errors_reach_the_requester() -> None:
    bus = Bus()

    async def handle(cmd: Ping) -> int:
        raise ValueError(f"bad value {cmd.value}")

    bus.handle(Ping, handle)
    with pytest.raises(ValueError, match="bad value 3"):
        await bus.request(Ping(value=3))


async def test_command_timeout_does_not_cancel_the_handler() -> None:
    bus = Bus()
    finished = asyncio.Event()

    async def handle(cmd: Slow) -> str:
        await asyncio.sleep(0.1)
        finished.set()
        return "done"

    bus.handle(Slow, handle)
    with pytest.raises(CommandTimeout, match=r"no reply within 0\.01s"):
        await bus.request(Slow(), timeout=0.01)
    await asyncio.wait_for(finished.wait(), 1.0)  # the order still reached the venue


async def test_unhandled_command_and_double_registration() -> None:
    bus = Bus()
    with pytest.raises(NoHandler):
        await bus.request(Ping(value=1))

    async def handle(cmd: Ping) -> None:
        return None

    bus.handle(Ping, handle)
    with pytest.raises(ValueError, match="already has a handler"):
        bus.handle(Ping, handle)
    assert bus.handles(Ping)
    bus.unhandle(Ping)
    assert not bus.handles(Ping)


def test_metrics_count_per_topic_and_subscriber_across_resubscriptions() -> None:
    bus = Bus(check_contract=False)  # routing semantics, on ints
    bus.subscribe("md.trade.*", each(lambda t, e: None), name="tape")
    for _ in range(5):
        bus.publish(ints("md.trade.A"), 1)
    bus.subscribe("md.trade.A", each(lambda t, e: None), name="late")  # resets the routes
    for _ in range(3):
        bus.publish(ints("md.trade.A"), 1)
    bus.publish(ints("md.trade.B"), 1)
    m = bus.metrics()
    assert m.published("md.trade.A") == 8 and m.published("md.trade.B") == 1
    assert m.subscriber("tape").delivered == 9
    assert m.subscriber("late").delivered == 3
    row = next(t for t in m.topics if t.topic == "md.trade.A")
    assert row.subscribers == 2
    # Reading metrics twice does not double count.
    assert bus.metrics().subscriber("tape").delivered == 9


def test_slow_callbacks_show_in_worst_lag() -> None:
    import time

    bus = Bus()
    bus.subscribe("t", each(lambda t, e: time.sleep(0.002)), name="slow")
    for _ in range(64):
        bus.publish(ints("t"), 1)
    assert bus.metrics().subscriber("slow").worst_lag_s >= 0.002


async def test_queue_lag_is_measured() -> None:
    bus = Bus()
    sub = bus.subscribe_queue("t", queue(10), name="q")
    bus.publish(ints("t"), 1)
    await asyncio.sleep(0.02)
    await sub.get()
    assert bus.metrics().subscriber("q").worst_lag_s >= 0.02


async def test_close_during_get_batch_wakes_the_consumer_at_once() -> None:
    bus = Bus()
    sub = bus.subscribe_queue("t", queue(10))
    loop = asyncio.get_running_loop()
    start = loop.time()
    waiting = asyncio.ensure_future(sub.get_batch(5, timeout=5.0))
    await asyncio.sleep(0)  # get_batch is now inside its wait, the wait's own task not yet run
    sub.close()
    with pytest.raises(SubscriptionClosed):
        await waiting
    assert loop.time() - start < 1.0
