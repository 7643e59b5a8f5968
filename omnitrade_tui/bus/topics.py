"""Topic names. A topic is dot-separated: ``<area>.<kind>[.<SYMBOL>]``.

Subscriptions may use ``*`` for exactly one segment (``md.book.*``) and a trailing ``>`` for
one or more segments (``md.>``), as NATS subjects do.

The topics themselves, and the event type each carries, are declared once in
``bus/contract.py``; the names here are the same objects, kept so that ``topics.ORDER`` and
``topics.book(symbol)`` read as they always have (and are typed ``Topic[...]``).
"""

from __future__ import annotations

from omnitrade_tui.bus.contract import (
    ALERT,
    BALANCE,
    BUS_ERROR,
    CIRCUIT,
    CONNECTION,
    DIAGNOSTICS,
    HELD,
    KILL_SWITCH,
    LATENCY,
    ORDER,
    ORDER_BOOK,
    ORDER_LIST,
    PORTFOLIO,
    POSITIONS,
    RATE_LIMIT,
    RECONCILE,
    RECORDER,
    REJECT,
    RISK_LIMITS,
    VENUES,
)
from omnitrade_tui.bus.contract import BACKFILL as backfill
from omnitrade_tui.bus.contract import BOOK as book
from omnitrade_tui.bus.contract import BOOK_HEALTH as book_health
from omnitrade_tui.bus.contract import CANDLE as candle
from omnitrade_tui.bus.contract import COMMAND as command
from omnitrade_tui.bus.contract import FRESHNESS as freshness
from omnitrade_tui.bus.contract import TICKER as ticker
from omnitrade_tui.bus.contract import TRADE as trade
from omnitrade_tui.bus.contract import TRADE_GAP as trade_gap

#: Bus counters (no publisher in the engine today; the gateway conflates it for terminals).
BUS_METRICS = "sys.bus.metrics"

__all__ = [
    "ALERT",
    "BALANCE",
    "BUS_ERROR",
    "BUS_METRICS",
    "CIRCUIT",
    "CONNECTION",
    "DIAGNOSTICS",
    "HELD",
    "KILL_SWITCH",
    "LATENCY",
    "ORDER",
    "ORDER_BOOK",
    "ORDER_LIST",
    "PORTFOLIO",
    "POSITIONS",
    "RATE_LIMIT",
    "RECONCILE",
    "RECORDER",
    "REJECT",
    "RISK_LIMITS",
    "VENUES",
    "backfill",
    "book",
    "book_health",
    "candle",
    "command",
    "freshness",
    "matches",
    "ticker",
    "trade",
    "trade_gap",
    "validate_pattern",
]


def matches(pattern: str, topic: str) -> bool:
    """Whether ``topic`` is covered by ``pattern`` (``*`` one segment, ``>`` the rest)."""
    if pattern == topic:
        return True
    p_parts = pattern.split(".")
    t_parts = topic.split(".")
    for i, p in enumerate(p_parts):
        if p == ">":
            return i == len(p_parts) - 1 and len(t_parts) > i
        if i >= len(t_parts):
            return False
        if p != "*" and p != t_parts[i]:
            return False
    return len(p_parts) == len(t_parts)


def validate_pattern(pattern: str) -> None:
    """Raise ``ValueError`` for an empty segment or a ``>`` that is not last."""
    parts = pattern.split(".")
    if any(not p for p in parts):
        raise ValueError(f"topic pattern {pattern!r} has an empty segment")
    if ">" in parts[:-1]:
        raise ValueError(f"topic pattern {pattern!r}: '>' may only be the last segment")
