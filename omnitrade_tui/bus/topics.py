"""Topic names. A topic is dot-separated: ``<area>.<kind>[.<SYMBOL>]``.

Subscriptions may use ``*`` for exactly one segment (``md.book.*``) and a trailing ``>`` for
one or more segments (``md.>``), as NATS subjects do.
"""

from __future__ import annotations

BUS_ERROR = "sys.bus.error"
BUS_METRICS = "sys.bus.metrics"
CONNECTION = "sys.connection"
RECORDER = "sys.recorder"
CIRCUIT = "sys.circuit"
ORDER = "exec.order"
REJECT = "exec.reject"
BALANCE = "acct.balance"
PORTFOLIO = "acct.portfolio"
RECONCILE = "exec.reconcile"
KILL_SWITCH = "risk.kill_switch"
#: The pre-trade limits in force (a status, like the other ``sys.`` topics the gateway's
#: roles already let a viewer read and its last values keep for an attaching terminal).
RISK_LIMITS = "sys.risk_limits"
HELD = "exec.held"
ORDER_LIST = "exec.list"
ALERT = "alert.fired"
RATE_LIMIT = "sys.ratelimit"
LATENCY = "sys.latency"
DIAGNOSTICS = "sys.diagnostics"


def book(symbol: str) -> str:
    """Top-of-book updates of a symbol."""
    return f"md.book.{symbol}"


def book_health(symbol: str) -> str:
    """Sync health of a symbol's local book."""
    return f"md.health.{symbol}"


def trade(symbol: str) -> str:
    """Public trades of a symbol."""
    return f"md.trade.{symbol}"


def freshness(symbol: str) -> str:
    """Freshness of a symbol's market streams (stale or live again)."""
    return f"md.fresh.{symbol}"


def backfill(symbol: str) -> str:
    """Public trades of a symbol fetched after the fact (a stream gap filled): recorded, not
    shown on the tape."""
    return f"md.backfill.{symbol}"


def trade_gap(symbol: str) -> str:
    """Trade ids of a symbol the history lacks and the venue could not give back."""
    return f"md.gap.{symbol}"


def candle(symbol: str, interval: str) -> str:
    """Candles of a symbol and interval."""
    return f"md.candle.{symbol}.{interval}"


def ticker(symbol: str) -> str:
    """24-hour ticker of a symbol."""
    return f"md.ticker.{symbol}"


def command(name: str) -> str:
    """The topic on which a command is journaled when it is requested."""
    return f"cmd.{name}"


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
