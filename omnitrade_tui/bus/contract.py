"""The bus contract: which event type flows on which topic, which reply each command gives,
and the named sets of topics the screen, the gateway, the recorder and the role table use.

This module is the one place that says so. A ``Topic[T]`` *is* the string the bus routes on
(a ``str`` subclass), so code that treats topics as strings (patterns, comparisons, the
gateway's frames) keeps working, while ``Bus.publish(topic, event)`` is checked by the type
checker against ``T`` and a subscriber's callback receives a ``T``. A ``TopicFamily[T]`` is
the set of topics ``<prefix>.<SYMBOL>`` that all carry ``T``; calling it with a symbol gives
that symbol's topic, and ``family.all`` is the pattern that covers them. Its key is the
symbol today; when the engine serves several venues the family inserts a venue segment
(``md.book.<VENUE>.<SYMBOL>``) and callers that build topics and patterns through it stay
as they are.

A command declares its reply type as its type parameter (``PlaceOrder`` is a
``Command[Order]``, see ``domain/commands.py``); ``reply_type`` reads it back, which is what
the gateway's wire registry and the bus's reply check use.

With the contract check on (``Bus(check_contract=True)``, or ``OMNITRADE_BUS_CHECK=1``, which
the test suite sets), the bus refuses an event whose type the topic's contract does not
name, and a handler's reply whose type its command does not declare. Topics the contract does
not name (a test's ``a.b``) carry anything.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any, Generic, TypeVar, Union, get_args, get_origin

import msgspec

from omnitrade_tui.domain import commands as c
from omnitrade_tui.domain.alerts import AlertFired
from omnitrade_tui.domain.commands import AnyCommand, Command
from omnitrade_tui.domain.events import (
    BalancesChanged,
    BookHealth,
    BookTop,
    CircuitChanged,
    ConnectionChanged,
    Diagnostics,
    FeedFreshness,
    KillSwitchChanged,
    LatencySample,
    OrderBookSnapshot,
    OrderBookUpdate,
    OrderHeld,
    OrderListUpdated,
    OrderRejected,
    OrderUpdated,
    PortfolioValue,
    PositionsChanged,
    RateLimitUsage,
    Reconciled,
    RecorderStatus,
    RiskLimitsInForce,
    SubscriberFailed,
    TradeGap,
    VenuesInForce,
)
from omnitrade_tui.domain.models import Candle, Ticker, Trade

T = TypeVar("T")

#: A family keeps the topics it has built (one per symbol and interval); past this many it
#: starts again rather than grow without bound.
_MAX_CACHED_TOPICS = 4096


class ContractViolation(TypeError):
    """An event published on a topic whose contract does not name its type, or a reply
    whose type its command does not declare."""


class Topic(str, Generic[T]):
    """A topic name (the string the bus routes on) that names the type of its events.

    ``accepts`` is what the contract check lets through; a pattern that covers several
    topics (``md.>``) accepts the types of all of them and is typed ``Topic[object]``.
    """

    __slots__ = ("accepts",)
    accepts: tuple[type[Any], ...]

    def __new__(cls, name: str, *accepts: type[T]) -> Topic[T]:
        """The topic ``name`` carrying events of the types ``accepts``."""
        self = super().__new__(cls, name)
        self.accepts = accepts
        return self


class TopicFamily(Generic[T]):
    """The topics ``<prefix>.<key>...`` that all carry ``T`` (``md.book.<SYMBOL>``).

    ``keys`` names the segments after the prefix (``("symbol",)``, or ``("symbol",
    "interval")`` for candles); ``family(*key)`` is one topic, ``family.all`` the pattern of
    every topic of the family. An ``open_ended`` family's one key may itself hold dots (a
    command's name, ``cmd.order.place``).
    """

    def __init__(
        self,
        prefix: str,
        event_type: type[T],
        keys: tuple[str, ...] = ("symbol",),
        *,
        open_ended: bool = False,
    ):
        self.prefix = prefix
        self.event_type = event_type
        self.keys = keys
        self.open_ended = open_ended
        wildcard = ".>" if open_ended else ".*" * len(keys)
        self.all: Topic[T] = Topic(prefix + wildcard, event_type)
        self._built: dict[str | tuple[str, ...], Topic[T]] = {}

    def __call__(self, key: str, *more: str) -> Topic[T]:
        """The topic of ``key`` (a symbol; for candles a symbol, then an interval)."""
        # Called on every market-data message: a one-key topic is one dict lookup.
        topic = self._built.get(key if not more else (key, *more))
        if topic is None:
            topic = self._build(key, *more)
        return topic

    def _build(self, *key: str) -> Topic[T]:
        if len(key) != len(self.keys):
            raise ValueError(f"{self.prefix} topics are keyed by {', '.join(self.keys)}")
        if len(self._built) >= _MAX_CACHED_TOPICS:
            self._built.clear()
        topic = Topic(".".join((self.prefix, *key)), self.event_type)
        self._built[key[0] if len(key) == 1 else key] = topic
        return topic

    def owns(self, name: str) -> bool:
        """Whether the topic ``name`` belongs to this family."""
        if not name.startswith(self.prefix + "."):
            return False
        return self.open_ended or name.count(".") == self.prefix.count(".") + len(self.keys)


# -- topics ----------------------------------------------------------------------------------

BUS_ERROR = Topic("sys.bus.error", SubscriberFailed)
CONNECTION = Topic("sys.connection", ConnectionChanged)
RECORDER = Topic("sys.recorder", RecorderStatus)
CIRCUIT = Topic("sys.circuit", CircuitChanged)
RATE_LIMIT = Topic("sys.ratelimit", RateLimitUsage)
LATENCY = Topic("sys.latency", LatencySample)
DIAGNOSTICS = Topic("sys.diagnostics", Diagnostics)
#: The pre-trade limits in force (a status, like the other ``sys.`` topics the gateway's
#: roles already let a viewer read and its last values keep for an attaching terminal).
RISK_LIMITS = Topic("sys.risk_limits", RiskLimitsInForce)
#: The venues of the run and the guarantees each lacks (a status, kept like the others).
VENUES = Topic("sys.venues", VenuesInForce)
#: Reports of our orders as they arrive (the venue's stream, the order manager's REST
#: answers): the input of the order book of record, and what the recorder stores.
ORDER = Topic("exec.order", OrderUpdated)
#: The order book of record's accepted updates, in sequence (and, to a terminal attaching
#: through the gateway, its snapshot first): what risk, the screen and the gateway read.
ORDER_BOOK: Topic[OrderBookUpdate | OrderBookSnapshot] = Topic(
    "exec.book", OrderBookUpdate, OrderBookSnapshot
)
REJECT = Topic("exec.reject", OrderRejected)
RECONCILE = Topic("exec.reconcile", Reconciled)
HELD = Topic("exec.held", OrderHeld)
ORDER_LIST = Topic("exec.list", OrderListUpdated)
BALANCE = Topic("acct.balance", BalancesChanged)
PORTFOLIO = Topic("acct.portfolio", PortfolioValue)
#: Positions, PnL and fees as the engine's portfolio accounts them (derived from fills and
#: marks, so not recorded: the store has the fills).
POSITIONS = Topic("acct.positions", PositionsChanged)
KILL_SWITCH = Topic("risk.kill_switch", KillSwitchChanged)
ALERT = Topic("alert.fired", AlertFired)

#: Every topic of fixed name.
TOPICS: tuple[Topic[Any], ...] = (
    BUS_ERROR,
    CONNECTION,
    RECORDER,
    CIRCUIT,
    RATE_LIMIT,
    LATENCY,
    DIAGNOSTICS,
    RISK_LIMITS,
    VENUES,
    ORDER,
    ORDER_BOOK,
    REJECT,
    RECONCILE,
    HELD,
    ORDER_LIST,
    BALANCE,
    PORTFOLIO,
    POSITIONS,
    KILL_SWITCH,
    ALERT,
)

BOOK = TopicFamily("md.book", BookTop)
BOOK_HEALTH = TopicFamily("md.health", BookHealth)
FRESHNESS = TopicFamily("md.fresh", FeedFreshness)
TRADE = TopicFamily("md.trade", Trade)
#: Public trades fetched after the fact (a stream gap filled): recorded, not on the tape.
BACKFILL = TopicFamily("md.backfill", Trade)
#: Trade ids the history lacks and the venue could not give back.
TRADE_GAP = TopicFamily("md.gap", TradeGap)
TICKER = TopicFamily("md.ticker", Ticker)
CANDLE = TopicFamily("md.candle", Candle, keys=("symbol", "interval"))
#: Every command as it is requested (``cmd.<name>``), for the journal.
COMMAND: TopicFamily[AnyCommand] = TopicFamily("cmd", Command, keys=("name",), open_ended=True)

#: Every family of topics.
FAMILIES: tuple[TopicFamily[Any], ...] = (
    BOOK,
    BOOK_HEALTH,
    FRESHNESS,
    TRADE,
    BACKFILL,
    TRADE_GAP,
    TICKER,
    CANDLE,
    COMMAND,
)

#: Every command, each with the reply type it names (``reply_type``). The gateway's role
#: table has a rule for each (a test holds it to that).
COMMANDS: tuple[type[AnyCommand], ...] = (
    c.PlaceOrder,
    c.PlaceOco,
    c.CancelOrder,
    c.ReplaceOrder,
    c.ReplaceOco,
    c.CancelAll,
    c.SubscribeSymbol,
    c.CandleHistory,
    c.VenueCandles,
    c.VenueTrades,
    c.EngageKillSwitch,
    c.ReleaseKillSwitch,
    c.SetRiskLimits,
    c.OrderHistory,
    c.FinalOrders,
    c.FillHistory,
    c.OrderBookState,
    c.AddAlert,
    c.UpdateAlert,
    c.DeleteAlert,
    c.ListAlerts,
    c.AlertHistory,
    c.JournalSummary,
)
_COMMANDS_BY_NAME = {cmd.name: cmd for cmd in COMMANDS}
#: Commands declared after the fact (``declare``): an extension's or a test's own.
_DECLARED: list[type[AnyCommand]] = []


def declare(command: type[AnyCommand]) -> None:
    """Add a command the contract does not list (an extension's, a test's), so it may cross
    the wire and be journaled under its own type; the gateway still needs the admin role
    for any command its role table does not name."""
    if command.name in _COMMANDS_BY_NAME:
        if _COMMANDS_BY_NAME[command.name] is not command:
            raise ValueError(f"a command named {command.name!r} is already in the contract")
        return
    _COMMANDS_BY_NAME[command.name] = command
    _DECLARED.append(command)
    _NAMED.pop(COMMAND.prefix + "." + command.name, None)


def declared_count() -> int:
    """How many commands were declared since start (what a cache of wire types checks)."""
    return len(_DECLARED)


def declared_commands() -> tuple[type[AnyCommand], ...]:
    """Every command: the contract's, then those declared since."""
    return COMMANDS + tuple(_DECLARED)


def _union(name: str, members: tuple[Topic[Any], ...]) -> Topic[object]:
    accepts: list[type[Any]] = []
    for member in members:
        accepts.extend(t for t in member.accepts if t not in accepts)
    return Topic(name, *accepts)


def _family_patterns(area: str) -> tuple[Topic[Any], ...]:
    fixed = tuple(t for t in TOPICS if t.startswith(area + "."))
    return fixed + tuple(f.all for f in FAMILIES if f.prefix.startswith(area + "."))


#: Every market-data topic (``md.>``).
MARKET_DATA = _union("md.>", _family_patterns("md"))
#: Every status topic (``sys.>``).
SYSTEM = _union("sys.>", _family_patterns("sys"))

# -- the named sets --------------------------------------------------------------------------

#: What the trading screen follows: the terminal's state subscribes to these, and an
#: attached terminal asks the gateway for exactly these.
SCREEN: tuple[Topic[Any], ...] = (
    BOOK.all,
    BOOK_HEALTH.all,
    TRADE.all,
    TICKER.all,
    FRESHNESS.all,
    ORDER_BOOK,
    HELD,
    ALERT,
    REJECT,
    BALANCE,
    PORTFOLIO,
    POSITIONS,
    RISK_LIMITS,
    VENUES,
    RECONCILE,
    CONNECTION,
    LATENCY,
    RATE_LIMIT,
    RECORDER,
    CIRCUIT,
    KILL_SWITCH,
    DIAGNOSTICS,
)

#: What the recorder writes to the database (the commands as the command journal).
RECORDED: tuple[Topic[Any], ...] = (
    TRADE.all,
    BACKFILL.all,
    TRADE_GAP.all,
    BOOK.all,
    CANDLE.all,
    ORDER,
    BALANCE,
    COMMAND.all,
)

#: What a viewer (the least gateway role) may follow: market data, its orders' states and
#: the account, and every status. Anything else (the command journal) needs the admin role.
VIEWABLE: tuple[Topic[Any], ...] = (
    MARKET_DATA,
    ORDER,
    ORDER_BOOK,
    REJECT,
    HELD,
    ORDER_LIST,
    ALERT,
    RECONCILE,
    BALANCE,
    PORTFOLIO,
    POSITIONS,
    KILL_SWITCH,
    SYSTEM,
)

# -- looking things up -----------------------------------------------------------------------

_NAMED: dict[str, Topic[Any]] = {str(t): t for t in TOPICS}
_FIXED_COUNT = len(_NAMED)


def topic_named(name: str) -> Topic[Any]:
    """The contract's topic called ``name`` (a name read off a wire); a topic the contract
    does not name carries anything (it accepts ``object``)."""
    found = _NAMED.get(name)
    if found is None:
        found = _lookup(name)
        if len(_NAMED) >= _FIXED_COUNT + _MAX_CACHED_TOPICS:
            for key in list(_NAMED)[_FIXED_COUNT:]:
                del _NAMED[key]
        _NAMED[name] = found
    return found


def _lookup(name: str) -> Topic[Any]:
    if name.startswith(COMMAND.prefix + "."):
        command = _COMMANDS_BY_NAME.get(name[len(COMMAND.prefix) + 1 :])
        return Topic(name, command if command is not None else Command)
    for family in FAMILIES:
        if family.owns(name):
            key = name[len(family.prefix) + 1 :]
            return family(key) if family.open_ended else family(*key.split("."))
    return Topic(name, object)


def check_event(topic: str, event: object) -> None:
    """Raise ``ContractViolation`` if ``topic``'s contract does not name ``event``'s type."""
    accepts = topic.accepts if isinstance(topic, Topic) else topic_named(topic).accepts
    if not isinstance(event, accepts):
        names = " or ".join(t.__name__ for t in accepts)
        raise ContractViolation(
            f"{type(event).__name__} published on {topic!s}, whose contract is {names}"
        )


def reply_type(command: type[Command[Any]]) -> Any:
    """The reply type a command class declares (``Order`` for ``PlaceOrder``)."""
    for klass in command.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            if get_origin(base) is Command:
                return get_args(base)[0]
    return Any


def check_reply(command: Command[Any], value: object) -> None:
    """Raise ``ContractViolation`` if ``value`` is not of the reply type ``command`` names
    (a list is checked element by element)."""
    declared = reply_type(type(command))
    if not _conforms(value, declared):
        raise ContractViolation(
            f"{type(command).__name__} answered with a {type(value).__name__}, "
            f"but its contract is {declared}"
        )


def _conforms(value: object, declared: Any) -> bool:
    if declared is Any or declared is object:
        return True
    if declared is None or declared is type(None):
        return value is None
    origin = get_origin(declared)
    if origin is None:
        return isinstance(value, declared)
    if origin is Union or origin is types.UnionType:
        return any(_conforms(value, arg) for arg in get_args(declared))
    if origin in (list, tuple):
        args = get_args(declared)
        element = args[0] if args else Any
        return isinstance(value, list | tuple) and all(_conforms(v, element) for v in value)
    return isinstance(value, origin)


def wire_types() -> Iterator[type[msgspec.Struct]]:
    """Every struct type the contract lets cross a process: the events of every topic, the
    commands, and the struct types their replies are made of."""
    seen: set[type[Any]] = set()
    declared: list[Any] = [t for topic in TOPICS for t in topic.accepts]
    declared += [f.event_type for f in FAMILIES if f is not COMMAND]
    declared += list(declared_commands())
    declared += [reply_type(cmd) for cmd in declared_commands()]
    while declared:
        item = declared.pop()
        if get_origin(item) is not None:
            declared.extend(get_args(item))
            continue
        if isinstance(item, type) and issubclass(item, msgspec.Struct) and item not in seen:
            seen.add(item)
            yield item
            # A struct's own fields may be structs the other side must know too.
            hints = msgspec.structs.fields(item)
            declared.extend(f.type for f in hints)
