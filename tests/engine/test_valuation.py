"""The portfolio valued in one quote asset on the bus: every balance at the mid (through an
inverse or a bridge pair where there is no direct one), today's change against the venue's
day open, the allocation, and what cannot be priced said, not counted as nothing."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from omnitrade_tui.bus import each, topics
from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.domain.commands import VenueCandles
from omnitrade_tui.domain.events import BalancesChanged, BookTop, PortfolioValue
from omnitrade_tui.domain.models import Balance, BookLevel, Candle
from omnitrade_tui.engine.valuation import PortfolioValuer
from tests.waiting import until

ASSETS = {
    "BTCUSDT": ("BTC", "USDT"),
    "ETHBTC": ("ETH", "BTC"),
    "USDTTRY": ("USDT", "TRY"),
}
OPENS = {"BTCUSDT": 40_000.0, "ETHBTC": 0.05, "USDTTRY": 30.0}


def _top(symbol: str, bid: float, ask: float) -> BookTop:
    return BookTop(
        symbol=symbol, update_id=1, bids=[BookLevel(bid, 1.0)], asks=[BookLevel(ask, 1.0)]
    )


async def test_equity_change_and_allocation_in_the_quote_asset() -> None:
    bus = Bus()

    async def day_open(command: VenueCandles) -> list[Candle]:
        assert command.interval == "1d"
        price = OPENS[command.symbol]
        return [
            Candle(
                symbol=command.symbol,
                interval="1d",
                open_ms=0,
                close_ms=1,
                open=price,
                high=price,
                low=price,
                close=price,
            )
        ]

    bus.handle(VenueCandles, day_open)
    seen: list[PortfolioValue] = []
    bus.subscribe(topics.PORTFOLIO, each(lambda topic, event: seen.append(event)))
    valuer = PortfolioValuer(bus, ASSETS, every_s=0.05)
    valuer.start()
    bus.publish(
        topics.BALANCE,
        BalancesChanged(
            balances=[
                Balance(asset="BTC", free=Decimal("0.5"), locked=Decimal("0.5")),
                Balance(asset="USDT", free=Decimal(1000)),
                Balance(asset="ETH", free=Decimal(2)),
                Balance(asset="TRY", free=Decimal(3000)),
                Balance(asset="XYZ", free=Decimal(5)),
            ]
        ),
    )
    bus.publish(topics.book("BTCUSDT"), _top("BTCUSDT", 49_990.0, 50_010.0))
    bus.publish(topics.book("ETHBTC"), _top("ETHBTC", 0.0499, 0.0501))
    bus.publish(topics.book("USDTTRY"), _top("USDTTRY", 29.9, 30.1))
    await until(
        lambda: bool(seen) and len(seen[-1].assets) == 4,
        "four assets",
        2.0,
        interval=0.02,
        fail=False,
    )
    await valuer.stop()
    value = seen[-1]
    # BTC 1 x 50,000 + USDT 1,000 + ETH 2 x 0.05 x 50,000 + TRY 3,000 / 30
    assert value.equity == Decimal(50_000) + 1000 + 5000 + 100
    assert value.unpriced == ["XYZ"]
    assert [a.asset for a in value.assets] == ["BTC", "ETH", "USDT", "TRY"]
    assert sum((a.share_pct for a in value.assets), Decimal(0)) == Decimal(100)
    # Today: BTC from 40,000 (+10,000 on 1 BTC), ETH from 0.05 x 40,000 (+1,000 on 2 ETH).
    assert value.day_change == Decimal(11_000)
    assert value.day_change_pct == Decimal(11_000) / Decimal(45_100) * 100


async def test_no_venue_day_open_means_no_change_shown_not_a_made_up_one() -> None:
    bus = Bus()
    valuer = PortfolioValuer(bus, {"BTCUSDT": ("BTC", "USDT")}, every_s=0.05)
    valuer.start()
    bus.publish(topics.BALANCE, BalancesChanged(balances=[Balance(asset="BTC", free=Decimal(1))]))
    bus.publish(topics.book("BTCUSDT"), _top("BTCUSDT", 99.0, 101.0))
    await asyncio.sleep(0.2)
    await valuer.stop()
    assert valuer.last is not None
    assert valuer.last.equity == Decimal(100)
    assert valuer.last.day_change is None


async def test_each_venue_prices_its_own_assets_and_equity_adds_up_across_venues() -> None:
    """``BTC@alt`` is worth what venue ``alt``'s book says, not the first venue's; a quote
    asset held on either venue counts one for one."""
    bus = Bus()
    pairs = {
        "BTCUSDT": ("BTC", "USDT"),
        "BTCUSDT@alt": ("BTC@alt", "USDT@alt"),
        "ETHBTC@alt": ("ETH@alt", "BTC@alt"),
    }
    valuer = PortfolioValuer(bus, pairs, every_s=0.05)
    valuer.start()
    held = [
        Balance(asset="BTC", free=Decimal(1)),
        Balance(asset="USDT", free=Decimal(10)),
        Balance(asset="BTC@alt", free=Decimal(2)),
        Balance(asset="ETH@alt", free=Decimal(10)),
        Balance(asset="USDT@alt", free=Decimal(5)),
    ]
    bus.publish(topics.BALANCE, BalancesChanged(balances=held))
    bus.publish(topics.book("BTCUSDT"), _top("BTCUSDT", 99.0, 101.0))
    bus.publish(topics.book("BTCUSDT@alt"), _top("BTCUSDT@alt", 109.0, 111.0))
    bus.publish(topics.book("ETHBTC@alt"), _top("ETHBTC@alt", 0.05, 0.05))
    await asyncio.sleep(0.2)
    await valuer.stop()
    assert valuer.last is not None
    worth = {a.asset: a.value for a in valuer.last.assets}
    assert worth == {
        "BTC": Decimal(100),
        "USDT": Decimal(10),
        "BTC@alt": Decimal(220),
        # Through the bridge of its own venue: 10 x 0.05 BTC@alt x 110.
        "ETH@alt": Decimal("55.000"),
        "USDT@alt": Decimal(5),
    }
    assert valuer.last.equity == Decimal(390)
    assert valuer.last.unpriced == []
