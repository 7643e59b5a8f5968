"""The local L2 order book, kept in step with a venue by Binance's update-id rules.

Design (see ``docs/reference/performance.md`` §2.2): each side is a plain ``dict`` from
price to quantity, the fastest structure to write, plus a small sorted cache of the best
prices so a top-N read does not sort thousands of levels. The cache is always a *prefix* of
the side in price order (every level at or better than its last key is in it), so:

* changing the quantity of an existing level touches the dict only;
* a new level better than the cache's last key is inserted with ``bisect``; worse ones are
  ignored by the cache (they are outside the prefix);
* a removed level inside the prefix is removed from the cache;
* when deletions have drained the cache below what a read needs, it is rebuilt once with
  ``heapq.nsmallest`` over the dict.

Bids are cached by negated price so both sides sort ascending from the best price.
Prices and quantities are floats: the book feeds the display, and equal price strings parse
to equal floats, so keys are stable. Exact money lives in the order path, not here.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left as _bisect_left
from bisect import insort as _insort
from collections.abc import Iterable, Iterator
from enum import IntEnum

import msgspec

from omnitrade_tui.domain.enums import Side
from omnitrade_tui.domain.models import BookLevel

PriceQty = tuple[float, float]

_CACHE_KEEP = 128
_INF = float("inf")
_CACHE_MAX = 256


class DiffResult(IntEnum):
    """What applying one diff event did."""

    APPLIED = 0
    STALE = 1  # every update id in it is already in the book: ignored
    GAP = 2  # update ids are missing between the book and the event: not applied
    CROSSED = 3  # applied, but the best bid is now at or above the best ask


class Sweep(msgspec.Struct, frozen=True):
    """The result of walking the book to fill a quantity at market.

    ``avg_price`` is the volume-weighted price of what could fill, ``worst_price`` the last
    level touched, and ``slippage_bps`` the distance of ``avg_price`` from the best price on
    that side, in basis points (always >= 0).
    """

    requested: float
    filled: float
    avg_price: float | None
    worst_price: float | None
    best_price: float | None
    levels: int

    @property
    def complete(self) -> bool:
        """Whether the book holds enough to fill the whole quantity."""
        return self.filled >= self.requested - 1e-12

    @property
    def slippage_bps(self) -> float | None:
        """Average price versus best price, in basis points."""
        if self.avg_price is None or not self.best_price:
            return None
        return abs(self.avg_price - self.best_price) / self.best_price * 10_000.0


class _BookSide:
    """One side: ``levels`` plus the sorted best-price cache described in the module doc."""

    __slots__ = ("complete", "keys", "levels", "sign")

    def __init__(self, sign: float) -> None:
        self.levels: dict[float, float] = {}
        self.keys: list[float] = []  # sign * price, ascending: best first
        self.complete = True  # keys holds every level
        self.sign = sign

    def clear(self) -> None:
        self.levels.clear()
        self.keys.clear()
        self.complete = True

    def load(self, levels: Iterable[PriceQty]) -> None:
        self.levels = {p: q for p, q in levels if q > 0.0}
        self._rebuild()

    def _rebuild(self, want: int = _CACHE_KEEP) -> None:
        sign = self.sign
        keep = max(want, _CACHE_KEEP)
        if len(self.levels) <= keep:
            self.keys = sorted(sign * p for p in self.levels)
            self.complete = True
        else:
            self.keys = heapq.nsmallest(keep, (sign * p for p in self.levels))
            self.complete = False

    def apply(self, updates: Iterable[PriceQty]) -> None:
        # The hot loop of the market-data path. ``edge`` is the price up to which the
        # cache holds every level (worst cached price, or infinity while it holds all);
        # it may lag behind deletions, which keeps the prefix property true. Locals only,
        # and one dict probe per level on the common paths.
        levels = self.levels
        keys = self.keys
        pop = levels.pop
        complete = self.complete
        if self.sign > 0:  # asks: cache keys are prices, best (lowest) first
            edge = _INF if complete else (keys[-1] if keys else -_INF)
            for price, qty in updates:
                if qty == 0.0:
                    if pop(price, None) is not None and price <= edge:
                        i = _bisect_left(keys, price)
                        if i < len(keys) and keys[i] == price:
                            del keys[i]
                elif price in levels:
                    levels[price] = qty
                else:
                    levels[price] = qty
                    if price < edge:
                        _insort(keys, price)
                        if len(keys) > _CACHE_MAX:
                            del keys[_CACHE_KEEP:]
                            complete = False
                            edge = keys[-1]
        else:  # bids: cache keys are negated prices, best (highest) first
            edge = -_INF if complete else (-keys[-1] if keys else _INF)
            for price, qty in updates:
                if qty == 0.0:
                    if pop(price, None) is not None and price >= edge:
                        k = -price
                        i = _bisect_left(keys, k)
                        if i < len(keys) and keys[i] == k:
                            del keys[i]
                elif price in levels:
                    levels[price] = qty
                else:
                    levels[price] = qty
                    if price > edge:
                        _insort(keys, -price)
                        if len(keys) > _CACHE_MAX:
                            del keys[_CACHE_KEEP:]
                            complete = False
                            edge = -keys[-1]
        self.complete = complete

    def ensure(self, n: int) -> list[float]:
        """The cache, rebuilt first if it cannot answer a read of ``n`` levels."""
        if len(self.keys) < n and not self.complete:
            self._rebuild(n)
        return self.keys

    def best(self) -> float | None:
        keys = self.ensure(1)
        return self.sign * keys[0] if keys else None

    def top(self, n: int) -> list[BookLevel]:
        keys = self.ensure(n)
        sign = self.sign
        levels = self.levels
        return [BookLevel(sign * k, levels[sign * k]) for k in keys[:n]]

    def walk(self) -> Iterator[PriceQty]:
        """All levels from the best price outwards (sorts once past the cache)."""
        keys = self.ensure(_CACHE_KEEP)
        sign = self.sign
        levels = self.levels
        for k in keys:
            yield sign * k, levels[sign * k]
        if not self.complete:
            last = keys[-1] if keys else float("-inf")
            rest = sorted(sign * p for p in levels if sign * p > last)
            for k in rest:
                yield sign * k, levels[sign * k]

    def trim(self, depth: int) -> None:
        """Keep only the best ``depth`` levels."""
        if len(self.levels) <= depth:
            return
        sign = self.sign
        keep = heapq.nsmallest(depth, (sign * p for p in self.levels))
        self.levels = {sign * k: self.levels[sign * k] for k in keep}
        self._rebuild()


class OrderBook:
    """An L2 book for one symbol with Binance's update-id sequencing.

    Args:
        symbol: the symbol the book is for.
        max_depth: when set, each side keeps only this many levels nearest the top (the
            rest are trimmed in batches, so memory stays bounded on deep books).
    """

    __slots__ = ("_asks", "_bids", "last_update_id", "max_depth", "symbol")

    def __init__(self, symbol: str, max_depth: int | None = None) -> None:
        self.symbol = symbol
        self.max_depth = max_depth
        self.last_update_id = 0
        self._bids = _BookSide(-1.0)
        self._asks = _BookSide(1.0)

    # -- writing ---------------------------------------------------------------------------

    def apply_snapshot(
        self, last_update_id: int, bids: Iterable[PriceQty], asks: Iterable[PriceQty]
    ) -> None:
        """Replace the whole book with a REST depth snapshot."""
        self._bids.load(bids)
        self._asks.load(asks)
        self.last_update_id = last_update_id
        self._bound()

    def apply_diff(
        self,
        first_update_id: int,
        final_update_id: int,
        bids: Iterable[PriceQty],
        asks: Iterable[PriceQty],
    ) -> DiffResult:
        """Apply one diff-depth event (``U``, ``u``, ``b``, ``a``) by Binance's rules.

        Events that end at or before the book's update id are stale and ignored. An event
        that starts after ``last_update_id + 1`` means updates were missed: it is not
        applied and ``GAP`` is returned; the caller resyncs. Quantities are absolute and a
        zero quantity removes the level.
        """
        if final_update_id <= self.last_update_id:
            return DiffResult.STALE
        if first_update_id > self.last_update_id + 1:
            return DiffResult.GAP
        self._bids.apply(bids)
        self._asks.apply(asks)
        self.last_update_id = final_update_id
        if self.max_depth is not None:
            self._bound()
        bid_keys, ask_keys = self._bids.keys, self._asks.keys
        if bid_keys and ask_keys:
            crossed = -bid_keys[0] >= ask_keys[0]  # both caches start at the best price
        else:
            crossed = self.is_crossed  # a drained cache: let the read path rebuild it
        return DiffResult.CROSSED if crossed else DiffResult.APPLIED

    def apply_levels(self, bids: Iterable[PriceQty], asks: Iterable[PriceQty]) -> None:
        """Apply level changes with no sequencing (for sources that have no update ids)."""
        self._bids.apply(bids)
        self._asks.apply(asks)

    def clear(self) -> None:
        """Empty the book and forget its update id."""
        self._bids.clear()
        self._asks.clear()
        self.last_update_id = 0

    def _bound(self) -> None:
        depth = self.max_depth
        if depth is None:
            return
        # Trim in batches: let a side overshoot by a quarter before paying for the trim.
        slack = depth + max(8, depth // 4)
        if len(self._bids.levels) > slack:
            self._bids.trim(depth)
        if len(self._asks.levels) > slack:
            self._asks.trim(depth)

    # -- reading ---------------------------------------------------------------------------

    @property
    def best_bid(self) -> float | None:
        """Highest bid price, or ``None`` on an empty side."""
        return self._bids.best()

    @property
    def best_ask(self) -> float | None:
        """Lowest ask price, or ``None`` on an empty side."""
        return self._asks.best()

    def best_bid_level(self) -> BookLevel | None:
        """Best bid price and quantity."""
        top = self._bids.top(1)
        return top[0] if top else None

    def best_ask_level(self) -> BookLevel | None:
        """Best ask price and quantity."""
        top = self._asks.top(1)
        return top[0] if top else None

    @property
    def mid(self) -> float | None:
        """Mid price, when both sides have a level."""
        bid, ask = self.best_bid, self.best_ask
        if bid is None or ask is None:
            return None
        return (bid + ask) / 2.0

    @property
    def spread(self) -> float | None:
        """Best ask minus best bid, when both sides have a level."""
        bid, ask = self.best_bid, self.best_ask
        if bid is None or ask is None:
            return None
        return ask - bid

    @property
    def is_crossed(self) -> bool:
        """Whether the best bid is at or above the best ask (a broken book)."""
        bid, ask = self.best_bid, self.best_ask
        return bid is not None and ask is not None and bid >= ask

    def bids(self, n: int) -> list[BookLevel]:
        """The best ``n`` bids, highest price first."""
        return self._bids.top(n)

    def asks(self, n: int) -> list[BookLevel]:
        """The best ``n`` asks, lowest price first."""
        return self._asks.top(n)

    def depth(self) -> tuple[int, int]:
        """Number of bid and ask levels."""
        return len(self._bids.levels), len(self._asks.levels)

    def quantity_at(self, side: Side, price: float) -> float:
        """Quantity resting at ``price`` on ``side`` (0 when there is no level)."""
        levels = self._bids.levels if side is Side.BUY else self._asks.levels
        return levels.get(price, 0.0)

    def levels(self, side: Side) -> dict[float, float]:
        """A copy of one side as ``{price: qty}``."""
        return dict(self._bids.levels if side is Side.BUY else self._asks.levels)

    def sweep(self, taker_side: Side, quantity: float) -> Sweep:
        """Walk the opposite side to fill ``quantity`` at market, as a taker on ``taker_side``.

        A BUY sweeps the asks, a SELL the bids. Returns the average and worst price and the
        slippage from the best price; ``filled`` is less than asked when the book is thin.
        """
        side = self._asks if taker_side is Side.BUY else self._bids
        remaining = quantity
        cost = 0.0
        worst: float | None = None
        best: float | None = None
        used = 0
        for price, qty in side.walk():
            if remaining <= 0:
                break
            if best is None:
                best = price
            take = min(qty, remaining)
            cost += take * price
            remaining -= take
            worst = price
            used += 1
        filled = quantity - max(remaining, 0.0)
        return Sweep(
            requested=quantity,
            filled=filled,
            avg_price=cost / filled if filled > 0 else None,
            worst_price=worst,
            best_price=best,
            levels=used,
        )
