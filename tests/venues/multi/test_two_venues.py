"""Two venues in one run: the profile's first (the simulated venue, native connector) and a
second reached through ccxt (another simulated venue, other seed), on one bus.

What is checked against each venue's own REST answers: an order placed on each lands on
that venue only, the balances and books of each carry its ids, and the kill switch
cancels on both.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

import pytest

from omnitrade_tui.bus import each, topics
from omnitrade_tui.config import ConfigError
from omnitrade_tui.domain.commands import (
    CancelAll,
    CancelOrder,
    EngageKillSwitch,
    PlaceOrder,
    ReleaseKillSwitch,
    VenueCandles,
)
from omnitrade_tui.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.domain.events import BalancesChanged, BookTop, VenuesInForce
from omnitrade_tui.domain.models import Order, OrderRequest
from omnitrade_tui.engine.order_manager import OrderRefused
from omnitrade_tui.runtime import Runtime
from omnitrade_tui.venues.sim.venue import Faults
from tests.venues.multi.profiles import CCXT_ONLY, two_venue_settings
from tests.waiting import until


def resting_buy(symbol: str, mid: Decimal) -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal("0.01"),
        price=(mid * Decimal("0.97")).quantize(Decimal("0.01")),
        time_in_force=TimeInForce.GTC,
    )


async def test_a_run_trades_two_venues_and_the_kill_switch_cancels_on_both(
    tmp_path: Path,
) -> None:
    async with Runtime.start(two_venue_settings(tmp_path), seed=5, record=False) as rt:
        assert set(rt.instruments) == {"BTCUSDT", "ETHUSDT", "BTCUSDT@alt", "ETHUSDT@alt"}
        alt = rt.instruments["BTCUSDT@alt"]
        assert (alt.base_asset, alt.quote_asset) == ("BTC@alt", "USDT@alt")
        tops: dict[str, BookTop] = {}
        balances: dict[str, Decimal] = {}

        def on_top(topic: str, top: BookTop) -> None:
            tops[top.symbol] = top

        def on_balances(topic: str, event: BalancesChanged) -> None:
            balances.update({b.asset: b.free for b in event.balances})

        rt.bus.subscribe(topics.book.all, each(on_top), name="test.tops")
        rt.bus.subscribe(topics.BALANCE, each(on_balances), name="test.balances")
        links: set[str] = set()
        rt.bus.subscribe(topics.CONNECTION, each(lambda t, e: links.add(e.link)), name="t.links")
        tickers: set[str] = set()
        rt.bus.subscribe(
            topics.ticker.all, each(lambda t, e: tickers.add(e.symbol)), name="test.tickers"
        )
        assert rt.venues["alt"].user is not None
        await until(
            lambda: {"BTCUSDT", "BTCUSDT@alt"} <= set(tops) and rt.venues["alt"].user.connected,
            "both venues' books and the second venue's user data",
        )
        # Each venue's balances under its own names: bare on the first, @alt on the second.
        await until(lambda: "USDT" in balances and "USDT@alt" in balances, "both balances")
        # Each venue's links under their own names: a second venue's drop never reads as
        # the first venue's.
        await until(lambda: {"market@alt", "user@alt"} <= links, "the second venue's links")
        # What each venue can promise is said on the bus: the second, through ccxt, less.
        said: list[VenuesInForce] = []
        rt.bus.subscribe(topics.VENUES, each(lambda t, e: said.append(e)), name="t.venues")
        rt.publish_venues()
        await until(lambda: bool(said), "the venues in force")
        first_caps, alt_caps = said[-1].venues
        assert (first_caps.name, first_caps.missing()) == ("", [])
        assert alt_caps.name == "alt" and alt_caps.venue == "ccxt:binance"
        assert alt_caps.notice().startswith("@alt via ccxt:binance: ")
        assert {"no OCO", "prices via floats"} <= set(alt_caps.missing())
        # The watchlist's 24-hour figures come from each venue's own ticker.
        await until(lambda: {"BTCUSDT", "BTCUSDT@alt"} <= tickers, "both venues' tickers")
        # The two sims run different seeds: their books are not one book under two names.
        assert tops["BTCUSDT"].bids[0].price != tops["BTCUSDT@alt"].bids[0].price

        await until(lambda: {"BTCUSDT", "BTCUSDT@alt"} <= set(rt.gate.mids), "the gate's mids")
        mids = {s: rt.gate.mids[s] for s in ("BTCUSDT", "BTCUSDT@alt")}
        first: Order = await rt.bus.request(
            PlaceOrder(request=resting_buy("BTCUSDT", mids["BTCUSDT"]))
        )
        second: Order = await rt.bus.request(
            PlaceOrder(request=resting_buy("BTCUSDT@alt", mids["BTCUSDT@alt"]))
        )
        assert first.status is OrderStatus.NEW and second.status is OrderStatus.NEW
        assert second.symbol == "BTCUSDT@alt"
        # What each venue says, by its own REST: each order on its venue only.
        on_first = await rt.manager.port.open_orders()
        on_second = await rt.venues["alt"].execution.open_orders()
        assert [o.client_order_id for o in on_first] == [first.client_order_id]
        assert [o.client_order_id for o in on_second] == [second.client_order_id]
        assert rt.sim is not None
        assert rt.sim.rest_url not in str(rt.venues["alt"].exchange.urls["api"]["v3"])

        # A venue's candles come from that venue.
        candles = await rt.bus.request(VenueCandles(symbol="ETHUSDT@alt", interval="1m", limit=5))
        assert candles and all(c.symbol == "ETHUSDT@alt" for c in candles)
        assert not candles[-1].closed

        # An id on a venue the run does not trade is refused, and says which venues it has.
        with pytest.raises(OrderRefused, match="no venue 'nope'"):
            await rt.bus.request(CancelOrder(symbol="BTCUSDT@nope", client_order_id="x"))

        await rt.bus.request(EngageKillSwitch(reason="test"))
        assert await rt.manager.port.open_orders() == []
        assert await rt.venues["alt"].execution.open_orders() == []
        await rt.bus.request(ReleaseKillSwitch())
        # The second venue's manager saw its order cancelled, the first's its own.
        router = rt.router
        assert router is not None
        await until(
            lambda: not router.managers["alt"].open_orders() and not rt.manager.open_orders(),
            "both managers to see the cancels",
        )
        assert set(router.managers["alt"].orders) == {second.client_order_id}
        assert set(rt.manager.orders) == {first.client_order_id}
        # A cancel-all of one symbol stays on its venue.
        assert await rt.bus.request(CancelAll(symbol="BTCUSDT@alt")) == []


async def test_a_second_venue_with_faults_settles_to_what_it_says(tmp_path: Path) -> None:
    """Both venues with dropped links and lost answers: the orders each engine holds equal
    what each venue's REST says once the faults have been overcome."""
    faults = Faults(gap_every_s=1.0, close_every_s=2.0, fail_orders=2)
    async with Runtime.start(
        two_venue_settings(tmp_path), seed=6, record=False, faults=faults
    ) as rt:
        await until(lambda: {"ETHUSDT", "ETHUSDT@alt"} <= set(rt.gate.mids), "both mids", 20)
        router = rt.router
        assert router is not None
        placed: list[Order] = []
        for symbol in ("ETHUSDT", "ETHUSDT@alt") * 3:
            # A gap drops the mid until the book is live again: each order waits for one.
            await until(lambda s=symbol: s in rt.gate.mids, f"a mid of {symbol}", 20)
            request = resting_buy(symbol, rt.gate.mids[symbol])
            placed.append(await rt.bus.request(PlaceOrder(request=request)))

        async def agreed() -> bool:
            for manager in router.managers.values():
                venue = await manager.port.open_orders()
                if {o.client_order_id for o in venue} != {
                    o.client_order_id for o in manager.open_orders()
                }:
                    return False
            return True

        deadline = time.monotonic() + 30
        while not await agreed():
            assert time.monotonic() < deadline, "the engine and the venues never agreed"
            await asyncio.sleep(0.5)
        alt_ids = {o.client_order_id for o in await rt.venues["alt"].execution.open_orders()}
        first_ids = {o.client_order_id for o in await rt.manager.port.open_orders()}
        assert not alt_ids & first_ids
        assert len(alt_ids | first_ids) == len({o.client_order_id for o in placed})


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[profiles.sim.venues.Alt]\nexchange = "binance"\n', "not a venue name"),
        ('[profiles.sim.venues.alt]\nkind = "native"\nexchange = "binance"\n', "kind 'native'"),
        ("[profiles.sim.venues.alt]\nsimulated = true\n", "name the ccxt exchange"),
        (
            '[profiles.sim.venues.alt]\nexchange = "kraken"\nrest_url = "http://x"\n',
            "all three",
        ),
        ('[profiles.sim.venues.alt]\nexchange = "kraken"\nsimulated = true\n', "speaks Binance"),
        ('[ui]\nwatchlist = ["BTCUSDT@Bad.Venue"]\n', "names venue"),
    ],
)
def test_a_bad_venue_table_is_refused_with_what_to_write(
    tmp_path: Path, text: str, says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        two_venue_settings(tmp_path, text)


async def test_a_profile_of_ccxt_venues_only_trades_and_kills_on_each(tmp_path: Path) -> None:
    """``venue = "ccxt"``: the profile's own venue through ccxt, bare ids as ever, with no
    native connector in the run; a second ccxt venue beside it."""
    settings = two_venue_settings(tmp_path, CCXT_ONLY)
    assert settings.profile.venue == "ccxt" and settings.profile.ccxt is not None
    async with Runtime.start(settings, seed=5, record=False) as rt:
        assert rt.stream is None and rt.rest is None and set(rt.venues) == {"", "alt"}
        assert set(rt.instruments) == {"BTCUSDT", "ETHUSDT", "BTCUSDT@alt"}
        assert rt.instruments["BTCUSDT"].quote_asset == "USDT"
        await until(lambda: {"BTCUSDT", "BTCUSDT@alt"} <= set(rt.gate.mids), "both mids", 20)
        await until(lambda: all(v.user and v.user.connected for v in rt.venues.values()), "users")
        placed = {}
        for symbol in ("BTCUSDT", "BTCUSDT@alt"):
            request = resting_buy(symbol, rt.gate.mids[symbol])
            placed[symbol] = await rt.bus.request(PlaceOrder(request=request))
        on_first = await rt.venues[""].execution.open_orders()
        on_alt = await rt.venues["alt"].execution.open_orders()
        assert [o.client_order_id for o in on_first] == [placed["BTCUSDT"].client_order_id]
        assert [o.client_order_id for o in on_alt] == [placed["BTCUSDT@alt"].client_order_id]
        candles = await rt.bus.request(VenueCandles(symbol="BTCUSDT", interval="1m", limit=3))
        assert candles and candles[-1].symbol == "BTCUSDT"
        await rt.bus.request(EngageKillSwitch(reason="test"))
        assert await rt.venues[""].execution.open_orders() == []
        assert await rt.venues["alt"].execution.open_orders() == []
