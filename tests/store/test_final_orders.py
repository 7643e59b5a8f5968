"""The order history the blotter reads (``FinalOrders``): final orders only, newest first,
each with its fees summed by asset and its status timeline in the order the order lived it
(reports of one millisecond included), on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.domain.commands import FinalOrders
from omnitrade_tui.domain.enums import ExecutionType, OrderStatus, OrderType, Side
from omnitrade_tui.domain.events import OrderUpdated
from omnitrade_tui.domain.models import ExecutionReport, Fill, Order
from omnitrade_tui.store.history import HistoryService
from omnitrade_tui.store.repository import SqlHistoryStore
from omnitrade_tui.store.rows import RowBuilder, new_batch

T = 1_796_040_000_000


def _order(cid: str, status: OrderStatus, filled: str = "0", at: int = T) -> Order:
    return Order(
        symbol="BTCUSDT",
        client_order_id=cid,
        side=Side.BUY,
        type=OrderType.LIMIT,
        status=status,
        quantity=Decimal("0.03"),
        price=Decimal("67000"),
        filled_qty=Decimal(filled),
        cum_quote_qty=Decimal(filled) * 67000,
        created_ms=T,
        updated_ms=at,
    )


def _fill(cid: str, trade_id: int, qty: str, fee: str, asset: str) -> Fill:
    return Fill(
        symbol="BTCUSDT",
        trade_id=trade_id,
        order_id=1,
        client_order_id=cid,
        side=Side.BUY,
        price=Decimal("67000"),
        qty=Decimal(qty),
        commission=Decimal(fee),
        commission_asset=asset,
        is_maker=False,
        time_ms=T,
    )


async def test_final_orders_have_fees_and_a_timeline_in_life_order(
    store: SqlHistoryStore,
) -> None:
    batch = new_batch()
    rows = RowBuilder()

    def report(kind: ExecutionType, order: Order, fill: Fill | None = None) -> None:
        event = OrderUpdated(report=ExecutionReport(execution_type=kind, order=order, fill=fill))
        rows.add(batch, topics.ORDER, event)

    # Filled within one millisecond in two fills, fees in two assets. The order's own row
    # ends FILLED; its NEW and PARTIALLY_FILLED reports are written after the FILLED one,
    # so the database's own order cannot be what puts NEW first.
    filled = _order("a", OrderStatus.FILLED, "0.03")
    partial = msgspec.structs.replace(
        filled, status=OrderStatus.PARTIALLY_FILLED, filled_qty=Decimal("0.01")
    )
    report(ExecutionType.NEW, _order("open", OrderStatus.NEW, at=T + 5))
    report(ExecutionType.CANCELED, _order("c", OrderStatus.CANCELED, at=T + 9))
    report(ExecutionType.TRADE, filled, _fill("a", 2, "0.02", "0.00002", "BTC"))
    await store.write_batch(batch)
    batch = new_batch()
    report(ExecutionType.TRADE, partial, _fill("a", 1, "0.01", "0.67", "USDT"))
    report(ExecutionType.NEW, _order("a", OrderStatus.NEW))
    late = new_batch()
    late["order_events"] = batch["order_events"]
    late["fills"] = batch["fills"]
    await store.write_batch(late)

    bus = Bus()
    HistoryService(bus, store, store).register()
    got = await bus.request(FinalOrders(symbol="BTCUSDT"))
    assert [r.order.client_order_id for r in got] == ["c", "a"]  # newest first, no open one
    a = got[1]
    assert a.order.status is OrderStatus.FILLED
    assert a.order.avg_price == Decimal(67000)
    assert a.fills == 2
    assert a.fees == (("BTC", Decimal("0.00002")), ("USDT", Decimal("0.67")))
    assert [s.status for s in a.steps] == [
        OrderStatus.NEW,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
    ]
    assert await bus.request(FinalOrders(symbol="ETHUSDT")) == []


def test_the_order_history_crosses_the_wire_to_an_attached_terminal() -> None:
    """A gateway answers ``FinalOrders`` with ``list:OrderRecord``: the terminal decodes the
    same records, fees and timeline included."""
    from omnitrade_tui.bus.wire import WireTypes, kind_of
    from omnitrade_tui.domain.models import OrderRecord, OrderStep

    record = OrderRecord(
        order=_order("a", OrderStatus.FILLED, "0.03"),
        fees=(("BTC", Decimal("0.00003")),),
        fills=1,
        steps=(
            OrderStep(
                execution_type="TRADE",
                status=OrderStatus.FILLED,
                filled_qty=Decimal("0.03"),
                time_ms=T,
            ),
        ),
    )
    kind = kind_of([record])
    assert kind == "list:OrderRecord"
    assert WireTypes().decode(kind, msgspec.msgpack.encode([record])) == [record]
