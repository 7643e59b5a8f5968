"""The portfolio's value: every balance valued in one quote asset, in the engine, so every
attached terminal shows the same equity.

Prices come from the bus: the mid of a symbol's book where there is one, else its last
trade or ticker. An asset with no direct market in the quote asset is valued through the
inverse pair or through a bridge asset (BTC, then ETH, BNB). Today's change is measured on
what is held against each asset's price at the venue's day open (the daily candle's open,
asked of the venue with ``VenueCandles``), as exchanges show "today's PnL" on holdings.
Market prices are floats on the display path; the valuation converts them once to
``Decimal`` so the sums are exact in what they add.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from decimal import Decimal

from omnitrade_tui.bus import each, topics
from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.bus.subscription import Subscription
from omnitrade_tui.domain.commands import VenueCandles
from omnitrade_tui.domain.events import AssetValue, BalancesChanged, BookTop, PortfolioValue
from omnitrade_tui.domain.models import Balance, Ticker, Trade
from omnitrade_tui.domain.venue import qualify, venue_of

log = logging.getLogger(__name__)

ZERO = Decimal(0)
BRIDGES = ("BTC", "ETH", "BNB")
DAY_MS = 86_400_000


def _dec(value: float) -> Decimal:
    return Decimal(repr(value))


class PortfolioValuer:
    """Publishes ``PortfolioValue`` on ``acct.portfolio`` at most every ``every_s`` seconds
    while balances or prices change."""

    def __init__(
        self,
        bus: Bus,
        assets: Mapping[str, tuple[str, str]],
        quote_asset: str = "USDT",
        every_s: float = 1.0,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.bus = bus
        self.quote = quote_asset
        self.every_s = every_s
        self._now = clock_ms or (lambda: int(time.time() * 1000))
        self._pairs = {(b, q): s for s, (b, q) in assets.items()}
        self._balances: dict[str, Balance] = {}
        self._prices: dict[str, float] = {}  # symbol -> latest price
        self._day_open: dict[str, float] = {}  # symbol -> the venue's day open
        self._day: int | None = None
        self._dirty = False
        self._subs: list[Subscription] = []
        self._task: asyncio.Task[None] | None = None
        self.last: PortfolioValue | None = None

    def start(self) -> None:
        """Subscribe and start publishing."""
        sub = self.bus.subscribe
        self._subs = [
            sub(topics.BALANCE, each(self._on_balances), name="portfolio.balance"),
            sub(topics.book.all, each(self._on_book), name="portfolio.book"),
            sub(topics.trade.all, each(self._on_trade), name="portfolio.trade"),
            sub(topics.ticker.all, each(self._on_ticker), name="portfolio.ticker"),
        ]
        self._task = asyncio.create_task(self._loop(), name="portfolio-value")

    async def stop(self) -> None:
        """Stop publishing."""
        for s in self._subs:
            s.close()
        self._subs = []
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- inputs ----------------------------------------------------------------------------

    def _on_balances(self, topic: str, event: BalancesChanged) -> None:
        for balance in event.balances:
            self._balances[balance.asset] = balance
        self._dirty = True

    def _on_book(self, topic: str, event: BookTop) -> None:
        if event.bids and event.asks:
            self._price(event.symbol, (event.bids[0].price + event.asks[0].price) / 2)

    def _on_trade(self, topic: str, event: Trade) -> None:
        if event.symbol not in self._prices:
            self._price(event.symbol, event.price)

    def _on_ticker(self, topic: str, event: Ticker) -> None:
        if event.symbol not in self._prices:
            self._price(event.symbol, event.last)

    def _price(self, symbol: str, price: float) -> None:
        if self._prices.get(symbol) != price:
            self._prices[symbol] = price
            self._dirty = True

    # -- valuation -------------------------------------------------------------------------

    def price_of(self, asset: str, opens: bool = False) -> Decimal | None:
        """``asset`` in the quote asset now (or at the day open with ``opens``), if known."""
        prices = self._day_open if opens else self._prices
        # An asset held on another venue (``BTC@kraken``) is priced by that venue's markets;
        # the quote asset is one unit of account on every venue (``USDT@kraken`` is 1).
        venue = venue_of(asset)
        quote = qualify(self.quote, venue)
        if asset == quote:
            return Decimal(1)
        direct = self._pairs.get((asset, quote))
        if direct is not None and direct in prices:
            return _dec(prices[direct])
        inverse = self._pairs.get((quote, asset))
        if inverse is not None and prices.get(inverse):
            return 1 / _dec(prices[inverse])
        for bridge_name in BRIDGES:
            bridge = qualify(bridge_name, venue)
            leg = self._pairs.get((asset, bridge))
            if bridge != asset and leg is not None and leg in prices:
                bridge_price = self.price_of(bridge, opens)
                if bridge_price is not None:
                    return _dec(prices[leg]) * bridge_price
        return None

    def value(self) -> PortfolioValue:
        """The portfolio now."""
        rows: list[tuple[str, Decimal, Decimal, Decimal, Decimal | None]] = []
        unpriced: list[str] = []
        equity = ZERO
        change: Decimal | None = ZERO
        for asset in sorted(self._balances):
            quantity = self._balances[asset].total
            if not quantity:
                continue
            price = self.price_of(asset)
            if price is None:
                unpriced.append(asset)
                continue
            worth = quantity * price
            equity += worth
            opened = self.price_of(asset, opens=True)
            asset_change = quantity * (price - opened) if opened is not None else None
            if asset_change is None:
                change = None
            elif change is not None:
                change += asset_change
            rows.append((asset, quantity, price, worth, asset_change))
        assets = [
            AssetValue(
                asset=asset,
                quantity=quantity,
                price=price,
                value=worth,
                share_pct=(worth / equity * 100) if equity else ZERO,
                day_change=asset_change,
            )
            for asset, quantity, price, worth, asset_change in sorted(
                rows, key=lambda r: r[3], reverse=True
            )
        ]
        start = equity - change if change is not None else None
        return PortfolioValue(
            quote_asset=self.quote,
            equity=equity,
            day_change=change,
            day_change_pct=(change / start * 100) if change is not None and start else None,
            assets=assets,
            unpriced=unpriced,
            time_ms=self._now(),
        )

    async def _loop(self) -> None:
        while True:
            day = self._now() // DAY_MS
            if day != self._day:
                self._day = day
                await self._load_day_opens()
            if self._dirty:
                self._dirty = False
                self.last = self.value()
                self.bus.publish(topics.PORTFOLIO, self.last)
            await asyncio.sleep(self.every_s)

    async def _load_day_opens(self) -> None:
        """Each market's price at the venue's day open (its daily candle's open)."""
        opens: dict[str, float] = {}
        for symbol in set(self._pairs.values()):
            try:
                candles = await self.bus.request(
                    VenueCandles(symbol=symbol, interval="1d", limit=1), timeout=10.0
                )
            except Exception as exc:  # no venue handler, or the venue refused: no change shown
                log.info("portfolio: no day open for %s: %s", symbol, exc)
                continue
            if candles:
                opens[symbol] = candles[-1].open
        self._day_open = opens
        self._dirty = True
