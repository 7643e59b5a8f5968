"""A living market: seeded background liquidity and takers for each simulated symbol.

Each symbol has a fair price that follows a random walk whose volatility switches between
quiet, normal and burst regimes (a Markov chain, so calm spells and bursts cluster as on
a real market). A market-maker account quotes a ladder around the fair price (a tight
spread, sizes growing with distance, a little size noise every step so the depth stream
is alive), and a taker account sends market orders at a Poisson rate that rises in
bursts. Both are ordinary accounts of the matching engine, so a user's orders rest among
them and fill against them exactly as against anyone else.

Deterministic: the same seed and the same clock ticks give the same market.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from omnitrade_tui.domain.enums import OrderType, Side, TimeInForce
from omnitrade_tui.domain.instrument import Instrument
from omnitrade_tui.domain.models import OrderRequest
from omnitrade_tui.venues.sim.accounts import Account
from omnitrade_tui.venues.sim.errors import SimError
from omnitrade_tui.venues.sim.matching import MatchingEngine
from omnitrade_tui.venues.sim.orders import SimOrder

MAKER_ACCOUNT_ID = -1
TAKER_ACCOUNT_ID = -2
_HOUSE_FUNDS = Decimal("1000000000000")

# (per-step volatility multiplier, takers per second, chance to stay in the regime per step)
_REGIMES = {
    "quiet": (0.4, 0.5, 0.995),
    "normal": (1.0, 2.0, 0.99),
    "burst": (3.5, 12.0, 0.97),
}
_NEXT = {"quiet": ("normal",), "normal": ("quiet", "burst"), "burst": ("normal",)}


@dataclass
class _SymbolState:
    instrument: Instrument
    fair: float
    regime: str = "normal"
    quotes: dict[tuple[Side, Decimal], SimOrder] = field(default_factory=dict)
    sizes: dict[tuple[Side, Decimal], Decimal] = field(default_factory=dict)


class MarketGenerator:
    """Drives background flow into a matching engine, one ``step`` at a time.

    Args:
        engine: the venue's matching engine.
        start_prices: where each symbol's fair price starts.
        seed: the random seed (same seed, same market).
        levels: price levels quoted per side.
        daily_vol: the fair price's daily volatility in the normal regime.
    """

    def __init__(
        self,
        engine: MatchingEngine,
        start_prices: dict[str, Decimal],
        seed: int = 1,
        levels: int = 25,
        daily_vol: float = 0.025,
    ) -> None:
        self.engine = engine
        self.rng = random.Random(seed)
        self.levels = levels
        self.daily_vol = daily_vol
        self.maker = self._house(MAKER_ACCOUNT_ID, maker_fee=Decimal(0))
        self.taker = self._house(TAKER_ACCOUNT_ID, maker_fee=Decimal("0.001"))
        self.states = {
            symbol: _SymbolState(engine.instruments[symbol], float(price))
            for symbol, price in start_prices.items()
            if symbol in engine.instruments
        }
        self._last_ms: int | None = None

    def _house(self, account_id: int, maker_fee: Decimal) -> Account:
        existing = self.engine.accounts.get(account_id)
        if existing is not None:
            return existing
        account = Account(account_id, maker_fee=maker_fee, keep_history=False)
        for inst in self.engine.instruments.values():
            account.deposit(inst.base_asset, _HOUSE_FUNDS)
            account.deposit(inst.quote_asset, _HOUSE_FUNDS)
        return self.engine.add_account(account)

    def step(self, now_ms: int) -> None:
        """Advance every symbol to ``now_ms``: move the fair price, requote, send takers."""
        dt = 0.1 if self._last_ms is None else max(0.0, (now_ms - self._last_ms) / 1000)
        self._last_ms = now_ms
        for state in self.states.values():
            self._advance(state, dt)
            self._requote(state)
            self._take(state, dt)

    def _advance(self, state: _SymbolState, dt: float) -> None:
        vol_mult, _, stay = _REGIMES[state.regime]
        if self.rng.random() > stay:
            state.regime = self.rng.choice(_NEXT[state.regime])
        sigma = self.daily_vol * vol_mult * math.sqrt(dt / 86_400)
        # A weak pull toward the last trade keeps fair and printed prices together.
        last = self.engine.last_price.get(state.instrument.symbol)
        pull = 0.0 if last is None else 0.02 * (math.log(float(last)) - math.log(state.fair))
        state.fair *= math.exp(self.rng.gauss(0.0, sigma) + pull)

    def _targets(self, state: _SymbolState) -> dict[tuple[Side, Decimal], Decimal]:
        """The ladder the maker wants: levels on a fixed price grid around the fair price.

        The grid (a multiple of the tick, about 0.2 bp of the price) is anchored at zero,
        so a small move of the fair price shifts the ladder by a level or two instead of
        moving every quote: the depth stream changes at the edges, as a real book does.
        """
        inst = state.instrument
        tick = inst.tick_size
        fair = Decimal(repr(state.fair))
        grid = max(tick, (fair * Decimal("0.00002") / tick).to_integral_value(ROUND_FLOOR) * tick)
        best_bid = ((fair - grid / 2) / grid).to_integral_value(ROUND_FLOOR) * grid
        best_ask = ((fair + grid / 2) / grid).to_integral_value(ROUND_CEILING) * grid
        if best_ask <= best_bid:
            best_ask = best_bid + grid
        sizes = state.sizes
        out: dict[tuple[Side, Decimal], Decimal] = {}
        for i in range(self.levels):
            for side, price in ((Side.BUY, best_bid - grid * i), (Side.SELL, best_ask + grid * i)):
                qty = sizes.get((side, price))
                if qty is None:
                    notional = 3_000.0 * (1 + 0.35 * i) * self.rng.lognormvariate(0.0, 0.35)
                    qty = _round_qty(Decimal(repr(notional / state.fair)), inst)
                    sizes[(side, price)] = qty
                out[(side, price)] = qty
        # Forget sizes of levels far from the market so the memo stays small.
        if len(sizes) > 8 * self.levels:
            for key in [k for k in sizes if k not in out]:
                del sizes[key]
        return out

    def _requote(self, state: _SymbolState) -> None:
        engine, symbol = self.engine, state.instrument.symbol
        targets = self._targets(state)
        for key, order in list(state.quotes.items()):
            keep = key in targets and order.is_open
            # Re-size a few resting quotes each step so the depth stream stays alive.
            if keep and self.rng.random() < 0.01:
                keep = False
                state.sizes.pop(key, None)
            if not keep:
                if order.is_open:
                    engine.cancel(self.maker, symbol, order.order_id)
                del state.quotes[key]
        for (side, price), qty in targets.items():
            if (side, price) in state.quotes:
                continue
            request = OrderRequest(
                symbol=symbol,
                side=side,
                type=OrderType.LIMIT,
                price=price,
                quantity=qty,
                time_in_force=TimeInForce.GTC,
            )
            try:
                result = engine.place(self.maker, request, validate=False)
            except SimError:
                continue
            if result.order.is_open:
                state.quotes[(side, price)] = result.order

    def _take(self, state: _SymbolState, dt: float) -> None:
        _, rate, _ = _REGIMES[state.regime]
        count = _poisson(self.rng, rate * dt)
        for _ in range(count):
            side = Side.BUY if self.rng.random() < 0.5 else Side.SELL
            notional = 400.0 * self.rng.lognormvariate(0.0, 1.0)
            qty = _round_qty(Decimal(repr(notional / state.fair)), state.instrument)
            if qty <= 0:
                continue
            request = OrderRequest(
                symbol=state.instrument.symbol, side=side, type=OrderType.MARKET, quantity=qty
            )
            try:
                self.engine.place(self.taker, request, validate=False)
            except SimError:
                continue


def _round_qty(qty: Decimal, inst: Instrument) -> Decimal:
    step = inst.step_size
    if step <= 0:
        return qty.quantize(Decimal("0.00000001"), ROUND_FLOOR)
    rounded = (qty / step).to_integral_value(ROUND_FLOOR) * step
    return max(rounded, inst.lot_size.min_qty if inst.lot_size else step)


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means of one step."""
    limit = math.exp(-mean)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
