"""The simulated venue in a process of its own, driven over a pipe: the long soak's venue.

Why: in one process the venue's memory (an exchange keeps every order and trade, and its
market generator's) and its CPU mix with the connector's, and "memory flat" could not be
judged for the connector. Here the drill's process holds only the connector, the bus and
the drill's own record of what the bus said; the venue's resident memory is reported
beside it.

The child runs the sim with ``LocalVenue`` over it; each call is a method name and its
arguments sent down a ``multiprocessing`` pipe, answered with the result (or the error's
text). Calls are rare (a few a second at most), so a thread reading the pipe is enough.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import threading
from collections.abc import AsyncIterator
from decimal import Decimal
from multiprocessing.connection import Connection
from typing import Any

from benchmarks.drill import SYMBOLS, LocalVenue, OrderTruth, rss_mb
from omnitrade_tui.venues.sim.venue import SimVenue

_START_TIMEOUT_S = 30.0


def _child(conn: Connection, seed: int) -> None:
    asyncio.run(_serve(conn, seed))


async def _serve(conn: Connection, seed: int) -> None:
    async with SimVenue.start(symbols=SYMBOLS, seed=seed) as sim:
        venue = LocalVenue(sim)
        conn.send((venue.rest_url, venue.stream_url, venue.ws_api_url, venue.demo_key))
        while True:
            request = await asyncio.to_thread(conn.recv)
            if request is None:
                return
            name, args, kwargs = request
            try:
                result = await getattr(venue, name)(*args, **kwargs)
            except Exception as exc:  # sent back to the caller, raised there
                conn.send((False, f"{type(exc).__name__}: {exc}"))
            else:
                conn.send((True, result))


class SimProcess:
    """``VenueControl`` over a sim running in a child process."""

    def __init__(self, process: mp.process.BaseProcess, conn: Connection) -> None:
        self.process = process
        self._conn = conn
        self._lock = threading.Lock()
        self.rest_url, self.stream_url, self.ws_api_url, self.demo_key = conn.recv()

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, seed: int = 5) -> AsyncIterator[SimProcess]:
        """A venue process for the duration of the block."""
        ctx = mp.get_context("spawn")
        ours, theirs = ctx.Pipe()
        process = ctx.Process(target=_child, args=(theirs, seed), daemon=True)
        process.start()
        try:
            if not await asyncio.to_thread(ours.poll, _START_TIMEOUT_S):
                raise RuntimeError(f"the sim process did not start in {_START_TIMEOUT_S:g} s")
            yield cls(process, ours)
        finally:
            with contextlib.suppress(OSError):
                ours.send(None)
            await asyncio.to_thread(process.join, 10)
            if process.is_alive():
                process.kill()

    def _call_blocking(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with self._lock:
            self._conn.send((name, args, kwargs))
            ok, result = self._conn.recv()
        if not ok:
            raise RuntimeError(f"sim process: {name} failed: {result}")
        return result

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self._call_blocking, name, args, kwargs)

    def rss_mb(self) -> float:
        """The venue process's resident memory in MB."""
        return rss_mb(self.process.pid or 0)

    async def set_faults(self, **values: float) -> None:
        """Set fault switches."""
        await self._call("set_faults", **values)

    async def fail_next_orders(self, n: int) -> None:
        """Answer ``n`` more accepted orders with a 503."""
        await self._call("fail_next_orders", n)

    async def stall(self, seconds: float) -> None:
        """Stall every stream connection."""
        await self._call("stall", seconds)

    async def skew_clock(self, offset_ms: int) -> None:
        """Set the venue's clock offset."""
        await self._call("skew_clock", offset_ms)

    async def freeze(self) -> None:
        """Stop the generated market."""
        await self._call("freeze")

    async def book(self, symbol: str) -> tuple[int, dict[float, float], dict[float, float]]:
        """The venue's book."""
        result: tuple[int, dict[float, float], dict[float, float]] = await self._call(
            "book", symbol
        )
        return result

    async def my_trades(self) -> dict[tuple[str, int], tuple[Decimal, Decimal]]:
        """The account's trades."""
        result: dict[tuple[str, int], tuple[Decimal, Decimal]] = await self._call("my_trades")
        return result

    async def orders(self, refs: list[tuple[str, str]]) -> dict[str, OrderTruth]:
        """The venue's view of the account's orders."""
        result: dict[str, OrderTruth] = await self._call("orders", refs)
        return result

    async def ignored_retry_after(self) -> tuple[int, list[str]]:
        """Requests that reached the venue inside a ``Retry-After``."""
        result: tuple[int, list[str]] = await self._call("ignored_retry_after")
        return result
