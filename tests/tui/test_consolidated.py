"""Issue 21 item 4: ``V`` opens the active pair across venues: each venue's best bid and ask,
the best across venues, and one ladder of every venue's levels marked with its venue.

On a seeded two-venue feed (identical on every run): what the lines say, the 80x24 layout,
scrolling, Esc, and the pictures at 80x24 and 120x40. On a real two-venue run (the first
venue simulated through the native connector, ``@alt`` through ccxt): the levels on screen
are the two venues' books merged, as the bus published them moments before.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections import deque
from pathlib import Path
from typing import Any

import msgspec
import pytest
from textual.pilot import Pilot

from omnitrade_tui.bus import Bus, each, topics
from omnitrade_tui.domain.events import BookHealth, BookState, BookTop
from omnitrade_tui.domain.models import BookLevel
from omnitrade_tui.domain.venue import qualify
from omnitrade_tui.runtime import Runtime
from omnitrade_tui.tui.app import OmniTradeApp
from omnitrade_tui.tui.numbers import Numbers
from omnitrade_tui.tui.screens.consolidated import ConsolidatedScreen, pair_venues
from omnitrade_tui.tui.widgets.consolidated_ladder import ConsolidatedLadder
from omnitrade_tui.venues.sim.symbols import default_instruments
from tests.tui.seeded_feed import T0_MS, seeded_session
from tests.tui.test_app_trading import keys_drained_per_press, until
from tests.venues.multi.profiles import two_venue_settings

WATCHLIST = ("BTCUSDT", "ETHUSDT", "BTCUSDT@alt", "ETHUSDT@alt")
TICK = 0.67


def two_venue_app() -> OmniTradeApp:
    """The seeded session with a second venue ``alt`` beside the first (``sim``)."""
    session = seeded_session(Bus())
    instruments = {}
    for inst in default_instruments(["BTCUSDT", "ETHUSDT"]):
        instruments[inst.symbol] = inst
        alt = msgspec.structs.replace(
            inst,
            symbol=qualify(inst.symbol, "alt"),
            base_asset=qualify(inst.base_asset, "alt"),
            quote_asset=qualify(inst.quote_asset, "alt"),
        )
        instruments[alt.symbol] = alt
    app = OmniTradeApp(
        dataclasses.replace(
            session, instruments=instruments, watchlist=WATCHLIST, first_venue="sim"
        )
    )
    app.animation_level = "none"
    return app


def publish_books(bus: Bus, crossed: bool = False, alt_state: BookState = BookState.LIVE) -> None:
    """BTCUSDT on both venues: ``sim`` every other tick of a 0.67 grid, ``alt`` every tick
    from the same best bid (so prices meet); ``crossed`` lifts ``alt`` three ticks, over
    ``sim``'s best ask."""
    rng = random.Random(21)
    top = 66_999.33
    lift = 3 * TICK if crossed else 0.0
    for symbol, step, levels, shift in (
        ("BTCUSDT", 2 * TICK, 30, 0.0),
        ("BTCUSDT@alt", TICK, 40, lift),
    ):
        bids = [
            BookLevel(round(top + shift - step * i, 2), round(rng.uniform(0.01, 0.5), 5))
            for i in range(levels)
        ]
        asks = [
            BookLevel(round(top + shift + 2 * TICK + step * i, 2), round(rng.uniform(0.01, 0.5), 5))
            for i in range(levels)
        ]
        state = alt_state if symbol.endswith("@alt") else BookState.LIVE
        bus.publish(
            topics.book_health(symbol),
            BookHealth(symbol=symbol, state=state, last_update_id=1),
        )
        bus.publish(
            topics.book(symbol),
            BookTop(symbol=symbol, update_id=1, bids=bids, asks=asks, event_ms=T0_MS),
        )


async def opened(pilot: Pilot[Any], **feed: Any) -> ConsolidatedLadder:
    """Publish the books, press V, let the view draw them; its widget."""
    app = pilot.app
    assert isinstance(app, OmniTradeApp)
    publish_books(app.bus, **feed)
    await pilot.pause(0.2)
    await pilot.press("V")
    await until(pilot, lambda: isinstance(app.screen, ConsolidatedScreen), "the venues view")
    ladder = app.screen.query_one(ConsolidatedLadder)
    await until(pilot, lambda: ladder.painted is not None, "the books drawn")
    await pilot.pause(0.1)
    return ladder


def screen_lines(ladder: ConsolidatedLadder) -> list[str]:
    return [ladder.render_line(y).text for y in range(ladder.size.height)]


def test_the_pair_venues_put_the_first_venue_first() -> None:
    ids = ("ETHUSDT@alt", "BTCUSDT@alt", "BTCUSDT@kraken", "BTCUSDT", "ETHUSDT")
    assert pair_venues(ids, "BTCUSDT") == ["BTCUSDT", "BTCUSDT@alt", "BTCUSDT@kraken"]


async def test_v_shows_each_venue_the_best_across_and_one_ladder_marked_by_venue() -> None:
    app = two_venue_app()
    async with app.run_test(size=(120, 40)) as pilot:
        ladder = await opened(pilot)
        lines = screen_lines(ladder)
        assert lines[0].startswith(" BTCUSDT across 2 venues")
        assert "CROSSED" not in lines[0]
        sim = next(line for line in lines if line.startswith(" sim  "))
        alt = next(line for line in lines if line.startswith(" alt  "))
        best = next(line for line in lines if line.startswith(" best "))
        assert sim.split() == ["sim", "66,999.33", "0.09083", "67,000.67", "0.07119", "1.34",
                               "0.2", "LIVE"]  # fmt: skip
        assert alt.split()[1] == "66,999.33" and alt.split()[3] == "67,000.67"
        # Both venues bid 66,999.33: the best across sums them and names both.
        assert best.split()[1:3] == ["66,999.33", "0.11398"]
        assert best.endswith("bid sim+alt · ask sim+alt".ljust(120 - best.index("bid")))
        assert any("no cross" in line for line in lines)
        # The ladder: the spread line between the asks and the bids, every row a venue's.
        at = next(i for i, line in enumerate(lines) if line.startswith(" across venues:"))
        assert lines[at].rstrip() == " across venues: spread 1.34 (0.2 bps)  mid 67,000.000"
        # At one price, the first venue nearest the spread (best first, venues in order).
        assert lines[at - 2].split()[:3] == ["»alt", "67,000.67", "0.38922"]
        assert lines[at - 1].split()[:3] == ["»sim", "67,000.67", "0.07119"]
        assert lines[at + 1].split()[:3] == ["»sim", "66,999.33", "0.09083"]
        assert lines[at + 2].split()[:4] == ["»alt", "66,999.33", "0.02315", "0.11398"]
        assert lines[at + 3].split()[:2] == ["alt", "66,998.66"]
        rows = ladder.shown_rows
        assert {r.instrument_id for r in rows} == {"BTCUSDT", "BTCUSDT@alt"}
        assert len(rows) == ladder.size.height - 9  # all but 8 lines of quotes, keys, spread
        # Scrolling moves the window toward the bids; z brings it back to the spread.
        await pilot.press("pagedown")
        await pilot.pause(0.1)
        assert all(r.side.value == "BUY" for r in ladder.shown_rows)
        assert "rows off the spread" in screen_lines(ladder)[-1]
        await pilot.press("z")
        await pilot.pause(0.1)
        assert ladder.shown_rows == rows
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.screen_stack[0], "the main screen back")


async def test_a_cross_between_venues_is_flagged_and_a_stale_venue_left_out() -> None:
    app = two_venue_app()
    async with app.run_test(size=(120, 40)) as pilot:
        ladder = await opened(pilot, crossed=True)
        lines = screen_lines(ladder)
        assert "CROSSED" in lines[0]
        cross = next(line for line in lines if "× CROSSED" in line)
        assert cross.strip() == "× CROSSED: alt bid 67,001.34 > sim ask 67,000.67 by 0.67"
        marked = [line.split()[:2] for line in lines if line.startswith(" ×")]
        # alt's bids at or over sim's ask, sim's asks at or under alt's bid.
        assert ["×alt", "67,001.34"] in marked and ["×sim", "67,000.67"] in marked
        spread = next(line for line in lines if line.startswith(" across venues:"))
        assert "spread -0.67" in spread

        publish_books(app.bus, crossed=True, alt_state=BookState.STALE)
        await pilot.pause(0.2)
        lines = screen_lines(ladder)
        assert "CROSSED" not in lines[0]
        assert any("not live: alt" in line for line in lines)
        alt = next(line for line in lines if line.startswith(" alt  "))
        assert alt.split()[-1] == "STALE"
        assert not any(line.startswith(" ×") for line in lines)


async def test_at_80x24_every_column_fits_without_a_sideways_scrollbar() -> None:
    app = two_venue_app()
    async with app.run_test(size=(80, 24)) as pilot:
        ladder = await opened(pilot)
        assert ladder.size.width == 80 and ladder.size.height == 24
        assert ladder.max_scroll_x == 0 and not ladder.show_horizontal_scrollbar
        lines = screen_lines(ladder)
        assert all(len(line) == 80 for line in lines)
        # Whole words at the ends of the widest lines: the book state, the cumulative size.
        assert next(line for line in lines if line.startswith(" sim ")).rstrip().endswith("LIVE")
        assert lines[-1].strip().endswith("ctrl+k kill switch")
        assert len(ladder.shown_rows) >= 12
        for row_line in (line for line in lines if line[2:5] in ("sim", "alt")):
            assert len(row_line.split()) >= 4  # venue, price, size, cum (and a bar)


async def test_ctrl_k_engages_the_kill_switch_from_the_venues_view() -> None:
    from omnitrade_tui.domain.commands import EngageKillSwitch
    from tests.tui.order_path import recorder

    app = two_venue_app()
    engaged = recorder(app, EngageKillSwitch)
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        await pilot.press("ctrl+k")
        await until(pilot, lambda: len(engaged) == 1, "the kill switch")
        assert isinstance(app.screen, ConsolidatedScreen)


@pytest.mark.parametrize(
    ("size", "crossed"), [((80, 24), False), ((120, 40), True)], ids=["80x24", "120x40-crossed"]
)
def test_snapshot(snap_compare: Any, size: tuple[int, int], crossed: bool) -> None:
    async def run(pilot: Pilot[Any]) -> None:
        await opened(pilot, crossed=crossed)
        await pilot.pause(0.2)

    assert snap_compare(two_venue_app(), terminal_size=size, run_before=run)


# -- on a real two-venue run -----------------------------------------------------------------


def _merged(tops: dict[str, BookTop], order: list[str]) -> tuple[list[Any], list[Any]]:
    """The two books merged, written independently of the widget: (venue id, price, qty),
    asks lowest first, bids highest first, ties in the venues' order."""
    asks = sorted(
        ((lv.price, order.index(i), i, lv.qty) for i in order for lv in tops[i].asks),
        key=lambda k: (k[0], k[1]),
    )
    bids = sorted(
        ((lv.price, order.index(i), i, lv.qty) for i in order for lv in tops[i].bids),
        key=lambda k: (-k[0], k[1]),
    )
    return [(i, p, q) for p, _, i, q in asks], [(i, p, q) for p, _, i, q in bids]


@pytest.mark.slow
async def test_on_a_two_venue_run_the_ladder_is_both_books_merged(tmp_path: Path) -> None:
    ids = ["BTCUSDT", "BTCUSDT@alt"]
    #: Every book the bus published lately, by id, with when it arrived.
    seen: dict[str, deque[tuple[BookTop, float]]] = {i: deque(maxlen=400) for i in ids}

    def on_top(topic: str, top: BookTop) -> None:
        if top.symbol in seen:
            seen[top.symbol].append((top, time.monotonic()))

    async with Runtime.start(two_venue_settings(tmp_path), seed=5, connect=False) as rt:
        rt.bus.subscribe(topics.book.all, each(on_top), name="test.tops")
        app = OmniTradeApp(rt.session())
        async with app.run_test(size=(120, 40)) as pilot:
            with keys_drained_per_press(pilot):
                views = app.state.symbols
                await until(
                    pilot,
                    lambda: all(views[i].book_state is BookState.LIVE for i in ids),
                    "both venues' books live",
                    timeout=30,
                )
                await pilot.press("V")
                await until(pilot, lambda: isinstance(app.screen, ConsolidatedScreen), "the view")
                ladder = app.screen.query_one(ConsolidatedLadder)
                numbers: Numbers = app.state.numbers
                label = {"BTCUSDT": "sim", "BTCUSDT@alt": "alt"}

                def row(entry: tuple[str, float, float]) -> list[str]:
                    i, p, q = entry
                    return [label[i], numbers.price(i, p), numbers.qty(i, q)]

                checked = 0
                for _ in range(5):  # five paints, as the books move
                    await pilot.pause(0.3)
                    lines = screen_lines(ladder)  # reads the paint on screen
                    assert ladder.painted is not None
                    books, view = ladder.painted
                    now = time.monotonic()
                    # Each venue's book on screen is one the bus published in the last 2 s.
                    tops: dict[str, BookTop] = {}
                    for b in books:
                        match = [(t, at) for t, at in seen[b.instrument_id] if t.bids is b.bids]
                        assert match, f"{b.instrument_id}: a book the bus never published"
                        top, at = match[-1]
                        assert now - at < 2.0, f"{b.instrument_id}: {now - at:.1f} s old"
                        tops[b.instrument_id] = top
                    assert [b.instrument_id for b in books] == ids
                    asks, bids = _merged(tops, ids)
                    at = next(n for n, x in enumerate(lines) if x.startswith(" across venues:"))
                    head = next(n for n, x in enumerate(lines) if "price" in x and "cum" in x)
                    shown_asks = [x.lstrip(" »×").split()[:3] for x in lines[head + 1 : at]]
                    shown_bids = [x.lstrip(" »×").split()[:3] for x in lines[at + 1 : -1]]
                    shown_asks = [x for x in shown_asks if x]  # blank lines past the end
                    shown_bids = [x for x in shown_bids if x]
                    assert shown_asks and shown_bids
                    # The window around the spread: the best asks (worst at the top), the
                    # best bids, exactly the merged books' rows.
                    assert shown_asks == [row(e) for e in reversed(asks[: len(shown_asks)])]
                    assert shown_bids == [row(e) for e in bids[: len(shown_bids)]]
                    # Each venue's quote line is its own book's best.
                    for i in ids:
                        quote = next(x for x in lines if x.startswith(f" {label[i]} "))
                        t = tops[i]
                        assert quote.split()[1] == numbers.price(i, t.bids[0].price)
                        assert quote.split()[3] == numbers.price(i, t.asks[0].price)
                    best_bid = max(t.bids[0].price for t in tops.values())
                    assert view.best_bid is not None and view.best_bid.price == best_bid
                    best = next(x for x in lines if x.startswith(" best "))
                    assert best.split()[1] == numbers.price("BTCUSDT", best_bid)
                    checked += 1
                assert checked == 5
                await pilot.press("escape")
                await until(pilot, lambda: app.screen is app.screen_stack[0], "the main screen")
