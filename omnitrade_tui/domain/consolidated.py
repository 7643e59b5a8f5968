"""One pair's books on several venues as one consolidated book: each venue's best bid and
ask, the best across venues, the levels of every venue merged into one ladder, and the
crossed markets between venues.

Why a level stays one row per venue, never summed across venues: a trader reads the
consolidated ladder to decide *where* to send an order. Liquidity at a price is only
reachable on its own venue, through its own account, fees and balance; a row "67,000.10
0.9 (sim 0.4, alt 0.5)" invites an order of 0.9 that no single venue fills at that price.
So two venues at one price are two rows, each marked with its venue, side by side (the
profile's first venue first, then in the order the venues were given); the cumulative
column still adds up across venues, which is what sweeping every venue would reach.

Why only live books count toward the best and the crosses: a book that is syncing or stale
(its stream silent, a gap being resynced) shows prices that may be gone. A stale book is
the commonest cause of a cross between venues that is not there; an arbitrage flag raised
by it would send an order at nothing. Its levels are still merged (marked not live, so the
screen dims them), and its quote still shown, with its state beside it.

A cross between venues: one live venue's best bid at or above another live venue's best
ask (at: *locked*, above: *crossed*). Within one venue a crossed book is that book's fault
(its health says so), not an opportunity, and is not reported here.

Prices and sizes are floats: this is the display path, as ``BookTop`` is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from omnitrade_tui.domain.enums import Side
from omnitrade_tui.domain.events import BookState
from omnitrade_tui.domain.models import BookLevel


@dataclass(frozen=True, slots=True)
class VenueBook:
    """One venue's book of the pair: its instrument id, its levels best first, its health."""

    instrument_id: str
    bids: Sequence[BookLevel]
    asks: Sequence[BookLevel]
    state: BookState = BookState.LIVE

    @property
    def live(self) -> bool:
        """Whether its prices can be acted on (the book is in sync and its stream alive)."""
        return self.state is BookState.LIVE


@dataclass(frozen=True, slots=True)
class VenueQuote:
    """A venue's best bid and ask (``None``: that side is empty) and its book's health."""

    instrument_id: str
    bid: BookLevel | None
    ask: BookLevel | None
    state: BookState

    @property
    def spread(self) -> float | None:
        """Best ask minus best bid on this venue, when it quotes both sides."""
        if self.bid is None or self.ask is None:
            return None
        return self.ask.price - self.bid.price


@dataclass(frozen=True, slots=True)
class MergedLevel:
    """One row of the consolidated ladder: one venue's level.

    ``cum_qty`` is the size of the live rows from the best down to this one, across
    venues. ``crossing``: a live level priced through another live venue's best opposite
    price (a bid at or above another venue's best ask, an ask at or below another's best
    bid): it could trade against that venue now.
    """

    side: Side
    price: float
    qty: float
    instrument_id: str
    cum_qty: float
    live: bool
    crossing: bool = False


@dataclass(frozen=True, slots=True)
class Best:
    """The best price of one side across the live venues, its size there summed over the
    venues quoting it, and those venues (in the venues' order)."""

    price: float
    qty: float
    instrument_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Cross:
    """One live venue's best bid at or above another live venue's best ask."""

    bid_id: str
    bid: float
    ask_id: str
    ask: float

    @property
    def locked(self) -> bool:
        """The bid equals the ask (locked), rather than above it (crossed)."""
        return self.bid == self.ask

    @property
    def edge(self) -> float:
        """How far the bid is above the ask (0 when locked)."""
        return self.bid - self.ask


@dataclass(frozen=True, slots=True)
class Consolidated:
    """Several venues' books of one pair as one."""

    quotes: tuple[VenueQuote, ...]
    #: Every level of every venue, best first (bids: highest; asks: lowest).
    bids: tuple[MergedLevel, ...]
    asks: tuple[MergedLevel, ...]
    best_bid: Best | None
    best_ask: Best | None
    #: Every pair of live venues whose markets cross or lock, the widest first.
    crosses: tuple[Cross, ...]

    @property
    def spread(self) -> float | None:
        """Best ask across venues minus best bid across venues (negative when crossed)."""
        if self.best_bid is None or self.best_ask is None:
            return None
        return self.best_ask.price - self.best_bid.price

    @property
    def crossed(self) -> bool:
        """Whether any two live venues' markets cross or lock."""
        return bool(self.crosses)


def consolidate(books: Sequence[VenueBook]) -> Consolidated:
    """The books of one pair on several venues as one (see the module for the rules).

    ``books`` are in the venues' order (the profile's first venue first): rows at one price
    keep that order. Each venue's levels are taken best first, as a book publishes them.
    """
    quotes = tuple(
        VenueQuote(
            b.instrument_id, b.bids[0] if b.bids else None, b.asks[0] if b.asks else None, b.state
        )
        for b in books
    )
    live = [q for q in quotes if q.state is BookState.LIVE]
    best_bid = _best([(q.bid, q.instrument_id) for q in live], Side.BUY)
    best_ask = _best([(q.ask, q.instrument_id) for q in live], Side.SELL)
    crosses = sorted(
        (
            Cross(b.instrument_id, b.bid.price, a.instrument_id, a.ask.price)
            for b in live
            for a in live
            if b is not a and b.bid is not None and a.ask is not None and b.bid.price >= a.ask.price
        ),
        key=lambda c: -c.edge,
    )
    # Per venue, the best opposite price of the *other* live venues: what a level of this
    # venue would trade against elsewhere.
    other_ask: dict[str, float] = {}
    other_bid: dict[str, float] = {}
    for q in quotes:
        asks = [o.ask.price for o in live if o is not q and o.ask is not None]
        bids = [o.bid.price for o in live if o is not q and o.bid is not None]
        if asks:
            other_ask[q.instrument_id] = min(asks)
        if bids:
            other_bid[q.instrument_id] = max(bids)
    return Consolidated(
        quotes=quotes,
        bids=_merged(books, Side.BUY, other_ask),
        asks=_merged(books, Side.SELL, other_bid),
        best_bid=best_bid,
        best_ask=best_ask,
        crosses=tuple(crosses),
    )


def _best(tops: list[tuple[BookLevel | None, str]], side: Side) -> Best | None:
    quoted = [(level, i) for level, i in tops if level is not None]
    if not quoted:
        return None
    prices = [level.price for level, _ in quoted]
    price = max(prices) if side is Side.BUY else min(prices)
    at = [(level, i) for level, i in quoted if level.price == price]
    return Best(price, sum(level.qty for level, _ in at), tuple(i for _, i in at))


def _merged(
    books: Sequence[VenueBook], side: Side, opposite: dict[str, float]
) -> tuple[MergedLevel, ...]:
    """Every venue's levels of ``side`` in one list, best first, ties in the venues' order."""
    bids = side is Side.BUY
    keyed: list[tuple[float, int, BookLevel, VenueBook]] = []
    for rank, book in enumerate(books):
        for level in book.bids if bids else book.asks:
            # Each venue's levels are one sorted run already; the sort merges the runs.
            keyed.append((-level.price if bids else level.price, rank, level, book))
    keyed.sort(key=lambda k: (k[0], k[1]))
    out: list[MergedLevel] = []
    cum = 0.0
    for _, _, level, book in keyed:
        live = book.live
        if live:
            cum += level.qty
        through = opposite.get(book.instrument_id) if live else None
        crossing = through is not None and (
            level.price >= through if bids else level.price <= through
        )
        out.append(
            MergedLevel(side, level.price, level.qty, book.instrument_id, cum, live, crossing)
        )
    return tuple(out)
