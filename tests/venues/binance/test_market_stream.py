"""The connector's market data against the simulated venue over loopback, faults on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from omnitrade_tui.bus import Bus, each, topics
from omnitrade_tui.domain import Side, Trade
from omnitrade_tui.domain.events import BookHealth, BookState, BookTop, ConnectionChanged
from omnitrade_tui.domain.models import Ticker
from omnitrade_tui.venues.binance.market_stream import MarketStream
from omnitrade_tui.venues.binance.rest import BinanceRest
from omnitrade_tui.venues.sim.venue import Faults, SimVenue
from tests.waiting import until

pytestmark = pytest.mark.slow


class Seen:
    """Everything the connector published."""

    def __init__(self, bus: Bus) -> None:
        self.tops: list[BookTop] = []
        self.health: list[BookHealth] = []
        self.links: list[ConnectionChanged] = []
        self.trades: list[Trade] = []
        bus.subscribe("md.book.*", each(lambda t, e: self.tops.append(e)))
        bus.subscribe("md.health.*", each(lambda t, e: self.health.append(e)))
        bus.subscribe(topics.CONNECTION, each(lambda t, e: self.links.append(e)))
        bus.subscribe("md.trade.*", each(lambda t, e: self.trades.append(e)))


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
async def running(faults: Faults) -> AsyncIterator[tuple[SimVenue, MarketStream, Seen]]:
    async with SimVenue.start(symbols=["BTCUSDT", "ETHUSDT"], seed=21, faults=faults) as sim:
        bus = Bus()
        seen = Seen(bus)
        rest = BinanceRest(sim.rest_url, bus=bus)
        stream = MarketStream(sim.stream_url, rest, bus, ["BTCUSDT", "ETHUSDT"], watchdog_s=1.0)
        task = asyncio.create_task(stream.run())
        try:
            yield sim, stream, seen
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await stream.aclose()
            await rest.aclose()


async def converge(sim: SimVenue, stream: MarketStream, symbol: str) -> None:
    """Freeze the venue's market and check the local book equals the venue's, level by level."""
    sim.generator = None
    sync = stream.books[symbol]
    await until(
        lambda: (
            sync.state is BookState.LIVE
            and sync.book.last_update_id == sim.engine.update_ids[symbol]
        ),
        "the book to converge",
        10.0,
        interval=0.1,
        fail=False,
    )
    assert sync.state is BookState.LIVE
    venue = sim.engine.books[symbol]
    local = sync.book
    assert local.last_update_id == sim.engine.update_ids[symbol]
    want_bids = {float(p): float(q) for p, q in venue.bids.depth(10_000)}
    want_asks = {float(p): float(q) for p, q in venue.asks.depth(10_000)}
    assert local.levels(Side.BUY) == want_bids
    assert local.levels(Side.SELL) == want_asks


async def test_books_sync_and_follow_the_venue(
    running: tuple[SimVenue, MarketStream, Seen],
) -> None:
    sim, stream, seen = running
    await asyncio.sleep(3.0)
    assert any(h.state is BookState.LIVE for h in seen.health)
    live = [t for t in seen.tops if t.state is BookState.LIVE]
    assert len(live) > 20
    assert all(t.bids[0].price < t.asks[0].price for t in live if t.bids and t.asks)
    assert seen.trades and {t.symbol for t in seen.trades} <= {"BTCUSDT", "ETHUSDT"}
    assert seen.links[0].state == "connecting" and any(x.state == "connected" for x in seen.links)
    await converge(sim, stream, "BTCUSDT")
    await converge(sim, stream, "ETHUSDT")


@pytest.mark.parametrize("faults", [Faults(gap_every_s=1.0)])
async def test_sequence_gaps_resync_without_blanking_the_book(
    running: tuple[SimVenue, MarketStream, Seen],
) -> None:
    sim, stream, seen = running
    await asyncio.sleep(4.0)
    sync = stream.books["BTCUSDT"]
    assert sync.gaps >= 1 and sync.resyncs >= 1
    assert any(h.state is BookState.RESYNCING for h in seen.health)
    # While resyncing, the published book still has levels: it is marked, never blanked.
    resyncing = [t for t in seen.tops if t.state is BookState.RESYNCING]
    assert resyncing and all(t.bids and t.asks for t in resyncing)
    sim.faults.gap_every_s = 0
    await converge(sim, stream, "BTCUSDT")


@pytest.mark.parametrize("faults", [Faults(close_every_s=1.0)])
async def test_dropped_streams_reconnect_and_resync(
    running: tuple[SimVenue, MarketStream, Seen],
) -> None:
    sim, stream, seen = running
    await asyncio.sleep(3.5)
    assert stream.reconnects >= 2
    assert any(x.state == "reconnecting" for x in seen.links)
    assert any(t.state is BookState.STALE for t in seen.tops)
    sim.faults.close_every_s = 0
    await asyncio.sleep(1.5)
    await converge(sim, stream, "ETHUSDT")


async def test_a_silent_stream_is_declared_dead(
    running: tuple[SimVenue, MarketStream, Seen],
) -> None:
    sim, stream, _ = running
    await asyncio.sleep(1.5)
    before = stream.reconnects
    sim.hub.stall_all(3.0)
    await asyncio.sleep(2.0)
    assert stream.reconnects > before  # the watchdog (1 s) fired; nothing closed the socket
    await asyncio.sleep(2.0)
    await converge(sim, stream, "BTCUSDT")


async def test_malformed_frames_are_skipped(
    running: tuple[SimVenue, MarketStream, Seen],
) -> None:
    _, stream, seen = running
    await asyncio.sleep(1.0)
    count = len(seen.trades)
    reconnects = stream.reconnects
    stream._dispatch(b'{"stream":"btcusdt@trade","data":{"e":"trade","p":"oops"}}')
    stream._dispatch(b"not json at all")
    # Skipped, not fatal: the same connection goes on delivering trades (the old check,
    # len(seen.trades) >= count, held whatever happened).
    await until(lambda: len(seen.trades) > count, "a trade after the malformed frames", 5.0)
    assert stream.reconnects == reconnects


async def test_rest_errors_carry_binance_codes(running: tuple[SimVenue, Any, Seen]) -> None:
    sim, _, _ = running
    from omnitrade_tui.venues.binance.rest import BinanceError, Credentials

    rest = BinanceRest(sim.rest_url, Credentials(*sim.demo_key))
    try:
        account = await rest.request("GET", "account", signed=True)
        assert account["canTrade"] is True
        sim.clock_offset_ms = 15_000  # beyond recvWindow: one resync, one retry
        account = await rest.request("GET", "account", signed=True)
        assert account["canTrade"] is True and abs(rest.offset_ms - 15_000) < 1_000
        with pytest.raises(BinanceError) as exc:
            await rest.request("GET", "klines", {"symbol": "BTCUSDT", "interval": "7m"})
        assert exc.value.code == -1120
        bad = BinanceRest(sim.rest_url, Credentials(sim.demo_key[0], "x" * 64))
        with pytest.raises(BinanceError) as exc:
            await bad.request("GET", "account", signed=True)
        assert exc.value.code == -1022 and "signature" in exc.value.explanation
        await bad.aclose()
        assert rest.weight_used > 0
    finally:
        await rest.aclose()


async def test_mini_tickers_reach_the_bus_as_domain_tickers() -> None:
    async with SimVenue.start(symbols=["BTCUSDT"], seed=4) as sim:
        bus = Bus()
        tickers: list[Ticker] = []
        bus.subscribe("md.ticker.*", each(lambda t, e: tickers.append(e)))
        rest = BinanceRest(sim.rest_url, bus=bus)
        stream = MarketStream(sim.stream_url, rest, bus, ["BTCUSDT"], book_levels=50)
        task = asyncio.create_task(stream.run())
        try:
            await until(lambda: bool(tickers), "a ticker", 6.0, interval=0.1, fail=False)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await stream.aclose()
            await rest.aclose()
    assert tickers, "no miniTicker arrived within 6 s (the sim sends one a second)"
    t = tickers[-1]
    assert t.symbol == "BTCUSDT"
    assert t.low <= t.last <= t.high and t.open > 0


async def test_klines_decode_into_candles_with_only_the_last_open() -> None:
    async with SimVenue.start(symbols=["BTCUSDT"], seed=4, generate=False) as sim:
        rest = BinanceRest(sim.rest_url)
        try:
            candles = await rest.klines("BTCUSDT", "1m", limit=30)
        finally:
            await rest.aclose()
    assert len(candles) == 30
    assert [c.open_ms for c in candles] == sorted(c.open_ms for c in candles)
    assert all(c.closed for c in candles[:-1]) and not candles[-1].closed
    assert all(c.low <= min(c.open, c.close) and c.high >= max(c.open, c.close) for c in candles)
    assert {c.interval for c in candles} == {"1m"} and candles[0].symbol == "BTCUSDT"
