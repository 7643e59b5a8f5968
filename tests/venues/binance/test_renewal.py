"""Make-before-break renewal of the market-stream connection: at the venue's maximum
connection life and on a ``serverShutdown`` notice the book stays live (no gap, no
resync), converges to the venue's, and every trade arrives exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from omnitrade_tui.bus import Bus, each
from omnitrade_tui.domain import Trade
from omnitrade_tui.domain.events import BookHealth, BookState, BookTop
from omnitrade_tui.venues.binance.market_stream import MarketStream
from omnitrade_tui.venues.binance.rest import BinanceRest
from omnitrade_tui.venues.sim.venue import Faults, SimVenue
from tests.venues.binance.test_market_stream import converge
from tests.waiting import until

pytestmark = pytest.mark.slow

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


class Watch:
    """Book states and trades as published."""

    def __init__(self, bus: Bus) -> None:
        self.tops: list[BookTop] = []
        self.health: list[BookHealth] = []
        self.trades: list[Trade] = []
        bus.subscribe("md.book.*", each(lambda t, e: self.tops.append(e)))
        bus.subscribe("md.health.*", each(lambda t, e: self.health.append(e)))
        bus.subscribe("md.trade.*", each(lambda t, e: self.trades.append(e)))


@pytest.fixture
async def live() -> AsyncIterator[tuple[SimVenue, MarketStream, Watch]]:
    # The venue cuts connections at 2 s (its "24 hours"); we renew at 1.2 s.
    async with SimVenue.start(symbols=SYMBOLS, seed=77, faults=Faults(max_connection_s=2.0)) as sim:
        bus = Bus()
        watch = Watch(bus)
        rest = BinanceRest(sim.rest_url, bus=bus)
        stream = MarketStream(sim.stream_url, rest, bus, SYMBOLS, watchdog_s=2.0, max_life_s=1.2)
        task = asyncio.create_task(stream.run())
        try:
            await until(
                lambda: all(s.state is BookState.LIVE for s in stream.books.values()),
                "both books live",
                5.0,
                fail=False,
            )
            yield sim, stream, watch
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await stream.aclose()
            await rest.aclose()


def assert_continuous(stream: MarketStream, watch: Watch, since_top: int) -> None:
    """Live throughout, no gap, no resync, every trade once and no holes."""
    assert stream.reconnects == 0
    for sync in stream.books.values():
        assert sync.state is BookState.LIVE
        assert sync.gaps == 0 and sync.resyncs == 0
    assert all(t.state is BookState.LIVE for t in watch.tops[since_top:])
    assert not [h for h in watch.health if h.state is not BookState.LIVE and h.gaps + h.resyncs]
    for symbol in SYMBOLS:
        ids = [t.trade_id for t in watch.trades if t.symbol == symbol]
        assert len(ids) == len(set(ids)), f"duplicate trades on {symbol}"
        assert ids == list(range(ids[0], ids[0] + len(ids))), f"holes in {symbol}'s trade ids"


async def test_renewal_before_the_maximum_life_keeps_the_book_live(
    live: tuple[SimVenue, MarketStream, Watch],
) -> None:
    sim, stream, watch = live
    start = len(watch.tops)
    await asyncio.sleep(8.0)
    assert stream.renewals >= 5  # one every 1.2 s
    assert_continuous(stream, watch, start)
    # The switch waited until both connections were seen to carry the same frames.
    assert stream.overlapped >= stream.renewals - 1
    for symbol in SYMBOLS:
        await converge(sim, stream, symbol)


async def test_a_shutdown_notice_renews_at_once(
    live: tuple[SimVenue, MarketStream, Watch],
) -> None:
    sim, stream, watch = live
    sim.faults.max_connection_s = 0
    stream.max_life_s = 3600.0
    start = len(watch.tops)
    await asyncio.sleep(0.5)
    async with httpx.AsyncClient() as http:
        for _ in range(4):
            before = stream.renewals
            await http.post(
                f"http://{sim.host}:{sim.port}/sim/shutdown-notice",
                headers={"Authorization": f"Bearer {sim.faults_token}"},
            )

            def renewed(before: int = before) -> bool:
                return stream.renewals > before

            await until(renewed, "the renewal", 2.0, fail=False)
            assert stream.renewals == before + 1
            await asyncio.sleep(1.0)
    assert_continuous(stream, watch, start)
    await converge(sim, stream, "BTCUSDT")
