"""Binance market streams on ``websockets``: one combined connection, typed decoding, book
sync, reconnects that never go quiet, and connection renewal without a gap.

Frames are read as bytes and decoded with msgspec straight into typed structs; depth goes
to each symbol's ``BookSync``, trades to ``md.trade.<SYMBOL>``, 24-hour mini tickers to
``md.ticker.<SYMBOL>``. Every stream's age of last message is watched: one silent for
``stale_after_s`` (2 s) is said on ``md.fresh.<SYMBOL>`` (``FeedFreshness``), and a silent
depth stream turns its book ``STALE`` and has it checked against a small REST snapshot
(resynced when behind). A connection silent for ``watchdog_s`` is treated as dead. Every
disconnect marks the books stale (still shown), publishes the connection state, and
reconnects with exponential backoff and jitter, resubscribing everything.

A connection that has to go (a ``serverShutdown`` notice, or the venue's 24-hour limit
coming up: we renew at ``max_life_s``, 23 h 50 min by default) is replaced make-before-
break: the new connection is opened and read while the old one still feeds the books; the
new one's frames are held back until the old one has delivered a frame the new one also
has (both are in the venue's order, so nothing before it can be missing), then the held
frames are replayed and the old connection closed. Duplicates from the overlap are
dropped: depth by update id (``BookSync`` ignores stale diffs), trades by trade id. The
books stay live throughout: no gap, no resync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import msgspec
import websockets

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.domain.commands import VenueCandles
from omnitrade_tui.domain.events import LatencySample, LinkState
from omnitrade_tui.domain.models import Candle
from omnitrade_tui.venues.binance.book_sync import BookSync
from omnitrade_tui.venues.binance.freshness import FreshnessWatch
from omnitrade_tui.venues.binance.renewal import OPEN_ERRORS, KeptConnection, lost_reason
from omnitrade_tui.venues.binance.rest import BinanceRest
from omnitrade_tui.venues.binance.schemas import (
    DepthSnapshot,
    DepthUpdate,
    depth_frame_decoder,
    depth_snapshot_decoder,
    depth_update_decoder,
    mini_ticker_decoder,
    stream_frame_decoder,
    trade_decoder,
)

log = logging.getLogger(__name__)

# One latency sample in this many depth frames goes to the bus (metrics, diagnostics).
_SAMPLE_EVERY = 50
# Binance closes a connection after 24 hours; we renew it ten minutes before.
DEFAULT_MAX_LIFE_S = 23 * 3600 + 50 * 60
# How long a renewal may wait for the two connections to overlap before switching anyway
# (a market with no trades and no book changes gives nothing to compare; nothing is lost).
_OVERLAP_WAIT_S = 3.0
_NO_KEY: tuple[str, int] | None = None
# While a depth stream stays silent, its book is checked against the venue's update id this
# often (a depth request of 5 levels: weight 5).
RECHECK_SILENT_S = 5.0
_CHECK_LEVELS = 5


class _Conn:
    """One open stream connection and its reader."""

    __slots__ = ("first", "heard", "held", "opened", "overlap", "retired", "silent", "task", "ws")

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.opened = self.heard = time.monotonic()
        self.silent = False
        self.task: asyncio.Task[None] | None = None
        # Frames of a renewal connection held until it is promoted, and the first key
        # (update id or trade id) it carried on each stream.
        self.held: list[bytes] = []
        self.first: dict[str, int] = {}
        self.overlap = asyncio.Event()
        self.retired = False


class MarketStream(KeptConnection[_Conn]):
    """Market data of a set of symbols from one combined stream.

    Args:
        stream_url: the stream base ending in ``/`` (``wss://stream.binance.com:9443/``).
        rest: for depth snapshots.
        bus: where everything is published.
        symbols: the symbols to follow from the start.
        watchdog_s: silence after which the connection is declared dead.
        book_levels: levels a side in each published ``BookTop`` (the ladder's depth).
        max_life_s: age at which a connection is renewed make-before-break (the venue
            closes it at 24 h; a test sets seconds).
        stale_after_s: silence after which a stream is said stale (``FeedFreshness``).
    """

    LINK = "market"
    CLOSED_TEXT = "the venue closed the connection"

    def __init__(
        self,
        stream_url: str,
        rest: BinanceRest,
        bus: Bus,
        symbols: list[str],
        watchdog_s: float = 10.0,
        max_backoff_s: float = 30.0,
        book_levels: int = 20,
        max_life_s: float = DEFAULT_MAX_LIFE_S,
        stale_after_s: float = 2.0,
    ) -> None:
        super().__init__(bus, max_backoff_s, max_life_s)
        self.fresh = FreshnessWatch(bus, stale_after_s, on_silent=self._on_silent)
        self._fresh_task: asyncio.Task[None] | None = None
        self._depth_checks: dict[str, asyncio.Task[None]] = {}
        self._depth_checked: dict[str, float] = {}  # symbol -> monotonic time of last check
        self.stream_url = stream_url
        self.rest = rest
        self.watchdog_s = watchdog_s
        self.book_levels = book_levels
        self.books: dict[str, BookSync] = {}
        self.duplicates = 0
        self.overlapped = 0  # renewals whose two connections were seen to overlap
        self._last_key: dict[str, int] = {}
        self._last_trade: dict[str, int] = {}
        self._next_id = 1
        self._frames = 0
        for symbol in symbols:
            self.books[symbol] = BookSync(symbol, bus, self._snapshot, book_levels)
            self.fresh.follow(symbol)

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
        self.fresh.follow(symbol)
        await self._control("SUBSCRIBE", self._streams(symbol))

    async def unsubscribe(self, symbol: str) -> None:
        """Stop following a symbol."""
        sync = self.books.pop(symbol, None)
        self.fresh.forget(symbol)
        self._depth_checked.pop(symbol, None)
        check = self._depth_checks.pop(symbol, None)
        if check is not None:
            check.cancel()
        if sync is not None:
            await sync.aclose()
            await self._control("UNSUBSCRIBE", self._streams(symbol))

    async def _control(self, method: str, params: list[str]) -> None:
        # During a renewal both connections must hear it: either may be the one kept.
        for conn in (self._primary, self._renewal):
            if conn is None:
                continue  # a connection opened later takes it from the URL
            self._next_id += 1
            with contextlib.suppress(websockets.ConnectionClosed):
                await conn.ws.send(
                    msgspec.json.encode(
                        {"method": method, "params": params, "id": self._next_id}
                    ).decode()
                )

    @property
    def url(self) -> str:
        """The combined-stream URL a (re)connect opens: every stream of every book kept."""
        names = [s for symbol in self.books for s in self._streams(symbol)]
        return f"{self.stream_url}stream?streams={'/'.join(names)}"

    async def _open(self) -> _Conn:
        ws = await websockets.connect(self.url, max_size=2**22, compression=None, ping_interval=20)
        conn = _Conn(ws)
        conn.task = asyncio.create_task(self._reader(conn))
        return conn

    def _on_connected(self, conn: _Conn) -> None:
        if self._fresh_task is None or self._fresh_task.done():
            self._fresh_task = asyncio.create_task(self.fresh.run(), name="market-freshness")
        self._publish_link(LinkState.CONNECTED)
        for sync in self.books.values():
            # Start syncing now, not at the first diff: a quiet market may send none for a
            # long while, and the book would stay stale meanwhile.
            sync.resync("stream connected")

    def _on_lost(self, reason: str) -> None:
        for sync in self.books.values():
            sync.stale(f"stream down ({reason})")

    async def _renew_connection(self, old: _Conn) -> bool:
        """Make-before-break: open, overlap, switch, then close the old connection."""
        try:
            new = await self._open()
        except OPEN_ERRORS as exc:
            log.warning("market stream renewal failed to connect: %s", exc)
            return False
        self._renewal = new
        assert old.task is not None
        assert new.task is not None
        overlap = asyncio.ensure_future(new.overlap.wait())
        try:
            await asyncio.wait(
                {overlap, old.task, new.task},
                timeout=_OVERLAP_WAIT_S,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            overlap.cancel()
        if new.task.done():
            self._renewal = None
            log.warning(
                "market stream renewal lost its new connection: %s",
                lost_reason(new.task, self.CLOSED_TEXT),
            )
            await self._retire(new)
            return False
        unproven = old.task.done() and not new.overlap.is_set()
        self.overlapped += new.overlap.is_set()
        self._promote(new, old)
        if unproven:
            # The old connection died before it was seen to overlap the new one (a
            # silent network drops frames on both): frames may be missing, and a quiet
            # market may not show the gap for a long time. Check every book now.
            for sync in self.books.values():
                sync.resync("stream renewed after the old connection failed")
        await self._retire(old)
        return True

    def _promote(self, new: _Conn, old: _Conn) -> None:
        """Make ``new`` the primary and replay what it held (no await: nothing interleaves)."""
        old.retired = True
        self._primary = new
        self._renewal = None
        held, new.held = new.held, []
        for raw in held:
            self._dispatch(raw)
        self.renewals += 1
        self._publish_link(LinkState.CONNECTED, "connection renewed")

    async def _reader(self, conn: _Conn) -> None:
        watchdog = asyncio.create_task(self._watchdog(conn))
        try:
            await self._read(conn)
        finally:
            watchdog.cancel()

    async def _watchdog(self, conn: _Conn) -> None:
        """Close a connection silent for ``watchdog_s`` (a timer per frame costs more)."""
        while True:
            await asyncio.sleep(self.watchdog_s / 4)
            if time.monotonic() - conn.heard > self.watchdog_s:
                conn.silent = True
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.ws.close(), 1.0)
                return

    async def _read(self, conn: _Conn) -> None:
        ws = conn.ws
        clock = time.monotonic
        while True:
            try:
                raw = await ws.recv(decode=False)
            except websockets.ConnectionClosed:
                if conn.silent:
                    raise TimeoutError(f"no frame for {self.watchdog_s:g}s") from None
                raise
            conn.heard = clock()
            if conn.retired:
                return
            if not raw.startswith(b'{"stream"'):
                continue  # control answers
            if conn is self._primary:
                key = self._dispatch(raw)
                if key is not None:
                    renewal = self._renewal
                    if renewal is not None and renewal.first.get(key[0], key[1] + 1) <= key[1]:
                        renewal.overlap.set()
                elif b"serverShutdown" in raw[:60]:
                    self._renew.set()
            else:
                self._hold(conn, raw)

    def _hold(self, conn: _Conn, raw: bytes) -> None:
        """Keep a renewal connection's frame until it is promoted; note the overlap."""
        conn.held.append(raw)
        key = _key_of(raw)
        if key is not None and key[0] not in conn.first:
            conn.first[key[0]] = key[1]
            if self._last_key.get(key[0], -1) >= key[1]:
                conn.overlap.set()

    def _dispatch(self, raw: bytes) -> tuple[str, int] | None:
        """Route one combined frame; the stream and its ordering key (update or trade id)."""
        receipt_ms = time.time() * 1000
        try:
            at_depth = raw.find(b"@depth", 0, 48)
            if at_depth > 0 and raw[at_depth + 6 : at_depth + 7] in (b"@", b'"'):
                # Most frames are diff depth (not @depthN partial books): one decoder pass
                # for the wrapper and the diff.
                depth = depth_frame_decoder.decode(raw)
                return self._on_depth(depth.stream, depth.data, receipt_ms)
            frame = stream_frame_decoder.decode(raw)
            stream = frame.stream
            at = stream.find("@")
            symbol = stream[:at].upper()
            kind = stream[at + 1 :]
            if kind.startswith("depth"):
                return self._on_depth(stream, depth_update_decoder.decode(frame.data), receipt_ms)
            if kind == "trade":
                msg = trade_decoder.decode(frame.data)
                trade_id = msg.trade_id
                if trade_id <= self._last_trade.get(symbol, -1):
                    self.duplicates += 1  # seen on the other connection of a renewal
                    return stream, trade_id
                self._last_trade[symbol] = trade_id
                self._last_key[stream] = trade_id
                self.fresh.heard("trade", symbol, receipt_ms)
                self.bus.publish(topics.trade(symbol), msg.to_trade())
                return stream, trade_id
            if kind == "miniTicker":
                self.fresh.heard("ticker", symbol, receipt_ms)
                ticker = mini_ticker_decoder.decode(frame.data).to_ticker()
                self.bus.publish(topics.ticker(symbol), ticker)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            # A malformed frame is reported and skipped; the connection stays up.
            log.warning("malformed market frame skipped: %s", exc)
        return _NO_KEY

    def _on_depth(
        self, stream: str, event: DepthUpdate, receipt_ms: float
    ) -> tuple[str, int] | None:
        symbol = stream[: stream.find("@")].upper()
        sync = self.books.get(symbol)
        if sync is None:
            return _NO_KEY
        self._last_key[stream] = event.final_update_id
        self.fresh.heard("depth", symbol, receipt_ms)
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
        return stream, event.final_update_id

    async def candles(self, command: VenueCandles) -> list[Candle]:
        """The ``VenueCandles`` handler: the venue's latest candles of a symbol and interval
        (REST klines), oldest first, the current open candle last, so a chart is right
        from its first second after a switch.

        Raises:
            BinanceError: the venue refused (an unknown symbol or interval).
        """
        return await self.rest.klines(command.symbol, command.interval, command.limit)

    def _on_silent(self, stream: str, symbol: str, age_ms: int, first: bool) -> None:
        """A stream fell silent (``first``) or stays so: a silent depth stream's book is
        shown stale and checked against the venue now, then every ``RECHECK_SILENT_S``."""
        sync = self.books.get(symbol)
        if stream != "depth" or sync is None:
            return
        if first:
            sync.depth_silent(age_ms)
        if not sync.checkable:
            return  # mid-sync, or the connection is down: the sync or reconnect will tell
        running = self._depth_checks.get(symbol)
        if running is not None and not running.done():
            return
        if not first and time.monotonic() - self._depth_checked.get(symbol, 0.0) < (
            RECHECK_SILENT_S
        ):
            return
        self._depth_checked[symbol] = time.monotonic()
        self._depth_checks[symbol] = asyncio.create_task(self._check_depth(symbol))

    async def _check_depth(self, symbol: str) -> None:
        """Ask the venue for its book's update id; let the silent book compare."""
        try:
            snap = depth_snapshot_decoder.decode(await self.rest.depth(symbol, _CHECK_LEVELS))
        except Exception as exc:  # asked again at the next recheck
            log.warning("depth check of %s failed: %s", symbol, exc)
            return
        sync = self.books.get(symbol)
        if sync is not None and self.fresh.is_stale("depth", symbol):
            sync.check_against(snap.last_update_id)

    async def aclose(self) -> None:
        """Close the connections, the freshness watch and the book syncs."""
        tasks = [t for t in (self._fresh_task, *self._depth_checks.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._drop_all()
        for sync in self.books.values():
            await sync.aclose()


class _KeyProbe(msgspec.Struct, gc=False):
    """Just the ordering ids of a depth (``u``) or trade (``t``) payload."""

    u: int = -1
    t: int = -1


_probe_decoder = msgspec.json.Decoder(_KeyProbe)


def _key_of(raw: bytes) -> tuple[str, int] | None:
    """The stream and ordering key of a frame, without publishing anything."""
    try:
        frame = stream_frame_decoder.decode(raw)
        probe = _probe_decoder.decode(frame.data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if "@depth" in frame.stream and probe.u >= 0:
        return frame.stream, probe.u
    if frame.stream.endswith("@trade") and probe.t >= 0:
        return frame.stream, probe.t
    return None
