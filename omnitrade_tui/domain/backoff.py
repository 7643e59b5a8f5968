"""Exponential backoff: how long to wait before the next try, and starting over.

The loops that retry (a reconnect, a database write, an alert's delivery, a page of trades
from the venue) interleave their own state with the waits: they publish the link's state
between tries, start over after a success, stop on a shutdown. So what they share is the
sequence of waits, not a retry decorator such as tenacity's, which would own the loop.
"""

from __future__ import annotations

import math
import random


class Backoff:
    """Waits of ``first_s``, doubling up to ``most_s``; with ``jitter`` each is spread over
    half to one and a half times itself, so many clients that lost one server do not all
    come back at the same instant."""

    __slots__ = ("_next", "first_s", "jitter", "most_s")

    def __init__(self, first_s: float, most_s: float = math.inf, *, jitter: bool = False):
        if first_s < 0 or most_s < first_s:
            raise ValueError("a backoff needs 0 <= first_s <= most_s")
        self.first_s = first_s
        self.most_s = most_s
        self.jitter = jitter
        self._next = first_s

    def next(self) -> float:
        """The wait before the next try (seconds); the one after will be twice as long."""
        wait = self._next
        self._next = min(wait * 2, self.most_s)
        return wait * (0.5 + random.random()) if self.jitter else wait

    def reset(self) -> None:
        """Start over from ``first_s`` (after a try that worked)."""
        self._next = self.first_s
