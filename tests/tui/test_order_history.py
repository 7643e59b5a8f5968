"""Issue 15, item 2: the blotter's order history is read from the store through the bus,
so it outlives the app: orders a first run recorded are in the History tab of the next run
on the same SQLite file, with fees and the status timeline; the CSV export writes what is
shown."""

from __future__ import annotations

import csv
import dataclasses
from decimal import Decimal
from pathlib import Path

import msgspec

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.domain.enums import ExecutionType, OrderStatus, OrderType, Side
from omnitrade_tui.domain.events import OrderUpdated
from omnitrade_tui.domain.models import ExecutionReport, Fill, Order
from omnitrade_tui.store.database import open_database
from omnitrade_tui.store.history import HistoryService
from omnitrade_tui.store.recorder import Recorder, RecorderConfig
from omnitrade_tui.store.repository import SqlHistoryStore
from omnitrade_tui.tui.app import OmniTradeApp
from omnitrade_tui.tui.screens.order_detail import OrderDetail
from omnitrade_tui.tui.widgets.order_history import OrderHistoryTable
from tests.tui.seeded_feed import T0_MS, publish_feed, seeded_session
from tests.waiting import until

_NEW = Order(
    symbol="BTCUSDT",
    client_order_id="omt-run1-buy",
    side=Side.BUY,
    type=OrderType.LIMIT,
    status=OrderStatus.NEW,
    quantity=Decimal("0.02"),
    order_id=77,
    price=Decimal("67000.00"),
    created_ms=T0_MS,
    updated_ms=T0_MS,
)
_FILLED = msgspec.structs.replace(
    _NEW,
    status=OrderStatus.FILLED,
    filled_qty=Decimal("0.02"),
    cum_quote_qty=Decimal("1340.00"),
    updated_ms=T0_MS + 1000,
)
_FILL = Fill(
    symbol="BTCUSDT",
    trade_id=5,
    order_id=77,
    client_order_id="omt-run1-buy",
    side=Side.BUY,
    price=Decimal("67000.00"),
    qty=Decimal("0.02"),
    commission=Decimal("1.34"),
    commission_asset="USDT",
    is_maker=True,
    time_ms=T0_MS + 1000,
)


async def _run(db: Path, tmp_path: Path, first: bool) -> list[str]:
    """One run of the app on the store in ``db``: the first records an order's life, the
    second only reads. Returns the History tab's order ids and what the detail showed."""
    store = SqlHistoryStore(await open_database(f"sqlite:///{db}"))
    bus = Bus()
    HistoryService(bus, store, store).register()
    recorder = Recorder(bus, store, RecorderConfig(spill_dir=tmp_path / "spill"))
    await recorder.start()
    session = dataclasses.replace(seeded_session(Bus()), bus=bus, export_dir=tmp_path)
    app = OmniTradeApp(session)
    app.animation_level = "none"
    shown: list[str] = []
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            publish_feed(bus)
            if first:
                bus.publish(
                    topics.ORDER,
                    OrderUpdated(
                        report=ExecutionReport(execution_type=ExecutionType.NEW, order=_NEW)
                    ),
                )
                bus.publish(
                    topics.ORDER,
                    OrderUpdated(
                        report=ExecutionReport(
                            execution_type=ExecutionType.TRADE, order=_FILLED, fill=_FILL
                        )
                    ),
                )
                return shown
            await pilot.press("6")
            table = app.query_one("#history", OrderHistoryTable)
            await until(
                lambda: bool(table.records), "the history", 2.5, pause=pilot.pause, fail=False
            )
            shown = [r.order.client_order_id for r in table.records]
            await pilot.press("enter")
            await pilot.pause(0.2)
            assert isinstance(app.screen, OrderDetail)
            steps = [step.status.value for step in app.screen.record.steps]
            shown.append(" > ".join(steps))
            await pilot.press("escape", "e")
            await pilot.pause(0.2)
    finally:
        await recorder.stop()
        await store.close()
    return shown


def _exported(folder: Path) -> list[dict[str, str]]:
    files = sorted(folder.glob("order-history-BTCUSDT-*.csv"))
    assert len(files) == 1
    with files[0].open() as f:
        return list(csv.DictReader(f))


async def test_order_history_after_a_restart_shows_the_previous_runs_orders(
    tmp_path: Path,
) -> None:
    db = tmp_path / "omnitrade.db"
    await _run(db, tmp_path, first=True)
    shown = await _run(db, tmp_path, first=False)
    # Newest first: the first run's order, then the seeded feed's filled one; then the
    # detail of the selected (first) one: its two status changes.
    assert shown == ["omt-run1-buy", "omt-seeded-fill", "NEW > FILLED"]
    rows = _exported(tmp_path)
    first = rows[0]
    assert (first["client_order_id"], first["status"], first["avg_price"], first["fees"]) == (
        "omt-run1-buy",
        "FILLED",
        "67000",
        "1.34 USDT",
    )
    assert first["timeline"].count(">") == 1  # NEW > FILLED


async def test_t_switches_the_history_between_the_active_symbol_and_all() -> None:
    app = OmniTradeApp(seeded_session(Bus()))
    app.animation_level = "none"
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("6")
        table = app.query_one("#history", OrderHistoryTable)
        await until(lambda: bool(table.records), "the history", 2.0, pause=pilot.pause, fail=False)
        assert {r.order.symbol for r in table.records} == {"BTCUSDT"}
        await pilot.press("t")
        await until(
            lambda: len(table.records) == 4, "four records", 2.0, pause=pilot.pause, fail=False
        )
        symbols = [row.cells[0][0] for row in table.rows]
        assert symbols[0] == "ETHUSDT"  # the newest first, whatever its symbol
        assert sorted(symbols) == ["BTCUSDT", "BTCUSDT", "BTCUSDT", "ETHUSDT"]
