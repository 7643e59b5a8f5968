"""Replay: the recorded ETHUSDT capture served by the sim gives a client's local book that
matches every bookTicker (the data folder's README property), through real sockets."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from omnitrade_tui.domain import DiffResult, OrderBook
from omnitrade_tui.venues.binance.schemas import (
    book_ticker_decoder,
    depth_snapshot_decoder,
    depth_update_decoder,
)
from omnitrade_tui.venues.sim.replay import Replay
from omnitrade_tui.venues.sim.venue import SimVenue
from tests.waiting import until

pytestmark = [pytest.mark.playback, pytest.mark.slow]

STREAMS = "ethusdt@depth@100ms/ethusdt@bookTicker/ethusdt@trade"


async def test_replayed_capture_keeps_a_client_book_in_step(binance_data: Path) -> None:
    replay = Replay(binance_data / "ethusdt_20240808.gz", speed=100)
    frames: list[tuple[str, bytes]] = []
    async with SimVenue.start(replay=replay) as sim, aiohttp.ClientSession() as http:
        assert list(sim.markets) == ["ETHUSDT"]
        async with http.ws_connect(f"{sim.stream_url}stream?streams={STREAMS}") as ws:

            async def read() -> None:
                async for msg in ws:
                    if msg.type is aiohttp.WSMsgType.TEXT:
                        frame = msgspec.json.decode(msg.data)
                        frames.append((frame["stream"], msgspec.json.encode(frame["data"])))

            reader = asyncio.create_task(read())
            # Like a real client: buffer the stream, then take a snapshot once one exists.
            snapshot: Any = None

            async def snapshot_taken() -> bool:
                nonlocal snapshot
                async with http.get(f"{sim.rest_url}/v3/depth?symbol=ETHUSDT&limit=5000") as r:
                    snapshot = await r.json()
                return bool(snapshot["lastUpdateId"] != 0)

            await until(snapshot_taken, "a snapshot with an update id", 60.0)
            await asyncio.wait_for(replay.finished.wait(), 60)
            await asyncio.sleep(0.5)
            reader.cancel()

    snap = depth_snapshot_decoder.decode(msgspec.json.encode(snapshot))
    book = OrderBook("ETHUSDT")
    book.apply_snapshot(snap.last_update_id, snap.bids, snap.asks)
    checks = mismatches = 0
    latest_ticker = None
    for stream, data in frames:
        if stream.endswith("@bookTicker"):
            latest_ticker = book_ticker_decoder.decode(data)
            continue
        if not stream.endswith("@depth@100ms"):
            continue
        ev = depth_update_decoder.decode(data)
        result = book.apply_diff(ev.first_update_id, ev.final_update_id, ev.bids, ev.asks)
        assert result is not DiffResult.GAP
        if result is DiffResult.STALE or latest_ticker is None:
            continue
        if ev.first_update_id <= latest_ticker.update_id <= ev.final_update_id:
            bid, ask = book.best_bid_level(), book.best_ask_level()
            assert bid is not None and ask is not None
            checks += 1
            t = latest_ticker
            if (bid.price, bid.qty, ask.price, ask.qty) != (t.bid, t.bid_qty, t.ask, t.ask_qty):
                mismatches += 1
    assert replay.sent > 30_000
    assert checks > 2_000
    assert mismatches == 0


def test_replay_refuses_bad_speeds_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at most 100x"):
        Replay(tmp_path / "x.gz", speed=500)
    with pytest.raises(ValueError, match="no capture"):
        Replay(tmp_path / "x.gz", speed=1)
