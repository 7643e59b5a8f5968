"""The role matrix: every role against every command and every bus topic.

The commands are enumerated from ``domain/commands.py`` and the topics from
``bus/topics.py``, so a command or topic added without a rule fails here.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest

from omnitrade_tui.bus import TopicFamily, topics
from omnitrade_tui.domain import commands
from omnitrade_tui.gateway.roles import (
    COMMAND_RULES,
    TOPIC_RULES,
    Forbidden,
    Role,
    authorize_command,
    authorize_subscription,
    may_subscribe,
    pattern_covers,
    required_role,
    required_subscription_role,
)

VIEWER, TRADER, ADMIN = Role.VIEWER, Role.TRADER, Role.ADMIN

#: What the issue asks for, written out by hand: the rules in roles.py must agree.
EXPECTED_COMMANDS = {
    "SubscribeSymbol": VIEWER,
    "CandleHistory": VIEWER,
    "OrderHistory": VIEWER,
    "FinalOrders": VIEWER,
    "FillHistory": VIEWER,
    "OrderBookState": VIEWER,
    "VenueCandles": VIEWER,
    "ListAlerts": VIEWER,
    "AlertHistory": VIEWER,
    "JournalSummary": VIEWER,
    "AddAlert": TRADER,
    "UpdateAlert": TRADER,
    "DeleteAlert": TRADER,
    "PlaceOrder": TRADER,
    "PlaceOco": TRADER,
    "CancelOrder": TRADER,
    "ReplaceOrder": TRADER,
    "ReplaceOco": TRADER,
    "CancelAll": ADMIN,
    "VenueTrades": ADMIN,
    "EngageKillSwitch": ADMIN,
    "ReleaseKillSwitch": ADMIN,
    "SetRiskLimits": ADMIN,
}

GATEWAY_OPERATIONS = (
    "gateway.users.list",
    "gateway.users.add",
    "gateway.users.remove",
    "gateway.users.passwd",
    "gateway.users.role",
    "gateway.users.venues",
    "gateway.audit.recent",
)


def _command_classes() -> Iterator[type[commands.Command[Any]]]:
    stack = list(commands.Command.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        yield cls


def _all_command_classes() -> list[type[commands.Command[Any]]]:
    found = {c for c in _command_classes() if c.__module__ == commands.__name__}
    declared = {
        obj
        for _, obj in inspect.getmembers(commands, inspect.isclass)
        if issubclass(obj, commands.Command) and obj is not commands.Command
    }
    return sorted(found | declared, key=lambda c: c.__name__)


def _topic_samples() -> list[str]:
    """Every topic constant, and every topic family called with sample arguments."""
    samples: list[str] = []
    for name, value in vars(topics).items():
        if name.isupper() and isinstance(value, str):
            samples.append(value)
        elif isinstance(value, TopicFamily):
            args = ["1m" if key == "interval" else "BTCUSDT" for key in value.keys]
            if name == "command":
                args = ["order.place"]
            samples.append(value(*args))
    return samples


ALL_COMMANDS = _all_command_classes()
ALL_TOPICS = _topic_samples()


def test_the_enumeration_finds_the_commands_and_topics() -> None:
    assert {c.__name__ for c in ALL_COMMANDS} >= set(EXPECTED_COMMANDS)
    assert "md.book.BTCUSDT" in ALL_TOPICS
    assert "cmd.order.place" in ALL_TOPICS
    assert topics.ORDER in ALL_TOPICS


@pytest.mark.parametrize("cls", ALL_COMMANDS, ids=lambda c: c.__name__)
def test_every_command_has_an_explicit_rule(cls: type[commands.Command[Any]]) -> None:
    assert cls.name in COMMAND_RULES, f"{cls.__name__} ({cls.name}) has no rule in roles.py"
    assert cls.__name__ in EXPECTED_COMMANDS, f"decide {cls.__name__}'s role in this test too"
    assert required_role(cls.name) is EXPECTED_COMMANDS[cls.__name__]


def test_no_rule_is_left_untested() -> None:
    """A rule added to roles.py must be decided in this test as well."""
    assert set(COMMAND_RULES) == {c.name for c in ALL_COMMANDS} | set(GATEWAY_OPERATIONS)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("cls", ALL_COMMANDS, ids=lambda c: c.__name__)
def test_role_matrix_commands(role: Role, cls: type[commands.Command[Any]]) -> None:
    needed = EXPECTED_COMMANDS[cls.__name__]
    if role.at_least(needed):
        authorize_command(role, cls.name)
    else:
        with pytest.raises(Forbidden) as refused:
            authorize_command(role, cls.name)
        assert refused.value.needed is needed
        assert refused.value.have is role
        assert f"needs the {needed} role; you are a" in str(refused.value)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("name", GATEWAY_OPERATIONS)
def test_gateway_admin_operations_need_admin(role: Role, name: str) -> None:
    assert required_role(name) is ADMIN
    if role is ADMIN:
        authorize_command(role, name)
    else:
        with pytest.raises(Forbidden):
            authorize_command(role, name)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("topic", ALL_TOPICS)
def test_role_matrix_topics(role: Role, topic: str) -> None:
    covered = [outer for outer, _ in TOPIC_RULES if pattern_covers(outer, topic)]
    assert covered, f"topic {topic} has no rule in roles.TOPIC_RULES"
    needed = ADMIN if topic.startswith("cmd.") else VIEWER
    assert required_subscription_role(topic) is needed
    assert may_subscribe(role, topic) is role.at_least(needed)


def test_the_refusal_names_the_role_needed() -> None:
    with pytest.raises(Forbidden) as refused:
        authorize_command(VIEWER, commands.PlaceOrder.name)
    assert str(refused.value) == "placing orders needs the trader role; you are a viewer"
    assert refused.value.needed is TRADER
    with pytest.raises(Forbidden) as refused:
        authorize_command(TRADER, commands.EngageKillSwitch.name)
    assert str(refused.value) == "engaging the kill switch needs the admin role; you are a trader"
    with pytest.raises(Forbidden) as refused:
        authorize_subscription(TRADER, "cmd.>")
    assert refused.value.needed is ADMIN
    assert "command journal" in str(refused.value)


def test_unknown_commands_are_admin_only() -> None:
    assert required_role("order.teleport") is ADMIN
    with pytest.raises(Forbidden) as refused:
        authorize_command(TRADER, "order.teleport")
    assert "'order.teleport'" in str(refused.value)
    authorize_command(ADMIN, "order.teleport")


@pytest.mark.parametrize(
    ("pattern", "needed"),
    [
        ("md.>", VIEWER),
        ("md.book.*", VIEWER),
        ("md.candle.*.1m", VIEWER),
        ("sys.>", VIEWER),
        ("sys.bus.*", VIEWER),
        ("exec.order", VIEWER),
        ("acct.balance", VIEWER),
        ("risk.kill_switch", VIEWER),
        # Wider than any viewer rule: they could match topics nobody decided about.
        (">", ADMIN),
        ("*.order", ADMIN),
        ("exec.*", ADMIN),
        ("exec.>", ADMIN),
        ("risk.>", ADMIN),
        ("cmd.>", ADMIN),
        ("cmd.order.place", ADMIN),
        ("secret.stuff", ADMIN),
    ],
)
def test_subscription_patterns(pattern: str, needed: Role) -> None:
    assert required_subscription_role(pattern) is needed
    assert may_subscribe(VIEWER, pattern) is (needed is VIEWER)
    assert may_subscribe(ADMIN, pattern)


def test_malformed_patterns_are_errors() -> None:
    for bad in ("md..book", ">.md", ""):
        with pytest.raises(ValueError):
            may_subscribe(ADMIN, bad)


@pytest.mark.parametrize(
    ("outer", "inner", "covers"),
    [
        ("md.>", "md.book.X", True),
        ("md.>", "md.>", True),
        ("md.>", "md", False),
        ("md.*", "md.book.X", False),
        ("md.*.X", "md.*.X", True),
        ("md.book.X", "md.book.*", False),
        ("a.b", "a.b", True),
        ("a.b", "a.b.c", False),
        ("a.>", "*.b", False),
        ("*.b", "a.b", True),
    ],
)
def test_pattern_covers(outer: str, inner: str, covers: bool) -> None:
    assert pattern_covers(outer, inner) is covers
    # Sanity: when covered, every concrete topic the inner pattern names matches the outer.
    if covers and "*" not in inner and ">" not in inner:
        assert topics.matches(outer, inner)


def test_roles_order_by_rank_not_alphabet() -> None:
    assert VIEWER < TRADER < ADMIN
    assert ADMIN > VIEWER
    assert max(Role) is ADMIN  # alphabetically it would be viewer
    assert sorted([ADMIN, VIEWER, TRADER]) == [VIEWER, TRADER, ADMIN]
    assert ADMIN.at_least(TRADER)
    assert not VIEWER.at_least(TRADER)
    with pytest.raises(TypeError):
        _ = VIEWER < "zzz"
    assert Role.parse(" Trader ") is TRADER
    with pytest.raises(ValueError, match="viewer, trader, admin"):
        Role.parse("root")
