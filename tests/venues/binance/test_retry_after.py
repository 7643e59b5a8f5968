"""A 429's ``Retry-After`` holds every request, of every kind, until it has passed: orders,
queries and the order-book resync's snapshot alike, whether they were queued in the
governor, pacing themselves, or just about to be sent when the 429 arrived. Checked from
both ends: no request leaves us after a 429 arrived and inside its ``Retry-After``, and
the venue sees none inside the ``Retry-After`` it gave (beyond those plainly in flight)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from benchmarks.bench_connector import Drill, DrillFaults
from omnitrade_tui.venues.binance.rest import BinanceError

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
        assert len(drill.throttled) >= 6, "the bursts never reached the client"
        drill.check_no_spinning()
        assert drill.banned == 0, "the venue banned us for ignoring its Retry-After"
        await drill.wait_live(15.0)  # the books resynced once the Retry-After passed
