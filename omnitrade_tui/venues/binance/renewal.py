"""What the market stream and the user-data stream share about renewing a connection
make-before-break: wait for the primary connection to die or come due, then renew it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar


class Renewable(Protocol):
    """A live connection: the task reading it, and when it was opened (monotonic)."""

    task: asyncio.Task[None] | None
    opened: float


C = TypeVar("C", bound=Renewable)


async def hold_primary(
    primary: Callable[[], C | None],
    renew_now: asyncio.Event,
    max_life_s: Callable[[], float],
    renew: Callable[[C], Awaitable[bool]],
    closed_text: str,
) -> str:
    """Keep the primary connection, renewing it when ``renew_now`` is set or its life is up;
    return why it was lost. ``max_life_s`` is read each time round (it may be changed while
    running). A renewal that could not open a new connection keeps the old
    one and is tried again a second later."""
    while True:
        conn = primary()
        assert conn is not None
        assert conn.task is not None
        due = conn.opened + max_life_s() - time.monotonic()
        notice = asyncio.ensure_future(renew_now.wait())
        try:
            await asyncio.wait(
                {conn.task, notice}, timeout=max(0.0, due), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            notice.cancel()
        if conn.task.done():
            return lost_reason(conn.task, closed_text)
        renew_now.clear()
        if not await renew(conn):
            await asyncio.sleep(1.0)


def lost_reason(task: asyncio.Task[None], closed_text: str) -> str:
    """Why a connection's reading task ended, in words."""
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    if exc is None:
        return closed_text
    return f"{type(exc).__name__}: {exc}"
