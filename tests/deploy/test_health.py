"""Liveness and readiness: what each check reads from the bus, and the endpoints of a
running gateway on the sim."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.domain.events import ConnectionChanged, LinkState, RecorderStatus
from omnitrade_tui.domain.models import Trade
from omnitrade_tui.health import HealthLimits, HealthMonitor
from omnitrade_tui.sdnotify import Notifier
from tests.deploy.running import running_gateway
from tests.waiting import until


class Clock:
    """Monotonic seconds moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _link(state: LinkState, link: str = "market") -> ConnectionChanged:
    return ConnectionChanged(venue="sim", link=link, state=state, detail="")


def _recorder(state: str) -> RecorderStatus:
    return RecorderStatus(
        state=state,
        written_rows=1,
        backlog_rows=0,
        spilled_rows=0,
        spilled_total=0,
        lag_ms=3.0,
        last_error="connection refused" if state == "degraded" else "",
    )


def _trade() -> Trade:
    return Trade(symbol="ETHUSDT", trade_id=1, price=1.0, qty=1.0, time_ms=1, buyer_is_maker=True)


async def test_readiness_needs_the_market_link_fresh_market_data_and_a_writing_recorder() -> None:
    bus = Bus()
    clock = Clock()
    limits = HealthLimits(max_silence_s=30, max_recorder_status_age_s=10, tick_s=3600)
    health = HealthMonitor(bus, limits, notifier=Notifier(None), clock=clock)
    health.start()
    try:
        first = health.readiness()
        assert not first.ok
        assert first.checks["venue"] == (False, "market link not connected yet")
        assert first.checks["market_data"] == (False, "no market data yet")
        assert first.checks["store"] == (True, "not recording")

        bus.publish(topics.CONNECTION, _link(LinkState.CONNECTED))
        bus.publish(topics.trade("ETHUSDT"), _trade())
        bus.publish(topics.RECORDER, _recorder("ok"))
        assert health.readiness().ok, health.readiness().summary()

        # The user-data link dropping makes the run unready even with the market up.
        bus.publish(topics.CONNECTION, _link(LinkState.RECONNECTING, "user"))
        verdict = health.readiness()
        assert not verdict.ok
        assert "sim user reconnecting" in verdict.checks["venue"][1]
        bus.publish(topics.CONNECTION, _link(LinkState.CONNECTED, "user"))

        # The database refusing writes.
        bus.publish(topics.RECORDER, _recorder("degraded"))
        verdict = health.readiness()
        assert verdict.checks["store"] == (False, "recorder degraded: connection refused")
        bus.publish(topics.RECORDER, _recorder("spilling"))
        assert health.readiness().ok

        # Quiet market data, then a silent recorder.
        clock.now += 31
        verdict = health.readiness()
        assert verdict.checks["market_data"] == (False, "last event 31.0 s ago")
        assert verdict.checks["store"][0] is False
        assert "silent" in verdict.checks["store"][1]
        bus.publish(topics.trade("ETHUSDT"), _trade())
        bus.publish(topics.RECORDER, _recorder("ok"))
        assert health.readiness().ok

        health.add_check("gateway", lambda: (False, "not listening"))
        assert health.readiness().checks["gateway"] == (False, "not listening")
    finally:
        await health.aclose()


async def test_liveness_follows_the_heartbeat() -> None:
    bus = Bus()
    health = HealthMonitor(bus, HealthLimits(tick_s=0.01, max_loop_lag_s=0.5), Notifier(None))
    health.start()

    async def live_again() -> bool:
        # Ticks resume at once; a loaded machine may take a few to come back on time.
        return await until(lambda: health.liveness().ok, "liveness", 2.0, interval=0.02, fail=False)

    try:
        assert await live_again()
        # A stalled loop: nothing ticks while this coroutine holds it.
        time.sleep(0.7)  # noqa: ASYNC251 (the stall is the point)
        assert not health.liveness().ok
        assert await live_again()
    finally:
        await health.aclose()


async def test_a_gateway_answers_live_and_ready_on_its_metrics_port(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as (gw, base), aiohttp.ClientSession() as http:
        async with http.get(f"{base}/livez") as resp:
            assert resp.status == 200
            assert (await resp.json())["ok"] is True
        body: dict[str, object] = {}
        for _ in range(200):  # the sim connects and trades within a second or two
            async with http.get(f"{base}/readyz") as resp:
                body = await resp.json()
                if resp.status == 200:
                    break
            await asyncio.sleep(0.05)
        assert body.get("ok") is True, json.dumps(body)
        checks = body["checks"]
        assert isinstance(checks, dict)
        assert set(checks) == {"loop", "venue", "market_data", "store", "gateway"}
        assert checks["gateway"]["detail"].startswith(f"serving at {gw.url}")
