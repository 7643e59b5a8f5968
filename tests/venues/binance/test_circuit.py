"""The REST client's circuit breaker: repeated failures pause requests, state on the bus."""

from __future__ import annotations

import asyncio

import pytest

from omnitrade_tui.bus import Bus, each, topics
from omnitrade_tui.domain.events import CircuitChanged
from omnitrade_tui.venues.binance.rest import BinanceError, BinanceRest, CircuitOpen
from omnitrade_tui.venues.sim.venue import SimVenue


async def test_failures_open_the_circuit_and_an_answer_closes_it() -> None:
    bus = Bus()
    changes: list[CircuitChanged] = []
    bus.subscribe(topics.CIRCUIT, each(lambda t, e: changes.append(e)))
    async with SimVenue.start(symbols=["ETHUSDT"], generate=False) as sim:
        rest = BinanceRest("http://127.0.0.1:9/api", bus=bus)  # nothing listens there
        rest.circuit.cooldown_s = 0.3
        try:
            for _ in range(5):
                with pytest.raises(BinanceError) as exc:
                    await rest.request("GET", "ping")
                assert not isinstance(exc.value, CircuitOpen)
            assert rest.circuit.state == "open"
            with pytest.raises(CircuitOpen, match="paused"):
                await rest.request("GET", "ping")  # fails fast: nothing is sent
            await asyncio.sleep(0.35)
            rest.base_url = sim.rest_url  # the venue is back
            assert await rest.request("GET", "ping") == {}
            assert rest.circuit.state == "closed"
        finally:
            await rest.aclose()
    assert [c.state for c in changes] == ["open", "half_open", "closed"]
    assert changes[0].failures == 5 and changes[0].retry_in_s > 0
