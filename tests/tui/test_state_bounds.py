"""Issue 14, item 12 (the screen's part): the screen's orders and fill keys are bounded like
the order manager's (open orders plus the newest final ones; the newest fill keys with a
per-symbol mark), so a long session does not grow them without bound."""

from __future__ import annotations

from decimal import Decimal

from omnitrade_tui.bus import topics
from omnitrade_tui.domain.enums import ExecutionType, OrderStatus, Side
from omnitrade_tui.domain.events import OrderUpdated
from omnitrade_tui.domain.models import ExecutionReport, Fill
from omnitrade_tui.engine.order_manager import KEEP_FILLS, KEEP_FINAL_ORDERS
from omnitrade_tui.tui.widgets.row_table import RowTable
from tests.tui.order_path import publish_order, seeded_app, started, until


async def test_orders_keep_the_open_ones_and_only_the_newest_final_ones() -> None:
    app = seeded_app()
    async with started(app) as pilot:
        state = app.state
        for n in range(KEEP_FINAL_ORDERS + 300):
            publish_order(app, f"omt-done-{n}", Side.BUY, "60000.00", status=OrderStatus.NEW)
            publish_order(app, f"omt-done-{n}", Side.BUY, "60000.00", status=OrderStatus.CANCELED)
        # The seeded account's two open orders and its filled one, plus the newest finals.
        assert len(state.orders) == 2 + KEEP_FINAL_ORDERS
        assert {"omt-seeded-0", "omt-seeded-1"} <= set(state.orders)
        assert "omt-done-0" not in state.orders
        # A late report of an order let go does not bring it back as open.
        publish_order(app, "omt-done-0", Side.BUY, "60000.00", status=OrderStatus.NEW)
        assert "omt-done-0" not in state.orders
        await pilot.press("o")
        await until(
            pilot,
            lambda: (
                [r.key for r in app.query_one("#orders", RowTable).rows]
                == ["omt-seeded-1", "omt-seeded-0"]
            ),
            "the Orders tab to show the two open orders",
        )


async def test_fill_keys_are_bounded_and_an_old_fill_replayed_is_not_counted_again() -> None:
    app = seeded_app()
    async with started(app) as pilot:
        state = app.state
        filled = state.orders["omt-seeded-fill"]

        def report(trade_id: int) -> OrderUpdated:
            fill = Fill(
                symbol="BTCUSDT",
                trade_id=trade_id,
                order_id=99,
                client_order_id=filled.client_order_id,
                side=Side.BUY,
                price=Decimal("67000.00"),
                qty=Decimal("0.001"),
                commission=Decimal("0"),
                commission_asset="USDT",
                is_maker=True,
                time_ms=1,
            )
            return OrderUpdated(
                report=ExecutionReport(execution_type=ExecutionType.TRADE, order=filled, fill=fill)
            )

        for trade_id in range(100_000, 100_000 + KEEP_FILLS + 500):
            app.bus.publish(topics.ORDER, report(trade_id))
        assert len(state._fill_keys) == KEEP_FILLS
        before = len(state.fills)
        position = state.portfolio.positions[0].qty
        app.bus.publish(topics.ORDER, report(100_000))  # the oldest, replayed late
        app.bus.publish(topics.ORDER, report(100_000 + KEEP_FILLS + 499))  # the newest, again
        assert len(state.fills) == before
        assert state.portfolio.positions[0].qty == position
        await pilot.pause(0.1)
