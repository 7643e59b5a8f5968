"""The cumulative depth chart: bids to the left of the mid, asks to the right, each column
as tall as the size resting between the mid and its price.

Line API, as the ladder: the book arrives at frame rate, the chart rebuilds its lines once
per book (only while shown) and repaints only the lines that changed. Columns are drawn
with eighth blocks (``▁``..``█``), eight steps a cell, in the sides' theme colours.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import accumulate

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from omnitrade_tui.domain.events import BookState, BookTop
from omnitrade_tui.domain.models import BookLevel
from omnitrade_tui.tui.numbers import Numbers
from omnitrade_tui.tui.widgets.built_lines import BuiltLines

_EIGHTHS = " ▁▂▃▄▅▆▇█"


def depth_profile(levels: list[BookLevel], prices: list[float], bids: bool) -> list[float]:
    """Cumulative size at each of ``prices``: for bids, all resting at or above the price;
    for asks, all at or below it. ``levels`` are best first, as the book publishes them."""
    if not levels:
        return [0.0 for _ in prices]
    if bids:
        # Ascending prices, so bisect works; the cumulative sum runs from the best (highest).
        asc = [lv.price for lv in reversed(levels)]
        from_best = list(accumulate(lv.qty for lv in levels))
        out = []
        for p in prices:
            above = len(asc) - bisect_left(asc, p)  # levels priced >= p
            out.append(from_best[above - 1] if above else 0.0)
        return out
    asc = [lv.price for lv in levels]
    cum = list(accumulate(lv.qty for lv in levels))
    out = []
    for p in prices:
        upto = bisect_right(asc, p)  # levels priced <= p
        out.append(cum[upto - 1] if upto else 0.0)
    return out


def column_heights(values: list[float], peak: float, cells: int) -> list[int]:
    """Each value as a column height in eighths of a cell, ``peak`` filling ``cells``."""
    if peak <= 0:
        return [0 for _ in values]
    return [min(cells * 8, round(v / peak * cells * 8)) for v in values]


class DepthChart(BuiltLines):
    """Cumulative depth of one symbol's local book, both sides around the mid."""

    COMPONENT_CLASSES = {
        "depth-chart--header",
        "depth-chart--bid",
        "depth-chart--ask",
        "depth-chart--axis",
        "depth-chart--stale",
    }

    DEFAULT_CSS = """
    DepthChart {
        height: 3fr;
        min-height: 8;
        display: none;
        border-bottom: hkey $panel;
        & > .depth-chart--header { color: $text-muted; text-style: bold; }
        & > .depth-chart--bid { color: $bid; }
        & > .depth-chart--ask { color: $ask; }
        & > .depth-chart--axis { color: $text-muted; }
        & > .depth-chart--stale { color: $stale; text-style: bold; }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.symbol = ""
        #: How prices and sizes are written (the app's, shared with every pane).
        self.numbers = Numbers({})
        self.top: BookTop | None = None
        self.state: BookState = BookState.SYNCING
        #: The cumulative size of each plotted column on the last paint, left to right.
        self.columns: list[float] = []

    def configure(self, symbol: str, numbers: Numbers) -> None:
        """Show another symbol, its prices and sizes written by ``numbers`` (the screen's);
        its old book is dropped."""
        self.symbol = symbol
        self.numbers = numbers
        self.top = None
        self.repaint_changed()

    def show_book(self, top: BookTop | None, state: BookState) -> None:
        """The newest top of book and its health (while shown, at most once a frame)."""
        self.top = top
        self.state = state
        self.repaint_changed()

    def _build(self) -> list[Strip]:
        width, height = self.size.width, self.size.height
        if width <= 0 or height <= 0:
            return []
        style = self._styles
        base = style.base
        top = self.top
        plot = height - 2  # the header above, the price axis below
        if top is None or not top.bids or not top.asks or plot < 1 or width < 8:
            self.columns = []
            msg = "waiting for the book" if top is None else "no depth to draw"
            return [self._header(width, None, None), _fit([Segment(f" {msg}", base)], width, base)]
        mid = (top.bids[0].price + top.asks[0].price) / 2
        # Both sides over one price span, so the two slopes compare: as far as the nearer
        # of the two deepest levels reaches.
        span = min(mid - top.bids[-1].price, top.asks[-1].price - mid)
        if span <= 0:
            span = max(mid - top.bids[-1].price, top.asks[-1].price - mid, mid * 1e-4)
        left = width // 2
        right = width - left
        bid_prices = [mid - span * (left - c) / left for c in range(left)]
        ask_prices = [mid + span * (c + 1) / right for c in range(right)]
        bid_cum = depth_profile(top.bids, bid_prices, bids=True)
        ask_cum = depth_profile(top.asks, ask_prices, bids=False)
        self.columns = bid_cum + ask_cum
        peak = max(self.columns, default=0.0)
        heights = column_heights(self.columns, peak, plot)
        bid_style = style("depth-chart--bid")
        ask_style = style("depth-chart--ask")
        if self.state is not BookState.LIVE:
            bid_style = bid_style + Style(dim=True)
            ask_style = ask_style + Style(dim=True)
        lines = [self._header(width, bid_cum[0], ask_cum[-1])]
        for y in range(plot):
            floor = (plot - 1 - y) * 8
            cells = [_EIGHTHS[max(0, min(8, h - floor))] for h in heights]
            bid_text = "".join(cells[:left])
            ask_text = "".join(cells[left:])
            lines.append(Strip([Segment(bid_text, bid_style), Segment(ask_text, ask_style)], width))
        lines.append(self._axis(width, mid - span, mid, mid + span))
        return lines

    def _header(self, width: int, bid_depth: float | None, ask_depth: float | None) -> Strip:
        style = self._styles
        segs = [Segment(f" depth {self.symbol}", style("depth-chart--header"))]
        if bid_depth is not None and ask_depth is not None:
            bids = self.numbers.qty(self.symbol, bid_depth)
            asks = self.numbers.qty(self.symbol, ask_depth)
            segs.append(Segment(f"  bids {bids} · asks {asks}", style.base))
        if self.state is not BookState.LIVE:
            segs.append(Segment(f"  {self.state.value.upper()}", style("depth-chart--stale")))
        return _fit(segs, width, style.base)

    def _axis(self, width: int, low: float, mid: float, high: float) -> Strip:
        price = self.numbers.price
        lo, md, hi = price(self.symbol, low), price(self.symbol, mid), price(self.symbol, high)
        gap = width - len(lo) - len(hi)
        if gap >= len(md) + 2:
            pad = gap - len(md)
            text = lo + " " * (pad // 2) + md + " " * (pad - pad // 2) + hi
        elif gap >= 1:
            text = lo + " " * gap + hi
        else:
            text = md.center(width)
        return _fit([Segment(text, self._styles("depth-chart--axis"))], width, self._styles.base)


def _fit(segments: list[Segment], width: int, style: Style) -> Strip:
    return Strip(segments).adjust_cell_length(width, style).crop(0, width)
