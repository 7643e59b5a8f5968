"""How fresh each market stream of each symbol is: the age of its last message, and
``FeedFreshness`` on ``md.fresh.<SYMBOL>`` when one goes silent longer than the limit (and
once a second while it stays silent), and when it flows again.

A silent stream is not a dead connection (that is the watchdog's business, after longer):
one stream of a connection may stall while the others flow, and a screen that shows a
frozen ladder as live is lying. The market stream tells the watch of every message (one
dict write), and a timer a few times a second looks at the ages.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.domain.events import FeedFreshness

#: The market streams followed for each symbol (as ``FeedFreshness.stream`` names them).
STREAMS = ("depth", "trade", "ticker")
#: How often a stream still silent is said again.
REPEAT_MS = 1000

#: Called when a stream of a symbol is found silent: (stream, symbol, age in ms, first).
OnSilent = Callable[[str, str, int, bool], None]


class FreshnessWatch:
    """The age of every followed stream's last message, published when it matters."""

    def __init__(
        self,
        bus: Bus,
        stale_after_s: float = 2.0,
        on_silent: OnSilent | None = None,
        clock_ms: Callable[[], float] = lambda: time.time() * 1000,
    ) -> None:
        self.bus = bus
        self.stale_after_ms = stale_after_s * 1000
        self.on_silent = on_silent
        self.clock_ms = clock_ms
        #: Per stream, per symbol: when its last message came (wall ms).
        self._heard: dict[str, dict[str, float]] = {s: {} for s in STREAMS}
        #: Per stream, the symbols now silent, with when that was last said.
        self._stale: dict[str, dict[str, float]] = {s: {} for s in STREAMS}

    def follow(self, symbol: str) -> None:
        """Start timing a symbol's streams (from now: one that never speaks goes stale)."""
        now = self.clock_ms()
        for stream in STREAMS:
            self._heard[stream].setdefault(symbol, now)

    def forget(self, symbol: str) -> None:
        """Stop timing a symbol's streams."""
        for stream in STREAMS:
            self._heard[stream].pop(symbol, None)
            self._stale[stream].pop(symbol, None)

    def heard(self, stream: str, symbol: str, now_ms: float) -> None:
        """A message of ``stream`` for ``symbol`` arrived at ``now_ms`` (the hot path)."""
        heard = self._heard[stream]
        if symbol not in heard:
            return  # not followed (a frame after an unsubscribe)
        heard[symbol] = now_ms
        stale = self._stale[stream]
        if stale and symbol in stale:
            del stale[symbol]
            self._say(stream, symbol, 0, False, now_ms)

    def is_stale(self, stream: str, symbol: str) -> bool:
        """Whether ``stream`` of ``symbol`` is silent past the limit just now."""
        return symbol in self._stale[stream]

    def age_ms(self, stream: str, symbol: str) -> int | None:
        """Milliseconds since the last message (``None``: not followed)."""
        heard = self._heard[stream].get(symbol)
        return None if heard is None else int(self.clock_ms() - heard)

    def check(self) -> None:
        """Look at every stream's age: say which went silent, and again each second."""
        now = self.clock_ms()
        limit = self.stale_after_ms
        for stream in STREAMS:
            stale = self._stale[stream]
            for symbol, heard in self._heard[stream].items():
                age = now - heard
                if age <= limit:
                    continue
                said = stale.get(symbol)
                if said is not None and now - said < REPEAT_MS:
                    continue
                stale[symbol] = now
                self._say(stream, symbol, int(age), True, now)
                if self.on_silent is not None:
                    self.on_silent(stream, symbol, int(age), said is None)

    async def run(self) -> None:
        """Check a few times within the limit, until cancelled: a silence is said within
        the limit plus a quarter of it."""
        pause = min(0.25, self.stale_after_ms / 4000)
        while True:
            await asyncio.sleep(pause)
            self.check()

    def _say(self, stream: str, symbol: str, age_ms: int, stale: bool, now_ms: float) -> None:
        self.bus.publish(
            topics.freshness(symbol),
            FeedFreshness(
                symbol=symbol, stream=stream, age_ms=age_ms, stale=stale, time_ms=int(now_ms)
            ),
        )
