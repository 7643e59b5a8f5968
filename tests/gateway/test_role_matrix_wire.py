"""The role matrix over the wire: every role sends every command and subscribes to every
topic class through a real gateway; what the role may not do is refused with the role it
needs, and nothing else is (whatever the engine then answers)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from omnitrade_tui.domain import commands as c
from omnitrade_tui.domain.alerts import AlertKind, AlertRule
from omnitrade_tui.domain.enums import OrderType, Side, TimeInForce
from omnitrade_tui.domain.models import OrderRequest
from omnitrade_tui.domain.risk_limits import RiskLimits
from omnitrade_tui.gateway import protocol as wire
from omnitrade_tui.gateway.client import GatewayClient, RemoteRefusal
from omnitrade_tui.gateway.roles import Role, may_subscribe, required_role
from omnitrade_tui.gateway.service import RunningGateway
from tests.gateway.conftest import PASSWORD, USERS

BY_ROLE = {role: name for name, role in USERS.items()}


def _order(coid: str, side: Side = Side.BUY, price: str = "1000") -> OrderRequest:
    return OrderRequest(
        symbol="BTCUSDT",
        side=side,
        type=OrderType.LIMIT,
        quantity=Decimal("0.001"),
        price=Decimal(price),
        time_in_force=TimeInForce.GTC,
        client_order_id=coid,
    )


def _samples() -> list[c.Command[Any]]:
    """One instance of every command, harmless on the sim (far-off prices, no such ids)."""
    return [
        c.PlaceOrder(request=_order("matrix-1")),
        c.PlaceOco(above=_order("matrix-2", Side.SELL, "900000"), below=_order("matrix-3")),
        c.CancelOrder(symbol="BTCUSDT", client_order_id="matrix-none"),
        c.ReplaceOrder(symbol="BTCUSDT", client_order_id="matrix-none", price=Decimal("999")),
        c.ReplaceOco(
            symbol="BTCUSDT",
            order_list_id=-99,
            above=_order("matrix-4", Side.SELL, "900000"),
            below=_order("matrix-5", Side.SELL, "1000"),
        ),
        c.CancelAll(symbol="SOLUSDT"),
        c.SubscribeSymbol(symbol="BTCUSDT"),
        c.CandleHistory(symbol="BTCUSDT", interval="1m", limit=5),
        c.VenueCandles(symbol="BTCUSDT", interval="1m", limit=5),
        c.VenueTrades(symbol="BTCUSDT", from_id=1, limit=5),
        c.ListAlerts(),
        c.AlertHistory(limit=5),
        c.JournalSummary(since_ms=0),
        c.AddAlert(rule=AlertRule(kind=AlertKind.KILL_SWITCH, label="matrix")),
        c.UpdateAlert(rule=AlertRule(rule_id="al-none", kind=AlertKind.KILL_SWITCH)),
        c.DeleteAlert(rule_id="al-none"),
        c.EngageKillSwitch(reason="matrix"),
        c.ReleaseKillSwitch(),
        c.OrderHistory(limit=5),
        c.FinalOrders(limit=5),
        c.FillHistory(limit=5),
        c.OrderBookState(),
        c.SetRiskLimits(limits=RiskLimits()),
    ]


def test_the_samples_cover_every_command() -> None:
    stack = list(c.Command.__subclasses__())
    every: set[str] = set()
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__ == c.__name__:  # not the ones other tests define
            every.add(cls.name)
    assert {s.name for s in _samples()} == every


TOPICS = (
    "md.book.BTCUSDT",
    "md.>",
    "md.trade.*",
    "exec.order",
    "exec.reject",
    "exec.reconcile",
    "acct.balance",
    "risk.kill_switch",
    "sys.connection",
    "sys.>",
    "cmd.>",
    "cmd.order.place",
    ">",
)


async def _refusal(client: GatewayClient, command: c.Command[Any]) -> RemoteRefusal | None:
    try:
        await client.request(command)
    except RemoteRefusal as exc:
        return exc
    return None


@pytest.mark.parametrize("role", list(Role))
async def test_every_role_against_every_command_and_subscription(
    gateway: RunningGateway, role: Role
) -> None:
    client = GatewayClient(gateway.url, BY_ROLE[role], patterns=())
    await client.start(PASSWORD)
    try:
        for command in _samples():
            needed = required_role(command.name)
            refusal = await _refusal(client, command)
            if role.at_least(needed):  # allowed: whatever the engine says, not the role
                assert refusal is None or refusal.needed is None, (role, command.name, refusal)
            else:
                assert refusal is not None, f"{role} was allowed {command.name}"
                assert refusal.needed == needed.value, (role, command.name, refusal.reason)
                assert f"needs the {needed.value} role; you are" in refusal.reason
        for n, pattern in enumerate(TOPICS):
            frame = wire.Subscribe(id=10_000 + n, pattern=pattern)
            if may_subscribe(role, pattern):
                await client._call(frame)
            else:
                with pytest.raises(RemoteRefusal) as refused:
                    await client._call(frame)
                assert refused.value.needed is not None
    finally:
        await client.aclose()
