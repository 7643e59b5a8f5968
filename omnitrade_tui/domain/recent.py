"""A set that remembers only its newest keys: for ids a long-running process must recognise
for a while (an event seen on both sides of a renewal, an order already final) without
keeping every one it ever saw."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class RecentKeys(Generic[K]):
    """The newest ``capacity`` keys added; the oldest is let go first. Adding a key already
    held does not make it newer."""

    __slots__ = ("_keys", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._keys: dict[K, None] = {}  # insertion-ordered: the first is the oldest

    def add(self, key: K) -> K | None:
        """Remember ``key``, letting go of the oldest when over capacity; the key let go
        (for a caller that keeps a mark below which keys count as seen), else ``None``."""
        self._keys[key] = None
        if len(self._keys) > self.capacity:
            oldest = next(iter(self._keys))
            del self._keys[oldest]
            return oldest
        return None

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)


class SeenTrades:
    """``(symbol, trade id)`` keys counted once: the newest ``capacity`` exactly, and per
    symbol the highest trade id let go of, at or below which a key counts as seen (trade ids
    of a symbol only grow, so an old fill replayed late is still recognised)."""

    __slots__ = ("_forgotten_to", "_recent")

    def __init__(self, capacity: int) -> None:
        self._recent: RecentKeys[tuple[str, int]] = RecentKeys(capacity)
        self._forgotten_to: dict[str, int] = {}

    def __contains__(self, key: object) -> bool:
        if key in self._recent:
            return True
        if not isinstance(key, tuple) or len(key) != 2:
            return False
        symbol, trade_id = key
        let_go_to = self._forgotten_to.get(symbol)
        return let_go_to is not None and trade_id <= let_go_to

    def __len__(self) -> int:
        return len(self._recent)

    def add(self, symbol: str, trade_id: int) -> bool:
        """Count ``(symbol, trade_id)``; whether it is new."""
        if (symbol, trade_id) in self:
            return False
        oldest = self._recent.add((symbol, trade_id))
        if oldest is not None:
            old_symbol, old_id = oldest
            self._forgotten_to[old_symbol] = max(old_id, self._forgotten_to.get(old_symbol, old_id))
        return True
