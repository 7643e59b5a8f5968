"""Counters the bus keeps per topic and per subscriber, as plain snapshots."""

from __future__ import annotations

import msgspec


class TopicMetrics(msgspec.Struct, frozen=True):
    """How many events were published on one topic, and to how many subscribers."""

    topic: str
    published: int
    subscribers: int


class SubscriberMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """Delivery counters of one subscriber.

    ``worst_lag_s`` is the longest an event waited between publish and consumption (queue
    and conflating subscribers) or the slowest sampled callback (``each``).
    """

    name: str
    pattern: str
    kind: str
    delivered: int
    dropped: int
    errors: int
    depth: int
    worst_lag_s: float


class BusMetrics(msgspec.Struct, frozen=True):
    """Everything the bus counts, at one moment."""

    topics: list[TopicMetrics]
    subscribers: list[SubscriberMetrics]

    def subscriber(self, name: str) -> SubscriberMetrics:
        """The counters of the subscriber called ``name``."""
        for s in self.subscribers:
            if s.name == name:
                return s
        raise KeyError(name)

    def published(self, topic: str) -> int:
        """Events published on ``topic`` so far."""
        for t in self.topics:
            if t.topic == topic:
                return t.published
        return 0
