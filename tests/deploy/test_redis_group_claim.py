"""A consumer-group member that dies holding entries: the others claim them (XAUTOCLAIM)
once they have been idle long enough, so no trade is lost with it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import redis.asyncio as redis

from omnitrade_tui.bus import Bus, each, topics
from omnitrade_tui.domain.models import Trade
from omnitrade_tui.store.redis_bridge import RedisBridgePublisher
from omnitrade_tui.store.redis_feed import RedisFeed
from tests.waiting import until

pytestmark = pytest.mark.redis


async def test_entries_a_dead_member_took_are_claimed_by_the_living(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    stream = f"omt:test:claim:{uuid.uuid4().hex}"
    source = Bus()
    publisher = RedisBridgePublisher(source, client, stream, ("md.>",), per_entry=10)
    try:
        await publisher.start()
        for i in range(200):
            trade = Trade(
                symbol="ETHUSDT", trade_id=i, price=1.0, qty=0.1, time_ms=i, buyer_is_maker=False
            )
            source.publish(topics.trade("ETHUSDT"), trade)

        async def bridged() -> bool:
            return bool(await client.xlen(stream)) and publisher.sent == 200

        await until(bridged, "the bridge", 4.0, interval=0.02, fail=False)
        # A member reads some entries and dies before acknowledging them.
        await client.xgroup_create(stream, "recorders", id="0")
        taken: Any = await client.xreadgroup("recorders", "dead", {stream: ">"}, count=5)
        assert len(taken[0][1]) == 5
        # The living member gets the rest at once, and the dead one's after they idle.
        bus = Bus()
        got: list[int] = []
        bus.subscribe("md.trade.*", each(lambda t, e: got.append(e.trade_id)), name="got")
        alive = RedisFeed(
            bus, client, stream, group="recorders", consumer="alive", claim_idle_ms=300
        )
        await alive.prepare()
        task = asyncio.create_task(alive.run())
        try:
            await until(lambda: len(got) == 200, "200 entries", fail=False)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert sorted(got) == list(range(200))
        assert alive.claimed == 5
        pending: Any = await client.xpending(stream, "recorders")
        assert pending["pending"] == 0  # every entry acknowledged, the claimed ones too
    finally:
        await publisher.stop()
        await client.delete(stream)
        await client.aclose()
