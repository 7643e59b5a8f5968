"""Issue 21 item 4: several venues' books of one pair merged into one consolidated book.

Properties over random books (prices on a coarse grid so venues share prices): the merged
ladder holds exactly the union of the venues' levels, best first, ties in the venues' order;
the best across venues is the max of the live bids and the min of the live asks; the
crosses are exactly the live pairs whose bid reaches the other's ask.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from omnitrade_tui.domain.consolidated import Cross, VenueBook, consolidate
from omnitrade_tui.domain.enums import Side
from omnitrade_tui.domain.events import BookState
from omnitrade_tui.domain.models import BookLevel

IDS = ("BTCUSDT", "BTCUSDT@alt", "BTCUSDT@kraken", "BTCUSDT@okx")


def book(instrument_id: str, bids: list[tuple[float, float]], asks: list[tuple[float, float]],
         state: BookState = BookState.LIVE) -> VenueBook:  # fmt: skip
    return VenueBook(
        instrument_id,
        [BookLevel(p, q) for p, q in bids],
        [BookLevel(p, q) for p, q in asks],
        state,
    )


@st.composite
def venue_books(draw: st.DrawFn) -> list[VenueBook]:
    """One to four venues, each an uncrossed book around its own mid, on a grid of halves
    (exact in binary), so prices meet across venues; any book state."""
    count = draw(st.integers(1, len(IDS)))
    out = []
    for instrument_id in IDS[:count]:
        mid = draw(st.integers(190, 210))  # in halves: 95.0 .. 105.0
        below = draw(st.sets(st.integers(150, mid - 1), max_size=12))
        above = draw(st.sets(st.integers(mid + 1, 250), max_size=12))
        qty = st.floats(0.001, 50, allow_nan=False, allow_infinity=False)
        bids = [(k / 2, draw(qty)) for k in sorted(below, reverse=True)]
        asks = [(k / 2, draw(qty)) for k in sorted(above)]
        state = draw(st.sampled_from(list(BookState)))
        out.append(book(instrument_id, bids, asks, state))
    return out


@given(venue_books())
def test_the_merged_ladder_is_the_sorted_union_of_the_venues_levels(
    books: list[VenueBook],
) -> None:
    view = consolidate(books)
    rank = {b.instrument_id: i for i, b in enumerate(books)}
    for side, merged in ((Side.BUY, view.bids), (Side.SELL, view.asks)):
        want = Counter(
            (lv.price, lv.qty, b.instrument_id)
            for b in books
            for lv in (b.bids if side is Side.BUY else b.asks)
        )
        assert Counter((r.price, r.qty, r.instrument_id) for r in merged) == want
        assert all(r.side is side for r in merged)
        # Best first; at one price, the venues in their given order.
        keys = [(-r.price if side is Side.BUY else r.price, rank[r.instrument_id]) for r in merged]
        assert keys == sorted(keys)
        # The cumulative size adds the live rows across venues, from the best down.
        running = 0.0
        for r in merged:
            assert r.live is (r.instrument_id in {b.instrument_id for b in books if b.live})
            running += r.qty if r.live else 0.0
            assert abs(r.cum_qty - running) <= 1e-9 * max(1.0, running)


@given(venue_books())
def test_the_best_across_venues_is_the_best_of_the_live_venues(books: list[VenueBook]) -> None:
    view = consolidate(books)
    live = [b for b in books if b.live]
    bids = [b.bids[0].price for b in live if b.bids]
    asks = [b.asks[0].price for b in live if b.asks]
    if bids:
        assert view.best_bid is not None
        assert view.best_bid.price == max(bids)
        at = [b for b in live if b.bids and b.bids[0].price == max(bids)]
        assert view.best_bid.instrument_ids == tuple(b.instrument_id for b in at)
        assert view.best_bid.qty == sum(b.bids[0].qty for b in at)
    else:
        assert view.best_bid is None
    if asks:
        assert view.best_ask is not None
        assert view.best_ask.price == min(asks)
        assert view.best_ask.instrument_ids == tuple(
            b.instrument_id for b in live if b.asks and b.asks[0].price == min(asks)
        )
    else:
        assert view.best_ask is None
    # Each venue's quote is its own top, whatever its state.
    for quote, b in zip(view.quotes, books, strict=True):
        assert quote.instrument_id == b.instrument_id and quote.state is b.state
        assert quote.bid == (b.bids[0] if b.bids else None)
        assert quote.ask == (b.asks[0] if b.asks else None)


@given(venue_books())
def test_crosses_are_exactly_the_live_venues_whose_bid_reaches_anothers_ask(
    books: list[VenueBook],
) -> None:
    view = consolidate(books)
    live = [b for b in books if b.live]
    want = {
        (b.instrument_id, a.instrument_id)
        for b in live
        for a in live
        if b is not a and b.bids and a.asks and b.bids[0].price >= a.asks[0].price
    }
    assert {(c.bid_id, c.ask_id) for c in view.crosses} == want
    assert view.crossed is bool(want)
    assert [c.edge for c in view.crosses] == sorted((c.edge for c in view.crosses), reverse=True)
    if view.best_bid and view.best_ask:
        # Venues are uncrossed on their own: the best across crosses only between venues.
        assert view.crossed is (view.best_bid.price >= view.best_ask.price)
    # A row crosses when it is live and priced through another live venue's best.
    for r in (*view.bids, *view.asks):
        others = [b for b in live if b.instrument_id != r.instrument_id]
        if r.side is Side.BUY:
            through = [b.asks[0].price for b in others if b.asks]
            expect = r.live and bool(through) and r.price >= min(through)
        else:
            through = [b.bids[0].price for b in others if b.bids]
            expect = r.live and bool(through) and r.price <= max(through)
        assert r.crossing is expect


def test_two_venues_at_one_price_stay_two_rows_in_the_venues_order() -> None:
    view = consolidate(
        [
            book("BTCUSDT", [(100.0, 1.0), (99.0, 2.0)], [(101.0, 1.5)]),
            book("BTCUSDT@alt", [(100.0, 0.5)], [(101.0, 0.25), (102.0, 3.0)]),
        ]
    )
    assert [(r.price, r.instrument_id, r.qty, r.cum_qty) for r in view.bids] == [
        (100.0, "BTCUSDT", 1.0, 1.0),
        (100.0, "BTCUSDT@alt", 0.5, 1.5),
        (99.0, "BTCUSDT", 2.0, 3.5),
    ]
    assert [(r.price, r.instrument_id) for r in view.asks] == [
        (101.0, "BTCUSDT"),
        (101.0, "BTCUSDT@alt"),
        (102.0, "BTCUSDT@alt"),
    ]
    assert view.best_bid is not None and view.best_bid.qty == 1.5
    assert view.best_bid.instrument_ids == ("BTCUSDT", "BTCUSDT@alt")
    assert view.spread == 1.0
    assert not view.crossed
    assert not any(r.crossing for r in (*view.bids, *view.asks))


def test_a_cross_between_venues_is_flagged_and_a_lock_told_apart() -> None:
    crossed = consolidate(
        [
            book("BTCUSDT", [(100.0, 1.0)], [(101.0, 1.0), (102.5, 1.0)]),
            book("BTCUSDT@alt", [(102.0, 1.0), (100.5, 1.0)], [(103.0, 1.0)]),
        ]
    )
    assert crossed.crosses == (Cross("BTCUSDT@alt", 102.0, "BTCUSDT", 101.0),)
    assert not crossed.crosses[0].locked and crossed.crosses[0].edge == 1.0
    assert crossed.spread == -1.0
    # alt's bids at 102 and 100.5 reach the first venue's ask of 101 only at 102; the first
    # venue's ask of 101 is under alt's bid of 102, its 102.5 is not.
    assert [(r.price, r.crossing) for r in crossed.bids] == [
        (102.0, True),
        (100.5, False),
        (100.0, False),
    ]
    assert [(r.price, r.crossing) for r in crossed.asks] == [
        (101.0, True),
        (102.5, False),
        (103.0, False),
    ]
    locked = consolidate(
        [
            book("BTCUSDT", [(100.0, 1.0)], [(101.0, 1.0)]),
            book("BTCUSDT@alt", [(101.0, 1.0)], [(102.0, 1.0)]),
        ]
    )
    assert [c.locked for c in locked.crosses] == [True]
    assert locked.spread == 0.0


def test_a_book_not_live_is_merged_but_left_out_of_the_best_and_the_crosses() -> None:
    view = consolidate(
        [
            book("BTCUSDT", [(100.0, 1.0)], [(101.0, 1.0)]),
            # A stale book whose old bid would cross the live venue's ask.
            book("BTCUSDT@alt", [(105.0, 2.0)], [(106.0, 1.0)], BookState.STALE),
        ]
    )
    assert view.best_bid is not None and view.best_bid.price == 100.0
    assert not view.crossed
    first, second = view.bids
    assert (second.price, second.live, second.crossing) == (100.0, True, False)
    assert (first.price, first.live, first.crossing, first.cum_qty) == (105.0, False, False, 0.0)
    assert second.cum_qty == 1.0


def test_no_books_and_empty_books() -> None:
    assert consolidate([]).best_bid is None
    view = consolidate([book("BTCUSDT", [], []), book("BTCUSDT@alt", [], [(1.0, 1.0)])])
    assert view.bids == () and view.best_bid is None and view.spread is None
    assert view.best_ask is not None and view.best_ask.instrument_ids == ("BTCUSDT@alt",)
    assert view.quotes[0].spread is None
