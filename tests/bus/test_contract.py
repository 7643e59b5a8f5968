"""The bus contract: a topic carries only the event type it names, a command's reply is the
type it declares, and the screen, the gateway, the recorder and the role table read their
topics from the one contract."""

from __future__ import annotations

import asyncio

import pytest

from omnitrade_tui.bus import Bus, ContractViolation, contract, each, topics
from omnitrade_tui.bus.wire import WireTypes
from omnitrade_tui.domain import commands
from omnitrade_tui.domain.commands import CancelAll, EngageKillSwitch, OrderHistory
from omnitrade_tui.domain.events import BookTop, OrderRejected
from omnitrade_tui.domain.models import Trade
from omnitrade_tui.gateway import roles
from omnitrade_tui.gateway.client import SCREEN_TOPICS
from omnitrade_tui.store.recorder import RECORDED_PATTERNS
from omnitrade_tui.tui.state import TerminalState


def _trade() -> Trade:
    return Trade(
        symbol="BTCUSDT",
        trade_id=1,
        price=100.0,
        qty=1.0,
        time_ms=1,
        buyer_is_maker=False,
    )


def test_an_event_of_another_type_is_refused_on_a_topic() -> None:
    bus = Bus(check_contract=True)
    got: list[Trade] = []
    bus.subscribe(topics.trade.all, each(lambda t, e: got.append(e)))
    bus.publish(topics.trade("BTCUSDT"), _trade())
    top = BookTop(symbol="BTCUSDT", update_id=1, bids=[], asks=[])
    # The type checker refuses this call too (no T fits both); the bus checks at run time.
    with pytest.raises(ContractViolation, match=r"BookTop published on md\.trade\.BTCUSDT"):
        bus.publish(topics.trade("BTCUSDT"), top)  # type: ignore[misc]
    # A topic named by its plain string is held to the same contract.
    with pytest.raises(ContractViolation):
        bus.publish("exec.order", _trade())  # type: ignore[arg-type]
    assert len(got) == 1


def test_a_reply_of_another_type_is_refused() -> None:
    async def run() -> None:
        bus = Bus(check_contract=True)

        async def wrong(command: OrderHistory) -> object:
            return ["not an order"]

        async def cancel_all(command: CancelAll) -> object:
            return []

        bus.handle(OrderHistory, wrong)
        bus.handle(CancelAll, cancel_all)
        assert await bus.request(CancelAll()) == []
        with pytest.raises(ContractViolation, match="OrderHistory answered"):
            await bus.request(OrderHistory())

    asyncio.run(run())


def test_subscribers_get_plain_topic_names() -> None:
    bus = Bus(check_contract=True)
    names: list[str] = []
    bus.subscribe(topics.REJECT, each(lambda t, e: names.append(t)))
    event = OrderRejected(client_order_id="c", symbol="BTCUSDT", code=None, reason="r")
    bus.publish(topics.REJECT, event)
    assert names == ["exec.reject"] and type(names[0]) is str


def test_every_command_is_in_the_contract_with_a_reply_type() -> None:
    declared = {
        cls
        for cls in vars(commands).values()
        if isinstance(cls, type) and issubclass(cls, commands.Command) and cls.name != "command"
    }
    assert declared == set(contract.COMMANDS)
    assert contract.reply_type(EngageKillSwitch) is str
    assert all(cmd.name in roles.COMMAND_RULES for cmd in contract.COMMANDS)


def test_topic_names_read_off_a_wire_find_their_contract() -> None:
    assert contract.topic_named("md.book.ETHUSDT").accepts == (BookTop,)
    assert contract.topic_named("md.candle.ETHUSDT.1m") is topics.candle("ETHUSDT", "1m")
    assert contract.topic_named("cmd.order.place").accepts == (commands.PlaceOrder,)
    assert contract.topic_named("test.anything").accepts == (object,)


def test_wire_types_are_the_contracts_and_unambiguous() -> None:
    structs = list(contract.wire_types())
    assert len({t.__name__ for t in structs}) == len(structs)
    types = WireTypes()
    assert types.type_named("PlaceOrder") is commands.PlaceOrder
    assert types.type_named("Trade") is Trade


def test_the_screen_the_gateway_and_the_recorder_follow_the_contracts_sets() -> None:
    bus = Bus()
    state = TerminalState(bus, {}, ("BTCUSDT",))
    state.start()
    assert sorted(s.pattern for s in bus.subscriptions) == sorted(contract.SCREEN)
    assert tuple(SCREEN_TOPICS) == contract.SCREEN
    assert RECORDED_PATTERNS == contract.RECORDED
    viewer = [p for p, rule in roles.TOPIC_RULES if rule.needed is roles.Role.VIEWER]
    assert sorted(viewer) == sorted(contract.VIEWABLE)
    for pattern in contract.SCREEN:
        roles.authorize_subscription(roles.Role.VIEWER, pattern)
