"""The rate-limit governor never holds an order silently, nor longer than the venue asks:
after a 429 an order goes once the ``Retry-After`` has passed (not at the next minute),
the weight shown is the venue's latest count, and an order action held says so on
``exec.held`` (and again when it goes)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from omnitrade_tui.bus import Bus, each, topics
from omnitrade_tui.domain import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.domain.events import OrderHeld, RateLimitUsage
from omnitrade_tui.venues.binance.execution import BinanceExecution
from omnitrade_tui.venues.binance.rest import BinanceRest, Credentials, RateLimited
from omnitrade_tui.venues.sim.venue import SimVenue
from tests.waiting import until


@pytest.fixture
async def venue() -> AsyncIterator[tuple[SimVenue, BinanceExecution, list[Any]]]:
    async with SimVenue.start(symbols=["ETHUSDT"], seed=61, generate=False) as sim:
        bus = Bus()
        said: list[Any] = []
        bus.subscribe(topics.HELD, each(lambda t, e: said.append(e)))
        bus.subscribe(topics.RATE_LIMIT, each(lambda t, e: said.append(e)))
        rest = BinanceRest(sim.rest_url, Credentials(*sim.demo_key), bus=bus)
        try:
            yield sim, BinanceExecution(rest), said
        finally:
            await rest.aclose()


def resting_buy() -> OrderRequest:
    """A bid in a market with no sellers (the venue generates none here): it rests."""
    return OrderRequest(
        symbol="ETHUSDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        price=Decimal("1000"),
        quantity=Decimal("0.1"),
        time_in_force=TimeInForce.GTC,
    )


async def test_after_a_429_an_order_goes_when_the_retry_after_ends_and_says_it_waited(
    venue: Any,
) -> None:
    sim, ex, said = venue
    # Another program on this box spent the minute's weight: the venue answers 429 and asks
    # for a second's patience, after which its window has turned.
    sim.faults.retry_after_s = 1
    now = sim.now_ms() / 1000
    sim.weights["127.0.0.1"] = [now - now % 60, float(sim.weight_limit)]
    with pytest.raises(RateLimited):
        await ex.rest.request("GET", "time")
    sim.weights.clear()  # the venue's count has reset when its Retry-After ends
    usage = [e.used for e in said if isinstance(e, RateLimitUsage)]
    assert usage[-1] > sim.weight_limit
    started = time.monotonic()
    req = resting_buy()
    order, _ = await asyncio.wait_for(ex.place(req), 10)
    waited = time.monotonic() - started
    assert order.status is OrderStatus.NEW
    assert 0.8 < waited < 3, f"held {waited:.1f}s for a Retry-After of 1s"
    held = [e for e in said if isinstance(e, OrderHeld)]
    assert [(e.client_order_id, e.action, e.held) for e in held] == [
        (req.client_order_id, "place", True),
        (req.client_order_id, "place", False),
    ]
    assert 0.5 < held[0].retry_in_s <= 1.1 and "rate limit" in held[0].reason
    # The weight shown is the venue's count now, not the minute's high-water mark.
    usage = [e.used for e in said if isinstance(e, RateLimitUsage)]
    assert usage[-1] < 10


async def test_the_weight_shown_drops_when_the_venues_does_without_other_requests(
    venue: Any,
) -> None:
    sim, ex, said = venue
    sim.faults.retry_after_s = 1
    sim.faults.throttle = 1
    with pytest.raises(RateLimited):
        await ex.rest.request("GET", "account", signed=True)
    now = sim.now_ms() / 1000
    sim.weights["127.0.0.1"] = [now - now % 60, 0.0]  # the venue's window turned

    def shown() -> int:
        return [e.used for e in said if isinstance(e, RateLimitUsage)][-1]

    await until(lambda: shown() <= 5, "the weight shown to drop", 5.0)


async def test_an_order_held_for_weight_near_the_limit_is_announced(venue: Any) -> None:
    _, ex, said = venue
    rest = ex.rest
    rest._weight_minute = rest.now_ms() // 60_000
    rest.weight_used = rest.weight_limit  # our count says the minute is spent
    req = resting_buy()
    task = asyncio.create_task(ex.place(req))
    await asyncio.sleep(0.1)
    held = [e for e in said if isinstance(e, OrderHeld)]
    assert [(e.client_order_id, e.held, e.reason) for e in held] == [
        (req.client_order_id, True, "rate limit: weight")
    ]
    assert 0 < held[0].retry_in_s <= 60.1
    task.cancel()  # the trader gives up on it: the hold is still said to be over
    await asyncio.gather(task, return_exceptions=True)
    last = [e for e in said if isinstance(e, OrderHeld)][-1]
    assert (last.held, last.reason) == (False, "not sent (given up while held)")


async def test_an_order_answered_429_is_sent_again_when_the_venue_allows(venue: Any) -> None:
    """A 429 means the venue did not take the order: it goes, with its own client id, once
    the Retry-After is over, and the hold is said; it never comes back refused."""
    sim, ex, said = venue
    sim.faults.retry_after_s = 1
    sim.faults.throttle = 2  # the order's first two tries meet a 429
    req = resting_buy()
    started = time.monotonic()
    order, _ = await asyncio.wait_for(ex.place(req), 15)
    waited = time.monotonic() - started
    assert order.status is OrderStatus.NEW
    assert order.client_order_id == req.client_order_id
    assert 1.5 < waited < 6, f"sent after {waited:.1f}s for two Retry-Afters of 1s"
    open_orders = await ex.open_orders("ETHUSDT")
    assert [o.client_order_id for o in open_orders] == [req.client_order_id]
    held = [e for e in said if isinstance(e, OrderHeld)]
    assert held and held[0].held and held[-1].held is False
    assert {e.client_order_id for e in held} == {req.client_order_id}


async def test_a_ban_is_not_waited_out_behind_the_traders_back(venue: Any) -> None:
    """A Retry-After past a minute (a ban, or a venue asking for long) is raised at once: an
    order the trader sent must not go minutes later unannounced."""
    sim, ex, _ = venue
    sim.faults.retry_after_s = 120
    sim.faults.throttle = 1
    started = time.monotonic()
    with pytest.raises(RateLimited):
        await ex.place(resting_buy())
    assert time.monotonic() - started < 2
    # Asked of the venue itself: through the client it would wait out the ban first.
    assert [sim.engine.open_orders(a) for a in sim.engine.accounts.values()] == [
        [] for _ in sim.engine.accounts
    ]
