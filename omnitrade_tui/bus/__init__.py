"""The event bus: one in-process async bus that every part of the app talks through.

``Bus.publish(topic, event)`` is synchronous; subscribers choose a delivery policy
(``each``, ``queue``, ``latest``); commands go through ``Bus.request`` with a timeout.
"""

from omnitrade_tui.bus import contract, topics
from omnitrade_tui.bus.bus import Bus, CommandTimeout, NoHandler
from omnitrade_tui.bus.contract import ContractViolation, Topic, TopicFamily
from omnitrade_tui.bus.metrics import BusMetrics, SubscriberMetrics, TopicMetrics
from omnitrade_tui.bus.policy import OnFull, each, latest, queue
from omnitrade_tui.bus.subscription import (
    Delivery,
    LatestSubscription,
    QueueOverflow,
    QueueSubscription,
    Subscription,
    SubscriptionClosed,
)
from omnitrade_tui.domain.events import SubscriberFailed

__all__ = [
    "Bus",
    "BusMetrics",
    "CommandTimeout",
    "ContractViolation",
    "Delivery",
    "LatestSubscription",
    "NoHandler",
    "OnFull",
    "QueueOverflow",
    "QueueSubscription",
    "SubscriberFailed",
    "SubscriberMetrics",
    "Subscription",
    "SubscriptionClosed",
    "Topic",
    "TopicFamily",
    "TopicMetrics",
    "contract",
    "each",
    "latest",
    "queue",
    "topics",
]
