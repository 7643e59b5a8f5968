"""Delivery policies: how an event reaches one subscriber.

* ``each(callback)``: called synchronously inside ``publish``. For cheap subscribers; the
  cost is one Python call per event.
* ``queue(bound, on_full)``: a bounded FIFO drained by the subscriber's own task, for
  subscribers that batch (recorder, bridges). When full: ``BLOCK`` makes ``publish_wait``
  wait for room, ``DROP_OLDEST`` drops the oldest entry, ``ERROR`` fails the subscription.
* ``latest(key)``: conflation. Only the newest event per key is kept until the subscriber
  drains, for the screen, which redraws at its frame rate, not per message.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)
#: A synchronous subscriber: called with the concrete topic and the event (a ``T``).
EventCallback = Callable[[str, T], None]
KeyFunction = Callable[[str, Any], Hashable]


class OnFull(StrEnum):
    """What a full queue subscription does with the next event."""

    BLOCK = "block"
    DROP_OLDEST = "drop_oldest"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Each(Generic[T_contra]):
    """Synchronous delivery to a callback ``(topic, event)`` that takes events of type ``T``
    (a callback that takes more, ``BookTop | Trade``, may follow either topic)."""

    callback: EventCallback[T_contra]


@dataclass(frozen=True, slots=True)
class Queue:
    """Bounded FIFO delivery."""

    bound: int
    on_full: OnFull = OnFull.DROP_OLDEST

    def __post_init__(self) -> None:
        if self.bound < 1:
            raise ValueError("a queue subscription needs a bound of at least 1")


@dataclass(frozen=True, slots=True)
class Latest:
    """Conflating delivery: the newest event per key (``key(topic, event)``, default topic)."""

    key: KeyFunction | None = None


Policy = Each[Any] | Queue | Latest


def each(callback: EventCallback[T]) -> Each[T]:
    """Deliver synchronously to ``callback(topic, event)``."""
    return Each(callback)


def queue(bound: int, on_full: OnFull | str = OnFull.DROP_OLDEST) -> Queue:
    """Deliver into a bounded queue of ``bound`` events with the given overflow policy."""
    return Queue(bound, OnFull(on_full))


def latest(key: KeyFunction | None = None) -> Latest:
    """Keep only the newest event per key (by default, per topic)."""
    return Latest(key)
