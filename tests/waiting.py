"""The one wait-until of the tests: poll a condition until it holds or a deadline passes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def until(
    check: Callable[[], bool],
    what: str = "the condition",
    timeout: float = 10.0,
    *,
    interval: float = 0.05,
    pause: Callable[[float], Awaitable[object]] = asyncio.sleep,
    detail: Callable[[], str] | None = None,
) -> None:
    """Wait until ``check()`` holds, polling every ``interval`` seconds with ``pause`` (a
    Textual pilot's, to let the app run); after ``timeout`` seconds fail saying ``what``
    was awaited, and ``detail()`` if given (what the screen showed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            more = f"; {detail()}" if detail is not None else ""
            raise AssertionError(f"timed out waiting for {what}{more}")
        await pause(interval)
