"""The Redis bridge and cache over the real Redis: one feed, identical sequences everywhere."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis

from omnitrade_tui.bus import topics
from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.bus.policy import Each
from omnitrade_tui.cli.record import ReplayCounter, replay_source
from omnitrade_tui.domain.events import BookTop, ConnectionChanged, LinkState, OrderRejected
from omnitrade_tui.domain.models import BookLevel, Ticker, Trade
from omnitrade_tui.store.redis_bridge import (
    RedisBridgeConsumer,
    RedisBridgePublisher,
    RedisTopCache,
    read_ticker,
    read_top,
)
from tests.waiting import until

pytestmark = pytest.mark.redis


def _collect(bus: Bus, pattern: str = ">") -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []
    bus.subscribe(pattern, Each(lambda topic, event: seen.append((topic, event))))
    return seen


async def _wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    await until(condition, "the bridge", timeout, interval=0.02)


async def test_two_consumers_see_the_publishers_sequence(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    stream = f"omt:test:{uuid.uuid4().hex}"
    source, left, right = Bus(), Bus(), Bus()
    sent = _collect(source, "md.>")
    got_left, got_right = _collect(left), _collect(right)
    publisher = RedisBridgePublisher(source, client, stream, ("md.>", "exec.reject"))
    consumers = [RedisBridgeConsumer(b, client, stream, start_id="0-0") for b in (left, right)]
    try:
        await publisher.start()
        for c in consumers:
            await c.start()
        for i in range(2000):
            source.publish(
                topics.trade("ETHUSDT"),
                Trade(
                    symbol="ETHUSDT",
                    trade_id=i,
                    price=1.0 + i,
                    qty=0.1,
                    time_ms=i,
                    buyer_is_maker=False,
                ),
            )
            source.publish(
                topics.book("ETHUSDT"),
                BookTop(symbol="ETHUSDT", update_id=i, bids=[BookLevel(1.0, 2.0)], asks=[]),
            )
            source.publish(  # not bridged
                topics.CONNECTION,
                ConnectionChanged(venue="binance", link="market", state=LinkState.CONNECTED),
            )
        source.publish(
            topics.REJECT,
            OrderRejected(
                client_order_id="x", symbol="ETHUSDT", code=-2010, reason="insufficient balance"
            ),
        )
        await _wait_for(lambda: len(got_left) == 4001 and len(got_right) == 4001)
        assert got_left == got_right
        assert got_left[:4000] == sent
        assert isinstance(got_left[-1][1], OrderRejected)
        lag = consumers[0].lag_ms_mean
        print(f"bridge lag mean {lag:.2f} ms, max {consumers[0].lag_ns_max / 1e6:.2f} ms")
        assert consumers[0].undecodable == 0
        assert 0 < await client.xlen(stream) < 4001  # several events per entry
    finally:
        await publisher.stop()
        for c in consumers:
            await c.stop()
        await client.delete(stream)
        await client.aclose()


async def test_cache_keeps_the_newest_top_and_ticker_with_a_ttl(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    prefix = f"omt:test:{uuid.uuid4().hex}"
    bus = Bus()
    cache = RedisTopCache(bus, client, prefix=prefix, ttl_s=5)
    try:
        await cache.start()
        for i in range(100):
            bus.publish(
                topics.book("BTCUSDT"),
                BookTop(symbol="BTCUSDT", update_id=i, bids=[BookLevel(100.0 + i, 1.0)], asks=[]),
            )
        bus.publish(
            topics.ticker("BTCUSDT"),
            Ticker(
                symbol="BTCUSDT", last=1, open=1, high=1, low=1, volume=1, quote_volume=1, time_ms=1
            ),
        )
        await cache.stop()
        top = await read_top(client, "BTCUSDT", prefix)
        assert top is not None
        assert top.update_id == 99
        ticker = await read_ticker(client, "BTCUSDT", prefix)
        assert ticker is not None
        assert ticker.last == 1
        assert 0 < await client.ttl(f"{prefix}:top:BTCUSDT") <= 5
        assert await read_top(client, "ETHUSDT", prefix) is None
    finally:
        await client.delete(f"{prefix}:top:BTCUSDT", f"{prefix}:ticker:BTCUSDT")
        await client.aclose()


async def test_record_process_feeds_another_process_bus(
    redis_url: str, binance_data: Path, tmp_path: Path
) -> None:
    """`omnitrade record --redis` in a child process; this process's bus gets the same
    sequence the child's replay published, event for event."""
    data = binance_data / "ethusdt_20240808.gz"
    expected_bus = Bus()
    expected = _collect(expected_bus, "md.>")
    await replay_source(data, {"ETHUSDT"}, 0.0, ReplayCounter())(expected_bus)

    client = redis.Redis.from_url(redis_url)
    stream = f"omt:test:{uuid.uuid4().hex}"
    here = Bus()
    got = _collect(here)
    consumer = RedisBridgeConsumer(here, client, stream, start_id="0-0")
    await consumer.start()
    child = await asyncio.create_subprocess_exec(
        *[
            sys.executable,
            "-c",
            "from omnitrade_tui.cli import main; raise SystemExit(main())",
            "record",
            "--symbols",
            "ETHUSDT",
            "--db",
            str(tmp_path / "h.db"),
            "--replay",
            str(data),
            "--spill-dir",
            str(tmp_path / "spill"),
            "--redis",
            redis_url,
            "--redis-stream",
            stream,
            "--redis-prefix",
            stream,
        ],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await _wait_for(lambda: len(got) >= len(expected), timeout=120)
        try:
            out, _ = await asyncio.wait_for(child.communicate(), 60)
        except TimeoutError:
            child.kill()
            out, _ = await child.communicate()
            raise AssertionError(f"record did not exit: {out.decode()}") from None
        assert child.returncode == 0, out.decode()
        await asyncio.sleep(0.3)
        assert len(got) == len(expected)
        assert got == expected
        top = await read_top(client, "ETHUSDT", prefix=stream)
        assert top is not None  # the child also cached the newest top for other readers
        assert top == [e for _, e in expected if isinstance(e, BookTop)][-1]
        print(
            f"cross-process bridge: {len(got)} events, lag mean {consumer.lag_ms_mean:.1f} ms, "
            f"max {consumer.lag_ns_max / 1e6:.1f} ms"
        )
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        await consumer.stop()
        await client.delete(stream, f"{stream}:top:ETHUSDT")
        await client.aclose()
