"""Helpers for the order-path tests (issue 14): the app on the seeded feed, with test
handlers answering the engine's commands on the bus, as the engine would."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from textual.pilot import Pilot

from omnitrade_tui.bus import Bus, each, topics
from omnitrade_tui.domain.enums import ExecutionType, OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.domain.events import OrderUpdated
from omnitrade_tui.domain.models import ExecutionReport, Order
from omnitrade_tui.tui.app import OmniTradeApp
from tests.tui.seeded_feed import T0_MS, publish_feed, seeded_session
from tests.tui.test_app_trading import until

__all__ = [
    "answer",
    "commands_seen",
    "notices",
    "publish_order",
    "recorder",
    "seeded_app",
    "started",
    "until",
]


def seeded_app(**changes: object) -> OmniTradeApp:
    """The app on a fresh bus with the seeded session (feed not yet published)."""
    session = seeded_session(Bus())
    app = OmniTradeApp(dataclasses.replace(session, **changes))  # type: ignore[arg-type]
    app.animation_level = "none"
    return app


def commands_seen(app: OmniTradeApp) -> list[Any]:
    """Every command sent on the bus from now on."""
    seen: list[Any] = []
    app.bus.subscribe("cmd.>", each(lambda topic, event: seen.append(event)))
    return seen


def answer(app: OmniTradeApp, kind: type[Any], reply: Callable[[Any], Awaitable[Any]]) -> None:
    """Answer commands of ``kind`` with ``reply`` (the engine's part, in a test)."""
    app.bus.handle(kind, reply)


@asynccontextmanager
async def started(
    app: OmniTradeApp, size: tuple[int, int] = (140, 40)
) -> AsyncIterator[Pilot[None]]:
    """The app running headless with the seeded market and account on screen."""
    async with app.run_test(size=size) as pilot:
        publish_feed(app.bus)
        await pilot.pause(0.2)
        yield pilot


def recorder(app: OmniTradeApp, kind: type[Any], reply: Any = "done") -> list[Any]:
    """Answer commands of ``kind`` with ``reply``; the list of those received."""
    received: list[Any] = []

    async def handle(cmd: Any) -> Any:
        received.append(cmd)
        return reply

    app.bus.handle(kind, handle)
    return received


def publish_order(
    app: OmniTradeApp,
    cid: str,
    side: Side,
    price: str,
    qty: str = "0.01",
    *,
    kind: OrderType = OrderType.LIMIT,
    status: OrderStatus = OrderStatus.NEW,
    stop_price: str | None = None,
    order_list_id: int = -1,
    created_ms: int = T0_MS,
) -> Order:
    """Publish an order's state on the bus as the order manager would; the order."""
    order = Order(
        symbol="BTCUSDT",
        client_order_id=cid,
        side=side,
        type=kind,
        status=status,
        quantity=Decimal(qty),
        order_id=abs(hash(cid)) % 1_000_000,
        price=Decimal(price),
        stop_price=Decimal(stop_price) if stop_price is not None else None,
        time_in_force=TimeInForce.GTC,
        order_list_id=order_list_id,
        created_ms=created_ms,
        updated_ms=created_ms,
    )
    app.bus.publish(
        topics.ORDER,
        OrderUpdated(report=ExecutionReport(execution_type=ExecutionType.NEW, order=order)),
    )
    return order


def notices(app: OmniTradeApp) -> list[str]:
    """The text of every notification shown so far."""
    return [str(n.message) for n in app._notifications]
