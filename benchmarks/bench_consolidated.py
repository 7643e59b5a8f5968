"""The consolidated view's merge (``domain.consolidated``): several venues' books of one pair
into one ladder, as the venues view does once a frame while its books move.

Books of ``runtime.BOOK_LEVELS`` (200) levels a side on each venue, prices on a shared grid so
venues meet at a price. Baseline, same books: the main ladder's own per-frame row build
(``tui.widgets.ladder.build_rows``) of one venue's two sides, what a frame already pays today.
"""

from __future__ import annotations

import random

from benchmarks.harness import Result, best_of
from omnitrade_tui.domain.consolidated import VenueBook, consolidate
from omnitrade_tui.domain.enums import Side
from omnitrade_tui.domain.models import BookLevel
from omnitrade_tui.runtime import BOOK_LEVELS
from omnitrade_tui.tui.widgets.ladder import build_rows

#: At 30 frames a second (the default frame rate), a frame's whole budget.
FRAME_S = 1 / 30
GOAL_SHARE = 0.05


def books(venues: int, seed: int = 1) -> list[VenueBook]:
    """``venues`` books of ``BOOK_LEVELS`` levels a side around nearby mids."""
    rng = random.Random(seed)
    out = []
    for n in range(venues):
        mid = 6_700_000 + rng.randint(-20, 20)  # in cents
        bids = [BookLevel((mid - 1 - i) / 100, rng.uniform(0.01, 2)) for i in range(BOOK_LEVELS)]
        asks = [BookLevel((mid + 1 + i) / 100, rng.uniform(0.01, 2)) for i in range(BOOK_LEVELS)]
        out.append(VenueBook("BTCUSDT" if n == 0 else f"BTCUSDT@v{n}", bids, asks))
    return out


def run(quick: bool) -> list[Result]:
    """Time of one merge of two and of four venues, against the ladder's row build."""
    repeats = 20 if quick else 200
    two, four = books(2), books(4)
    merge_2 = best_of(repeats, lambda: consolidate(two))
    merge_4 = best_of(repeats, lambda: consolidate(four))
    one = two[0]

    def ladder_rows() -> None:
        for side, levels in ((Side.SELL, one.asks), (Side.BUY, one.bids)):
            build_rows([(lv.price, lv.qty) for lv in levels], side, {}, 0.01)

    baseline = best_of(repeats, ladder_rows)
    return [
        Result(
            name="consolidated_merge",
            figures={
                "levels_per_side_per_venue": BOOK_LEVELS,
                "merge_2_venues_us": round(merge_2 * 1e6, 1),
                "merge_4_venues_us": round(merge_4 * 1e6, 1),
                "ladder_rows_1_venue_us": round(baseline * 1e6, 1),
                "frame_share_2_venues_pct": round(merge_2 / FRAME_S * 100, 2),
            },
            baseline="the main ladder's row build of one venue's book (build_rows, both sides)",
            ratio=baseline / merge_2 if merge_2 else 0.0,
            goal=f"two venues merged in under {GOAL_SHARE:.0%} of a 30 fps frame",
            met=merge_2 <= GOAL_SHARE * FRAME_S,
            notes="ratio = ladder row build of one venue / merge of two (twice the levels)",
        )
    ]
