"""The trades tape: the newest public trades first, coloured by the aggressor's side.

Line API, for the same reason as the ladder: trades arrive many times a second and the
tape only redraws the lines of a frame. A minimum size hides the small prints, so the
blocks that move the market stand out.
"""

from __future__ import annotations

import time
from collections.abc import Reversible

from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

from omnitrade_tui.domain.enums import Side
from omnitrade_tui.domain.models import Trade
from omnitrade_tui.tui.widgets.styles import StyleCache

#: Minimum-size filters offered, in quote currency notional (0 shows every trade).
MIN_NOTIONALS = (0.0, 1_000.0, 10_000.0, 50_000.0, 250_000.0)


class Tape(Widget):
    """Recent trades of the active symbol."""

    COMPONENT_CLASSES = {
        "tape--buy",
        "tape--sell",
        "tape--big",
        "tape--header",
        "tape--time",
        "tape--stale",
    }

    DEFAULT_CSS = """
    Tape {
        height: 1fr;
        & > .tape--buy { color: $up; }
        & > .tape--sell { color: $down; }
        & > .tape--big { text-style: bold; }
        & > .tape--header { color: $text-muted; text-style: bold; }
        & > .tape--time { color: $text-muted; }
        & > .tape--stale { color: $stale; text-style: bold reverse; }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.trades: list[Trade] = []
        self.price_decimals = 2
        self.qty_decimals = 5
        self.min_notional = 0.0
        #: How long the trade stream has been silent, when the engine says it is stale.
        self.stale_s: float | None = None
        self._lines: list[Strip] | None = None
        self._styles = StyleCache(self)
        self._line_cache: dict[tuple[str, int], Strip] = {}
        self._line_cache_key: tuple[int, float, int, int] | None = None

    def configure(self, price_decimals: int, qty_decimals: int) -> None:
        """Display precision of the active symbol."""
        self.price_decimals = price_decimals
        self.qty_decimals = qty_decimals
        self.invalidate()

    def show(self, trades: Reversible[Trade]) -> None:
        """The trades to show, oldest first (only those above the filter are kept)."""
        height = max(1, self.size.height)
        floor = self.min_notional
        picked: list[Trade] = []
        for t in reversed(trades):
            if t.price * t.qty >= floor:
                picked.append(t)
                if len(picked) >= height:
                    break
        self.trades = picked
        self.invalidate()

    def set_stale(self, stale_s: float | None) -> None:
        """Mark the tape STALE (the trade stream silent ``stale_s`` seconds), or live."""
        if stale_s != self.stale_s:
            self.stale_s = stale_s
            self.invalidate()

    def cycle_filter(self) -> float:
        """Next minimum-size filter; returns it."""
        i = MIN_NOTIONALS.index(self.min_notional) if self.min_notional in MIN_NOTIONALS else 0
        self.min_notional = MIN_NOTIONALS[(i + 1) % len(MIN_NOTIONALS)]
        return self.min_notional

    def invalidate(self) -> None:
        """Rebuild the lines on the next paint."""
        self._lines = None
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._line_cache.clear()
        self._lines = None

    def render_line(self, y: int) -> Strip:
        """Line ``y``: the header, then trades newest first."""
        if self._lines is None:
            self._lines = self._build()
        if y < len(self._lines):
            return self._lines[y]
        return Strip.blank(self.size.width, self._styles.base)

    def _build(self) -> list[Strip]:
        width = self.size.width
        style = self._styles
        base = style.base
        label = f"min {self.min_notional:,.0f}" if self.min_notional else "all sizes"
        header = f" {'time':<8} {'price':>12} {'size':>11}  ({label})"
        head = [Segment(header, style("tape--header"))]
        if self.stale_s is not None:
            head.insert(0, Segment(f" STALE {self.stale_s:.0f}s ", style("tape--stale")))
        lines = [Strip(head).adjust_cell_length(width, base).crop(0, width)]
        big = max(self.min_notional, 1.0) * 10
        # A trade's line never changes, only its position: build it once. Making a Strip is
        # a large part of a frame's cost at thousands of trades a second.
        cache = self._line_cache
        key_base = (width, self.min_notional, self.price_decimals, self.qty_decimals)
        if self._line_cache_key != key_base:
            cache.clear()
            self._line_cache_key = key_base
        fresh: dict[tuple[str, int], Strip] = {}
        for t in self.trades:
            key = (t.symbol, t.trade_id)
            line = cache.get(key)
            if line is None:
                line = self._trade_line(t, width, big)
            fresh[key] = line
            lines.append(line)
        self._line_cache = fresh
        return lines

    def _trade_line(self, t: Trade, width: int, big: float) -> Strip:
        style = self._styles
        side = style("tape--buy" if t.aggressor is Side.BUY else "tape--sell")
        if t.price * t.qty >= big and self.min_notional:
            side = side + style("tape--big")
        stamp = time.strftime("%H:%M:%S", time.gmtime(t.time_ms / 1000))
        segs = [
            Segment(f" {stamp} ", style("tape--time")),
            Segment(f"{t.price:>12,.{self.price_decimals}f} ", side),
            Segment(f"{t.qty:>11.{self.qty_decimals}f}", side),
            Segment(" ▲" if t.aggressor is Side.BUY else " ▼", side),
        ]
        return Strip(segs).adjust_cell_length(width, style.base).crop(0, width)
