"""Candlestick chart drawn with the Line API: one column per candle, half blocks, volume below.

The chart is a plain focusable :class:`~textual.widget.Widget` that implements
``render_line(y) -> Strip``. All drawing state is computed once per *frame key* (size, data
version, cursor, view, style version) into a :class:`_Frame`, and each row's :class:`Strip` is
built lazily from it and cached until the key changes. A tick on the forming candle therefore
costs one version bump and a refresh; the frame is rebuilt at most once per screen update.

The scaling math lives in small module-level functions (:func:`price_to_subrow`,
:func:`price_to_row`, :func:`visible_window`, ...) so it can be tested without Textual.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, NamedTuple

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from omnitrade_tui.domain.enums import Side
from omnitrade_tui.domain.models import Candle
from omnitrade_tui.tui.widgets.styles import refresh_changed

__all__ = [
    "AXIS_WIDTH",
    "MAX_CANDLES",
    "CandleChart",
    "ChartLayout",
    "axis_rows",
    "chart_layout",
    "format_price",
    "format_time",
    "format_volume",
    "price_range",
    "price_to_row",
    "price_to_subrow",
    "row_price",
    "title_text",
    "visible_window",
    "volume_cell",
    "volume_eighths",
]

AXIS_WIDTH = 10
"""Columns of the right-hand price axis (one separator column plus the label)."""
MAX_CANDLES = 1000
"""Default number of candles kept; older ones are dropped as new ones arrive."""
MAX_FILLS = 1000
"""Fills kept for markers; a session rarely has more on screen, and old ones scroll away."""

_VOLUME_BLOCKS = " ▁▂▃▄▅▆▇█"
_EMPTY_TEXT = "waiting for candles"

# Half-cell glyphs. A cell holds two sub-rows (top, bottom); bodies take priority over wicks
# because at half-cell resolution the body edge is the information that matters.
_BODY_FULL = "█"
_BODY_TOP = "▀"
_BODY_BOTTOM = "▄"
_WICK_FULL = "│"
_WICK_TOP = "╵"
_WICK_BOTTOM = "╷"
_FILL_BUY = "▲"
_FILL_SELL = "▼"


# --------------------------------------------------------------------------------------------
# Pure scaling and formatting helpers
# --------------------------------------------------------------------------------------------


class ChartLayout(NamedTuple):
    """How a widget of a given size is divided up.

    Row 0 is the title line; then ``price_rows`` rows of candles, then ``volume_rows`` rows of
    volume histogram. ``plot_width`` columns hold candles and ``axis_width`` columns the axis.
    """

    plot_width: int
    axis_width: int
    price_rows: int
    volume_rows: int


def chart_layout(width: int, height: int) -> ChartLayout:
    """Split a ``width`` x ``height`` content area into title, candles, volume and axis.

    Volume takes about 20% of the rows below the title, at least 2 when there is room; the
    axis is dropped when it would leave fewer than 5 columns for candles.
    """
    width = max(0, width)
    body = max(0, height - 1)
    if body >= 5:
        volume_rows = max(2, round(body * 0.2))
    elif body >= 3:
        volume_rows = 1
    else:
        volume_rows = 0
    axis_width = AXIS_WIDTH if width >= AXIS_WIDTH + 5 else 0
    return ChartLayout(width - axis_width, axis_width, body - volume_rows, volume_rows)


def price_range(candles: Sequence[Candle]) -> tuple[float, float]:
    """Lowest low and highest high of ``candles``, widened when flat so the scale is usable.

    Raises:
        ValueError: If ``candles`` is empty.
    """
    if not candles:
        raise ValueError("price_range needs at least one candle")
    lo = min(c.low for c in candles)
    hi = max(c.high for c in candles)
    if hi <= lo:
        # A flat market (or a single tick) would divide by zero; centre it instead.
        pad = abs(hi) * 0.001 or 1.0
        return hi - pad, hi + pad
    return lo, hi


def price_to_subrow(price: float, lo: float, hi: float, subrows: int) -> int:
    """Half-row index of ``price`` on a scale from ``hi`` (sub-row 0) down to ``lo``.

    ``subrows`` is twice the number of character rows. The result is clamped to
    ``[0, subrows - 1]`` so prices outside the scale stick to its edges.
    """
    if subrows <= 1 or hi <= lo:
        return 0
    frac = (hi - price) / (hi - lo)
    return min(subrows - 1, max(0, round(frac * (subrows - 1))))


def price_to_row(price: float, lo: float, hi: float, rows: int) -> int:
    """Character row (0 = top) of ``price`` on a ``rows``-high half-block scale."""
    return price_to_subrow(price, lo, hi, rows * 2) // 2


def row_price(row: int, lo: float, hi: float, rows: int) -> float:
    """Price shown for character ``row``: ``hi`` at the top, ``lo`` at the bottom, else mid-row."""
    if rows <= 1:
        return hi
    if row <= 0:
        return hi
    if row >= rows - 1:
        return lo
    subrow = 2 * row + 0.5
    return hi - subrow / (2 * rows - 1) * (hi - lo)


def axis_rows(rows: int) -> list[int]:
    """Rows that get a price label: 3 to 6 evenly spaced rows including top and bottom.

    Fewer rows than 3 get one label each.
    """
    if rows <= 0:
        return []
    if rows < 3:
        return list(range(rows))
    count = max(3, min(6, rows // 3 + 1))
    return sorted({round(i * (rows - 1) / (count - 1)) for i in range(count)})


def visible_window(count: int, slots: int, cursor: int | None, anchor_end: int) -> tuple[int, int]:
    """The ``[start, end)`` slice of candles shown in ``slots`` columns.

    Without a cursor the window ends at the latest candle. With one, the window keeps its
    previous end (``anchor_end``) as long as the cursor stays inside it, and slides just
    enough to keep the cursor visible otherwise, so stepping the cursor does not jump the view.
    """
    if count <= 0 or slots <= 0:
        return (0, 0)
    if cursor is None or count <= slots:
        end = count
    else:
        cursor = min(max(cursor, 0), count - 1)
        end = min(max(anchor_end, cursor + 1, slots), cursor + slots, count)
    return (max(0, end - slots), end)


def volume_eighths(volume: float, max_volume: float, rows: int) -> int:
    """Height in eighths of a cell of a volume bar on a ``rows``-high histogram.

    Any non-zero volume shows at least one eighth so trading activity is never invisible.
    """
    if rows <= 0 or max_volume <= 0 or volume <= 0:
        return 0
    eighths = round(volume / max_volume * rows * 8)
    return min(rows * 8, max(1, eighths))


def volume_cell(eighths: int, row_from_bottom: int) -> str:
    """Glyph of a volume bar ``eighths`` high in the cell ``row_from_bottom`` rows up."""
    fill = min(8, max(0, eighths - 8 * row_from_bottom))
    return _VOLUME_BLOCKS[fill]


def format_price(price: float, step: float, width: int = AXIS_WIDTH - 1) -> str:
    """Format ``price`` with enough decimals to tell rows ``step`` apart, within ``width``;
    with thousands separators, as prices are written everywhere else, where they fit (a
    decimal is worth more on an axis than a separator)."""
    if step > 0 and math.isfinite(step):
        decimals = min(8, max(0, 1 - math.floor(math.log10(step))))
    else:
        decimals = 2
    while decimals >= 0:
        for text in (f"{price:,.{decimals}f}", f"{price:.{decimals}f}"):
            if len(text) <= width:
                return text
        decimals -= 1
    return f"{price:.{max(1, width - 6)}g}"[:width]


def format_volume(volume: float) -> str:
    """Compact volume: ``950``, ``12.3k``, ``4.56M``, ``1.2B``."""
    for divisor, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(volume) >= divisor:
            scaled = volume / divisor
            return f"{scaled:.3g}{suffix}" if scaled < 1000 else f"{scaled:.0f}{suffix}"
    if volume == int(volume):
        return f"{volume:.0f}"
    return f"{volume:.3g}"


def format_time(ms: int, interval: str, utc: bool = True) -> str:
    """Time of a candle's open (UTC, or local with ``utc=False``), as precise as its
    interval needs.

    Seconds intervals show seconds; minute and hour intervals show minutes; day and week
    intervals show the date; month intervals (``1M``) show year and month.
    """
    stamp = datetime.fromtimestamp(ms / 1000, tz=UTC)
    if not utc:
        stamp = stamp.astimezone()
    unit = interval[-1:] if interval else "m"
    if unit == "s":
        return stamp.strftime("%Y-%m-%d %H:%M:%S")
    if unit in ("d", "w"):
        return stamp.strftime("%Y-%m-%d")
    if unit == "M":
        return stamp.strftime("%Y-%m")
    return stamp.strftime("%Y-%m-%d %H:%M")


def title_text(
    candle: Candle,
    interval: str,
    step: float,
    width: int,
    price: Callable[[float], str] | None = None,
    utc: bool = True,
) -> tuple[str, str]:
    """The top line for ``candle``: descriptive text and the change in percent, separately.

    The change is close against open of the same candle. Prices are written by ``price``
    (the symbol's tick, as everywhere on the screen) while they fit, else to the axis's
    resolution. Less important parts are dropped until the line fits ``width``: the symbol,
    then the year, then the volume, then the time, then open, high and low.
    """

    def ohlc_by(write: Callable[[float], str]) -> str:
        return " ".join(
            f"{label} {write(value)}"
            for label, value in (
                ("O", candle.open),
                ("H", candle.high),
                ("L", candle.low),
                ("C", candle.close),
            )
        )

    coarse = ohlc_by(lambda value: format_price(value, step, 14))
    pct = (candle.close - candle.open) / candle.open * 100 if candle.open else 0.0
    change = f"{pct:+.2f}%"
    stamp = format_time(candle.open_ms, interval, utc)
    # The year is dropped only where it leads a longer stamp, never from a bare "YYYY-MM".
    short_stamp = stamp[5:] if len(stamp) > 7 else stamp
    volume = f"V {format_volume(candle.volume)} "
    variants = tuple(
        variant
        for ohlc in ((ohlc_by(price), coarse) if price is not None else (coarse,))
        for variant in (
            f" {candle.symbol} {interval} {stamp}  {ohlc} {volume}",
            f" {interval} {stamp}  {ohlc} {volume}",
            f" {interval} {short_stamp} {ohlc} {volume}",
            f" {interval} {short_stamp} {ohlc} ",
            f" {interval} {ohlc} ",
        )
    )
    # Last, on a narrow chart: the close alone, which the price axis cannot say exactly.
    close = price(candle.close) if price is not None else format_price(candle.close, step, 14)
    variants += (f" {interval} C {close} ",)
    for text in variants:
        if len(text) + len(change) <= width:
            return text, change
    return variants[-1], change


# --------------------------------------------------------------------------------------------
# The widget
# --------------------------------------------------------------------------------------------


# Style codes of plot cells. Cells carry small ints rather than Style objects so a row's runs
# are found by int comparison; the cursor column adds _CURSOR to pick the highlighted variant.
_BASE, _UP, _DOWN, _UP_WICK, _DOWN_WICK, _VOLUME_UP, _VOLUME_DOWN, _BUY, _SELL = range(9)
_CURSOR = 16


@dataclass(frozen=True, slots=True)
class _Styles:
    """Rich styles resolved from the component classes, once per style version."""

    base: Style
    up: Style
    down: Style
    axis: Style
    title: Style
    palette: tuple[Style, ...]
    """Style of each cell code, with the cursor variants at ``code + _CURSOR``."""


@dataclass(frozen=True, slots=True)
class _Frame:
    """Everything needed to draw any row for one frame key.

    ``glyphs`` and ``codes`` hold the plot area (price rows, then volume rows) row by row;
    ``axis`` holds each of those rows' axis segments.
    """

    layout: ChartLayout
    width: int
    start: int
    end: int
    offset: int
    lo: float
    hi: float
    glyphs: list[list[str]]
    codes: list[list[int]]
    axis: list[list[Segment]]
    styles: _Styles
    #: What the plot was drawn from, and the plot before fills and the cursor are marked:
    #: the next frame redraws only the forming candle's column when nothing else moved.
    visible: Sequence[Candle] = ()
    scale: tuple[float, float, float] = (0.0, 1.0, 0.0)
    plain_glyphs: list[list[str]] = field(default_factory=list)
    plain_codes: list[list[int]] = field(default_factory=list)


class CandleChart(Widget, can_focus=True):
    """Candlestick chart with a volume histogram, price axis, cursor and fill markers.

    Data is pushed in by the app (never pulled by a timer): :meth:`set_candles` for the
    backfill, :meth:`update_candle` for every kline message, :meth:`set_fills` for the
    user's own fills.

    Keys (when focused): ``left``/``right`` move a cursor over the candles, ``pageup`` and
    ``pagedown`` move it a screenful, ``home`` jumps to the oldest, ``end`` returns to
    following the latest candle. Clicking a candle puts the cursor on it. The top line
    describes the candle under the cursor, or the latest one when there is no cursor.

    Colours come from component classes. ``DEFAULT_CSS`` only uses Textual's built-in theme
    variables (``$success``, ``$error``, ...) because a variable that a theme does not define
    is a stylesheet error. The app's stylesheet, whose themes define ``$up`` and ``$down``,
    should override them::

        CandleChart > .candle-chart--up { color: $up; }
        CandleChart > .candle-chart--down { color: $down; }
        CandleChart > .candle-chart--volume-up { color: $up 45%; }
        CandleChart > .candle-chart--volume-down { color: $down 45%; }
        CandleChart > .candle-chart--fill-buy { color: $up; }
        CandleChart > .candle-chart--fill-sell { color: $down; }

    ``candle-chart--wick`` is applied on top of the candle's up/down colour, so wicks share
    the body colour unless the wick class sets a colour of its own.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "candle-chart--up",
        "candle-chart--down",
        "candle-chart--wick",
        "candle-chart--volume-up",
        "candle-chart--volume-down",
        "candle-chart--axis",
        "candle-chart--cursor",
        "candle-chart--title",
        "candle-chart--fill-buy",
        "candle-chart--fill-sell",
    }

    DEFAULT_CSS = """
    CandleChart {
        height: 1fr;
        min-height: 6;
        background: $surface;
    }
    CandleChart > .candle-chart--up { color: $success; }
    CandleChart > .candle-chart--down { color: $error; }
    CandleChart > .candle-chart--volume-up { color: $success 45%; }
    CandleChart > .candle-chart--volume-down { color: $error 45%; }
    CandleChart > .candle-chart--axis { color: $foreground-muted; }
    CandleChart > .candle-chart--cursor { background: $accent 30%; }
    CandleChart > .candle-chart--title { color: $foreground; }
    CandleChart:focus > .candle-chart--title { text-style: bold; }
    CandleChart > .candle-chart--fill-buy { color: $success; text-style: bold; }
    CandleChart > .candle-chart--fill-sell { color: $error; text-style: bold; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "cursor_left", "Older", show=False),
        Binding("right", "cursor_right", "Newer", show=False),
        Binding("pageup", "cursor_page(-1)", "Page older", show=False),
        Binding("pagedown", "cursor_page(1)", "Page newer", show=False),
        Binding("home", "cursor_home", "Oldest", show=False),
        Binding("end", "cursor_end", "Follow latest", show=False),
    ]

    interval: reactive[str] = reactive("", layout=False)
    """Interval shown in the title line (``"1m"``, ``"1h"``...); empty uses the candles' own."""

    def __init__(
        self,
        *,
        interval: str = "",
        max_candles: int = MAX_CANDLES,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        """Create an empty chart.

        Args:
            interval: Interval label for the title line.
            max_candles: Candles kept; the oldest are dropped beyond this.
            name: Widget name.
            id: Widget id.
            classes: CSS classes.
            disabled: Start disabled.
        """
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        if max_candles < 1:
            raise ValueError("max_candles must be at least 1")
        self._max_candles = max_candles
        #: How the title writes a price (the app's: by the symbol's tick); None: axis steps.
        self.price_text: Callable[[float], str] | None = None
        #: Candle times in the title in UTC (else local time).
        self.utc = True
        self._candles: list[Candle] = []
        self._open_times: list[int] = []
        self._fills: list[tuple[int, float, Side]] = []
        self._cursor: int | None = None
        self._view_end = 0
        self._data_version = 0
        self._style_version = 0
        self._chart_styles: _Styles | None = None
        self._chart_styles_key: tuple[int, bool] | None = None
        self._frame_key: tuple[object, ...] | None = None
        self._frame: _Frame | None = None
        self._strips: dict[int, Strip] = {}
        #: The frame before, and its rows as drawn (``_reused_row``).
        self._last_frame: _Frame | None = None
        self._last_strips: dict[int, Strip] = {}
        #: The line each row showed when last painted: what a partial repaint diffs against.
        self._painted: dict[int, Strip] = {}
        self.set_reactive(CandleChart.interval, interval)

    # ---------------------------------------------------------------- data API

    @property
    def candles(self) -> Sequence[Candle]:
        """The candles held, oldest first (read-only view for the app and tests)."""
        return tuple(self._candles)

    @property
    def cursor_index(self) -> int | None:
        """Index into :attr:`candles` of the cursor, or ``None`` when following the latest."""
        return self._cursor

    @cursor_index.setter
    def cursor_index(self, index: int | None) -> None:
        if index is not None:
            if not self._candles:
                index = None
            else:
                index = min(max(index, 0), len(self._candles) - 1)
        if index != self._cursor:
            self._cursor = index
            self.refresh()

    def set_candles(self, candles: Sequence[Candle]) -> None:
        """Replace all candles with ``candles`` (oldest first), keeping the newest ``max``.

        A cursor stays on the candle with the same open time if the new data has it.
        """
        kept = list(candles[-self._max_candles :])
        cursor_open = None if self._cursor is None else self._candles[self._cursor].open_ms
        self._candles = kept
        self._open_times = [c.open_ms for c in kept]
        self._cursor = None
        if cursor_open is not None:
            index = bisect_right(self._open_times, cursor_open) - 1
            if index >= 0 and self._open_times[index] == cursor_open:
                self._cursor = index
        self._view_end = len(kept) if self._cursor is None else self._cursor + 1
        self._bump()

    def update_candle(self, candle: Candle) -> None:
        """Apply a kline update: replace the last candle if same open time, else append.

        An update older than the last candle replaces its match in place if one exists and is
        ignored otherwise, so a late message cannot break the time order.
        """
        candles = self._candles
        if candles and candle.open_ms <= candles[-1].open_ms:
            if candle.open_ms == candles[-1].open_ms:
                candles[-1] = candle
            else:
                index = bisect_right(self._open_times, candle.open_ms) - 1
                if index < 0 or self._open_times[index] != candle.open_ms:
                    return
                candles[index] = candle
            self._bump()
            return
        # A view that showed the newest candle keeps showing the newest one while the cursor
        # stays in it; a view scrolled back into history stays put.
        at_end = self._view_end >= len(candles)
        candles.append(candle)
        self._open_times.append(candle.open_ms)
        if at_end:
            self._view_end = len(candles)
        if len(candles) > self._max_candles:
            del candles[0]
            del self._open_times[0]
            self._view_end = max(0, self._view_end - 1)
            if self._cursor is not None:
                self._cursor = max(0, self._cursor - 1)
        self._bump()

    def set_fills(self, fills: Sequence[tuple[int, float, Side]]) -> None:
        """Replace the user's fills drawn as markers: ``(time_ms, price, side)`` each."""
        self._fills = sorted(fills, key=lambda fill: fill[0])[-MAX_FILLS:]
        self._bump()

    def _bump(self) -> None:
        """New data: repaint only the cells that changed. A tick of the forming candle moves
        its column, the title and a price label, and over SSH the rest of the chart sent
        again on every tick was most of the app's bytes."""
        self._data_version += 1
        height = self.content_size.height
        painted = self._painted
        if not self.is_mounted or height <= 0 or any(y not in painted for y in range(height)):
            self.refresh()
            return
        old = [painted[y] for y in range(height)]
        refresh_changed(self, old, [self.render_line(y) for y in range(height)])

    # ---------------------------------------------------------------- cursor actions

    def action_cursor_left(self) -> None:
        """Move the cursor one candle older (from following, start one before the latest)."""
        if not self._candles:
            return
        if self._cursor is None:
            self._view_end = len(self._candles)
            self.cursor_index = len(self._candles) - 2
        else:
            self.cursor_index = self._cursor - 1
        self._anchor_view()

    def action_cursor_right(self) -> None:
        """Move the cursor one candle newer; it stops on the latest (``end`` follows again)."""
        if self._cursor is not None:
            self.cursor_index = self._cursor + 1
            self._anchor_view()

    def action_cursor_page(self, direction: int) -> None:
        """Move the cursor a screenful of candles older (``-1``) or newer (``1``)."""
        if not self._candles:
            return
        page = max(1, chart_layout(*self.content_size).plot_width - 1)
        current = len(self._candles) - 1 if self._cursor is None else self._cursor
        if self._cursor is None and direction > 0:
            return
        if self._cursor is None:
            self._view_end = len(self._candles)
        self.cursor_index = current + direction * page
        self._anchor_view()

    def action_cursor_home(self) -> None:
        """Jump the cursor to the oldest candle held."""
        if self._candles:
            self.cursor_index = 0
            self._anchor_view()

    def action_cursor_end(self) -> None:
        """Drop the cursor and follow the latest candle again."""
        self.cursor_index = None
        self._view_end = len(self._candles)

    def _anchor_view(self) -> None:
        layout = chart_layout(self.content_size.width, self.content_size.height)
        _, self._view_end = visible_window(
            len(self._candles), layout.plot_width, self._cursor, self._view_end
        )

    def on_click(self, event: events.Click) -> None:
        """Put the cursor on the clicked candle column."""
        frame = self._frame
        if frame is None or not self._candles:
            return
        x = event.x - self.gutter.left
        if 0 <= x < frame.layout.plot_width:
            index = frame.start + x - frame.offset
            if frame.start <= index < frame.end:
                self.cursor_index = index
                self._view_end = frame.end

    # ---------------------------------------------------------------- Textual hooks

    def notify_style_update(self) -> None:
        """Theme or CSS changed: styles are resolved anew, so every cached strip is stale."""
        super().notify_style_update()
        self._style_version += 1
        self._strips.clear()
        self._painted.clear()
        self._frame = None
        self._frame_key = None

    def on_resize(self, event: events.Resize) -> None:
        """A new size means a new layout; drop the cache and the view anchor."""
        self._strips.clear()
        self._painted.clear()
        self._frame = None
        self._frame_key = None
        if self._cursor is not None:
            self._anchor_view()

    def render_line(self, y: int) -> Strip:
        """Render content row ``y``: title, candle rows, volume rows (Line API)."""
        width, height = self.content_size
        key = (
            width,
            height,
            self._data_version,
            self._cursor,
            self._view_end,
            self._style_version,
            self.interval,
            # The title is styled by :focus; focus alone may not restyle the widget itself.
            self.has_focus,
        )
        if key != self._frame_key or self._frame is None:
            # The last frame's rows stay at hand: a tick of the forming candle changes its
            # column and an axis label, and every other row is drawn as it was.
            self._last_frame, self._last_strips = self._frame, self._strips
            self._frame = self._build_frame(width, height)
            self._frame_key = key
            self._strips = {}
        strip = self._strips.get(y)
        if strip is None:
            strip = self._reused_row(self._frame, y) or self._render_row(self._frame, y)
            self._strips[y] = strip
        self._painted[y] = strip
        return strip

    # ---------------------------------------------------------------- drawing

    def _resolve_styles(self) -> _Styles:
        get = self.get_component_rich_style
        up = get("candle-chart--up")
        down = get("candle-chart--down")
        wick = get("candle-chart--wick", partial=True)
        base = self.rich_style
        by_code = [
            base,
            up,
            down,
            up + wick,
            down + wick,
            get("candle-chart--volume-up"),
            get("candle-chart--volume-down"),
            get("candle-chart--fill-buy"),
            get("candle-chart--fill-sell"),
        ]
        # Only the background marks the cursor column; glyph colours keep their meaning.
        cursor = Style(bgcolor=get("candle-chart--cursor").bgcolor)
        padding = [base] * (_CURSOR - len(by_code))
        palette = (*by_code, *padding, *(style + cursor for style in by_code))
        return _Styles(
            base=base,
            up=up,
            down=down,
            axis=get("candle-chart--axis"),
            title=get("candle-chart--title"),
            palette=palette,
        )

    def _build_frame(self, width: int, height: int) -> _Frame:
        layout = chart_layout(width, height)
        # Resolving component styles walks the CSS (~0.5 ms each): once per style or focus
        # change, not on every tick of the forming candle.
        style_key = (self._style_version, self.has_focus)
        if self._chart_styles_key != style_key or self._chart_styles is None:
            self._chart_styles = self._resolve_styles()
            self._chart_styles_key = style_key
        styles = self._chart_styles
        candles = self._candles
        start, end = visible_window(len(candles), layout.plot_width, self._cursor, self._view_end)
        # Too short for a single candle row: the title line alone is drawn.
        visible = candles[start:end] if layout.price_rows > 0 else []
        if not visible:
            return _Frame(layout, width, 0, 0, layout.plot_width, 0.0, 1.0, [], [], [], styles)
        offset = layout.plot_width - len(visible)
        price_rows, volume_rows = layout.price_rows, layout.volume_rows
        rows = price_rows + volume_rows
        lo, hi = price_range(visible)
        max_volume = max(c.volume for c in visible)
        scale = (lo, hi, max_volume)
        last_frame = self._last_frame
        if (
            last_frame is not None
            and last_frame.layout == layout
            and last_frame.offset == offset
            and last_frame.scale == scale
            and len(last_frame.visible) == len(visible)
            and last_frame.visible[:-1] == visible[:-1]
        ):
            # Only the forming candle moved within the same scale: redraw its column.
            plain_glyphs = [row[:] for row in last_frame.plain_glyphs]
            plain_codes = [row[:] for row in last_frame.plain_codes]
            x = offset + len(visible) - 1
            for row in range(rows):
                plain_glyphs[row][x] = " "
                plain_codes[row][x] = _BASE
            _draw_candle(plain_glyphs, plain_codes, x, visible[-1], scale, layout)
        else:
            plain_glyphs = [[" "] * layout.plot_width for _ in range(rows)]
            plain_codes = [[_BASE] * layout.plot_width for _ in range(rows)]
            # Only the rows each candle spans are touched: a frame costs the candles' total
            # height, not width x height.
            for x, c in enumerate(visible, start=offset):
                _draw_candle(plain_glyphs, plain_codes, x, c, scale, layout)
        glyphs = [row[:] for row in plain_glyphs]
        codes = [row[:] for row in plain_codes]
        if self._fills and price_rows > 0:
            first_open = visible[0].open_ms
            for time_ms, price, side in self._fills:
                if time_ms < first_open:
                    continue
                index = bisect_right(self._open_times, time_ms, lo=start, hi=end) - 1
                if index < start or time_ms > candles[index].close_ms:
                    continue
                row = price_to_row(price, lo, hi, price_rows)
                x = offset + index - start
                glyphs[row][x] = _FILL_BUY if side is Side.BUY else _FILL_SELL
                codes[row][x] = _BUY if side is Side.BUY else _SELL
        if self._cursor is not None:
            x = offset + self._cursor - start
            for row_codes in codes:
                row_codes[x] += _CURSOR
        last = candles[-1] if end == len(candles) else None
        axis = self._axis_segments(layout, lo, hi, max_volume, last, styles)
        return _Frame(
            layout,
            width,
            start,
            end,
            offset,
            lo,
            hi,
            glyphs,
            codes,
            axis,
            styles,
            visible,
            scale,
            plain_glyphs,
            plain_codes,
        )

    def _axis_segments(
        self,
        layout: ChartLayout,
        lo: float,
        hi: float,
        max_volume: float,
        last: Candle | None,
        styles: _Styles,
    ) -> list[list[Segment]]:
        """Axis segments of every plot row: price ticks, the last price, the volume scale."""
        if not layout.axis_width:
            return [[] for _ in range(layout.price_rows + layout.volume_rows)]
        label_width = layout.axis_width - 1
        rows = layout.price_rows
        step = (hi - lo) / max(1, rows)
        axis: list[list[Segment]] = []
        ticks = set(axis_rows(rows))
        for row in range(rows):
            if row in ticks:
                label = format_price(row_price(row, lo, hi, rows), step, label_width)
                axis.append([Segment("┤" + label.ljust(label_width), styles.axis)])
            else:
                axis.append([Segment("│".ljust(layout.axis_width), styles.axis)])
        if last is not None and rows > 0:
            # The latest price, in its candle's colour, is what a trader looks for first.
            row = price_to_row(last.close, lo, hi, rows)
            colour = styles.up if last.close >= last.open else styles.down
            # One decimal more than the ticks: the last price is read exactly, not as a level.
            label = format_price(last.close, step / 10, label_width).ljust(label_width)
            axis[row] = [Segment("┤", styles.axis), Segment(label, colour + Style(reverse=True))]
        for k in range(layout.volume_rows - 1, -1, -1):
            if k == layout.volume_rows - 1:
                text = "┤" + format_volume(max_volume)
            else:
                text = "│"
            axis.append([Segment(text[: layout.axis_width].ljust(layout.axis_width), styles.axis)])
        return axis

    def _reused_row(self, frame: _Frame, y: int) -> Strip | None:
        """Row ``y`` as the frame before drew it, when nothing on it changed (else None)."""
        last = self._last_frame
        if y == 0 or last is None or not frame.glyphs:
            return None
        strip = self._last_strips.get(y)
        row = y - 1
        if (
            strip is None
            or row >= len(frame.glyphs)
            or row >= len(last.glyphs)
            or frame.width != last.width
            or frame.styles is not last.styles
            or frame.glyphs[row] != last.glyphs[row]
            or frame.codes[row] != last.codes[row]
            or frame.axis[row] != last.axis[row]
        ):
            return None
        return strip

    def _render_row(self, frame: _Frame, y: int) -> Strip:
        styles = frame.styles
        if y == 0:
            return self._title_strip(frame)
        if not frame.glyphs:
            layout = frame.layout
            if y == (layout.price_rows + layout.volume_rows + 1) // 2:
                text = _EMPTY_TEXT[: frame.width].center(frame.width)
                return Strip([Segment(text, styles.axis)], frame.width)
            return Strip.blank(frame.width, styles.base)
        row = y - 1
        if row >= len(frame.glyphs):
            return Strip.blank(frame.width, styles.base)
        glyphs, codes, palette = frame.glyphs[row], frame.codes[row], styles.palette
        segments: list[Segment] = []
        run_start, run_code = 0, codes[0] if codes else _BASE
        for x, code in enumerate(codes):
            if code != run_code:
                segments.append(Segment("".join(glyphs[run_start:x]), palette[run_code]))
                run_start, run_code = x, code
        if codes:
            segments.append(Segment("".join(glyphs[run_start:]), palette[run_code]))
        segments.extend(frame.axis[row])
        return Strip(segments, frame.width).adjust_cell_length(frame.width, styles.base)

    def _title_strip(self, frame: _Frame) -> Strip:
        styles = frame.styles
        candles = self._candles
        if not candles:
            text = f" {self.interval}" if self.interval else ""
            return Strip([Segment(text, styles.title)]).adjust_cell_length(frame.width, styles.base)
        index = len(candles) - 1 if self._cursor is None else self._cursor
        candle = candles[index]
        interval = self.interval or candle.interval
        step = (frame.hi - frame.lo) / max(1, frame.layout.price_rows * 2)
        text, change = title_text(candle, interval, step, frame.width, self.price_text, self.utc)
        change_style = styles.up if candle.close >= candle.open else styles.down
        segments = [
            Segment(text, styles.title),
            Segment(change, change_style + Style(bgcolor=styles.title.bgcolor)),
        ]
        return Strip(segments).adjust_cell_length(frame.width, styles.base)


def _draw_candle(
    glyphs: list[list[str]],
    codes: list[list[int]],
    x: int,
    c: Candle,
    scale: tuple[float, float, float],
    layout: ChartLayout,
) -> None:
    """Draw one candle and its volume bar in column ``x`` of the plot."""
    lo, hi, max_volume = scale
    subrows = layout.price_rows * 2
    rows = layout.price_rows + layout.volume_rows
    high = price_to_subrow(c.high, lo, hi, subrows)
    low = price_to_subrow(c.low, lo, hi, subrows)
    body_top = price_to_subrow(max(c.open, c.close), lo, hi, subrows)
    body_bottom = price_to_subrow(min(c.open, c.close), lo, hi, subrows)
    up = c.close >= c.open
    body_code = _UP if up else _DOWN
    wick_code = _UP_WICK if up else _DOWN_WICK
    for row in range(high // 2, low // 2 + 1):
        glyph, code = _candle_cell(2 * row, high, low, body_top, body_bottom)
        glyphs[row][x] = glyph
        codes[row][x] = body_code if code == _UP else wick_code if code else _BASE
    eighths = volume_eighths(c.volume, max_volume, layout.volume_rows)
    volume_code = _VOLUME_UP if up else _VOLUME_DOWN
    for k in range(layout.volume_rows):
        glyph = volume_cell(eighths, k)
        if glyph == " ":
            break
        glyphs[rows - 1 - k][x] = glyph
        codes[rows - 1 - k][x] = volume_code


def _candle_cell(top: int, high: int, low: int, body_top: int, body_bottom: int) -> tuple[str, int]:
    """Glyph of the cell whose upper half is sub-row ``top``, and whether it is body or wick.

    Returns ``_UP`` as the code for body glyphs and ``_UP_WICK`` for wick glyphs (the caller
    maps them to the candle's direction). The body wins a cell it shares with a wick: at
    half-cell resolution the body's edge is the information that matters.
    """
    bottom = top + 1
    in_body_top = body_top <= top <= body_bottom
    in_body_bottom = body_top <= bottom <= body_bottom
    if in_body_top and in_body_bottom:
        return _BODY_FULL, _UP
    if in_body_top:
        return _BODY_TOP, _UP
    if in_body_bottom:
        return _BODY_BOTTOM, _UP
    in_wick_top = high <= top <= low
    in_wick_bottom = high <= bottom <= low
    if in_wick_top and in_wick_bottom:
        return _WICK_FULL, _UP_WICK
    if in_wick_top:
        return _WICK_TOP, _UP_WICK
    if in_wick_bottom:
        return _WICK_BOTTOM, _UP_WICK
    return " ", _BASE
