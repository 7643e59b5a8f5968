"""The gateway's last values: what a terminal attaching late is told first.

Orders are the engine's order book of record's: a subscription covering ``exec.book`` starts
with the book's snapshot (taken as the subscription starts), never with a copy the gateway
kept itself."""

from __future__ import annotations

from decimal import Decimal

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.domain import ExecutionType, OrderStatus, OrderType, Side
from omnitrade_tui.domain.events import OrderBookSnapshot, OrderUpdated
from omnitrade_tui.domain.models import ExecutionReport, Order
from omnitrade_tui.engine.book_of_record import OrderBookOfRecord
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
    replayed = values.replay(topics.ORDER_BOOK)
    assert len(replayed) == 1
    topic, snapshot = replayed[0]
    assert topic == topics.ORDER_BOOK and isinstance(snapshot, OrderBookSnapshot)
    return [o.client_order_id for o in snapshot.orders if o.status.is_open]


def test_the_order_books_snapshot_is_replayed_with_its_sequence() -> None:
    bus = Bus()
    book = OrderBookOfRecord(bus)
    values = LastValues(orders=book.snapshot)
    bus.publish(topics.ORDER, _report("a", OrderStatus.NEW))
    bus.publish(topics.ORDER, _report("b", OrderStatus.NEW))
    bus.publish(topics.ORDER, _report("b", OrderStatus.CANCELED))
    assert _open_ids(values) == ["a"]
    [(_, snapshot)] = values.replay("exec.>")
    assert isinstance(snapshot, OrderBookSnapshot) and snapshot.seq == 3
    # Nothing of orders under a pattern that does not cover the book's topic.
    assert values.replay(topics.BALANCE) == []


def test_a_late_report_does_not_replay_a_final_order_as_open() -> None:
    """The order manager publishes a REST answer's FILLED; the stream's earlier
    PARTIALLY_FILLED may reach the bus after it."""
    bus = Bus()
    values = LastValues(orders=OrderBookOfRecord(bus).snapshot)
    bus.publish(topics.ORDER, _report("a", OrderStatus.FILLED))
    bus.publish(topics.ORDER, _report("a", OrderStatus.PARTIALLY_FILLED))
    assert _open_ids(values) == []


def test_without_a_book_no_orders_are_replayed() -> None:
    values = LastValues()
    values.on_event(topics.ORDER, _report("a", OrderStatus.NEW))
    assert values.replay(topics.ORDER_BOOK) == []
