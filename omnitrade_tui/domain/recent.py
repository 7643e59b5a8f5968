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

    def add(self, key: K) -> None:
        """Remember ``key``, letting go of the oldest when over capacity."""
        self._keys[key] = None
        if len(self._keys) > self.capacity:
            del self._keys[next(iter(self._keys))]

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)
