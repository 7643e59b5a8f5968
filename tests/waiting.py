"""The one wait-until of the tests: poll a condition until it holds or a deadline passes."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def until(
    check: Callable[[], bool] | Callable[[], Awaitable[bool]],
    what: str = "the condition",
    timeout: float = 10.0,
    *,
    interval: float = 0.05,
    pause: Callable[[float], Awaitable[object]] = asyncio.sleep,
    detail: Callable[[], str] | None = None,
    fail: bool = True,
) -> bool:
    """Wait until ``check()`` holds (it may be a coroutine function: a database or a
    Redis to ask), polling every ``interval`` seconds with ``pause`` (a Textual pilot's,
    to let the app run). True once it holds. After ``timeout`` seconds fail saying
    ``what`` was awaited, and ``detail()`` if given (what the screen showed); or, with
    ``fail=False``, return False and leave the verdict to the caller's own assertions
    (a test that waits for a state, then asserts on what it finds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        held = check()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return True
        if loop.time() > deadline:
            if not fail:
                return False
            more = f"; {detail()}" if detail is not None else ""
            raise AssertionError(f"timed out waiting for {what}{more}")
        await pause(interval)
