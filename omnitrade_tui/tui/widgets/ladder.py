"""The order-book ladder: asks above, bids below, drawn line by line (Line API).

Why not ``DataTable``: a ladder changes on every book update; a DataTable re-renders every
visible cell on any change and costs ~50x more per frame (``docs/reference/textual.md`` §0). Here
the app hands over the newest ``BookTop`` at most once a frame, the ladder rebuilds its
rows once (a few dozen strings) and ``render_line`` returns them. Colours come from
component classes, so themes (``$bid``, ``$ask``...) reach the lines without CSS classes
being toggled per level.

The ladder holds every level the engine publishes and every price of ours (bounded by both)
and shows a window of them. The window stays on its prices as the book moves (a new best
level redraws that level, not every row shifted by one) and recentres when the spread leaves
its middle half; scrolled by the trader (``K``/``J`` or shift+arrows a row, PgUp/PgDn a page,
the wheel) it stays until ``z`` or Home. Our orders beyond the window are counted at its top
and bottom edge with the nearest price. A stop
order, not in the book until it triggers, is drawn at its stop price. The title gives the
bid/ask imbalance of the sizes in the window.

The cumulative column is the depth as of the last quarter second (``CUM_HZ``), the same
instant for every row, while the sizes are live. A size that changes near the best changes
the depth of every row beyond it: redrawn on every update, that column rewrote the whole
ladder ten times a second at a quiet market, about half of the ladder's cost in CPU and
bytes over SSH for a figure read at a glance. The cursor's line gives the live depth.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip

from omnitrade_tui.domain.enums import Side
from omnitrade_tui.domain.events import BookState, BookTop
from omnitrade_tui.tui.numbers import Numbers
from omnitrade_tui.tui.widgets.built_lines import BuiltLines
from omnitrade_tui.tui.widgets.styles import CURSOR_MARK, over

#: Price groupings offered, in ticks.
GROUPS = (1, 2, 5, 10, 25, 50, 100, 250, 1000)

_FLASH_S = 0.35
#: How often the cumulative column is brought up to date (see the module docstring).
CUM_HZ = 4.0
#: A book this long without a paint has its flashes faded and its depth brought up by the
#: frame loop; one that moves does it on its next paint (a quiet book's flash lasts up to
#: ``_FLASH_S`` + this).
_QUIET_S = 0.25
#: Prices whose bucket a side keeps (a few books of levels; then it starts again).
_BUCKET_MEMO = 4_000
_BAR = "█▉▊▋▌▍▎▏"
#: Cells a row takes with every column at full width; narrower, the columns close up.
FULL_ROW = 41
#: Cells of a narrow row with its cumulative column; narrower still, that column goes.
NARROW_ROW = 34


@dataclass(frozen=True)
class OwnOrder:
    """One of our open orders as the ladder draws it: a resting order at its limit price,
    a stop order (not in the book until it triggers) at its stop price."""

    client_order_id: str
    side: Side
    price: float
    qty: float
    stop: bool = False


class LadderRow(NamedTuple):
    """One drawn level: a price bucket with its size and the depth up to it.

    ``side`` is the side of the book the row sits in (asks above the spread, bids below);
    a row may hold only our orders (``qty`` 0) when the book has nothing at that price.
    A named tuple, not a frozen dataclass: every paint builds a row for each of the
    book's levels (400), and a frozen dataclass takes 2.7 times as long to make.
    """

    side: Side
    price: float
    qty: float
    cum_qty: float
    cum_notional: float
    own_qty: float = 0.0
    stop_qty: float = 0.0

    @property
    def mine(self) -> bool:
        """Whether one of our orders (resting or stop) is drawn on this row."""
        return bool(self.own_qty or self.stop_qty)


def group_levels(
    levels: list[tuple[float, float]],
    side: Side,
    bucket: float,
    memo: dict[float, float] | None = None,
) -> list[tuple[float, float]]:
    """Levels merged into price buckets of ``bucket`` (bids round down, asks up), best first.

    ``memo`` keeps each price's bucket (of this side and ``bucket``) between calls: most
    levels outlive an update, and the rounding is most of the cost."""
    if bucket <= 0:
        return sorted(levels, reverse=side is Side.BUY)
    out: dict[float, float] = {}
    known = memo if memo is not None else {}
    for price, qty in levels:
        key = known.get(price)
        if key is None:
            key = known[price] = bucket_price(price, side, bucket)
        out[key] = out.get(key, 0.0) + qty
    return sorted(out.items(), reverse=side is Side.BUY)


def bucket_price(price: float, side: Side, bucket: float) -> float:
    """The price of the row ``price`` is drawn in at a grouping of ``bucket``: bids round
    down to it, asks up."""
    steps = price / bucket
    # A small epsilon keeps exact multiples in their own bucket despite float error.
    k = math.floor(steps + 1e-9) if side is Side.BUY else math.ceil(steps - 1e-9)
    # Eight places: Binance's finest tick, and enough to undo k * bucket's float error.
    return round(k * bucket, 8)


def build_rows(
    levels: list[tuple[float, float]],
    side: Side,
    own: Mapping[float, float],
    bucket: float,
    stops: Mapping[float, float] | None = None,
    memo: dict[float, float] | None = None,
) -> list[LadderRow]:
    """Rows of one side, best first, with cumulative quantity and notional.

    ``own`` and ``stops`` are already bucketed; a price of theirs the book does not have
    gets a row of its own (size 0), so every order of ours has a row to be drawn on.
    ``memo`` is ``group_levels``'s.
    """
    stops = stops or {}
    levels = group_levels(levels, side, bucket, memo)  # best first
    rows: list[LadderRow] = []
    cum = 0.0
    notional = 0.0
    if not own and not stops:
        # No order of ours on this side (most paints): the levels as they come.
        for price, qty in levels:
            cum += qty
            notional += price * qty
            rows.append(LadderRow(side, price, qty, cum, notional))
        return rows
    grouped = dict(levels)
    for price in (*own, *stops):
        grouped.setdefault(price, 0.0)
    for price in sorted(grouped, reverse=side is Side.BUY):
        qty = grouped[price]
        cum += qty
        notional += price * qty
        rows.append(
            LadderRow(side, price, qty, cum, notional, own.get(price, 0.0), stops.get(price, 0.0))
        )
    return rows


def imbalance(rows: list[LadderRow]) -> float | None:
    """(bid size - ask size) / (bid size + ask size) over ``rows``: +1 all bids, -1 all asks."""
    bid = sum(r.qty for r in rows if r.side is Side.BUY)
    ask = sum(r.qty for r in rows if r.side is Side.SELL)
    total = bid + ask
    return (bid - ask) / total if total > 0 else None


class Ladder(BuiltLines, can_focus=True):
    """A price ladder of one symbol's local book.

    It holds every level the engine publishes (``runtime.BOOK_LEVELS`` a side) and every
    price of ours, and shows a window of them: centred on the spread until the trader
    scrolls, with our orders beyond the window counted at its top and bottom edge.
    """

    COMPONENT_CLASSES = {
        "ladder--header",
        "ladder--bid",
        "ladder--ask",
        "ladder--bid-bar",
        "ladder--ask-bar",
        "ladder--bid-flash",
        "ladder--ask-flash",
        "ladder--own",
        "ladder--stop",
        "ladder--cursor",
        "ladder--spread",
        "ladder--stale",
        "ladder--info",
        "ladder--edge",
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
        & > .ladder--bid-flash { background: $bid 35%; }
        & > .ladder--ask-flash { background: $ask 35%; }
        & > .ladder--own { color: $warning; text-style: bold; }
        & > .ladder--stop { color: $warning; text-style: bold italic; }
        & > .ladder--cursor { background: $accent 40%; }
        &:focus > .ladder--cursor { background: $accent 70%; text-style: bold; }
        & > .ladder--spread { color: $text; background: $panel; }
        & > .ladder--stale { color: $stale; text-style: bold; }
        & > .ladder--info { color: $text-muted; }
        & > .ladder--edge { color: $warning; text-style: bold; }
    }
    """

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Level up", show=False),
        Binding("down,j", "cursor(1)", "Level down", show=False),
        Binding("shift+up,K", "scroll_rows(-1)", "Scroll up", show=False),
        Binding("shift+down,J", "scroll_rows(1)", "Scroll down", show=False),
        Binding("pageup", "scroll_page(-1)", "Page up", show=False),
        Binding("pagedown", "scroll_page(1)", "Page down", show=False),
        Binding("z,home", "recentre", "Recentre", show=False),
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
        #: How prices and sizes are written (the app's, shared with every pane).
        self.numbers = Numbers({})
        self.group = 1
        self.top: BookTop | None = None
        self.state: BookState = BookState.SYNCING
        #: Our resting open quantity by (side, price), stops left out.
        self.own: dict[tuple[Side, float], float] = {}
        self.orders: list[OwnOrder] = []
        self.cursor: int | None = None  # index into the rows, asks first
        #: Rows the window is moved from its centred place (positive: toward lower prices).
        self.scroll = 0
        #: Whether the window follows the spread (until the trader scrolls it).
        self.following = True
        #: A row's price, its line in the window and the window's height, last paint.
        self._anchor: tuple[float, int, int] | None = None
        self._shift = 0  # rows the trader scrolled since the last paint
        self._prices_desc: list[float] = []  # the rows' prices, negated: ascending
        #: Bid/ask imbalance of the rows in the window, as drawn on the last paint.
        self.imbalance: float | None = None
        self._rows: list[LadderRow] = []
        self._ask_count = 0
        self._window = (0, 0)  # first display index shown, number of display lines
        self._seen: dict[tuple[Side, float], float] = {}
        self._changed_at: dict[tuple[Side, float], float] = {}
        self._flash_until = 0.0
        self._row_cache: dict[tuple[object, ...], Strip] = {}
        self._row_cache_next: dict[tuple[object, ...], Strip] = {}
        #: The cumulative column as drawn: each window row's depth on beat ``_cum_beat``
        #: (``int(time * CUM_HZ)``), taken again on the next beat or a new height or grouping.
        self._cum_shown: dict[tuple[Side, float], float] = {}
        self._cum_beat = -1
        #: Whether a shown depth differs from the live one (brought up on the next beat).
        self._cum_behind = False
        #: When the window was last built (``clock``).
        self._painted_at = 0.0
        #: Each price's bucket at the current grouping, by side (``group_levels``'s memo).
        self._buckets: dict[Side, dict[float, float]] = {Side.BUY: {}, Side.SELL: {}}
        #: The clock of flashes and beats (a test sets its own).
        self.clock: Callable[[], float] = time.monotonic

    # -- data in ---------------------------------------------------------------------------

    def configure(self, symbol: str, tick: Decimal, numbers: Numbers) -> None:
        """Show another symbol: its tick and the writer of its prices and sizes (the
        screen's, so a level reads here as in the blotter); the old book is dropped."""
        self.symbol = symbol
        self.numbers = numbers
        self.tick = float(tick) if tick > 0 else 10.0 ** -numbers.price_places(symbol)
        self.group = 1
        self.top = None
        self.cursor = None
        self.scroll = 0
        self.following = True
        self._anchor = None
        self._shift = 0
        self._seen.clear()
        self._changed_at.clear()
        self._forget_grouping()
        # A cached row is keyed by price and size, not by how the symbol writes them.
        self._row_cache.clear()
        self.invalidate()

    def show_book(self, top: BookTop | None, state: BookState) -> None:
        """The newest top of book and its health (at most once a frame)."""
        self.top = top
        self.state = state
        self.invalidate()

    def set_own_orders(self, orders: list[OwnOrder]) -> None:
        """Our open orders of the shown symbol."""
        self.orders = orders
        own: dict[tuple[Side, float], float] = {}
        for o in orders:
            if not o.stop:
                own[(o.side, o.price)] = own.get((o.side, o.price), 0.0) + o.qty
        self.own = own
        self.invalidate()

    def regroup(self, step: int) -> None:
        """Coarser (``+1``) or finer (``-1``) price grouping."""
        i = GROUPS.index(self.group) if self.group in GROUPS else 0
        self.group = GROUPS[max(0, min(len(GROUPS) - 1, i + step))]
        self._seen.clear()
        self._forget_grouping()
        if self.following:
            self._anchor = None  # rows of another size: centre them afresh
        self.invalidate()

    @property
    def bucket(self) -> float:
        """The price step of one row."""
        return self.tick * self.group

    def bucket_of(self, price: float, side: Side) -> float:
        """The price of the row ``price`` is drawn in on ``side`` at the current grouping."""
        return bucket_price(price, side, self.bucket) if self.bucket > 0 else price

    def orders_at(self, row: LadderRow) -> list[OwnOrder]:
        """Our orders drawn on ``row`` (resting ones at their price, stops at their stop)."""
        return [o for o in self.orders if self._row_key(o) == (row.side, row.price)]

    def _row_key(self, order: OwnOrder) -> tuple[Side, float]:
        """The (book side, row price) ``order`` is drawn on.

        A resting order sits on its own side; a stop is not in the book, so it goes to the
        side its price is on (a sell stop under the market among the bids).
        """
        side = order.side
        if order.stop:
            mid = self.mid
            if mid is not None:
                side = Side.SELL if order.price > mid else Side.BUY
        return side, self.bucket_of(order.price, side)

    # -- cursor and scrolling --------------------------------------------------------------

    def action_cursor(self, step: int) -> None:
        """Move the cursor a level; it starts at the best ask or best bid, or, scrolled
        away from the spread, at the window's edge it moves from."""
        if not self._rows:
            return
        if self.cursor is None:
            first, count = self._window
            shown = [
                i for i in range(len(self._rows)) if first <= self._display_index(i) < first + count
            ]
            if self.following or not shown:
                near = self._ask_count - 1 if step < 0 else self._ask_count
                self.cursor = max(0, min(len(self._rows) - 1, near))
            else:
                self.cursor = shown[-1] if step < 0 else shown[0]
        else:
            self.cursor = max(0, min(len(self._rows) - 1, self.cursor + step))
        self._follow_cursor()
        self.invalidate()

    def action_clear_cursor(self) -> None:
        """Leave cursor mode."""
        self.cursor = None
        self.invalidate()

    def action_scroll_rows(self, rows: int) -> None:
        """Move the window ``rows`` levels (positive: toward lower prices); it then stays on
        those prices as the market moves, until ``z``."""
        self.following = False
        self._shift += rows
        self.invalidate()

    def action_scroll_page(self, pages: int) -> None:
        """Move the window a page (less one row, to keep a row in common)."""
        self.action_scroll_rows(pages * max(1, self._window[1] - 2))

    def action_recentre(self) -> None:
        """The window back on the spread, following it again; a cursor it leaves behind
        is dropped."""
        self.scroll = 0
        self.following = True
        self._anchor = None
        self._shift = 0
        if self.cursor is not None and not self._cursor_in(self._centred_window()):
            self.cursor = None
        self.invalidate()

    def on_mouse_scroll_down(self) -> None:
        """The wheel scrolls the window."""
        self.action_scroll_rows(3)

    def on_mouse_scroll_up(self) -> None:
        """See ``on_mouse_scroll_down``."""
        self.action_scroll_rows(-3)

    def _display_index(self, row: int) -> int:
        """Where row ``row`` is among the display lines (the spread line sits between)."""
        return row if row < self._ask_count else row + 1

    def _row_at_or_after(self, display: int) -> int:
        """The first row whose display index is ``display`` or more (the inverse of
        ``_display_index``, skipping the spread line), not clipped to the rows."""
        return max(0, display if display <= self._ask_count else display - 1)

    def _body_height(self) -> int:
        """Display lines in the window: all but the title, the two edges and the info line."""
        return self.size.height - 4

    def _centred_window(self) -> int:
        """The first display index of the window centred on the spread."""
        return self._ask_count - (self._body_height() - 1) // 2

    def _place_window(self) -> int:
        """The first display index of the window for the rows just built.

        The window stays on the prices it showed (the row at its top keeps its line), so a
        book that moves redraws the levels that changed, not every row shifted by one.
        Following the spread, it recentres when the spread leaves the middle half of the
        window; scrolled by the trader, it stays until ``z``.
        """
        body = self._body_height()
        centred = self._centred_window()
        first = centred
        anchor = self._anchor
        if anchor is not None and (anchor[2] == body or not self.following):
            # (Following the spread, a window of another height is centred afresh.)
            price, y, _ = anchor
            first = self._display_of(price) - y
            spread_at = self._ask_count - first
            if self.following and not body // 4 <= spread_at < body - body // 4:
                first = centred
        first += self._shift
        self._shift = 0
        # The window may start above the first row only as far as the centred one does
        # (a thin book pads the top), and stops when the last row reaches its bottom.
        last_start = len(self._rows) + 1 - body
        first = max(min(centred, 0), min(max(centred, last_start), first))
        self.scroll = first - centred
        self._anchor = None
        for y in range(body):
            at = first + y
            if 0 <= at < len(self._rows) + 1 and at != self._ask_count:
                row = self._rows[at if at < self._ask_count else at - 1]
                self._anchor = (row.price, y, body)
                break
        return first

    def _display_of(self, price: float) -> int:
        """The display index of the first line priced at or below ``price`` (rows run from
        the highest price down, the spread line between the sides)."""
        above = bisect_left(self._prices_desc, -price)
        return above if above <= self._ask_count else above + 1

    def _cursor_in(self, first: int) -> bool:
        if self.cursor is None:
            return False
        at = self._display_index(self.cursor)
        return first <= at < first + self._body_height()

    def _follow_cursor(self) -> None:
        """Scroll just enough to keep the cursor in the window."""
        if self.cursor is None:
            return
        first, body = self._window
        at = self._display_index(self.cursor)
        if at < first:
            self.action_scroll_rows(at - first)
        elif at >= first + body:
            self.action_scroll_rows(at - (first + body) + 1)

    def action_select(self) -> None:
        """Ask for a ticket at the level under the cursor (or the best bid)."""
        row = self.cursor_row
        if row is None and self._rows:
            row = self._rows[min(self._ask_count, len(self._rows) - 1)]
        if row is not None:
            self.post_message(self.LevelSelected(row.price, row.side))

    @property
    def rows(self) -> list[LadderRow]:
        """The levels the ladder holds (asks highest first, then bids), shown or not."""
        return list(self._rows)

    @property
    def visible_rows(self) -> list[LadderRow]:
        """The levels in the window on the last paint, top to bottom."""
        first, count = self._window
        return self._rows[self._row_at_or_after(first) : self._row_at_or_after(first + count)]

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

    def restyle(self) -> None:
        """Styles changed: the cached rows were drawn in the old ones too."""
        self._row_cache.clear()
        super().restyle()

    def on_focus(self) -> None:
        """Focus changes the background: restyle every line."""
        self.restyle()

    def on_blur(self) -> None:
        """See ``on_focus``."""
        self.on_focus()

    def on_resize(self) -> None:
        """A new size: centred afresh unless the trader scrolled (the base rebuilds every
        line: Textual calls both handlers)."""
        if self.following:
            self._anchor = None
        self._cum_beat = -1  # rows of another window: their depth afresh

    def _forget_grouping(self) -> None:
        """A new tick or grouping: every bucket and every shown depth is taken afresh."""
        self._cum_beat = -1
        for memo in self._buckets.values():
            memo.clear()

    def _sides(self, top: BookTop) -> tuple[list[LadderRow], list[LadderRow]]:
        """Every row of each side, best first: the book's levels and our prices."""
        own: dict[tuple[Side, float], float] = {}
        stops: dict[tuple[Side, float], float] = {}
        for order in self.orders:
            key = self._row_key(order)
            into = stops if order.stop else own
            into[key] = into.get(key, 0.0) + order.qty
        bucket = self.bucket
        sides = []
        for side, levels in ((Side.SELL, top.asks), (Side.BUY, top.bids)):
            sides.append(
                build_rows(
                    [(lv.price, lv.qty) for lv in levels],
                    side,
                    {p: q for (s, p), q in own.items() if s is side},
                    bucket,
                    {p: q for (s, p), q in stops.items() if s is side},
                    self._bucket_memo(side),
                )
            )
        return sides[0], sides[1]

    def _bucket_memo(self, side: Side) -> dict[float, float]:
        """The buckets of ``side``'s prices at the current grouping, started again when
        they outgrow a few books' worth."""
        memo = self._buckets[side]
        if len(memo) > _BUCKET_MEMO:
            memo.clear()
        return memo

    def _build(self) -> list[Strip]:
        width = self.size.width
        height = self.size.height
        if width <= 0 or height <= 0:
            return []
        style = self._styles
        base = style.base
        top = self.top
        body = height - 4  # title, top edge, bottom edge, info line
        if top is None or body < 3:
            msg = "waiting for the book" if top is None else "too small"
            self._rows = []
            self._ask_count = 0
            self.imbalance = None
            return [
                self._title_line(width),
                _fit([Segment(f" {msg}", style("ladder--info"))], width, base),
            ]
        asks, bids = self._sides(top)
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
        self._prices_desc = [-r.price for r in shown]
        first = self._place_window()
        self._window = (first, body)
        window = self.visible_rows
        self.imbalance = imbalance(window)
        now = self.clock()
        for row in window:
            key = (row.side, row.price)
            if self._seen.get(key) != row.qty:
                if key in self._seen:
                    self._changed_at[key] = now
                self._seen[key] = row.qty
        if len(self._seen) > 4 * (len(window) + 10):
            keep = {(r.side, r.price) for r in window}
            self._seen = {k: v for k, v in self._seen.items() if k in keep}
            self._changed_at = {k: v for k, v in self._changed_at.items() if k in keep}
        # The bars' full length is the largest size rounded up to a 1-2-5 step: a new
        # largest level then redraws every bar only when it crosses a step, not each time.
        max_qty = _ceil_125(max((r.qty for r in window), default=0.0))
        cum = self._cumulative(window, now)
        self._painted_at = now
        self._row_cache_next = {}
        stale = self.state is not BookState.LIVE
        lines = [self._title_line(width), self._edge_line(width, above=True)]
        blank = _blank_row(width, base)
        for at in range(first, first + body):
            if at < 0 or at > len(shown):
                lines.append(blank)
            elif at == len(asks):
                lines.append(self._spread_line(top, width))
            else:
                i = at if at < len(asks) else at - 1
                row = shown[i]
                flash = now - self._changed_at.get((row.side, row.price), -1e9) < _FLASH_S
                depth = cum.get((row.side, row.price), row.cum_qty)
                lines.append(self._row_line(row, i, width, max_qty, flash, stale, depth))
        lines.append(self._edge_line(width, above=False))
        lines.append(self._info_line(width))
        self._flash_until = max(self._changed_at.values(), default=0.0) + _FLASH_S
        self._row_cache, self._row_cache_next = self._row_cache_next, {}
        return lines

    def _cumulative(self, window: list[LadderRow], now: float) -> dict[tuple[Side, float], float]:
        """The depth to draw for each window row: taken afresh on a new beat (a new size or
        grouping forgets the beat), else as drawn (a row new to the window shows its live
        depth)."""
        beat = int(now * CUM_HZ)
        if beat != self._cum_beat:
            self._cum_shown = {(r.side, r.price): r.cum_qty for r in window}
            self._cum_beat = beat
            self._cum_behind = False
        else:
            shown = self._cum_shown
            self._cum_behind = any(
                shown.get((r.side, r.price), r.cum_qty) != r.cum_qty for r in window
            )
        return self._cum_shown

    def fade_flashes(self) -> bool:
        """Called once a frame: let a flash fade, and a cumulative column that is behind
        catch up, once the book has been quiet for ``_QUIET_S`` (a book that moves does
        both on its next paint, without a frame of their own). True when the ladder will
        repaint for it."""
        now = self.clock()
        quiet = now - self._painted_at >= _QUIET_S
        due = self._flash_until and now >= self._flash_until and quiet
        if due or (self._cum_behind and quiet and int(now * CUM_HZ) != self._cum_beat):
            if due:
                self._flash_until = 0.0
            self._cum_behind = False
            self.invalidate()
            return True
        return False

    def _title_line(self, width: int) -> Strip:
        style = self._styles
        header = style("ladder--header")
        title = (
            f" {self.symbol}  group {self.group}x ({self.numbers.price(self.symbol, self.bucket)})"
        )
        segs = [Segment(title, header)]
        if self.imbalance is not None:
            segs.append(Segment(f"  imb {self.imbalance:+.0%}", style("ladder--info")))
        if self.state is not BookState.LIVE:
            label = {
                BookState.SYNCING: "SYNCING",
                BookState.STALE: "STALE",
                BookState.RESYNCING: "STALE - RESYNCING",
            }[self.state]
            segs.append(Segment(f"  {label}", style("ladder--stale")))
        return _fit(segs, width, style.base)

    def _edge_line(self, width: int, above: bool) -> Strip:
        """What lies beyond the window on one side: our orders first (how many, the
        nearest price), else how many levels."""
        style = self._styles
        first, count = self._window
        if above:
            beyond = self._rows[: self._row_at_or_after(first)]
            arrow = "▲"
        else:
            beyond = self._rows[self._row_at_or_after(first + count) :]
            arrow = "▼"
        if not beyond:
            return _blank_row(width, style.base)
        # Without orders of ours (most of the time) the levels beyond need no walk.
        marked = [r for r in beyond if r.mine] if self.orders else []
        nearest = marked[-1:] if above else marked[:1]
        mine = [o for r in marked for o in self.orders_at(r)]
        if nearest and mine:
            price = self.numbers.price(self.symbol, nearest[0].price)
            text = f" {arrow} {len(mine)} of my orders beyond · nearest {price}"
            if len(text) > width:  # a narrow ladder (80 columns) keeps the count and price
                text = f" {arrow} {len(mine)} mine beyond · {price}"
            return _fit([Segment(text, style("ladder--edge"))], width, style.base)
        text = f" {arrow} {len(beyond)} more levels"
        return _fit([Segment(text, style("ladder--info"))], width, style.base)

    def _row_line(
        self,
        row: LadderRow,
        index: int,
        width: int,
        max_qty: float,
        flash: bool,
        stale: bool,
        depth: float,
    ) -> Strip:
        # The fixed columns take 7 + 13 + 12 + 9 cells (NARROW_ROW in a narrow ladder); the
        # size bar gets the rest.
        room = width - FULL_ROW
        bar = ""
        if room > 0:
            cells = room * min(row.qty, max_qty) / max_qty
            full = int(cells)
            frac = int((cells - full) * 8)
            bar = "█" * full + (_BAR[8 - frac] if frac and full < room else "")
        # Most rows look the same from one frame to the next; making a Strip is a large
        # part of a frame's cost, so identical rows reuse last frame's.
        key = (
            row.side,
            row.price,
            row.qty,
            depth,
            row.own_qty,
            row.stop_qty,
            bar,
            flash,
            stale,
            index == self.cursor,
            width,
        )
        strip = self._row_cache.get(key)
        if strip is None:
            strip = self._draw_row(row, bar, width, flash, stale, index == self.cursor, depth)
        self._row_cache_next[key] = strip
        return strip

    def _draw_row(
        self,
        row: LadderRow,
        bar: str,
        width: int,
        flash: bool,
        stale: bool,
        cursor: bool,
        depth: float,
    ) -> Strip:
        style = self._styles
        bid = row.side is Side.BUY
        side_style = style("ladder--bid" if bid else "ladder--ask")
        bar_style = style("ladder--bid-bar" if bid else "ladder--ask-bar")
        if stale:
            side_style = side_style + Style(dim=True)
        if flash:
            # The flash tints the row in its own side's colour: a change on the bids is a
            # green pulse, on the asks a red one, never a grey bar that reads as a cursor.
            side_style = side_style + style("ladder--bid-flash" if bid else "ladder--ask-flash")
        if row.own_qty:
            mark, mark_style = f"●{row.own_qty:.4g}", style("ladder--own")
        elif row.stop_qty:
            mark, mark_style = f"◆{row.stop_qty:.4g}", style("ladder--stop")
        else:
            mark, mark_style = "", style.base
        price = self.numbers.price(self.symbol, row.price)
        qty = self.numbers.qty(self.symbol, row.qty) if row.qty else ""
        cum = _compact(depth)
        # As few segments as the colours allow: each costs a colour escape and a reset on
        # the wire, more bytes than the digits it holds.
        lead = CURSOR_MARK if cursor else " "
        # Below the full row's width (the ladder at 80 columns) the columns close up, so the
        # price, the size and, where it fits, the cumulative size stay whole.
        narrow = width < FULL_ROW
        mark_w = 5 if narrow else 6
        if mark:
            segs = [Segment(lead, style.base), Segment(f"{mark:<{mark_w}}"[:mark_w], mark_style)]
        else:
            segs = [Segment(f"{lead:<{mark_w + 1}}", style.base)]
        if not narrow:
            cells = f" {price:>12} {qty:>11} {cum:>7} "
        elif width >= NARROW_ROW:
            cells = f" {price:>10} {qty:>9} {cum:>6}"
        else:
            cells = f" {price:>10} {qty:>9}"
        segs.append(Segment(cells, side_style))
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
            spread_text = self.numbers.price(self.symbol, spread)
            # One place more than a price: a mid between two ticks is read exactly.
            mid_text = f"{mid:,.{self.numbers.price_places(self.symbol) + 1}f}"
            text = f" spread {spread_text} ({bps:.1f} bps)   mid {mid_text}"
            if len(text) > width:  # a narrow ladder: the bps give way, the mid stays whole
                text = f" spread {spread_text} · mid {mid_text}"
        else:
            text = " one side of the book is empty"
        return _fit([Segment(text, style)], width, style)

    def _info_line(self, width: int) -> Strip:
        style = self._styles("ladder--info")
        row = self.cursor_row
        mid = self.mid
        if row is None:
            text = " ↑↓ walk levels · PgUp/Dn · z mid · [ ] group"
            if len(text) > width:
                text = " ↑↓ walk levels · PgUp/Dn · z mid"
        else:
            dist = (row.price - mid) / mid * 10_000 if mid else 0.0
            text = (
                f" {self.numbers.price(self.symbol, row.price)}:"
                f" cum {self.numbers.qty(self.symbol, row.cum_qty)}"
                f"  notional {row.cum_notional:,.0f}  {dist:+.1f} bps"
            )
        return _fit([Segment(text, style)], width, style)


def _ceil_125(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= value * (1 - 1e-12))


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
