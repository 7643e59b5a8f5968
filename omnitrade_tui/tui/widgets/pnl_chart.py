"""Daily PnL as bars and the cumulative PnL as a line, drawn with the Line API.

One column group per day: a bar up from the zero row for a day that earned, down for one
that lost (half-block resolution), and a dot where the running total stands. Both share one
vertical scale so the line reads against the bars. The scaling is in small pure functions
(:func:`pnl_scale`, :func:`value_row`) tested without Textual; each row's ``Strip`` is
built once per data version and size.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import ClassVar, NamedTuple

from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

AXIS_WIDTH = 12
_EMPTY = "no closed trade in this range"


class PnlPoint(NamedTuple):
    """One day: its net PnL and the cumulative net at its end."""

    day: str
    net: float
    cumulative: float


def pnl_scale(points: Sequence[PnlPoint]) -> tuple[float, float]:
    """The value range to draw: every bar, every cumulative point and zero."""
    values = [0.0]
    for p in points:
        values += [p.net, p.cumulative]
    low, high = min(values), max(values)
    if high == low:
        high, low = high + 1, low - 1
    return low, high


def value_row(value: float, low: float, high: float, rows: int) -> int:
    """The row (0 at the top) a value falls on, in ``rows`` rows spanning low..high."""
    if rows <= 1:
        return 0
    frac = (value - low) / (high - low)
    return max(0, min(rows - 1, round((1 - frac) * (rows - 1))))


class PnlChart(Widget):
    """Bars of daily net PnL and a line of the cumulative net.

    Component classes: ``pnl-chart--up``, ``pnl-chart--down`` (bars), ``pnl-chart--line``
    (the cumulative dots), ``pnl-chart--axis`` (labels and the zero row).
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "pnl-chart--up",
        "pnl-chart--down",
        "pnl-chart--line",
        "pnl-chart--axis",
    }

    DEFAULT_CSS = """
    PnlChart { height: 10; background: $surface; }
    PnlChart > .pnl-chart--up { color: $success; }
    PnlChart > .pnl-chart--down { color: $error; }
    PnlChart > .pnl-chart--line { color: $warning; text-style: bold; }
    PnlChart > .pnl-chart--axis { color: $foreground-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.points: list[PnlPoint] = []
        self._version = 0
        self._key: tuple[int, int, int] | None = None
        self._strips: dict[int, Strip] = {}

    def set_points(self, points: Sequence[PnlPoint]) -> None:
        """New data: redraw."""
        self.points = list(points)
        self._version += 1
        self.refresh()

    def set_days(self, days: Sequence[tuple[str, Decimal, Decimal]]) -> None:
        """From the journal's days: (day, net, cumulative net)."""
        self.set_points([PnlPoint(d, float(n), float(c)) for d, n, c in days])

    def render_line(self, y: int) -> Strip:
        """Row ``y`` of the chart (Line API)."""
        width, height = self.content_size
        key = (width, height, self._version)
        if key != self._key:
            self._key = key
            self._strips.clear()
        strip = self._strips.get(y)
        if strip is None:
            strip = self._row(y, width, height)
            self._strips[y] = strip
        return strip

    def _row(self, y: int, width: int, height: int) -> Strip:
        style = self.get_component_rich_style
        axis = style("pnl-chart--axis")
        if not self.points:
            text = _EMPTY if y == height // 2 else ""
            return Strip([Segment(text.center(width)[:width], self.rich_style + axis)])
        plot = max(1, width - AXIS_WIDTH)
        # Wider bars while the days fit, one column a day when they do not (newest kept).
        cols = max(1, min(4, plot // max(1, len(self.points))))
        bar = max(1, cols - 1)
        shown = self.points[-(plot // cols) :]
        low, high = pnl_scale(shown)
        zero = value_row(0.0, low, high, height)
        base = self.rich_style
        blank = Segment(" " * (cols - bar), base)
        cells: list[Segment] = []
        for point in shown:
            top = value_row(max(point.net, 0.0), low, high, height)
            bottom = value_row(min(point.net, 0.0), low, high, height)
            line = value_row(point.cumulative, low, high, height)
            if y == line:
                cell = Segment("●".center(bar), base + style("pnl-chart--line"))
            elif point.net and top <= y <= bottom and (y != zero or top == bottom):
                kind = "pnl-chart--up" if point.net > 0 else "pnl-chart--down"
                cell = Segment("█" * bar, base + style(kind))
            elif y == zero:
                cell = Segment("─" * bar, base + axis)
            else:
                cell = Segment(" " * bar, base)
            cells.append(cell)
            if cols > bar:
                cells.append(Segment("─" * (cols - bar), base + axis) if y == zero else blank)
        used = sum(len(s.text) for s in cells)
        cells.append(Segment(" " * max(0, plot - used), base))
        label = ""
        if y == 0:
            label = f"{high:,.2f}"
        elif y == height - 1:
            label = f"{low:,.2f}"
        elif y == zero:
            label = "0"
        cells.append(Segment(f" {label}".ljust(AXIS_WIDTH)[:AXIS_WIDTH], base + axis))
        return Strip(cells).crop(0, width).extend_cell_length(width, base)
