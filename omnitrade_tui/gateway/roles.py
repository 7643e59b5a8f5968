"""Roles and the access matrix of the gateway: who may send which command, see which topic.

The matrix is data (``COMMAND_RULES``, ``TOPIC_RULES``) so it can be printed, reviewed and
tested exhaustively; anything it does not name needs the admin role (deny by default), so a
new command or topic stays admin-only until someone decides otherwise.

Roles are ordered (``viewer < trader < admin``): each role can do everything the roles below
it can. ``Role`` is a ``StrEnum`` for the wire and the store, but its ordering is by rank,
not by the strings' alphabetical order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from omnitrade_tui.bus import contract, topics
from omnitrade_tui.domain import commands as c
from omnitrade_tui.domain.venue import (
    FIRST_VENUE,
    InstrumentIdError,
    check_venue_name,
    venue_of,
)


class Role(StrEnum):
    """What a gateway user may do. Compared by rank: ``ADMIN > TRADER > VIEWER``."""

    VIEWER = "viewer"
    TRADER = "trader"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 for viewer, 1 for trader, 2 for admin."""
        return _RANKS[self]

    def at_least(self, needed: Role) -> bool:
        """Whether this role includes everything ``needed`` may do."""
        return self.rank >= needed.rank

    # A str subclass would otherwise compare alphabetically ("admin" < "viewer").
    def __lt__(self, other: object) -> bool:
        return self.rank < _other_rank(other)

    def __le__(self, other: object) -> bool:
        return self.rank <= _other_rank(other)

    def __gt__(self, other: object) -> bool:
        return self.rank > _other_rank(other)

    def __ge__(self, other: object) -> bool:
        return self.rank >= _other_rank(other)

    @classmethod
    def parse(cls, text: str) -> Role:
        """The role named ``text`` (any case); ``ValueError`` says which names exist."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(r.value for r in cls)
            raise ValueError(f"unknown role {text!r}: choose one of {names}") from None


_RANKS = {Role.VIEWER: 0, Role.TRADER: 1, Role.ADMIN: 2}


def _other_rank(other: object) -> int:
    if not isinstance(other, Role):
        raise TypeError(f"a Role compares only with a Role, not {type(other).__name__}")
    return other.rank


@dataclass(frozen=True)
class Rule:
    """The role an action needs, and how to name the action in a refusal."""

    needed: Role
    action: str


class Forbidden(Exception):
    """A command or subscription the user's role does not allow.

    ``needed`` is the least role that would allow it; the message names the action, the
    needed role and the user's own, e.g. "placing orders needs the trader role; you are a
    viewer".
    """

    def __init__(self, action: str, needed: Role, have: Role) -> None:
        super().__init__(f"{action} needs the {needed} role; you are {_article(have)} {have}")
        self.action = action
        self.needed = needed
        self.have = have


def _article(role: Role) -> str:
    return "an" if role.value[0] in "aeiou" else "a"


#: The gateway's own admin operations (not bus commands, but authorized the same way).
GATEWAY_USERS_LIST = "gateway.users.list"
GATEWAY_USERS_ADD = "gateway.users.add"
GATEWAY_USERS_REMOVE = "gateway.users.remove"
GATEWAY_USERS_PASSWD = "gateway.users.passwd"
GATEWAY_USERS_ROLE = "gateway.users.role"
GATEWAY_USERS_VENUES = "gateway.users.venues"
GATEWAY_AUDIT_RECENT = "gateway.audit.recent"

#: Every command and gateway operation with an explicit rule, by its name (``Command.name``).
COMMAND_RULES: dict[str, Rule] = {
    # Viewer: market data and reading history (the blotter at start).
    c.SubscribeSymbol.name: Rule(Role.VIEWER, "subscribing to market data"),
    c.CandleHistory.name: Rule(Role.VIEWER, "reading candle history"),
    c.OrderHistory.name: Rule(Role.VIEWER, "reading order history"),
    c.FinalOrders.name: Rule(Role.VIEWER, "reading order history"),
    c.FillHistory.name: Rule(Role.VIEWER, "reading fill history"),
    c.OrderBookState.name: Rule(Role.VIEWER, "reading the order book of record"),
    c.VenueCandles.name: Rule(Role.VIEWER, "reading the venue's candles"),
    c.ListAlerts.name: Rule(Role.VIEWER, "listing alerts"),
    c.AlertHistory.name: Rule(Role.VIEWER, "reading alert history"),
    c.JournalSummary.name: Rule(Role.VIEWER, "reading the trading journal"),
    # Trader: one's orders.
    c.PlaceOrder.name: Rule(Role.TRADER, "placing orders"),
    c.PlaceOco.name: Rule(Role.TRADER, "placing OCO orders"),
    c.CancelOrder.name: Rule(Role.TRADER, "cancelling orders"),
    c.ReplaceOrder.name: Rule(Role.TRADER, "amending orders"),
    c.ReplaceOco.name: Rule(Role.TRADER, "amending OCO orders"),
    # Alerts deliver only to targets the box's config lists, so a trader may set them.
    c.AddAlert.name: Rule(Role.TRADER, "adding alerts"),
    c.UpdateAlert.name: Rule(Role.TRADER, "changing alerts"),
    c.DeleteAlert.name: Rule(Role.TRADER, "deleting alerts"),
    # Admin: what acts on the whole account or on the gateway itself.
    c.CancelAll.name: Rule(Role.ADMIN, "cancelling all orders"),
    # Heavy on the venue's weight (25 a call): the engine's own backfill, not a screen's.
    c.VenueTrades.name: Rule(Role.ADMIN, "fetching the venue's trade history"),
    c.EngageKillSwitch.name: Rule(Role.ADMIN, "engaging the kill switch"),
    c.ReleaseKillSwitch.name: Rule(Role.ADMIN, "releasing the kill switch"),
    c.SetRiskLimits.name: Rule(Role.ADMIN, "changing risk limits"),
    GATEWAY_USERS_LIST: Rule(Role.ADMIN, "listing users"),
    GATEWAY_USERS_ADD: Rule(Role.ADMIN, "adding users"),
    GATEWAY_USERS_REMOVE: Rule(Role.ADMIN, "removing users"),
    GATEWAY_USERS_PASSWD: Rule(Role.ADMIN, "changing a user's password"),
    GATEWAY_USERS_ROLE: Rule(Role.ADMIN, "changing a user's role"),
    GATEWAY_USERS_VENUES: Rule(Role.ADMIN, "changing the venues a user may trade on"),
    GATEWAY_AUDIT_RECENT: Rule(Role.ADMIN, "reading the audit log"),
}

#: Topic patterns a role may subscribe within. A subscription is allowed when one of these
#: covers every topic the subscription could match; anything else needs admin. The viewer's
#: patterns are the contract's ``VIEWABLE`` set (a test holds them equal).
TOPIC_RULES: tuple[tuple[str, Rule], ...] = (
    (contract.MARKET_DATA, Rule(Role.VIEWER, "market data")),
    (topics.ORDER, Rule(Role.VIEWER, "order updates")),
    (topics.ORDER_BOOK, Rule(Role.VIEWER, "the order book of record")),
    (topics.REJECT, Rule(Role.VIEWER, "order rejections")),
    (topics.HELD, Rule(Role.VIEWER, "orders held for the rate limit")),
    (topics.ORDER_LIST, Rule(Role.VIEWER, "order list states")),
    (topics.ALERT, Rule(Role.VIEWER, "alerts that fired")),
    (topics.RECONCILE, Rule(Role.VIEWER, "reconciliation reports")),
    (topics.BALANCE, Rule(Role.VIEWER, "balances")),
    (topics.PORTFOLIO, Rule(Role.VIEWER, "the portfolio's value")),
    (topics.POSITIONS, Rule(Role.VIEWER, "positions and PnL")),
    (topics.KILL_SWITCH, Rule(Role.VIEWER, "the kill switch state")),
    (contract.SYSTEM, Rule(Role.VIEWER, "connection and system status")),
    # Journaled commands carry every user's requests verbatim: admins only.
    (contract.COMMAND.all, Rule(Role.ADMIN, "the command journal")),
)


def command_rule(command_name: str) -> Rule:
    """The rule for a command (by ``Command.name``); unknown names need admin."""
    rule = COMMAND_RULES.get(command_name)
    if rule is None:
        return Rule(Role.ADMIN, f"the command {command_name!r}")
    return rule


def required_role(command_name: str) -> Role:
    """The least role that may send ``command_name`` (admin for anything unknown)."""
    return command_rule(command_name).needed


def authorize_command(role: Role, command_name: str) -> None:
    """Return if ``role`` may send ``command_name``; else raise ``Forbidden``."""
    rule = command_rule(command_name)
    if not role.at_least(rule.needed):
        raise Forbidden(rule.action, rule.needed, role)


def pattern_covers(outer: str, inner: str) -> bool:
    """Whether every topic ``inner`` can match is also matched by ``outer``.

    Both are subscription patterns (``*`` one segment, trailing ``>`` one or more).
    """
    o = outer.split(".")
    i = inner.split(".")
    for k, seg in enumerate(o):
        if seg == ">":
            return len(i) > k
        if k >= len(i):
            return False
        if i[k] == ">":
            # ``inner`` matches topics of any length from here on; only ``>`` covers that.
            return False
        if seg != "*" and seg != i[k]:
            return False
    return len(o) == len(i)


def subscription_rule(pattern: str) -> Rule:
    """The rule for subscribing to ``pattern``: the first rule covering all of it.

    A pattern no single rule covers (``>``, ``*.order``, ``exec.*``) needs admin: it could
    match topics nobody has decided about. Raises ``ValueError`` for a malformed pattern.
    """
    topics.validate_pattern(pattern)
    for outer, rule in TOPIC_RULES:
        if pattern_covers(outer, pattern):
            return rule
    return Rule(Role.ADMIN, f"topics {pattern!r}")


def required_subscription_role(pattern: str) -> Role:
    """The least role that may subscribe to ``pattern`` (``ValueError`` if malformed)."""
    return subscription_rule(pattern).needed


def may_subscribe(role: Role, pattern: str) -> bool:
    """Whether ``role`` may subscribe to ``pattern`` (``ValueError`` if malformed)."""
    return role.at_least(required_subscription_role(pattern))


def authorize_subscription(role: Role, pattern: str) -> None:
    """Return if ``role`` may subscribe to ``pattern``; else raise ``Forbidden``."""
    rule = subscription_rule(pattern)
    if not role.at_least(rule.needed):
        raise Forbidden(f"subscribing to {rule.action} ({pattern})", rule.needed, role)


# -- venues ------------------------------------------------------------------------------------


#: Most venues a user's list names (it is stored in 512 characters: 12 names of 32 fit).
MAX_USER_VENUES = 12
_MAX_VENUE_LIST_CHARS = 512


class VenueForbidden(Exception):
    """An order command on a venue the user may not trade on (their role may)."""


def parse_venue_list(text: str) -> tuple[str, ...]:
    """A user's venues as written (``first,kraken``; ``all`` or empty: every venue) as
    qualifiers (``("", "kraken")``; ``()``: every venue).

    Raises:
        ValueError: a name that is not a venue name (says what one is).
    """
    names = [n.strip().lower() for n in text[:_MAX_VENUE_LIST_CHARS].split(",") if n.strip()]
    if len(text) > _MAX_VENUE_LIST_CHARS or len(names) > MAX_USER_VENUES:
        raise ValueError(f"a user may be kept to at most {MAX_USER_VENUES} venues")
    if not names or names == ["all"]:
        return ()
    out: list[str] = []
    for name in names:
        if name == FIRST_VENUE:
            out.append("")
            continue
        try:
            out.append(check_venue_name(name))
        except InstrumentIdError as exc:
            raise ValueError(f"{exc} (or {FIRST_VENUE!r} for the profile's first)") from None
    return tuple(dict.fromkeys(out))


def venue_list_text(venues: tuple[str, ...]) -> str:
    """A user's venues as stored and shown: ``first,kraken``; ``""`` for every venue."""
    return ",".join(v or FIRST_VENUE for v in venues)


def _traded_symbol(command: c.AnyCommand) -> str | None:
    """The instrument an order command acts on (``None``: not an order command, or one
    across every venue, which its role rule already keeps to admins)."""
    if isinstance(command, c.PlaceOrder):
        return command.request.symbol
    if isinstance(command, c.PlaceOco):
        return command.above.symbol
    if isinstance(command, c.CancelOrder | c.ReplaceOrder | c.ReplaceOco):
        return command.symbol
    if isinstance(command, c.CancelAll):
        return command.symbol
    return None


def authorize_venue(venues: tuple[str, ...], command: c.AnyCommand) -> None:
    """Return if a user kept to ``venues`` (``()``: every venue) may send ``command``;
    else raise ``VenueForbidden`` naming the venue and the user's venues."""
    if not venues:
        return
    symbol = _traded_symbol(command)
    if symbol is None:
        return
    venue = venue_of(symbol)
    if venue not in venues:
        raise VenueForbidden(
            f"trading on {'@' + venue if venue else 'the first venue'} is not yours: "
            f"you may trade on {venue_list_text(venues)}"
        )
