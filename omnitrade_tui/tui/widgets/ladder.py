"""The order-book ladder: asks above, bids below, drawn line by line (Line API).

Why not ``DataTable``: a ladder changes on every book update; a DataTable re-renders every
visible cell on any change and costs ~50x more per frame (``docs/reference/textual.md`` §0). Here
the app hands over the newest ``BookTop`` at most once a frame, the ladder rebuilds its
rows once (a few dozen strings) and ``render_line`` returns them. Colours come from
component classes, so themes (``$bid``, ``$ask``...) reach the lines without CSS classes
being toggled per level.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from omnitrade_tui.domain.enums import Side
from omnitrade_tui.domain.events import BookState, BookTop
from omnitrade_tui.tui.widgets.styles import CURSOR_MARK, StyleCache, over

#: Price groupings offered, in ticks.
GROUPS = (1, 2, 5, 10, 25, 50, 100, 250, 1000)

_FLASH_S = 0.35
_BAR = "█▉▊▋▌▍▎▏"


@dataclass(frozen=True)
class LadderRow:
    """One drawn level: a price bucket with its size and the depth up to it."""

    side: Side
    price: float
    qty: float
    cum_qty: float
    cum_notional: float
    own_qty: float = 0.0


def group_levels(
    levels: list[tuple[float, float]], side: Side, bucket: float
) -> list[tuple[float, float]]:
    """Levels merged into price buckets of ``bucket`` (bids round down, asks up), best first."""
    if bucket <= 0:
        return levels
    out: dict[float, float] = {}
    for price, qty in levels:
        steps = price / bucket
        # A small epsilon keeps exact multiples in their own bucket despite float error.
        k = math.floor(steps + 1e-9) if side is Side.BUY else math.ceil(steps - 1e-9)
        # Eight places: Binance's finest tick, and enough to undo k * bucket's float error.
        key = round(k * bucket, 8)
        out[key] = out.get(key, 0.0) + qty
    return sorted(out.items(), reverse=side is Side.BUY)


def build_rows(
    levels: list[tuple[float, float]], side: Side, own: Mapping[float, float], bucket: float
) -> list[LadderRow]:
    """Rows of one side, best first, with cumulative quantity and notional."""
    rows: list[LadderRow] = []
    cum = 0.0
    notional = 0.0
    for price, qty in group_levels(levels, side, bucket):
        cum += qty
        notional += price * qty
        rows.append(LadderRow(side, price, qty, cum, notional, own.get(price, 0.0)))
    return rows


class Ladder(Widget, can_focus=True):
    """A price ladder of one symbol's local book."""

    COMPONENT_CLASSES = {
        "ladder--header",
        "ladder--bid",
        "ladder--ask",
        "ladder--bid-bar",
        "ladder--ask-bar",
        "ladder--flash",
        "ladder--own",
        "ladder--cursor",
        "ladder--spread",
        "ladder--stale",
        "ladder--info",
    }

    DEFAULT_CSS = """
    Ladder {
        height: 1fr;
        min-height: 8;
        & > .ladder--header { color: $text-muted; text-style: bold; }
        &:focus > .ladder--header { color: $accent; }
        & > .ladder--bid { color: $bid; }
        & > .ladder--ask { color: $ask; }
        & > .ladder--bid-bar { color: $bid-muted; }
        & > .ladder--ask-bar { color: $ask-muted; }
        & > .ladder--flash { background: $flash; }
        & > .ladder--own { color: $warning; text-style: bold; }
        & > .ladder--cursor { background: $accent 40%; }
        &:focus > .ladder--cursor { background: $accent 70%; text-style: bold; }
        & > .ladder--spread { color: $text; background: $panel; }
        & > .ladder--stale { color: $stale; text-style: bold; }
        & > .ladder--info { color: $text-muted; }
    }
    """

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Level up", show=False),
        Binding("down,j", "cursor(1)", "Level down", show=False),
        Binding("enter", "select", "Ticket at level", show=True),
        Binding("escape", "clear_cursor", "Clear cursor", show=False),
    ]

    class LevelSelected(Message):
        """Enter on a level: open a ticket at ``price`` (``side`` is the level's side)."""

        def __init__(self, price: float, side: Side) -> None:
            self.price = price
            self.side = side
            super().__init__()

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.symbol = ""
        self.tick = 0.01
        self.price_decimals = 2
        self.qty_decimals = 5
        self.group = 1
        self.top: BookTop | None = None
        self.state: BookState = BookState.SYNCING
        self.own: dict[tuple[Side, float], float] = {}
        self.cursor: int | None = None  # index into the displayed rows, asks first
        self._rows: list[LadderRow] = []
        self._ask_count = 0
        self._lines: list[Strip] = []
        self._seen: dict[tuple[Side, float], float] = {}
        self._changed_at: dict[tuple[Side, float], float] = {}
        self._stale_lines = True
        self._diff_pending = False
        self._flash_until = 0.0
        self._styles = StyleCache(self)
        self._row_cache: dict[tuple[object, ...], Strip] = {}
        self._row_cache_next: dict[tuple[object, ...], Strip] = {}

    # -- data in ---------------------------------------------------------------------------

    def configure(self, symbol: str, tick: Decimal, price_decimals: int, qty_decimals: int) -> None:
        """Show another symbol: its tick and display precision; the old book is dropped."""
        self.symbol = symbol
        self.tick = float(tick) if tick > 0 else 10.0**-price_decimals
        self.price_decimals = price_decimals
        self.qty_decimals = qty_decimals
        self.group = 1
        self.top = None
        self.cursor = None
        self._seen.clear()
        self._changed_at.clear()
        self.invalidate()

    def show_book(self, top: BookTop | None, state: BookState) -> None:
        """The newest top of book and its health (at most once a frame)."""
        self.top = top
        self.state = state
        self.invalidate()

    def set_own_orders(self, own: dict[tuple[Side, float], float]) -> None:
        """Our open quantity by (side, price)."""
        self.own = own
        self.invalidate()

    def regroup(self, step: int) -> None:
        """Coarser (``+1``) or finer (``-1``) price grouping."""
        i = GROUPS.index(self.group) if self.group in GROUPS else 0
        self.group = GROUPS[max(0, min(len(GROUPS) - 1, i + step))]
        self._seen.clear()
        self.invalidate()

    @property
    def bucket(self) -> float:
        """The price step of one row."""
        return self.tick * self.group

    def bucket_of(self, price: float, side: Side) -> float:
        """The price of the row ``price`` is drawn in on ``side`` at the current grouping."""
        return group_levels([(price, 0.0)], side, self.bucket)[0][0]

    def invalidate(self) -> None:
        """Rebuild the lines soon, and repaint only those that changed.

        Most book updates move a few levels; repainting only their lines saves the
        compositor's work and, over SSH, the bytes of every unchanged row.
        """
        if self._diff_pending:
            return
        self._diff_pending = True
        self.call_next(self._repaint_changed)

    def _repaint_changed(self) -> None:
        self._diff_pending = False
        if not self.is_mounted or self.size.height <= 0 or self._stale_lines:
            self._stale_lines = True
            self.refresh()
            return
        old = self._lines
        new = self._build()
        self._lines = new
        if len(old) != len(new):
            self.refresh()
            return
        width = self.size.width
        changed = [
            Region(0, y, width, 1) for y, (a, b) in enumerate(zip(old, new, strict=True)) if a != b
        ]
        if changed:
            self.refresh(*changed)

    # -- cursor ----------------------------------------------------------------------------

    def action_cursor(self, step: int) -> None:
        """Move the cursor a level; it starts at the best ask or best bid."""
        if not self._rows:
            return
        if self.cursor is None:
            self.cursor = (
                self._ask_count - 1 if step < 0 else min(self._ask_count, len(self._rows) - 1)
            )
        else:
            self.cursor = max(0, min(len(self._rows) - 1, self.cursor + step))
        self.invalidate()

    def action_clear_cursor(self) -> None:
        """Leave cursor mode."""
        self.cursor = None
        self.invalidate()

    def action_select(self) -> None:
        """Ask for a ticket at the level under the cursor (or the best bid)."""
        row = self.cursor_row
        if row is None and self._rows:
            row = self._rows[min(self._ask_count, len(self._rows) - 1)]
        if row is not None:
            self.post_message(self.LevelSelected(row.price, row.side))

    @property
    def rows(self) -> list[LadderRow]:
        """The levels drawn on the last paint, asks (highest first) then bids."""
        return list(self._rows)

    @property
    def cursor_row(self) -> LadderRow | None:
        """The level under the cursor."""
        if self.cursor is None or not 0 <= self.cursor < len(self._rows):
            return None
        return self._rows[self.cursor]

    @property
    def mid(self) -> float | None:
        """Mid price of the shown book."""
        top = self.top
        if top is None or not top.bids or not top.asks:
            return None
        return (top.bids[0].price + top.asks[0].price) / 2

    # -- drawing ---------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._row_cache.clear()
        self._stale_lines = True
        self.refresh()

    def on_focus(self) -> None:
        """Focus changes the background: restyle every line."""
        self._styles.clear()
        self._row_cache.clear()
        self._stale_lines = True
        self.refresh()

    def on_blur(self) -> None:
        """See ``on_focus``."""
        self.on_focus()

    def on_resize(self) -> None:
        """A new size: rebuild every line."""
        self._stale_lines = True
        self.refresh()

    def render_line(self, y: int) -> Strip:
        """The ``y``-th line of the ladder."""
        if self._stale_lines:
            self._lines = self._build()
            self._stale_lines = False
        if 0 <= y < len(self._lines):
            return self._lines[y]
        return Strip.blank(self.size.width, self._styles.base)

    def _build(self) -> list[Strip]:
        width = self.size.width
        height = self.size.height
        if width <= 0 or height <= 0:
            return []
        style = self._styles
        base = style.base
        header = style("ladder--header")
        lines: list[Strip] = []
        title = f" {self.symbol}  group {self.group}x ({self.bucket:.{self.price_decimals}f})"
        if self.state is not BookState.LIVE:
            label = {
                BookState.SYNCING: "SYNCING",
                BookState.STALE: "STALE",
                BookState.RESYNCING: "STALE - RESYNCING",
            }[self.state]
            segs = [Segment(title, header), Segment(f"  {label}", style("ladder--stale"))]
            lines.append(_fit(segs, width, base))
        else:
            lines.append(_fit([Segment(title, header)], width, base))
        top = self.top
        body = height - 3  # title, spread line, info line
        if top is None or body < 2:
            msg = "waiting for the book" if top is None else "too small"
            lines.append(_fit([Segment(f" {msg}", style("ladder--info"))], width, base))
            self._rows = []
            self._ask_count = 0
            return lines
        own_bid = {p: q for (s, p), q in self.own.items() if s is Side.BUY}
        own_ask = {p: q for (s, p), q in self.own.items() if s is Side.SELL}
        bucket = self.bucket
        own_bid = dict(group_levels(list(own_bid.items()), Side.BUY, bucket))
        own_ask = dict(group_levels(list(own_ask.items()), Side.SELL, bucket))
        ask_n = body // 2
        bid_n = body - ask_n
        asks = build_rows([(lv.price, lv.qty) for lv in top.asks], Side.SELL, own_ask, bucket)
        bids = build_rows([(lv.price, lv.qty) for lv in top.bids], Side.BUY, own_bid, bucket)
        asks = asks[:ask_n]
        bids = bids[:bid_n]
        shown = list(reversed(asks)) + bids
        if self.cursor is not None and self._rows and shown:
            # Keep the cursor on the same price as the book moves under it.
            old = self._rows[self.cursor] if self.cursor < len(self._rows) else None
            if old is not None:
                match = [
                    i for i, r in enumerate(shown) if r.side is old.side and r.price == old.price
                ]
                self.cursor = match[0] if match else min(self.cursor, len(shown) - 1)
        self._rows = shown
        self._ask_count = len(asks)
        now = time.monotonic()
        for row in shown:
            key = (row.side, row.price)
            if self._seen.get(key) != row.qty:
                if key in self._seen:
                    self._changed_at[key] = now
                self._seen[key] = row.qty
        if len(self._seen) > 4 * (len(shown) + 10):
            keep = {(r.side, r.price) for r in shown}
            self._seen = {k: v for k, v in self._seen.items() if k in keep}
            self._changed_at = {k: v for k, v in self._changed_at.items() if k in keep}
        max_qty = max((r.qty for r in shown), default=0.0) or 1.0
        self._row_cache_next = {}
        stale = self.state is not BookState.LIVE
        pad = [_blank_row(width, base)] * (ask_n - len(asks))
        lines.extend(pad)
        for i, row in enumerate(shown):
            if i == len(asks):
                lines.append(self._spread_line(top, width))
            flash = now - self._changed_at.get((row.side, row.price), -1e9) < _FLASH_S
            lines.append(self._row_line(row, i, width, max_qty, flash, stale))
        if not asks:
            lines.append(self._spread_line(top, width))
        lines.extend([_blank_row(width, base)] * (bid_n - len(bids)))
        lines.append(self._info_line(width))
        self._flash_until = max(self._changed_at.values(), default=0.0) + _FLASH_S
        self._row_cache, self._row_cache_next = self._row_cache_next, {}
        return lines

    def fade_flashes(self) -> None:
        """Called once a frame: let a flash fade even when the book is quiet."""
        if self._flash_until and time.monotonic() >= self._flash_until:
            self._flash_until = 0.0
            self.invalidate()

    def _row_line(
        self, row: LadderRow, index: int, width: int, max_qty: float, flash: bool, stale: bool
    ) -> Strip:
        # The fixed columns take 7 + 13 + 12 + 9 cells; the size bar gets the rest.
        room = width - 41
        bar = ""
        if room > 0:
            cells = room * row.qty / max_qty
            full = int(cells)
            frac = int((cells - full) * 8)
            bar = "█" * full + (_BAR[8 - frac] if frac and full < room else "")
        # Most rows look the same from one frame to the next; making a Strip is a large
        # part of a frame's cost, so identical rows reuse last frame's.
        key = (
            row.side,
            row.price,
            row.qty,
            row.cum_qty,
            row.own_qty,
            bar,
            flash,
            stale,
            index == self.cursor,
            width,
        )
        strip = self._row_cache.get(key)
        if strip is None:
            strip = self._draw_row(row, bar, width, flash, stale, index == self.cursor)
        self._row_cache_next[key] = strip
        return strip

    def _draw_row(
        self, row: LadderRow, bar: str, width: int, flash: bool, stale: bool, cursor: bool
    ) -> Strip:
        style = self._styles
        side_style = style("ladder--bid" if row.side is Side.BUY else "ladder--ask")
        bar_style = style("ladder--bid-bar" if row.side is Side.BUY else "ladder--ask-bar")
        if stale:
            side_style = side_style + Style(dim=True)
        if flash:
            side_style = side_style + style("ladder--flash")
        own = f"●{row.own_qty:.4g}" if row.own_qty else ""
        price = f"{row.price:,.{self.price_decimals}f}"
        qty = f"{row.qty:.{self.qty_decimals}f}"
        cum = _compact(row.cum_qty)
        segs = [
            Segment(CURSOR_MARK if cursor else " ", style.base),
            Segment(f"{own:<6}"[:6], style("ladder--own")),
            Segment(f" {price:>12}", side_style),
            Segment(f" {qty:>11}", side_style),
            Segment(f" {cum:>7} ", style.base),
        ]
        if bar:
            segs.append(Segment(bar, bar_style))
        strip = _fit(segs, width, style.base)
        if cursor:
            strip = over(strip, style("ladder--cursor"))
        return strip

    def _spread_line(self, top: BookTop, width: int) -> Strip:
        style = self._styles("ladder--spread")
        if top.bids and top.asks:
            bid, ask = top.bids[0].price, top.asks[0].price
            spread = ask - bid
            mid = (ask + bid) / 2
            bps = spread / mid * 10_000 if mid else 0.0
            text = (
                f" spread {spread:.{self.price_decimals}f} ({bps:.1f} bps)"
                f"   mid {mid:,.{self.price_decimals + 1}f}"
            )
        else:
            text = " one side of the book is empty"
        return _fit([Segment(text, style)], width, style)

    def _info_line(self, width: int) -> Strip:
        style = self._styles("ladder--info")
        row = self.cursor_row
        mid = self.mid
        if row is None:
            text = " ↑↓ walk levels · Enter ticket · [ ] group"
        else:
            dist = (row.price - mid) / mid * 10_000 if mid else 0.0
            text = (
                f" {row.price:,.{self.price_decimals}f}: cum {row.cum_qty:.{self.qty_decimals}g}"
                f"  notional {row.cum_notional:,.0f}  {dist:+.1f} bps"
            )
        return _fit([Segment(text, style)], width, style)


def _compact(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1_000:.1f}k"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def _blank_row(width: int, style: Style) -> Strip:
    return Strip.blank(width, style)


def _fit(segments: list[Segment], width: int, style: Style) -> Strip:
    return Strip(segments).adjust_cell_length(width, style).crop(0, width)
