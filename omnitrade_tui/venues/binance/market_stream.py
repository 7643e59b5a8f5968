"""Binance market streams on ``websockets``: one combined connection, typed decoding, book
sync, reconnects that never go quiet.

Frames are read as bytes and decoded with msgspec straight into typed structs; depth goes
to each symbol's ``BookSync``, trades to ``md.trade.<SYMBOL>``, 24-hour mini tickers to
``md.ticker.<SYMBOL>``. A stream silent for
``watchdog_s`` is treated as dead. Every disconnect marks the books stale (still shown),
publishes the connection state, and reconnects with exponential backoff and jitter,
resubscribing everything; a ``serverShutdown`` notice reconnects at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Any

import msgspec
import websockets

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.domain.events import ConnectionChanged, LatencySample, LinkState
from omnitrade_tui.venues.binance.book_sync import BookSync
from omnitrade_tui.venues.binance.rest import BinanceRest
from omnitrade_tui.venues.binance.schemas import (
    DepthSnapshot,
    depth_snapshot_decoder,
    depth_update_decoder,
    mini_ticker_decoder,
    stream_frame_decoder,
    trade_decoder,
)

log = logging.getLogger(__name__)

# One latency sample in this many depth frames goes to the bus (metrics, diagnostics).
_SAMPLE_EVERY = 50


class MarketStream:
    """Market data of a set of symbols from one combined stream.

    Args:
        stream_url: the stream base ending in ``/`` (``wss://stream.binance.com:9443/``).
        rest: for depth snapshots.
        bus: where everything is published.
        symbols: the symbols to follow from the start.
        watchdog_s: silence after which the connection is declared dead.
        book_levels: levels a side in each published ``BookTop`` (the ladder's depth).
    """

    def __init__(
        self,
        stream_url: str,
        rest: BinanceRest,
        bus: Bus,
        symbols: list[str],
        watchdog_s: float = 10.0,
        max_backoff_s: float = 30.0,
        book_levels: int = 20,
    ) -> None:
        self.stream_url = stream_url
        self.rest = rest
        self.bus = bus
        self.watchdog_s = watchdog_s
        self.max_backoff_s = max_backoff_s
        self.book_levels = book_levels
        self.books: dict[str, BookSync] = {}
        self.reconnects = 0
        self._ws: Any = None
        self._next_id = 1
        self._frames = 0
        for symbol in symbols:
            self.books[symbol] = BookSync(symbol, bus, self._snapshot, book_levels)

    def _streams(self, symbol: str) -> list[str]:
        low = symbol.lower()
        return [f"{low}@depth@100ms", f"{low}@trade", f"{low}@miniTicker"]

    async def _snapshot(self, symbol: str) -> DepthSnapshot:
        return depth_snapshot_decoder.decode(await self.rest.depth(symbol, 1000))

    async def subscribe(self, symbol: str) -> None:
        """Follow another symbol from now on (sent on the live connection, if any)."""
        if symbol in self.books:
            return
        self.books[symbol] = BookSync(symbol, self.bus, self._snapshot, self.book_levels)
        await self._control("SUBSCRIBE", self._streams(symbol))

    async def unsubscribe(self, symbol: str) -> None:
        """Stop following a symbol."""
        sync = self.books.pop(symbol, None)
        if sync is not None:
            await sync.aclose()
            await self._control("UNSUBSCRIBE", self._streams(symbol))

    async def _control(self, method: str, params: list[str]) -> None:
        ws = self._ws
        if ws is None:
            return  # sent with the next connection's URL
        self._next_id += 1
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send(
                msgspec.json.encode(
                    {"method": method, "params": params, "id": self._next_id}
                ).decode()
            )

    def _url(self) -> str:
        names = [s for symbol in self.books for s in self._streams(symbol)]
        return f"{self.stream_url}stream?streams={'/'.join(names)}"

    def _link(self, state: LinkState, detail: str = "") -> None:
        self.bus.publish(
            topics.CONNECTION,
            ConnectionChanged(
                venue="binance",
                link="market",
                state=state,
                detail=detail,
                time_ms=int(time.time() * 1000),
            ),
        )

    async def run(self) -> None:
        """Stay connected until cancelled."""
        backoff = 0.5
        first = True
        while True:
            self._link(LinkState.CONNECTING if first else LinkState.RECONNECTING)
            try:
                async with websockets.connect(
                    self._url(), max_size=2**22, compression=None, ping_interval=20
                ) as ws:
                    self._ws = ws
                    self._link(LinkState.CONNECTED)
                    backoff = 0.5
                    first = False
                    await self._read(ws)
                    reason = "the venue asked us to reconnect"
            except (OSError, websockets.WebSocketException, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                self._ws = None
            self.reconnects += 1
            for sync in self.books.values():
                sync.stale(f"stream down ({reason})")
            self._link(LinkState.RECONNECTING, reason)
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, self.max_backoff_s)

    async def _read(self, ws: Any) -> None:
        while True:
            async with asyncio.timeout(self.watchdog_s):
                raw = await ws.recv(decode=False)
            if not raw.startswith(b'{"stream"'):
                continue  # control answers
            self._dispatch(raw)
            if b"serverShutdown" in raw[:40]:
                return

    def _dispatch(self, raw: bytes) -> None:
        receipt_ms = time.time() * 1000
        try:
            frame = stream_frame_decoder.decode(raw)
            stream = frame.stream
            at = stream.find("@")
            symbol = stream[:at].upper()
            kind = stream[at + 1 :]
            if kind.startswith("depth"):
                sync = self.books.get(symbol)
                if sync is not None:
                    event = depth_update_decoder.decode(frame.data)
                    sync.on_diff(event, receipt_ms)
                    self._frames += 1
                    if self._frames % _SAMPLE_EVERY == 0:
                        self.bus.publish(
                            topics.LATENCY,
                            LatencySample(
                                kind="exchange_to_receipt",
                                source=f"binance.{symbol}",
                                seconds=(receipt_ms - event.event_ms) / 1000,
                            ),
                        )
            elif kind == "trade":
                self.bus.publish(topics.trade(symbol), trade_decoder.decode(frame.data).to_trade())
            elif kind == "miniTicker":
                ticker = mini_ticker_decoder.decode(frame.data).to_ticker()
                self.bus.publish(topics.ticker(symbol), ticker)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            # A malformed frame is reported and skipped; the connection stays up.
            log.warning("malformed market frame skipped: %s", exc)

    async def aclose(self) -> None:
        """Close the connection and stop the book syncs."""
        if self._ws is not None:
            await self._ws.close()
        for sync in self.books.values():
            await sync.aclose()
