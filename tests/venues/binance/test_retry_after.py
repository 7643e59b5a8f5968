"""A 429's ``Retry-After`` holds every request, of every kind, until it has passed: orders,
queries and the order-book resync's snapshot alike, whether they were queued in the
governor, pacing themselves, or just about to be sent when the 429 arrived. Checked from
both ends: no request leaves us after a 429 arrived and inside its ``Retry-After``, and
the venue sees none inside the ``Retry-After`` it gave (beyond those plainly in flight)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import pytest

from benchmarks.drill import Drill, DrillFaults
from omnitrade_tui.venues.binance.rest import BinanceError, BinanceRest
from omnitrade_tui.venues.sim.venue import SimVenue

pytestmark = pytest.mark.slow


async def test_no_request_inside_a_retry_after_while_books_resync() -> None:
    async with Drill.start(DrillFaults()) as drill:
        sim, rest = drill.sim, drill.rest
        sim.faults.retry_after_s = 1

        async def caller(kind: int) -> None:
            # Callers that always have a request ready: whichever path lets one through
            # while a Retry-After runs, one of them takes it.
            while True:
                with contextlib.suppress(BinanceError):
                    if kind == 0:
                        await rest.request("GET", "time")
                    elif kind == 1:
                        await rest.depth("ETHUSDT", 100)
                    else:
                        await rest.request("GET", "openOrders", {"symbol": "BTCUSDT"}, True)
                await asyncio.sleep(0)

        callers = [asyncio.create_task(caller(i % 3)) for i in range(6)]
        try:
            for _ in range(6):
                sim.faults.throttle = 1
                for sync in drill.stream.books.values():
                    sync.resync("test: a snapshot during a 429 burst")
                await asyncio.sleep(1.4)
        finally:
            for task in callers:
                task.cancel()
            await asyncio.gather(*callers, return_exceptions=True)
        assert drill.throttled >= 6, "the bursts never reached the client"
        await drill.check_no_spinning()
        assert drill.banned == 0, "the venue banned us for ignoring its Retry-After"
        await drill.wait_live(15.0)  # the books resynced once the Retry-After passed


async def test_a_caller_pacing_itself_still_waits_out_a_retry_after() -> None:
    # Near the weight limit a caller spreads its requests over the rest of the minute; a
    # 429 that comes meanwhile must hold it too, not only the callers that come later.
    async with SimVenue.start(symbols=["ETHUSDT"], generate=False) as sim:
        # A clock one second into a minute: the pacing is predictable (~0.4 s).
        minute_start = time.time() // 60 * 60
        rest = BinanceRest(sim.rest_url, clock=lambda: minute_start + 1.0)
        sent: list[float] = []

        async def note(request: httpx.Request) -> None:
            sent.append(time.monotonic())

        rest._http.event_hooks["request"].append(note)
        try:
            rest._weight_minute = rest.now_ms() // 60_000
            rest.weight_used = int(rest.weight_limit * 0.9)  # pacing: a sleep before sending
            caller = asyncio.create_task(rest.request("GET", "time"))
            await asyncio.sleep(0.01)
            assert not sent, "the caller should be pacing itself"
            blocked_until = time.monotonic() + 1.5
            rest._blocked_until = blocked_until  # what a 429 with Retry-After 1.5 s does
            await asyncio.wait_for(caller, 5)
            assert sent and sent[0] >= blocked_until, "a request went inside the Retry-After"
        finally:
            await rest.aclose()
