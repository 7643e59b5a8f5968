"""Freshness: a market stream silent past the limit is said stale (and again each second)
and fresh when it flows again; a silent depth stream shows its book STALE and has it
checked against the venue, so a book left behind by lost diffs on a frozen venue (the
soak's one-in-five failure) is resynced instead of shown live."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest

from omnitrade_tui.bus import Bus, each
from omnitrade_tui.domain import OrderRequest, OrderType, Side, TimeInForce
from omnitrade_tui.domain.events import BookHealth, BookState, BookTop, FeedFreshness
from omnitrade_tui.venues.binance.freshness import FreshnessWatch
from omnitrade_tui.venues.binance.market_stream import MarketStream
from omnitrade_tui.venues.binance.rest import BinanceRest
from omnitrade_tui.venues.sim.accounts import Account
from omnitrade_tui.venues.sim.venue import SimVenue
from tests.waiting import until


def test_a_silent_stream_is_said_stale_each_second_and_fresh_when_it_flows() -> None:
    bus = Bus()
    said: list[FeedFreshness] = []
    bus.subscribe("md.fresh.*", each(lambda t, e: said.append(e)))
    now = [0.0]
    silent: list[tuple[str, str, bool]] = []
    watch = FreshnessWatch(
        bus, 2.0, on_silent=lambda s, y, a, f: silent.append((s, y, f)), clock_ms=lambda: now[0]
    )
    watch.follow("ETHUSDT")
    for t in range(0, 4001, 250):  # trades flow; depth and ticker say nothing
        now[0] = t
        watch.heard("trade", "ETHUSDT", t)
        watch.check()
    stale = [(e.stream, e.age_ms) for e in said if e.stale]
    assert stale == [("depth", 2250), ("ticker", 2250), ("depth", 3250), ("ticker", 3250)]
    assert silent[:2] == [("depth", "ETHUSDT", True), ("ticker", "ETHUSDT", True)]
    assert silent[2:] == [("depth", "ETHUSDT", False), ("ticker", "ETHUSDT", False)]
    assert watch.is_stale("depth", "ETHUSDT") and not watch.is_stale("trade", "ETHUSDT")
    watch.heard("depth", "ETHUSDT", 4100)
    assert (said[-1].stream, said[-1].stale) == ("depth", False)
    assert not watch.is_stale("depth", "ETHUSDT")


class Seen:
    def __init__(self, bus: Bus) -> None:
        self.events: list[tuple[float, Any]] = []
        for pattern in ("md.fresh.*", "md.health.*", "md.book.*"):
            bus.subscribe(pattern, each(lambda t, e: self.events.append((time.monotonic(), e))))

    def of(self, kind: type, since: float = 0.0) -> list[Any]:
        return [e for t, e in self.events if isinstance(e, kind) and t >= since]


@pytest.fixture
async def running() -> AsyncIterator[tuple[SimVenue, MarketStream, Seen]]:
    async with SimVenue.start(symbols=["ETHUSDT"], seed=71) as sim:
        bus = Bus()
        seen = Seen(bus)
        rest = BinanceRest(sim.rest_url, bus=bus)
        stream = MarketStream(sim.stream_url, rest, bus, ["ETHUSDT"], stale_after_s=0.5)
        task = asyncio.create_task(stream.run())
        try:
            await wait_for(lambda: stream.books["ETHUSDT"].state is BookState.LIVE)
            yield sim, stream, seen
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await stream.aclose()
            await rest.aclose()


async def wait_for(predicate: Callable[[], bool], timeout: float = 8.0) -> None:
    await until(predicate, "the condition", timeout, interval=0.01)


async def test_a_silent_depth_stream_marks_the_book_stale_and_resyncs_it_when_behind(
    running: tuple[SimVenue, MarketStream, Seen],
) -> None:
    sim, stream, seen = running
    market = sim.markets["ETHUSDT"]
    flush = market.flush_depth
    # A silenced depth flush in place of the method, put back below.
    market.flush_depth = lambda now_ms, slow: None  # type: ignore[method-assign]
    silenced = time.monotonic()
    await wait_for(lambda: any(e.stream == "depth" and e.stale for e in seen.of(FeedFreshness)))
    first = next(t for t, e in seen.events if isinstance(e, FeedFreshness) and e.stale)
    assert first - silenced < 0.5 + 0.4  # said within the limit (and a check's pause)
    assert any(h.state is BookState.STALE for h in seen.of(BookHealth, silenced))
    assert any(b.state is BookState.STALE for b in seen.of(BookTop, silenced))
    # The venue moved on meanwhile: the book is found behind and resynced.
    await wait_for(lambda: any("behind the venue" in h.detail for h in seen.of(BookHealth)))
    await asyncio.sleep(1.2)
    stale = [e for e in seen.of(FeedFreshness) if e.stream == "depth" and e.stale]
    assert len(stale) >= 2  # said again each second while silent
    market.flush_depth = flush  # type: ignore[method-assign]
    await wait_for(lambda: not stream.fresh.is_stale("depth", "ETHUSDT"))
    assert [(e.stream, e.stale) for e in seen.of(FeedFreshness)][-1] == ("depth", False)
    await wait_for(lambda: stream.books["ETHUSDT"].state is BookState.LIVE)


async def test_a_book_left_behind_by_a_lost_diff_on_a_frozen_venue_is_caught_up(
    running: tuple[SimVenue, MarketStream, Seen],
) -> None:
    """The soak's failure: the last diffs before the venue froze never arrived, and no
    later diff came to reveal the gap."""
    sim, stream, _ = running
    sim.generator = None  # the venue freezes
    market = sim.markets["ETHUSDT"]
    market.skip_next_depth = True  # and the frame of its last change is lost
    other = sim.engine.add_account(Account(902))
    other.deposit("USDT", Decimal(10_000))
    bid = sim.engine.books["ETHUSDT"].bids.best()
    assert bid is not None
    sim.engine.place(
        other,
        OrderRequest(
            symbol="ETHUSDT",
            side=Side.BUY,
            type=OrderType.LIMIT,
            time_in_force=TimeInForce.GTC,
            price=bid - Decimal("0.01"),
            quantity=Decimal("0.5"),
        ),
        validate=False,
    )
    await wait_for(lambda: not market.skip_next_depth, timeout=2)
    venue_id = sim.engine.update_ids["ETHUSDT"]
    sync = stream.books["ETHUSDT"]
    await asyncio.sleep(0.2)  # any frame still on its way lands
    assert sync.book.last_update_id < venue_id  # behind, and nothing says so yet
    await wait_for(lambda: sync.state is BookState.LIVE and sync.book.last_update_id == venue_id, 5)
