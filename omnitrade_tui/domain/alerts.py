"""Alerts: what a trader asks to be told of, and the pure logic that decides when.

A rule names a kind (a price crossing a level, a fast move, a wide spread, a lopsided book,
a volume spike, an own fill, an order that failed, a link or feed gone quiet, the kill
switch, a risk refusal), the symbol it watches (or every symbol), its threshold, and whether
it fires once or repeats after a cooldown. Each kind's condition is computed here from
plain values; ``Trigger`` turns a condition into firings: a condition fires when it becomes
true (a crossing, a fill) and not again until it has been false and the cooldown has passed.
No I/O, no clock of its own: times come in as arguments.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from enum import StrEnum

import msgspec

from omnitrade_tui.domain.events import Event


class AlertKind(StrEnum):
    """What an alert watches."""

    PRICE_CROSS = "price_cross"  # last trade crosses ``level`` (``direction`` up/down/any)
    MOVE_PCT = "move_pct"  # last price moved ``threshold`` % within ``window_s``
    SPREAD_BPS = "spread_bps"  # best ask - best bid wider than ``threshold`` bps of the mid
    IMBALANCE = "imbalance"  # bid size / ask size of the shown depth beyond ``threshold`` (or 1/x)
    VOLUME_SPIKE = "volume_spike"  # volume in ``window_s`` > ``threshold`` x the previous windows'
    OWN_FILL = "own_fill"  # one of my orders traded
    ORDER_FAILED = "order_failed"  # one of my orders was rejected or expired
    LINK_DOWN = "link_down"  # a venue link not connected for ``seconds``
    FEED_STALE = "feed_stale"  # a market stream silent for ``seconds``
    KILL_SWITCH = "kill_switch"  # the kill switch was engaged
    RISK_REFUSAL = "risk_refusal"  # the risk gate refused an order

    @property
    def needs_symbol(self) -> bool:
        """Whether a rule of this kind must name a symbol."""
        return self in _MARKET_KINDS


_MARKET_KINDS = frozenset(
    {
        AlertKind.PRICE_CROSS,
        AlertKind.MOVE_PCT,
        AlertKind.SPREAD_BPS,
        AlertKind.IMBALANCE,
        AlertKind.VOLUME_SPIKE,
    }
)

DIRECTIONS = ("up", "down", "any")


def price_text(value: float) -> str:
    """A market price as a trader reads it: every decimal it has, thousands separated, no
    exponent (``68,000``, ``67,008.71``, ``0.0501``)."""
    return f"{Decimal(repr(value)).normalize():,f}"


class AlertRuleError(ValueError):
    """A rule that cannot be evaluated; the message says which field and why."""


class AlertRule(msgspec.Struct, frozen=True, kw_only=True):
    """One alert as the trader set it. ``delivery`` names extra targets from the config
    (``[alerts.targets]``: webhooks and commands), never a URL or a command line itself, so
    a rule sent through the gateway cannot make the trading box call or run anything the
    box's owner did not list."""

    rule_id: str = ""
    kind: AlertKind
    symbol: str | None = None
    level: float | None = None
    direction: str = "any"
    threshold: float = 0.0
    window_s: float = 60.0
    seconds: float = 5.0
    repeat: bool = False
    cooldown_s: float = 60.0
    enabled: bool = True
    label: str = ""
    delivery: tuple[str, ...] = ()
    created_ms: int = 0

    def check(self) -> None:
        """Raise ``AlertRuleError`` for a rule that cannot be evaluated."""
        if self.kind.needs_symbol and not self.symbol:
            raise AlertRuleError(f"a {self.kind} alert needs a symbol")
        if self.kind is AlertKind.PRICE_CROSS and (self.level is None or self.level <= 0):
            raise AlertRuleError("a price alert needs a level above 0")
        if self.direction not in DIRECTIONS:
            raise AlertRuleError(f"direction must be one of {', '.join(DIRECTIONS)}")
        needs_threshold = {
            AlertKind.MOVE_PCT,
            AlertKind.SPREAD_BPS,
            AlertKind.IMBALANCE,
            AlertKind.VOLUME_SPIKE,
        }
        if self.kind in needs_threshold and not self.threshold > 0:
            raise AlertRuleError(f"a {self.kind} alert needs a threshold above 0")
        if self.kind is AlertKind.IMBALANCE and self.threshold <= 1:
            raise AlertRuleError("an imbalance alert's ratio must be above 1 (e.g. 3 for 3:1)")
        if not 0 < self.window_s <= 86_400:
            raise AlertRuleError("window_s must be in (0, 86400]")
        if not 0 <= self.seconds <= 86_400 or not 0 <= self.cooldown_s <= 86_400:
            raise AlertRuleError("seconds and cooldown_s must be in [0, 86400]")
        if len(self.label) > 200 or len(self.delivery) > 8:
            raise AlertRuleError("label is at most 200 characters, delivery at most 8 targets")

    def describe(self) -> str:
        """The rule in words, for lists and notifications."""
        text = self._what(self.symbol or "any symbol")
        return f"{self.label}: {text}" if self.label else text

    def _what(self, where: str) -> str:
        kind = self.kind
        if kind is AlertKind.PRICE_CROSS:
            way = "" if self.direction == "any" else f" {self.direction}ward"
            return f"{where} crosses {price_text(self.level or 0.0)}{way}"
        if kind is AlertKind.MOVE_PCT:
            return f"{where} moves {self.threshold:g}% within {self.window_s:g}s"
        if kind is AlertKind.SPREAD_BPS:
            return f"{where} spread wider than {self.threshold:g} bps"
        if kind is AlertKind.IMBALANCE:
            return f"{where} book imbalance beyond {self.threshold:g}:1"
        if kind is AlertKind.VOLUME_SPIKE:
            return f"{where} volume {self.threshold:g}x usual in {self.window_s:g}s"
        if kind is AlertKind.OWN_FILL:
            return f"a fill of mine on {where}"
        if kind is AlertKind.ORDER_FAILED:
            return f"an order of mine rejected or expired on {where}"
        if kind is AlertKind.LINK_DOWN:
            return f"a venue link down for {self.seconds:g}s"
        if kind is AlertKind.FEED_STALE:
            return f"{where} feed silent for {self.seconds:g}s"
        if kind is AlertKind.KILL_SWITCH:
            return "the kill switch engaged"
        return f"a risk refusal on {where}"


class AlertFired(Event, frozen=True, kw_only=True):
    """An alert's condition was met (topic ``alert.fired``)."""

    rule_id: str
    kind: AlertKind
    symbol: str | None
    message: str
    value: float | None = None
    delivery: tuple[str, ...] = ()
    time_ms: int = 0


class Trigger:
    """Edge and cooldown logic of one rule: fire when the condition becomes true; after a
    firing, not again until the condition has been false once and ``cooldown_s`` passed. A
    condition that is still true when the cooldown ends fires then (a repeating alert on a
    state that persists)."""

    __slots__ = ("armed", "cooldown_ms", "last_fired_ms")

    def __init__(self, cooldown_s: float) -> None:
        self.cooldown_ms = int(cooldown_s * 1000)
        self.armed = True
        self.last_fired_ms: int | None = None

    def update(self, condition: bool, now_ms: int) -> bool:
        """Whether the rule fires now."""
        if not condition:
            self.armed = True
            return False
        if not self.armed:
            return False
        if self.last_fired_ms is not None and now_ms - self.last_fired_ms < self.cooldown_ms:
            return False  # still armed: fires when the cooldown ends if still true
        self.armed = False
        self.last_fired_ms = now_ms
        return True


def crossed(previous: float | None, current: float, level: float, direction: str) -> bool:
    """Whether the step ``previous -> current`` crossed ``level`` in ``direction``."""
    if previous is None:
        return False
    up = previous < level <= current
    down = previous > level >= current
    return up if direction == "up" else down if direction == "down" else up or down


class PriceWindow:
    """Prices of the last ``window_s`` seconds, for the move of a window (oldest first)."""

    __slots__ = ("_points", "window_ms")

    def __init__(self, window_s: float) -> None:
        self.window_ms = int(window_s * 1000)
        self._points: deque[tuple[int, float]] = deque()

    def add(self, time_ms: int, price: float) -> float:
        """Add a price; the move in percent from the window's oldest price to it."""
        points = self._points
        points.append((time_ms, price))
        while points and time_ms - points[0][0] > self.window_ms:
            points.popleft()
        first = points[0][1]
        return (price - first) / first * 100.0 if first else 0.0


class VolumeWindows:
    """Volume per window of ``window_s`` seconds and the mean of the ``history`` windows
    before the current one, for a volume spike."""

    __slots__ = ("_current", "_past", "_start_ms", "window_ms")

    def __init__(self, window_s: float, history: int = 10) -> None:
        self.window_ms = int(window_s * 1000)
        self._start_ms: int | None = None
        self._current = 0.0
        self._past: deque[float] = deque(maxlen=history)

    def add(self, time_ms: int, qty: float) -> float:
        """Add a trade; the current window's volume over the past windows' mean (0 while
        there is no past yet)."""
        if self._start_ms is None:
            self._start_ms = time_ms
        while time_ms - self._start_ms >= self.window_ms:
            self._past.append(self._current)
            self._current = 0.0
            self._start_ms += self.window_ms
        self._current += qty
        if not self._past:
            return 0.0
        mean = sum(self._past) / len(self._past)
        return self._current / mean if mean > 0 else 0.0


def spread_bps(bid: float, ask: float) -> float:
    """The spread in basis points of the mid."""
    mid = (bid + ask) / 2
    return (ask - bid) / mid * 10_000 if mid > 0 else 0.0


def imbalance(bid_qty: float, ask_qty: float) -> float:
    """How lopsided the shown depth is: the larger side over the smaller (1 when even)."""
    small = min(bid_qty, ask_qty)
    if small <= 0:
        return float("inf") if max(bid_qty, ask_qty) > 0 else 1.0
    return max(bid_qty, ask_qty) / small
