"""The trades tape: the newest public trades first, coloured by the aggressor's side.

Line API, for the same reason as the ladder: trades arrive many times a second and the
tape only redraws the lines of a frame. A minimum quote notional (price x quantity, "≥ 10k
USDT" in the header) hides the small prints, so the blocks that move the market stand out.
Its steps follow the symbol's typical trade: multiples of the median notional of the recent
trades, rounded to 1-2-5 steps, so a filter means as much on SOL as on BTC.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Reversible, Sequence

from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

from omnitrade_tui.domain.enums import Side
from omnitrade_tui.domain.models import Trade
from omnitrade_tui.tui.numbers import Numbers
from omnitrade_tui.tui.widgets.styles import StyleCache

#: The filter's steps as multiples of the median trade's notional (before 1-2-5 rounding).
FILTER_MULTIPLES = (1.0, 5.0, 25.0, 100.0)
#: Steps used before any trade has printed, in the quote asset.
FALLBACK_STEPS = (1_000.0, 10_000.0, 50_000.0, 250_000.0)
#: Trades the median is taken over (the newest).
MEDIAN_OF = 500


def nice_step(value: float) -> float:
    """``value`` rounded to the nearest 1, 2 or 5 times a power of ten (in log terms)."""
    if value <= 0:
        return 0.0
    power = 10.0 ** math.floor(math.log10(value))
    candidates = [m * power for m in (1.0, 2.0, 5.0, 10.0)]
    return min(candidates, key=lambda c: abs(math.log(c / value)))


def filter_steps(trades: Sequence[Trade]) -> tuple[float, ...]:
    """Minimum notionals to offer, scaled to the median notional of ``trades``."""
    recent = trades[-MEDIAN_OF:]
    if not recent:
        return FALLBACK_STEPS
    median = statistics.median(t.price * t.qty for t in recent)
    steps = sorted({nice_step(median * m) for m in FILTER_MULTIPLES} - {0.0})
    return tuple(steps) or FALLBACK_STEPS


def short_amount(value: float) -> str:
    """``250``, ``1k``, ``2.5k``, ``20k``, ``1M``: an amount as a header has room for."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.4g}{suffix}"
    return f"{value:.4g}"


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
        self.symbol = ""
        #: How prices, sizes and times are written (the app's, shared with every pane).
        self.numbers = Numbers({})
        self.min_notional = 0.0
        self.quote_asset = ""
        #: The filter's steps for the shown symbol, set when the filter is first cycled.
        self.steps: tuple[float, ...] = ()
        #: How long the trade stream has been silent, when the engine says it is stale.
        self.stale_s: float | None = None
        self._lines: list[Strip] | None = None
        self._styles = StyleCache(self)
        self._line_cache: dict[tuple[str, int], Strip] = {}
        self._line_cache_key: tuple[int, float, str, bool] | None = None

    def configure(self, symbol: str, numbers: Numbers, quote_asset: str = "") -> None:
        """The active symbol, the writer of its numbers and times (the screen's, so a trade
        reads here as in the blotter) and its quote asset; the filter starts at all trades
        (another symbol's typical trade is another size)."""
        self.symbol = symbol
        self.numbers = numbers
        self.quote_asset = quote_asset
        self.min_notional = 0.0
        self.steps = ()
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

    def cycle_filter(self, trades: Sequence[Trade]) -> float:
        """Next minimum notional; returns it. The steps are taken from ``trades`` (the
        symbol's recent ones) when the filter leaves "all trades", so they follow a market
        whose typical trade has changed, and stay put while the trader steps through them."""
        if self.min_notional == 0.0 or not self.steps:
            self.steps = filter_steps(trades)
        offered = (0.0, *self.steps)
        i = offered.index(self.min_notional) if self.min_notional in offered else 0
        self.min_notional = offered[(i + 1) % len(offered)]
        self.invalidate()
        return self.min_notional

    @property
    def filter_label(self) -> str:
        """What the filter lets through, as the header says it: ``≥ 10k USDT``."""
        if not self.min_notional:
            return "all trades"
        return f"≥ {short_amount(self.min_notional)} {self.quote_asset}".rstrip()

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
        columns = f" {'time':<8} {'price':>12} {'size':>11}"
        header = f"{columns}  ({self.filter_label})"
        if len(header) > width:
            # Narrow: the filter in force matters more than the column names (the lines say
            # time, price and size by their look); with no filter, just the columns.
            header = f" trades {self.filter_label}" if self.min_notional else columns
        head = [Segment(header, style("tape--header"))]
        if self.stale_s is not None:
            head.insert(0, Segment(f" STALE {self.stale_s:.0f}s ", style("tape--stale")))
        lines = [Strip(head).adjust_cell_length(width, base).crop(0, width)]
        big = max(self.min_notional, 1.0) * 10
        # A trade's line never changes, only its position: build it once. Making a Strip is
        # a large part of a frame's cost at thousands of trades a second.
        cache = self._line_cache
        key_base = (width, self.min_notional, self.symbol, self.numbers.utc)
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
        numbers = self.numbers
        stamp = numbers.clock(t.time_ms)
        price = numbers.price(self.symbol, t.price)
        qty = numbers.qty(self.symbol, t.qty)
        # One segment for price, size and arrow: each segment costs a colour escape on the
        # wire, and the tape redraws every line as trades scroll through it.
        arrow = " ▲" if t.aggressor is Side.BUY else " ▼"
        segs = [
            Segment(f" {stamp} ", style("tape--time")),
            Segment(
                f"{price:>12} {qty:>11}{arrow}",
                side,
            ),
        ]
        return Strip(segs).adjust_cell_length(width, style.base).crop(0, width)
