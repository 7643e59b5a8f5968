"""Playback of the recorded ETHUSDT capture: the book matches every bookTicker.

The update ids of ``@depth@100ms``, ``@bookTicker`` and the REST snapshot are one sequence,
so after applying the depth event ``[U, u]`` the book's best bid and ask (price and qty)
equal the latest bookTicker whose ``u`` lies in ``[U, u]`` (the data folder's README).
"""

from __future__ import annotations

import bisect
import gzip
from pathlib import Path

import pytest

from omnitrade_tui.domain import DiffResult, OrderBook
from omnitrade_tui.venues.binance.schemas import (
    BookTickerMsg,
    DepthUpdate,
    book_ticker_decoder,
    depth_snapshot_decoder,
    depth_update_decoder,
    stream_frame_decoder,
    stream_kind,
)

pytestmark = pytest.mark.playback


def test_book_matches_every_book_ticker(binance_data: Path) -> None:
    depth: list[DepthUpdate] = []
    tickers: list[BookTickerMsg] = []
    book = OrderBook("ETHUSDT")
    buffered: list[DepthUpdate] = []
    synced = False
    checks = mismatches = 0
    results: dict[DiffResult, int] = {}

    with gzip.open(binance_data / "ethusdt_20240808.gz", "rb") as fh:
        lines = fh.read().splitlines()
    for line in lines:
        payload = line.partition(b" ")[2]
        if payload.startswith(b'{"lastUpdateId"'):
            snap = depth_snapshot_decoder.decode(payload)
            # Procedure §3: drop buffered events already in the snapshot, apply the rest.
            assert buffered and snap.last_update_id >= buffered[0].first_update_id
            book.apply_snapshot(snap.last_update_id, snap.bids, snap.asks)
            for ev in buffered:
                book.apply_diff(ev.first_update_id, ev.final_update_id, ev.bids, ev.asks)
            synced = True
            continue
        frame = stream_frame_decoder.decode(payload)
        kind = stream_kind(frame.stream)
        if kind == "bookTicker":
            tickers.append(book_ticker_decoder.decode(frame.data))
        elif kind == "depth":
            ev = depth_update_decoder.decode(frame.data)
            if synced:
                depth.append(ev)
            else:
                buffered.append(ev)

    ids = [t.update_id for t in tickers]
    assert ids == sorted(ids)
    for ev in depth:
        result = book.apply_diff(ev.first_update_id, ev.final_update_id, ev.bids, ev.asks)
        results[result] = results.get(result, 0) + 1
        assert result is not DiffResult.GAP and result is not DiffResult.CROSSED
        i = bisect.bisect_right(ids, ev.final_update_id) - 1
        if i < 0 or ids[i] < ev.first_update_id:
            continue
        t = tickers[i]
        bid, ask = book.best_bid_level(), book.best_ask_level()
        assert bid is not None and ask is not None
        checks += 1
        if (bid.price, bid.qty, ask.price, ask.qty) != (t.bid, t.bid_qty, t.ask, t.ask_qty):
            mismatches += 1
    print(f"playback: {checks} bookTicker checks, {mismatches} mismatches, results {results}")
    assert checks > 2_600
    assert mismatches == 0
