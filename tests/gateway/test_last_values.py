"""The gateway's last values: what a terminal attaching late is told first."""

from __future__ import annotations

from decimal import Decimal

from omnitrade_tui.bus import topics
from omnitrade_tui.domain import ExecutionType, OrderStatus, OrderType, Side
from omnitrade_tui.domain.events import OrderUpdated
from omnitrade_tui.domain.models import ExecutionReport, Order
from omnitrade_tui.gateway.last_values import LastValues


def _report(client_id: str, status: OrderStatus) -> OrderUpdated:
    order = Order(
        symbol="ETHUSDT",
        client_order_id=client_id,
        side=Side.BUY,
        type=OrderType.MARKET,
        status=status,
        quantity=Decimal("1"),
    )
    return OrderUpdated(report=ExecutionReport(execution_type=ExecutionType.TRADE, order=order))


def _open_ids(values: LastValues) -> list[str]:
    return [e.report.order.client_order_id for _, e in values.replay(topics.ORDER)]


def test_open_orders_are_replayed_and_final_ones_forgotten() -> None:
    values = LastValues()
    values.on_event(topics.ORDER, _report("a", OrderStatus.NEW))
    values.on_event(topics.ORDER, _report("b", OrderStatus.NEW))
    values.on_event(topics.ORDER, _report("b", OrderStatus.CANCELED))
    assert _open_ids(values) == ["a"]


def test_a_late_report_does_not_replay_a_final_order_as_open() -> None:
    """The order manager publishes a REST answer's FILLED; the stream's earlier
    PARTIALLY_FILLED may reach the bus after it."""
    values = LastValues()
    values.on_event(topics.ORDER, _report("a", OrderStatus.FILLED))
    values.on_event(topics.ORDER, _report("a", OrderStatus.PARTIALLY_FILLED))
    assert _open_ids(values) == []
