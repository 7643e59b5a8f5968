"""OrderBook: update-id rules, top-N, crossing, sweeps, and hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnitrade_tui.domain import DiffResult, OrderBook, Side

# -- update-id rules (reference §3) ----------------------------------------------------------


def seeded() -> OrderBook:
    book = OrderBook("ETHUSDT")
    book.apply_snapshot(100, [(10.0, 1.0), (9.0, 2.0)], [(11.0, 1.0), (12.0, 3.0)])
    return book


def test_stale_event_is_ignored() -> None:
    book = seeded()
    assert book.apply_diff(90, 100, [(10.0, 5.0)], []) is DiffResult.STALE
    level = book.best_bid_level()
    assert level is not None
    assert level.qty == 1.0


def test_bridging_event_straddling_the_snapshot_is_applied() -> None:
    book = seeded()
    assert book.apply_diff(95, 105, [(10.0, 5.0)], []) is DiffResult.APPLIED
    assert book.last_update_id == 105
    assert book.quantity_at(Side.BUY, 10.0) == 5.0


def test_gap_is_reported_and_not_applied() -> None:
    book = seeded()
    assert book.apply_diff(102, 110, [(10.5, 1.0)], []) is DiffResult.GAP
    assert book.last_update_id == 100
    assert book.quantity_at(Side.BUY, 10.5) == 0.0


def test_zero_quantity_removes_and_missing_level_removal_is_fine() -> None:
    book = seeded()
    book.apply_diff(101, 101, [(10.0, 0.0), (3.0, 0.0)], [])
    assert book.best_bid == 9.0


def test_crossed_book_is_reported() -> None:
    book = seeded()
    assert book.apply_diff(101, 101, [(11.5, 1.0)], []) is DiffResult.CROSSED
    assert book.is_crossed


def test_top_n_mid_spread() -> None:
    book = seeded()
    assert [lv.price for lv in book.bids(5)] == [10.0, 9.0]
    assert [lv.price for lv in book.asks(1)] == [11.0]
    assert book.mid == 10.5 and book.spread == 1.0
    empty = OrderBook("X")
    assert empty.best_bid is None and empty.mid is None and not empty.is_crossed


def test_sweep_vwap_and_slippage() -> None:
    book = seeded()
    sweep = book.sweep(Side.BUY, 2.0)  # 1 @ 11 + 1 @ 12
    assert sweep.complete and sweep.avg_price == 11.5 and sweep.worst_price == 12.0
    assert sweep.slippage_bps == pytest.approx(0.5 / 11.0 * 10_000)
    thin = book.sweep(Side.SELL, 10.0)  # only 3 on the bids
    assert not thin.complete and thin.filled == 3.0
    assert thin.avg_price == pytest.approx((10.0 + 18.0) / 3.0)


def test_deep_book_top_reads_stay_correct_after_draining_the_cache() -> None:
    book = OrderBook("X")
    book.apply_snapshot(1, [(float(p), 1.0) for p in range(1, 1001)], [])
    # Remove the 300 best bids one event at a time: the cache must refill from the dict.
    uid = 1
    for p in range(1000, 700, -1):
        uid += 1
        book.apply_diff(uid, uid, [(float(p), 0.0)], [])
    assert [lv.price for lv in book.bids(3)] == [700.0, 699.0, 698.0]


def test_bounded_depth_keeps_the_best_levels() -> None:
    book = OrderBook("X", max_depth=10)
    book.apply_snapshot(1, [(float(p), 1.0) for p in range(1, 101)], [])
    assert book.depth()[0] == 10
    assert book.bids(1)[0].price == 100.0
    for i in range(2, 40):
        book.apply_diff(i, i, [(100.0 + i, 1.0)], [])
    assert book.depth()[0] <= 10 + 8
    assert book.bids(1)[0].price == 139.0


# -- properties --------------------------------------------------------------------------

prices = st.integers(min_value=1, max_value=400).map(lambda t: t / 4.0)
quantities = st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.5, 10.0])
updates = st.lists(st.tuples(prices, quantities), max_size=12)
diffs = st.lists(st.tuples(updates, updates), max_size=40)


def reference(levels: dict[float, float], updates: list[tuple[float, float]]) -> None:
    for p, q in updates:
        if q == 0.0:
            levels.pop(p, None)
        else:
            levels[p] = q


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(prices, quantities.filter(bool)), max_size=30),
    st.lists(st.tuples(prices, quantities.filter(bool)), max_size=30),
    diffs,
    st.integers(min_value=1, max_value=40),
)
def test_snapshot_plus_diffs_equals_a_rebuild(
    bids: list[tuple[float, float]],
    asks: list[tuple[float, float]],
    events: list[tuple[list[tuple[float, float]], list[tuple[float, float]]]],
    n: int,
) -> None:
    book = OrderBook("X")
    book.apply_snapshot(0, bids, asks)
    ref_bids, ref_asks = dict(bids), dict(asks)
    for uid, (b, a) in enumerate(events, start=1):
        result = book.apply_diff(uid, uid, b, a)
        reference(ref_bids, b)
        reference(ref_asks, a)
        # A crossed book is never left unreported.
        best_b = max(ref_bids, default=None)
        best_a = min(ref_asks, default=None)
        crossed = best_b is not None and best_a is not None and best_b >= best_a
        assert (result is DiffResult.CROSSED) == crossed
        assert book.is_crossed == crossed
    assert book.levels(Side.BUY) == ref_bids
    assert book.levels(Side.SELL) == ref_asks
    top_b = book.bids(n)
    top_a = book.asks(n)
    assert [lv.price for lv in top_b] == sorted(ref_bids, reverse=True)[:n]
    assert [lv.price for lv in top_a] == sorted(ref_asks)[:n]
    assert all(lv.qty == ref_bids[lv.price] for lv in top_b)


@settings(max_examples=60, deadline=None)
@given(st.lists(updates, min_size=1, max_size=120), st.integers(min_value=1, max_value=300))
def test_top_n_is_always_sorted_on_deep_books(
    events: list[list[tuple[float, float]]], n: int
) -> None:
    # Start deeper than the cache so the prefix-cache paths (insert, drain, rebuild) all run.
    book = OrderBook("X")
    book.apply_snapshot(0, [(p / 4.0, 1.0) for p in range(1, 801)], [])
    ref = {p / 4.0: 1.0 for p in range(1, 801)}
    for uid, b in enumerate(events, start=1):
        book.apply_diff(uid, uid, b, [])
        reference(ref, b)
        top = [lv.price for lv in book.bids(n)]
        assert top == sorted(ref, reverse=True)[:n]
