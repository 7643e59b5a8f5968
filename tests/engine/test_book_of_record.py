"""Issue 20, item 3: the engine's order book of record is the one owner of order state.

It applies ``supersedes`` in one place, counts each fill once and publishes what it accepted
with a sequence; a reader that starts from its snapshot and applies the updates above the
snapshot's sequence holds what a reader that saw everything holds; the risk gate refuses by
its working orders; memory stays bounded."""

from __future__ import annotations

from decimal import Decimal

import pytest

from omnitrade_tui.bus import Bus, each, topics
from omnitrade_tui.domain.commands import OrderBookState
from omnitrade_tui.domain.enums import ExecutionType, OrderStatus, OrderType, Side
from omnitrade_tui.domain.events import (
    BookState,
    BookTop,
    OrderBookSnapshot,
    OrderBookUpdate,
    OrderUpdated,
    PositionsChanged,
)
from omnitrade_tui.domain.models import BookLevel, ExecutionReport, Fill, Order, OrderRequest
from omnitrade_tui.domain.risk_limits import RiskLimits
from omnitrade_tui.engine.book_of_record import OrderBookOfRecord
from omnitrade_tui.engine.positions import PositionKeeper
from omnitrade_tui.engine.risk import RiskGate
from omnitrade_tui.tui.state import TerminalState
from omnitrade_tui.venues.sim.symbols import default_instruments


def _order(cid: str, status: OrderStatus, filled: str = "0", qty: str = "1") -> Order:
    return Order(
        symbol="BTCUSDT",
        client_order_id=cid,
        side=Side.BUY,
        type=OrderType.LIMIT,
        status=status,
        quantity=Decimal(qty),
        price=Decimal("60000"),
        filled_qty=Decimal(filled),
    )


def _fill(trade_id: int, cid: str, qty: str = "0.5", price: str = "60000") -> Fill:
    return Fill(
        symbol="BTCUSDT",
        trade_id=trade_id,
        order_id=1,
        client_order_id=cid,
        side=Side.BUY,
        price=Decimal(price),
        qty=Decimal(qty),
        commission=Decimal("0"),
        commission_asset="USDT",
        is_maker=True,
        time_ms=1,
    )


def _report(order: Order, fill: Fill | None = None) -> OrderUpdated:
    kind = ExecutionType.TRADE if fill is not None else ExecutionType.NEW
    return OrderUpdated(report=ExecutionReport(execution_type=kind, order=order, fill=fill))


def _updates(bus: Bus) -> list[OrderBookUpdate]:
    seen: list[OrderBookUpdate] = []

    def keep(topic: str, event: OrderBookUpdate | OrderBookSnapshot) -> None:
        assert isinstance(event, OrderBookUpdate)
        seen.append(event)

    bus.subscribe(topics.ORDER_BOOK, each(keep))
    return seen


def test_a_late_report_never_rolls_the_order_back_and_is_not_published() -> None:
    bus = Bus()
    book = OrderBookOfRecord(bus)
    updates = _updates(bus)
    bus.publish(topics.ORDER, _report(_order("a", OrderStatus.NEW)))
    bus.publish(topics.ORDER, _report(_order("a", OrderStatus.FILLED, "1"), _fill(1, "a", "1")))
    # The stream's PARTIALLY_FILLED, late, and the REST answer's FILLED again.
    bus.publish(topics.ORDER, _report(_order("a", OrderStatus.PARTIALLY_FILLED, "0.5")))
    bus.publish(topics.ORDER, _report(_order("a", OrderStatus.FILLED, "1"), _fill(1, "a", "1")))
    assert [u.seq for u in updates] == [1, 2]
    assert book.seq == 2
    found = book.get("a")
    assert found is not None and found.status is OrderStatus.FILLED


def test_a_fill_reported_after_the_final_state_comes_once_with_the_final_order() -> None:
    bus = Bus()
    OrderBookOfRecord(bus)
    updates = _updates(bus)
    bus.publish(topics.ORDER, _report(_order("a", OrderStatus.FILLED, "1")))
    late = _fill(7, "a")
    bus.publish(topics.ORDER, _report(_order("a", OrderStatus.PARTIALLY_FILLED, "0.5"), late))
    bus.publish(topics.ORDER, _report(_order("a", OrderStatus.PARTIALLY_FILLED, "0.5"), late))
    assert [u.report.fill for u in updates] == [None, late]
    assert updates[1].report.order.status is OrderStatus.FILLED


def test_final_orders_are_let_go_in_a_bounded_window_and_readers_are_told() -> None:
    bus = Bus()
    book = OrderBookOfRecord(bus, keep_final=3)
    updates = _updates(bus)
    bus.publish(topics.ORDER, _report(_order("open", OrderStatus.NEW)))
    for n in range(10):
        bus.publish(topics.ORDER, _report(_order(f"o{n}", OrderStatus.CANCELED)))
    assert set(book.orders) == {"open", "o7", "o8", "o9"}
    dropped = [cid for u in updates for cid in u.dropped]
    assert dropped == [f"o{n}" for n in range(7)]
    # A late report of an order let go does not bring it back.
    bus.publish(topics.ORDER, _report(_order("o0", OrderStatus.NEW)))
    assert "o0" not in book
    # A reader of the updates holds exactly the book.
    state = TerminalState(Bus(), {}, ("BTCUSDT",))
    for update in updates:
        state._on_order_book(topics.ORDER_BOOK, update)
    assert state.orders == book.orders


async def test_a_late_reader_from_the_snapshot_holds_what_a_reader_from_the_start_holds() -> None:
    bus = Bus()
    OrderBookOfRecord(bus)
    early = TerminalState(bus, {}, ("BTCUSDT",))
    early.start()
    for n in range(5):
        bus.publish(topics.ORDER, _report(_order(f"o{n}", OrderStatus.NEW)))
    bus.publish(topics.ORDER, _report(_order("o1", OrderStatus.CANCELED)))

    snapshot = await bus.request(OrderBookState())
    assert snapshot.seq == 6
    late = TerminalState(Bus(), {}, ("BTCUSDT",))
    late._on_order_book(topics.ORDER_BOOK, snapshot)
    after: list[OrderBookUpdate] = []
    bus.subscribe(topics.ORDER_BOOK, each(lambda t, e: after.append(e)))
    bus.publish(topics.ORDER, _report(_order("o2", OrderStatus.FILLED, "1"), _fill(3, "o2", "1")))
    bus.publish(topics.ORDER, _report(_order("o5", OrderStatus.NEW)))
    # The updates above the snapshot: in sequence, none missed, none twice.
    assert [u.seq for u in after] == [7, 8]
    for update in after:
        late._on_order_book(topics.ORDER_BOOK, update)
    late._on_order_book(topics.ORDER_BOOK, after[0])  # a repeat is not applied twice
    assert late.orders == early.orders
    assert late.orders_seq == early.orders_seq == 8
    assert [f.trade_id for f in late.fills] == [f.trade_id for f in early.fills] == [3]


def test_the_risk_gate_refuses_by_the_books_working_orders() -> None:
    bus = Bus()
    book = OrderBookOfRecord(bus)
    gate = RiskGate(
        bus,
        RiskLimits(max_open_orders=1, max_position={"BTC": Decimal("1.5")}),
        base_assets={"BTCUSDT": "BTC"},
        clock=lambda: 0.0,
    )
    gate.start()
    assert gate.book is book
    level = BookLevel(price=60000.0, qty=1.0)
    bus.publish(
        topics.book("BTCUSDT"),
        BookTop(symbol="BTCUSDT", update_id=1, bids=[level], asks=[level], state=BookState.LIVE),
    )
    # An order the book holds open (placed before, reported by the venue's stream).
    bus.publish(topics.ORDER, _report(_order("open", OrderStatus.NEW, qty="1")))
    request = OrderRequest(
        symbol="BTCUSDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal("0.6"),
        price=Decimal("60000"),
        client_order_id="next",
    )
    violation = gate.check(request)
    assert violation is not None and violation.limit == "max_open_orders"
    gate.risk.limits = RiskLimits(max_position={"BTC": Decimal("1.5")})
    violation = gate.check(request)
    assert violation is not None and violation.limit == "max_position"
    # Once the book says it is cancelled, nothing is working: the order passes.
    bus.publish(topics.ORDER, _report(_order("open", OrderStatus.CANCELED, qty="1")))
    assert gate.open_orders == 0
    assert gate.check(request) is None
    gate.stop()


def test_positions_are_the_engines_from_the_books_fills_valued_at_the_last_trade() -> None:
    bus = Bus()
    OrderBookOfRecord(bus)
    instruments = {i.symbol: i for i in default_instruments(["BTCUSDT"])}
    keeper = PositionKeeper(bus, {s: (i.base_asset, i.quote_asset) for s, i in instruments.items()})
    keeper.start()
    shown: list[PositionsChanged] = []
    bus.subscribe(topics.POSITIONS, each(lambda t, e: shown.append(e)))
    fill = _fill(1, "a", "0.5", "60000")
    bus.publish(topics.ORDER, _report(_order("a", OrderStatus.PARTIALLY_FILLED, "0.5"), fill))
    bus.publish(topics.ORDER, _report(_order("a", OrderStatus.PARTIALLY_FILLED, "0.5"), fill))
    assert len(shown) == 1
    position = shown[-1].position("BTCUSDT")
    assert position is not None
    assert position.qty == Decimal("0.5")
    assert position.avg_price == Decimal("60000")
    assert position.unrealized_pnl == 0


@pytest.mark.parametrize("twice", [False, True])
def test_a_bus_has_one_book(twice: bool) -> None:
    bus = Bus()
    book = OrderBookOfRecord.on(bus)
    assert OrderBookOfRecord.on(bus) is book
    assert OrderBookOfRecord.of(bus) is book
    if twice:
        with pytest.raises(ValueError):
            OrderBookOfRecord(bus)
    book.close()
    assert OrderBookOfRecord.of(bus) is None
