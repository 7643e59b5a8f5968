"""What one WebSocket connection of the simulated venue still has to send, bounded in bytes.

A client that stops reading makes the socket's writes wait; without a bound, everything the
venue answers or streams to it meanwhile piles up in memory (one WebSocket-API connection
that sent 50,000 requests and never read held 150 MiB). Past the bound the outbox drops its
contents and the connection is cut off as Binance drops a consumer that cannot keep up: its
writer, likely stuck waiting for the peer to read, is stopped, and the connection closed;
a peer too stuck to take even the close frame has its transport aborted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

from aiohttp import web

CLOSE_TIMEOUT_S = 2.0
TOO_SLOW = b"Client too slow"


class Outbox:
    """Frames waiting for one connection's writer, in order, with their queueing time.

    Args:
        max_bytes: the most the queued frames may weigh together.
        max_frames: the most frames that may wait (many small frames cost too).
    """

    def __init__(self, max_bytes: int, max_frames: int) -> None:
        self.max_bytes = max_bytes
        self.max_frames = max_frames
        self.bytes = 0
        self.peak_bytes = 0  # the most it ever held (tests and benchmarks read it)
        self.overflowed = False
        self._frames: deque[tuple[float, bytes]] = deque()
        self._wake = asyncio.Event()

    def __len__(self) -> int:
        return len(self._frames)

    def put(self, frame: bytes) -> bool:
        """Queue a frame; False (and the outbox empties for good) once over the bound."""
        if self.overflowed:
            return False
        if self.bytes + len(frame) > self.max_bytes or len(self._frames) >= self.max_frames:
            self.overflowed = True
            self._frames.clear()
            self.bytes = 0
            self._wake.set()
            return False
        self._frames.append((time.monotonic(), frame))
        self.bytes += len(frame)
        self.peak_bytes = max(self.peak_bytes, self.bytes)
        self._wake.set()
        return True

    def poke(self) -> None:
        """Wake the writer with nothing new (it then checks its connection's flags)."""
        self._wake.set()

    async def get(self) -> tuple[float, bytes] | None:
        """The oldest frame and when it was queued; None when overflowed or poked."""
        if not self._frames and not self.overflowed:
            self._wake.clear()
            await self._wake.wait()
        if self.overflowed or not self._frames:
            return None
        queued_at, frame = self._frames.popleft()
        self.bytes -= len(frame)
        return queued_at, frame


def cut_off(
    ws: web.WebSocketResponse, request: web.Request, writer: asyncio.Future[None] | None
) -> asyncio.Task[None]:
    """Stop a connection's writer and close the connection (a task: keep a reference and
    await it before the connection's handler returns)."""

    async def run() -> None:
        if writer is not None:
            writer.cancel()
            await asyncio.wait([writer])  # its send, stuck on the peer, ends first
        await close_bounded(ws, request, 1008, TOO_SLOW)

    return asyncio.ensure_future(run())


async def close_bounded(
    ws: web.WebSocketResponse, request: web.Request, code: int, message: bytes
) -> None:
    """Close a connection, with a close frame if it still goes out in time; a peer that
    does not read has its transport cut, so it can hold up neither the closing nor the
    venue's shutdown. (aiohttp's own fallback, a graceful transport close, waits for the
    unread bytes to flush: for ever.)"""
    try:
        await asyncio.wait_for(ws.close(code=code, message=message), CLOSE_TIMEOUT_S)
    except (TimeoutError, ConnectionError, RuntimeError):
        pass
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # this task is being cancelled: cut the transport (below) and go
        # Not ours: aiohttp's wait for the unread socket, cancelled with the stopped
        # writer's send. The close frame cannot go out; the transport is cut below.
    finally:
        transport: Any = request.transport
        if transport is not None and transport.get_write_buffer_size():
            with contextlib.suppress(Exception):
                transport.abort()
