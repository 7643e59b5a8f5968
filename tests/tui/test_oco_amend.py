"""Issue 14, item 5 (the screen's part): amending a leg of an OCO opens an amend of the
whole list, both legs shown with their prices before sending, and sends ReplaceOco; never a
ReplaceOrder of one leg. A list missing a leg is refused with the reason."""

from __future__ import annotations

from decimal import Decimal

from textual.pilot import Pilot

from omnitrade_tui.domain.commands import ReplaceOco, ReplaceOrder
from omnitrade_tui.domain.enums import OrderType, Side
from omnitrade_tui.domain.models import Order
from omnitrade_tui.tui.app import OmniTradeApp
from omnitrade_tui.tui.screens.amend import AmendOrder
from omnitrade_tui.tui.widgets.row_table import RowTable
from tests.tui.order_path import (
    accepted,
    commands_seen,
    notices,
    publish_order,
    recorder,
    seeded_app,
    started,
    until,
)


async def select(app: OmniTradeApp, pilot: Pilot[None], cid: str) -> None:
    """o, then down until the row of ``cid`` is selected."""
    await pilot.press("o", "home")
    await pilot.pause(0.2)
    table = app.query_one("#orders", RowTable)
    for _ in range(len(table.rows)):
        if table.cursor_key == cid:
            return
        await pilot.press("down")
    assert table.cursor_key == cid, [r.key for r in table.rows]


async def open_oco(app: object) -> None:
    """A SELL OCO on BTCUSDT, newer than the seeded orders (so its legs list first)."""
    publish_order(
        app,  # type: ignore[arg-type]
        "omt-oco-limit",
        Side.SELL,
        "68000.00",
        kind=OrderType.LIMIT_MAKER,
        order_list_id=77,
        created_ms=2_000_000_000_000,
    )


async def test_amending_an_oco_leg_replaces_the_whole_list_shown_first() -> None:
    app = seeded_app()
    async with started(app) as pilot:
        await open_oco(app)
        publish_order(
            app,
            "omt-oco-stop",
            Side.SELL,
            "65990.00",
            kind=OrderType.STOP_LOSS_LIMIT,
            stop_price="66000.00",
            order_list_id=77,
            created_ms=2_000_000_000_000,
        )
        seen = commands_seen(app)

        async def replace(cmd: ReplaceOco) -> list[Order]:
            return [accepted(cmd.above, 78), accepted(cmd.below, 78)]

        app.bus.handle(ReplaceOco, replace)
        await select(app, pilot, "omt-oco-limit")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AmendOrder), "the amend")
        legs = str(app.screen.query_one("#legs").render())
        assert "LIMIT_MAKER @ 68,000.00 (cid omt-oco-limit)" in legs
        assert "STOP_LOSS_LIMIT @ 65,990.00 stop 66,000.00 (cid omt-oco-stop)" in legs
        await pilot.press("up")  # the limit a tick higher
        await pilot.pause(0.1)
        sends = str(app.screen.query_one("#sends").render())
        assert "LIMIT_MAKER @ 68,000.01" in sends and "stop 66,000.00" in sends
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, AmendOrder), "the amend to close")
        replaced = [c for c in seen if isinstance(c, ReplaceOco)]
        assert not [c for c in seen if isinstance(c, ReplaceOrder)]
        assert len(replaced) == 1
        cmd = replaced[0]
        assert cmd.order_list_id == 77 and cmd.list_client_order_id is not None
        assert (cmd.above.type, cmd.above.price) == (OrderType.LIMIT_MAKER, Decimal("68000.01"))
        assert (cmd.below.type, cmd.below.price, cmd.below.stop_price) == (
            OrderType.STOP_LOSS_LIMIT,
            Decimal("65990.00"),
            Decimal("66000.00"),
        )
        assert cmd.above.quantity == cmd.below.quantity == Decimal("0.01")


async def test_an_oco_missing_a_leg_is_not_amended_and_says_why() -> None:
    app = seeded_app()
    replaced = recorder(app, ReplaceOrder)
    async with started(app) as pilot:
        await open_oco(app)
        await select(app, pilot, "omt-oco-limit")
        await pilot.press("a")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, AmendOrder)
        assert "OCO list 77 has 1 open legs" in notices(app)[-1]
        assert replaced == []
