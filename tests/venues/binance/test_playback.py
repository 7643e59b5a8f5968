"""Playback: the recorded ETHUSDT capture served over a socket (the sim's replay) gives the
connector a book that matches every bookTicker whose update id falls in an applied diff."""

from __future__ import annotations

import asyncio
import bisect
import itertools
from pathlib import Path

import aiohttp
import msgspec
import pytest

from omnitrade_tui.bus import Bus, each
from omnitrade_tui.domain.events import BookState, BookTop
from omnitrade_tui.venues.binance.market_stream import MarketStream
from omnitrade_tui.venues.binance.rest import BinanceRest
from omnitrade_tui.venues.binance.schemas import BookTickerMsg, book_ticker_decoder
from omnitrade_tui.venues.sim.replay import Replay
from omnitrade_tui.venues.sim.venue import SimVenue

pytestmark = [pytest.mark.playback, pytest.mark.slow]


async def test_connector_book_matches_every_book_ticker(binance_data: Path) -> None:
    replay = Replay(binance_data / "ethusdt_20240808.gz", speed=50)
    bus = Bus()
    tops: list[BookTop] = []
    bus.subscribe("md.book.ETHUSDT", each(lambda t, e: tops.append(e)))
    tickers: list[BookTickerMsg] = []
    async with SimVenue.start(replay=replay) as sim, aiohttp.ClientSession() as http:
        rest = BinanceRest(sim.rest_url)
        stream = MarketStream(sim.stream_url, rest, bus, ["ETHUSDT"], watchdog_s=5.0)
        task = asyncio.create_task(stream.run())
        async with http.ws_connect(f"{sim.stream_url}ws/ethusdt@bookTicker") as ws:

            async def read() -> None:
                async for msg in ws:
                    if msg.type is aiohttp.WSMsgType.TEXT:
                        tickers.append(book_ticker_decoder.decode(msg.data.encode()))

            reader = asyncio.create_task(read())
            await asyncio.wait_for(replay.finished.wait(), 60)
            await asyncio.sleep(0.5)
            reader.cancel()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await stream.aclose()
        await rest.aclose()

    ids = [t.update_id for t in tickers]
    live = [t for t in tops if t.state is BookState.LIVE]
    checks = mismatches = 0
    for prev, top in itertools.pairwise(live):
        first, last = prev.update_id + 1, top.update_id
        i = bisect.bisect_right(ids, last) - 1
        if i < 0 or ids[i] < first:
            continue
        t = tickers[i]
        checks += 1
        got = (top.bids[0].price, top.bids[0].qty, top.asks[0].price, top.asks[0].qty)
        if got != (t.bid, t.bid_qty, t.ask, t.ask_qty):
            mismatches += 1
    assert len(live) > 2_000
    assert checks > 2_000
    assert mismatches == 0
    assert msgspec.json.encode(live[-1])  # the published tops are plain, encodable events
