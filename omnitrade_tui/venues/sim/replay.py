"""Replay of recorded Binance captures through the simulated venue's streams and REST depth.

Reads the format of ``ethusdt_20240808.gz`` (gzip text, ``<receive time ns> <JSON>`` per
line, combined-stream frames plus one REST depth snapshot) and sends every frame to the
stream hub at 1x to 100x the recorded pace, byte for byte as recorded. A book is kept
from the recording's own snapshot and depth diffs, so REST ``/api/v3/depth`` of the
replayed symbol answers with the recorded book and the recorded update ids: a client
syncing its book from this venue sees exactly what it would have seen on Binance.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from omnitrade_tui.venues.sim.streams import StreamHub

MAX_SPEED = 100.0


class _Frame(msgspec.Struct):
    stream: str
    data: msgspec.Raw


class _Depth(msgspec.Struct):
    U: int
    u: int
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]


class _Snapshot(msgspec.Struct):
    lastUpdateId: int
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]


@dataclass
class RecordedLine:
    """One line of a capture: when it was received, and what."""

    time_ns: int
    stream: str | None  # None for the REST snapshot
    data: bytes


def read_capture(path: Path) -> Iterator[RecordedLine]:
    """The lines of a capture in order.

    Raises:
        ValueError: naming the line number of a malformed line.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    frame_decoder = msgspec.json.Decoder(_Frame)
    with opener(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            stamp, _, payload = line.strip().partition(b" ")
            if not payload:
                continue
            try:
                time_ns = int(stamp)
                if payload.startswith(b'{"lastUpdateId"'):
                    yield RecordedLine(time_ns, None, payload)
                else:
                    frame = frame_decoder.decode(payload)
                    yield RecordedLine(time_ns, frame.stream, bytes(frame.data))
            except (ValueError, msgspec.DecodeError) as exc:
                raise ValueError(f"{path}:{number}: not a recorded frame ({exc})") from None


class ReplayBook:
    """The recorded book of one symbol, as strings, for REST depth answers."""

    def __init__(self) -> None:
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.last_update_id = 0
        self.ready = False
        self._pending: list[_Depth] = []

    def snapshot(self, snap: _Snapshot) -> None:
        self.bids = dict(snap.bids)
        self.asks = dict(snap.asks)
        self.last_update_id = snap.lastUpdateId
        self.ready = True
        for diff in self._pending:
            self.apply(diff)
        self._pending = []

    def apply(self, diff: _Depth) -> None:
        if not self.ready:
            self._pending.append(diff)
            return
        if diff.u <= self.last_update_id:
            return
        for side, levels in ((self.bids, diff.b), (self.asks, diff.a)):
            for price, qty in levels:
                if float(qty) == 0.0:
                    side.pop(price, None)
                else:
                    side[price] = qty
        self.last_update_id = diff.u

    def depth(self, limit: int) -> dict[str, Any]:
        """A REST depth answer from the recorded book."""
        bids = sorted(self.bids.items(), key=lambda kv: -float(kv[0]))[:limit]
        asks = sorted(self.asks.items(), key=lambda kv: float(kv[0]))[:limit]
        return {
            "lastUpdateId": self.last_update_id,
            "bids": [list(b) for b in bids],
            "asks": [list(a) for a in asks],
        }


class Replay:
    """Plays a capture into a stream hub and keeps the recorded books."""

    def __init__(self, path: Path, speed: float = 1.0, loop: bool = False) -> None:
        """``loop`` plays the capture again and again, ids and all: for load tests only,
        since a client's book sees the update ids jump back at each restart."""
        if not 0 < speed <= MAX_SPEED:
            raise ValueError(f"replay speed must be above 0 and at most {MAX_SPEED:g}x")
        if not path.exists():
            raise ValueError(f"no capture at {path}")
        self.path = path
        self.speed = speed
        self.loop = loop
        self.books: dict[str, ReplayBook] = {}
        self.symbols = sorted(self._scan_symbols())
        self.sent = 0
        self.finished = asyncio.Event()

    def _scan_symbols(self) -> set[str]:
        found: set[str] = set()
        for number, line in enumerate(read_capture(self.path)):
            if line.stream is not None:
                found.add(line.stream.partition("@")[0].upper())
            if number > 2_000:
                break
        return found

    def book(self, symbol: str) -> ReplayBook:
        """The recorded book of ``symbol``."""
        return self.books.setdefault(symbol, ReplayBook())

    async def run(self, hub: StreamHub) -> None:
        """Send every recorded frame at the recorded pace divided by ``speed``."""
        while True:
            await self._play(hub)
            if not self.loop:
                break
        self.finished.set()

    async def _play(self, hub: StreamHub) -> None:
        loop = asyncio.get_running_loop()
        depth_decoder = msgspec.json.Decoder(_Depth)
        snapshot_decoder = msgspec.json.Decoder(_Snapshot)
        start_wall = loop.time()
        start_rec: int | None = None
        current_symbol = self.symbols[0] if self.symbols else ""
        for line in read_capture(self.path):
            if start_rec is None:
                start_rec = line.time_ns
            due = start_wall + (line.time_ns - start_rec) / 1e9 / self.speed
            delay = due - loop.time()
            if delay > 0.002:
                await asyncio.sleep(delay)
            if line.stream is None:
                self.book(current_symbol).snapshot(snapshot_decoder.decode(line.data))
                continue
            symbol = line.stream.partition("@")[0].upper()
            current_symbol = symbol
            if "@depth" in line.stream and not line.stream.split("@")[1][5:].isdigit():
                self.book(symbol).apply(depth_decoder.decode(line.data))
            hub.publish_raw(line.stream, line.data)
            self.sent += 1
