"""Klines as ``web-socket-streams.md`` and ``rest-api.md`` describe them: the stream sends
the ended candle closed (``x`` true) right after its interval ends, with the first and last
trade ids of its trades, every 2 s otherwise (1 s for ``1s``); REST serves every interval
up to ``1M`` and opens them in the ``timeZone`` asked for."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import aiohttp
import msgspec
import pytest

from omnitrade_tui.venues.sim.errors import SimError
from omnitrade_tui.venues.sim.klinetime import DAY_MS, kline_close, kline_open, parse_time_zone
from omnitrade_tui.venues.sim.venue import SimVenue

HOUR_MS = 3_600_000


async def kline_frames(
    http: aiohttp.ClientSession, sim: SimVenue, streams: list[str], until: Any, limit_s: float
) -> list[dict[str, Any]]:
    """Combined-stream frames until ``until(frames)`` holds (or ``limit_s`` passes)."""
    frames: list[dict[str, Any]] = []
    url = f"{sim.stream_url}stream?streams={'/'.join(streams)}"
    async with http.ws_connect(url) as ws:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline and not until(frames):
            try:
                msg = await asyncio.wait_for(ws.receive(), 0.5)
            except TimeoutError:
                continue
            assert msg.type is aiohttp.WSMsgType.TEXT
            frames.append(msgspec.json.decode(msg.data))
    return frames


def closed(frames: list[dict[str, Any]], stream: str) -> list[dict[str, Any]]:
    return [f["data"] for f in frames if f["stream"] == stream and f["data"]["k"]["x"]]


async def test_the_ended_candle_is_sent_closed_with_its_trade_ids(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    now = sim.now_ms()
    # Put the venue's clock 1.5 s before a minute ends, so the 1m candle closes soon.
    sim.clock_offset_ms = (60_000 - now % 60_000 - 1_500) % 60_000
    m1, s1 = "ethusdt@kline_1m", "ethusdt@kline_1s"
    frames = await kline_frames(
        http,
        sim,
        [m1, s1],
        lambda fs: closed(fs, m1) and len(closed(fs, s1)) >= 2,
        limit_s=8,
    )
    (minute,) = closed(frames, m1)
    k = minute["k"]
    assert (k["T"] + 1) % 60_000 == 0 and k["t"] == k["T"] + 1 - 60_000
    assert 0 < minute["E"] - k["T"] <= 2_000  # within 2 s of the interval's end
    trades = [t for t in sim.markets["ETHUSDT"].trades if k["t"] <= t.time_ms <= k["T"]]
    if trades:
        assert (k["f"], k["L"]) == (trades[0].trade_id, trades[-1].trade_id)
    else:
        assert (k["f"], k["L"]) == (-1, -1)
    for second in closed(frames, s1):
        ks = second["k"]
        assert 0 < second["E"] - ks["T"] <= 2_000
        if ks["n"]:
            assert ks["f"] >= 0 and ks["L"] - ks["f"] + 1 == ks["n"]
        else:
            assert (ks["f"], ks["L"]) == (-1, -1)


async def test_kline_streams_push_every_two_seconds_and_1s_every_second(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    m5, s1, d1 = "ethusdt@kline_5m", "ethusdt@kline_1s", "ethusdt@kline_1d@+08:00"
    frames = await kline_frames(
        http,
        sim,
        [m5, s1, d1],
        lambda fs: sum(f["stream"] == m5 for f in fs) >= 4,
        limit_s=8,
    )
    open_m5 = [f["data"]["E"] for f in frames if f["stream"] == m5 and not f["data"]["k"]["x"]]
    # The first frame comes at once; then one per 2 s slot of the venue's clock.
    gaps = [b - a for a, b in itertools.pairwise(open_m5[1:])]
    assert gaps and all(1_800 <= g <= 2_200 for g in gaps), gaps
    open_s1 = [f["data"]["E"] for f in frames if f["stream"] == s1 and not f["data"]["k"]["x"]]
    assert len(open_s1) >= 2 * (len(open_m5) - 1)
    east = [f["data"]["k"] for f in frames if f["stream"] == d1]
    assert east and all(k["t"] % DAY_MS == 16 * HOUR_MS for k in east)  # UTC+8 midnight


async def test_rest_klines_every_interval_and_time_zone(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    async def rows(**params: str) -> Any:
        query = {"symbol": "ETHUSDT", "limit": "3", **params}
        async with http.get(f"{sim.rest_url}/v3/klines", params=query) as resp:
            return resp.status, await resp.json()

    for interval in ("3d", "1w", "1M"):
        status, body = await rows(interval=interval)
        assert status == 200 and body, (interval, body)
        for row in body:
            assert row[6] == kline_close(row[0], interval)
    status, weeks = await rows(interval="1w")
    assert all((row[0] - 4 * DAY_MS) % (7 * DAY_MS) == 0 for row in weeks)  # Mondays
    status, months = await rows(interval="1M")
    assert all(time.gmtime(row[0] / 1000).tm_mday == 1 for row in months)
    status, utc_days = await rows(interval="1d")
    assert all(row[0] % DAY_MS == 0 for row in utc_days)
    status, east = await rows(interval="1d", timeZone="8")
    assert status == 200 and all(row[0] % DAY_MS == 16 * HOUR_MS for row in east)
    status, half = await rows(interval="1h", timeZone="05:45")
    assert status == 200 and all(row[0] % HOUR_MS == 15 * 60_000 for row in half)
    status, body = await rows(interval="1d", timeZone="15")
    assert (status, body["code"]) == (400, -1130)


def test_time_zone_forms_of_the_documents() -> None:
    assert parse_time_zone(None) == 0
    assert parse_time_zone("-1:00") == -HOUR_MS
    assert parse_time_zone("05:45") == 5 * HOUR_MS + 45 * 60_000
    assert parse_time_zone("+14:00") == 14 * HOUR_MS
    for bad in ("-12:01", "14:30", "8:60", "UTC", "1.5"):
        with pytest.raises(SimError):
            parse_time_zone(bad)
    # A month opens on the 1st of the zone's month, and closes before the next one.
    feb = kline_open(1_709_000_000_000, "1M")  # 2024-02-27
    assert time.gmtime(feb / 1000)[:3] == (2024, 2, 1)
    assert kline_close(feb, "1M") + 1 == kline_open(1_709_300_000_000, "1M")  # 2024-03-01
