"""One pair across venues, drawn line by line (Line API): a row per venue with its best bid
and ask, spread and book state; the best across venues; any cross between venues; and the
consolidated ladder, every venue's levels merged, each row marked with its venue.

The merge is ``domain.consolidated`` (one row per venue and price, why in its docstring);
this widget only draws it. As the ladder (``widgets/ladder.py``): the screen hands over the
books at most once a frame, the widget rebuilds its lines once (a few dozen strings) and
repaints only those that changed; colours come from component classes, so a theme's
``$bid``, ``$ask``, ``$stale``... reach the lines without CSS classes toggled per row.

The ladder's window is centred on the spread across venues and follows it; scrolled by the
trader (``↑``/``↓`` or ``k``/``j`` a row, the wheel three, PgUp/PgDn a page), it stays
that many rows off the spread until ``z`` or Home.

Marks in the first cell of a ladder row: ``»`` a level at the best price across venues,
``×`` a level that crosses another venue's best opposite price (it could trade there now).
A venue whose book is not live has its rows dimmed, and is left out of the best and the
crosses (a stale book is the commonest false cross).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.reactive import reactive
from textual.strip import Strip

from omnitrade_tui.domain.consolidated import (
    Consolidated,
    MergedLevel,
    VenueBook,
    VenueQuote,
    consolidate,
)
from omnitrade_tui.domain.enums import Side
from omnitrade_tui.domain.events import BookState
from omnitrade_tui.tui.numbers import Numbers
from omnitrade_tui.tui.widgets.built_lines import BuiltLines

_BAR = "█▉▊▋▌▍▎▏"
#: Widest venue name drawn whole; a longer one is cut (the column must not push the prices).
MAX_VENUE_WIDTH = 10
#: From this width the venue rows give each spread in basis points as well.
BPS_WIDTH = 90
_STATE_LABEL = {
    BookState.LIVE: "LIVE",
    BookState.SYNCING: "SYNCING",
    BookState.STALE: "STALE",
    BookState.RESYNCING: "RESYNCING",
}


class ConsolidatedLadder(BuiltLines, can_focus=True):
    """Several venues' books of one pair: their quotes, the best across them, and one
    ladder of every venue's levels marked with their venue."""

    COMPONENT_CLASSES = {
        "consolidated-ladder--header",
        "consolidated-ladder--column",
        "consolidated-ladder--venue",
        "consolidated-ladder--bid",
        "consolidated-ladder--ask",
        "consolidated-ladder--bid-bar",
        "consolidated-ladder--ask-bar",
        "consolidated-ladder--best-bid",
        "consolidated-ladder--best-ask",
        "consolidated-ladder--cross",
        "consolidated-ladder--stale",
        "consolidated-ladder--spread",
        "consolidated-ladder--info",
    }

    DEFAULT_CSS = """
    ConsolidatedLadder {
        height: 1fr;
        min-height: 12;
        & > .consolidated-ladder--header { color: $text; text-style: bold; }
        &:focus > .consolidated-ladder--header { color: $accent; }
        & > .consolidated-ladder--column { color: $text-muted; text-style: bold; }
        & > .consolidated-ladder--venue { color: $text; }
        & > .consolidated-ladder--bid { color: $bid; }
        & > .consolidated-ladder--ask { color: $ask; }
        & > .consolidated-ladder--bid-bar { color: $bid-muted; }
        & > .consolidated-ladder--ask-bar { color: $ask-muted; }
        & > .consolidated-ladder--best-bid { color: $bid; background: $bid 20%; text-style: bold; }
        & > .consolidated-ladder--best-ask { color: $ask; background: $ask 20%; text-style: bold; }
        & > .consolidated-ladder--cross { color: $warning; text-style: bold; }
        & > .consolidated-ladder--stale { color: $stale; text-style: bold; }
        & > .consolidated-ladder--spread { color: $text; background: $panel; }
        & > .consolidated-ladder--info { color: $text-muted; }
    }
    """

    BINDINGS = [
        Binding("up,k", "scroll_rows(-1)", "Row up", show=False),
        Binding("down,j", "scroll_rows(1)", "Row down", show=False),
        Binding("pageup", "scroll_page(-1)", "Page up", show=False),
        Binding("pagedown", "scroll_page(1)", "Page down", show=False),
        Binding("z,home", "recentre", "Centre", show=False),
    ]

    #: Rows the ladder's window is moved off the spread (positive: toward lower prices);
    #: 0 follows the spread. Kept within the rows there are (``validate_shift``).
    shift: reactive[int] = reactive(0, repaint=False)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.pair = ""
        #: How prices and sizes are written (the app's, shared with every pane).
        self.numbers = Numbers({})
        #: Each instrument id's venue name as drawn.
        self.labels: dict[str, str] = {}
        self.books: list[VenueBook] = []
        #: The books as merged on the last ``show_books`` (``None`` before any).
        self.view: Consolidated | None = None
        #: The books and their merge the lines on screen were drawn from (what is shown, as
        #: ``view`` is what arrived; they differ until the next paint).
        self.painted: tuple[list[VenueBook], Consolidated] | None = None
        #: The ladder rows in the window on the last paint, top to bottom (asks, then bids).
        self.shown_rows: list[MergedLevel] = []
        self._ids: tuple[str, ...] = ()
        self._price_id = ""  # the id writing figures of several venues: the finest places
        self._qty_id = ""
        self._venue_w = 5
        self._body = 0  # ladder rows the window held on the last paint
        self._rows = 0  # ladder lines there are (asks, the spread line, bids)

    # -- data in ---------------------------------------------------------------------------

    def configure(self, pair: str, labels: Mapping[str, str], numbers: Numbers) -> None:
        """Show ``pair`` on the venues ``labels`` names (instrument id -> venue name, in
        the venues' order), its figures written by ``numbers``; any old books are dropped."""
        self.pair = pair
        self.labels = dict(labels)
        self.numbers = numbers
        self._ids = tuple(labels)
        ids = self._ids or (pair,)
        self._price_id = max(ids, key=numbers.price_places)
        self._qty_id = max(ids, key=numbers.qty_places)
        self._venue_w = min(MAX_VENUE_WIDTH, max([5, *(len(v) for v in self.labels.values())]))
        self.books = []
        self.view = None
        self.shift = 0
        self.invalidate()

    def show_books(self, books: Sequence[VenueBook]) -> None:
        """The newest book of each venue (at most once a frame), merged here once."""
        self.books = list(books)
        self.view = consolidate(self.books)
        self.invalidate()

    # -- scrolling -------------------------------------------------------------------------

    def validate_shift(self, shift: int) -> int:
        """Keep the window on rows there are: at most the half-window past either end."""
        half = self._body // 2
        asks = len(self.view.asks) if self.view else 0
        low = -max(0, asks - half)  # the worst ask at the window's top
        high = max(0, self._rows - asks + half - self._body)  # the worst bid at its bottom
        return max(low, min(high, shift))

    def watch_shift(self) -> None:
        """A scrolled window: redraw it."""
        self.invalidate()

    def action_scroll_rows(self, rows: int) -> None:
        """Move the window ``rows`` ladder rows (positive: toward lower prices)."""
        self.shift += rows

    def action_scroll_page(self, pages: int) -> None:
        """Move the window a page (its height less one row, so one row stays in sight)."""
        self.shift += pages * max(1, self._body - 1)

    def action_recentre(self) -> None:
        """Back to the spread, and follow it again."""
        self.shift = 0

    def on_mouse_scroll_down(self) -> None:
        """The wheel scrolls the ladder three rows a notch (as the main ladder's does)."""
        self.shift += 3

    def on_mouse_scroll_up(self) -> None:
        """See ``on_mouse_scroll_down``."""
        self.shift -= 3

    # -- drawing ---------------------------------------------------------------------------

    def _build(self) -> list[Strip]:
        width, height = self.size.width, self.size.height
        if width <= 0 or height <= 0:
            return []
        view = self.view
        self.painted = (self.books, view) if view is not None else None
        base = self._styles.base
        lines = [self._title(width, view)]
        if view is None or not view.quotes:
            self.shown_rows = []
            lines.append(_fit([Segment(" waiting for the books", base)], width, base))
            return lines
        lines.append(self._quote_header(width))
        lines.extend(self._quote_line(q, view, width) for q in view.quotes)
        lines.append(self._best_line(view, width))
        lines.append(self._cross_line(view, width))
        lines.append(self._ladder_header(width))
        body = height - len(lines) - 1  # the keys' line below
        lines.extend(self._ladder(view, width, body))
        lines.append(self._keys_line(width))
        return lines[:height]

    # -- the quotes ------------------------------------------------------------------------

    def _title(self, width: int, view: Consolidated | None) -> Strip:
        style = self._styles
        n = len(self._ids)
        segs = [
            Segment(
                f" {self.pair} across {n} venue{'s' if n != 1 else ''}",
                style("consolidated-ladder--header"),
            )
        ]
        if view is not None and view.crosses:
            word = "CROSSED" if any(not c.locked for c in view.crosses) else "LOCKED"
            segs.append(Segment(f"  {word}", style("consolidated-ladder--cross")))
        return _fit(segs, width, style.base)

    def _wide(self, width: int) -> bool:
        return width >= BPS_WIDTH

    def _quote_header(self, width: int) -> Strip:
        vw = self._venue_w
        text = f" {'venue':<{vw}} {'bid':>12} {'size':>10} {'ask':>12} {'size':>10} {'spread':>9}"
        if self._wide(width):
            text += f" {'bps':>6}"
        text += "  book"
        return _fit([Segment(text, self._styles("consolidated-ladder--column"))], width, self._base)

    @property
    def _base(self) -> Style:
        return self._styles.base

    def _quote_line(self, quote: VenueQuote, view: Consolidated, width: int) -> Strip:
        style = self._styles
        numbers = self.numbers
        sid = quote.instrument_id
        live = quote.state is BookState.LIVE
        dim = Style(dim=True) if not live else Style()
        bid_style = style("consolidated-ladder--bid") + dim
        ask_style = style("consolidated-ladder--ask") + dim
        at_best_bid = view.best_bid is not None and sid in view.best_bid.instrument_ids
        at_best_ask = view.best_ask is not None and sid in view.best_ask.instrument_ids
        bid, ask = quote.bid, quote.ask
        vw = self._venue_w
        segs = [
            Segment(
                f" {self.labels.get(sid, sid)[:vw]:<{vw}} ", style("consolidated-ladder--venue")
            )
        ]
        bid_text = f"{numbers.price(sid, bid.price if bid else None):>12}"
        segs.append(
            Segment(bid_text, style("consolidated-ladder--best-bid") if at_best_bid else bid_style)
        )
        segs.append(Segment(f" {numbers.qty(sid, bid.qty if bid else None):>10} ", bid_style))
        ask_text = f"{numbers.price(sid, ask.price if ask else None):>12}"
        segs.append(
            Segment(ask_text, style("consolidated-ladder--best-ask") if at_best_ask else ask_style)
        )
        segs.append(Segment(f" {numbers.qty(sid, ask.qty if ask else None):>10}", ask_style))
        spread = quote.spread
        cells = f" {numbers.price(sid, spread):>9}"
        if self._wide(width):
            cells += f" {_bps(spread, bid.price if bid else None):>6}"
        segs.append(Segment(cells, style.base + dim))
        state_style = style.base if live else style("consolidated-ladder--stale")
        segs.append(Segment(f"  {_STATE_LABEL[quote.state]}", state_style))
        return _fit(segs, width, style.base)

    def _best_line(self, view: Consolidated, width: int) -> Strip:
        """The best across the live venues, with the venue of each side."""
        style = self._styles
        numbers = self.numbers
        bb, ba = view.best_bid, view.best_ask
        bid_id = bb.instrument_ids[0] if bb else self._price_id
        ask_id = ba.instrument_ids[0] if ba else self._price_id
        vw = self._venue_w
        header = style("consolidated-ladder--column")
        segs = [Segment(f" {'best':<{vw}} ", header)]
        segs.append(
            Segment(
                f"{numbers.price(bid_id, bb.price if bb else None):>12}"
                f" {numbers.qty(bid_id, bb.qty if bb else None):>10} ",
                style("consolidated-ladder--bid") + Style(bold=True),
            )
        )
        segs.append(
            Segment(
                f"{numbers.price(ask_id, ba.price if ba else None):>12}"
                f" {numbers.qty(ask_id, ba.qty if ba else None):>10}",
                style("consolidated-ladder--ask") + Style(bold=True),
            )
        )
        spread = view.spread
        signed = spread is not None and spread < 0
        cells = f" {numbers.price(self._price_id, spread, signed=signed):>9}"
        if self._wide(width):
            cells += f" {_bps(spread, bb.price if bb else None):>6}"
        segs.append(Segment(cells, header))
        bid_at = self._venues_of(bb.instrument_ids if bb else ())
        ask_at = self._venues_of(ba.instrument_ids if ba else ())
        # Where the best of each side is: said in words where there is room.
        if self._wide(width):
            where = f"  bid {bid_at} · ask {ask_at}"
        else:
            where = f"  {bid_at}" if bid_at == ask_at else f"  {bid_at}/{ask_at}"
        segs.append(Segment(where, header))
        return _fit(segs, width, style.base)

    def _venues_of(self, ids: Sequence[str]) -> str:
        return "+".join(self.labels.get(i, i) for i in ids) or "-"

    def _cross_line(self, view: Consolidated, width: int) -> Strip:
        """The widest cross between venues (and how many more), else which venues are left
        out of the best, else that nothing crosses."""
        style = self._styles
        numbers = self.numbers
        if view.crosses:
            c = view.crosses[0]
            bid = numbers.price(c.bid_id, c.bid)
            ask = numbers.price(c.ask_id, c.ask)
            bv, av = self.labels.get(c.bid_id, c.bid_id), self.labels.get(c.ask_id, c.ask_id)
            if c.locked:
                text = f" = LOCKED: {bv} bid {bid} = {av} ask {ask}"
            else:
                edge = numbers.price(self._price_id, c.edge)
                text = f" × CROSSED: {bv} bid {bid} > {av} ask {ask} by {edge}"
            more = len(view.crosses) - 1
            if more:
                text += f" · {more} more"
            return _fit([Segment(text, style("consolidated-ladder--cross"))], width, style.base)
        out = [q for q in view.quotes if q.state is not BookState.LIVE]
        if out:
            names = ", ".join(self.labels.get(q.instrument_id, q.instrument_id) for q in out)
            text = f" not live: {names} (dimmed; left out of the best)"
            return _fit([Segment(text, style("consolidated-ladder--stale"))], width, style.base)
        text = " no cross: every venue's bid is under every other venue's ask"
        return _fit([Segment(text, style("consolidated-ladder--info"))], width, style.base)

    # -- the ladder ------------------------------------------------------------------------

    def _ladder_header(self, width: int) -> Strip:
        vw = self._venue_w
        text = f"  {'venue':<{vw}} {'price':>12} {'size':>11} {'cum':>10}"
        return _fit([Segment(text, self._styles("consolidated-ladder--column"))], width, self._base)

    def _ladder(self, view: Consolidated, width: int, body: int) -> list[Strip]:
        """``body`` lines of the merged ladder: asks (worst at the top), the spread across
        venues, bids; centred on the spread, moved by ``shift``."""
        base = self._base
        if body <= 0:
            self.shown_rows = []
            return []
        asks, bids = view.asks, view.bids
        self._body = body
        self._rows = len(asks) + 1 + len(bids)
        shift = self.validate_shift(self.shift)
        first = len(asks) - body // 2 + shift
        # Each line of the window: a ladder row, the spread line, or nothing (past an end).
        window: list[MergedLevel | str] = []
        for at in range(first, first + body):
            if at < 0 or at >= self._rows:
                window.append(_PAST_END)
            elif at < len(asks):
                window.append(asks[len(asks) - 1 - at])
            elif at == len(asks):
                window.append(_SPREAD)
            else:
                window.append(bids[at - len(asks) - 1])
        self.shown_rows = [r for r in window if isinstance(r, MergedLevel)]
        peak = _ceil_125(max((r.qty for r in self.shown_rows), default=0.0))
        out: list[Strip] = []
        for row in window:
            if isinstance(row, MergedLevel):
                out.append(self._row_line(row, view, width, peak))
            elif row == _SPREAD:
                out.append(self._spread_line(view, width))
            else:
                out.append(Strip.blank(width, base))
        return out

    def _row_line(self, row: MergedLevel, view: Consolidated, width: int, peak: float) -> Strip:
        style = self._styles
        numbers = self.numbers
        sid = row.instrument_id
        bid = row.side is Side.BUY
        side_style = style("consolidated-ladder--bid" if bid else "consolidated-ladder--ask")
        bar_style = style("consolidated-ladder--bid-bar" if bid else "consolidated-ladder--ask-bar")
        if not row.live:
            side_style = side_style + Style(dim=True)
            bar_style = bar_style + Style(dim=True)
        best = view.best_bid if bid else view.best_ask
        at_best = row.live and best is not None and row.price == best.price
        if row.crossing:
            lead, lead_style = "×", style("consolidated-ladder--cross")
        elif at_best:
            lead, lead_style = "»", side_style + Style(bold=True)
        else:
            lead, lead_style = " ", style.base
        vw = self._venue_w
        venue = self.labels.get(sid, sid)[:vw]
        venue_style = style("consolidated-ladder--venue")
        if not row.live:
            venue_style = venue_style + Style(dim=True)
        price = f"{numbers.price(sid, row.price):>12}"
        price_style = side_style
        if row.crossing:
            price_style = side_style + style("consolidated-ladder--cross")
        elif at_best:
            price_style = style(
                "consolidated-ladder--best-bid" if bid else "consolidated-ladder--best-ask"
            )
        segs = [
            Segment(" ", style.base),
            Segment(lead, lead_style),
            Segment(f"{venue:<{vw}} ", venue_style),
            Segment(price, price_style),
            Segment(
                f" {numbers.qty(sid, row.qty):>11} {numbers.qty(self._qty_id, row.cum_qty):>10} ",
                side_style,
            ),
        ]
        fixed = 2 + vw + 1 + 12 + 1 + 11 + 1 + 10 + 1
        room = width - fixed
        if room > 0 and peak > 0:
            cells = room * min(row.qty, peak) / peak
            full = int(cells)
            frac = int((cells - full) * 8)
            bar = "█" * full + (_BAR[8 - frac] if frac and full < room else "")
            if bar:
                segs.append(Segment(bar, bar_style))
        return _fit(segs, width, style.base)

    def _spread_line(self, view: Consolidated, width: int) -> Strip:
        style = self._styles("consolidated-ladder--spread")
        bb, ba = view.best_bid, view.best_ask
        if bb is None or ba is None:
            text = " across venues: a side has no live level"
            return _fit([Segment(text, style)], width, style)
        spread = ba.price - bb.price
        mid = (ba.price + bb.price) / 2
        pid = self._price_id
        spread_text = self.numbers.price(pid, spread, signed=spread < 0)
        mid_text = f"{mid:,.{self.numbers.price_places(pid) + 1}f}"
        text = (
            f" across venues: spread {spread_text} ({_bps(spread, bb.price)} bps)  mid {mid_text}"
        )
        if len(text) > width:
            text = f" spread {spread_text} · mid {mid_text}"
        return _fit([Segment(text, style)], width, style)

    def _keys_line(self, width: int) -> Strip:
        text = " ↑↓ scroll · PgUp/PgDn · z centre · Esc close · ctrl+k kill switch"
        if self.shift:
            text = f" {self.shift:+d} rows off the spread ·" + text
        return _fit([Segment(text, self._styles("consolidated-ladder--info"))], width, self._base)


#: The window's lines that are not ladder rows: the spread across venues, and a line past
#: either end of the ladder (drawn blank).
_SPREAD, _PAST_END = "spread", "past end"


def _bps(spread: float | None, price: float | None) -> str:
    """``spread`` in basis points of ``price`` (``-`` without either)."""
    if spread is None or not price:
        return "-"
    return f"{spread / price * 10_000:.1f}"


def _ceil_125(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (0 for nothing).

    The bars' full length: a new largest level redraws every bar only when it crosses a
    step, not on each change (the ladder's rule)."""
    if value <= 0:
        return 0.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= value * (1 - 1e-12))


def _fit(segments: list[Segment], width: int, style: Style) -> Strip:
    return Strip(segments).adjust_cell_length(width, style).crop(0, width)
