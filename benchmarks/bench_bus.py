"""Bus publish to 10 synchronous subscribers, against a bus of one Queue + task per subscriber.

Goal (issue 2): <= 1 us per subscriber per message. The baseline is the design the
reference warns about (docs/reference/performance.md §2.7): every subscriber gets its own
asyncio.Queue and consumer task, so each message costs a put and a task wake-up per subscriber.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks.harness import Result
from omnitrade_tui.bus import Bus, Topic, each

SUBSCRIBERS = 10
GOAL_US_PER_SUBSCRIBER = 1.0


def _ours(messages: int) -> float:
    bus = Bus()
    counts = [0] * SUBSCRIBERS

    def make(i: int) -> Any:
        def on_event(topic: str, event: Any) -> None:
            counts[i] += 1

        return on_event

    for i in range(SUBSCRIBERS):
        bus.subscribe("md.trade.*", each(make(i)), name=f"s{i}")
    publish = bus.publish
    # A topic as the venue's stream publishes one (a ``Topic``), carrying ints here.
    topic = Topic("md.trade.BTCUSDT", int)
    start = time.perf_counter()
    for i in range(messages):
        publish(topic, i)
    took = time.perf_counter() - start
    assert all(c == messages for c in counts)
    return took


async def _queue_bus(messages: int) -> float:
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue() for _ in range(SUBSCRIBERS)]
    counts = [0] * SUBSCRIBERS
    done = asyncio.Event()

    async def consumer(i: int) -> None:
        q = queues[i]
        while True:
            await q.get()
            counts[i] += 1
            if counts[i] == messages and all(c == messages for c in counts):
                done.set()

    tasks = [asyncio.create_task(consumer(i)) for i in range(SUBSCRIBERS)]
    await asyncio.sleep(0)
    start = time.perf_counter()
    for i in range(messages):
        for q in queues:
            q.put_nowait(i)
        if i % 256 == 0:
            await asyncio.sleep(0)  # a live feed yields between frames
    await done.wait()
    took = time.perf_counter() - start
    for t in tasks:
        t.cancel()
    return took


def run(quick: bool = False) -> list[Result]:
    """Per-subscriber cost of one publish, ours against one Queue + task per subscriber."""
    messages = 20_000 if quick else 200_000
    ours = min(_ours(messages) for _ in range(3))
    base = min(asyncio.run(_queue_bus(messages)) for _ in range(3))
    ours_us = ours / messages / SUBSCRIBERS * 1e6
    base_us = base / messages / SUBSCRIBERS * 1e6
    return [
        Result(
            name="bus.publish_10_sync_subscribers",
            figures={
                "messages": messages,
                "subscribers": SUBSCRIBERS,
                "ours_us_per_subscriber_msg": round(ours_us, 4),
                "baseline_us_per_subscriber_msg": round(base_us, 4),
                "ours_msgs_per_s": round(messages / ours),
            },
            baseline="one asyncio.Queue + consumer task per subscriber",
            ratio=base / ours,
            goal=f"<= {GOAL_US_PER_SUBSCRIBER} us per subscriber per message",
            met=ours_us <= GOAL_US_PER_SUBSCRIBER,
        )
    ]
