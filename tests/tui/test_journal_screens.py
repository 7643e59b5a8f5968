"""The History (trading journal) and Portfolio screens through the app's keys.

History: a history of fills made through the simulated venue, and every figure the screen
draws checked against a recomputation from the fills table. Portfolio: the equity drawn is
the sum of the balances at the prices the screen itself shows. Snapshots of both at 80x24
and 120x40 on a frozen journal and valuation.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.domain.commands import JournalSummary
from omnitrade_tui.domain.journal import JournalDay, JournalRow, TradingJournal
from omnitrade_tui.tui.app import OmniTradeApp
from omnitrade_tui.tui.screens.journal import HistoryScreen, money
from omnitrade_tui.tui.screens.portfolio import PortfolioScreen
from tests.engine.test_journal import recompute
from tests.tui.seeded_feed import T0_MS, publish_feed, seeded_session, valuation
from tests.tui.test_app_trading import running_app, ticket_open, until


@pytest.mark.slow
async def test_history_screen_figures_equal_a_recomputation_from_the_fills_table(
    tmp_path: Path,
) -> None:
    async with running_app(tmp_path) as (app, pilot, _runtime):
        for key, qty in (("m", "0.02"), ("M", "0.01"), ("m", "0.01"), ("M", "0.02")):
            before = len(app.state.fills)
            await _market(app, pilot, key, qty)

            def more(b: int = before) -> bool:
                return len(app.state.fills) > b

            await until(pilot, more, f"fills of {key}")
            await pilot.pause(0.4)
        await pilot.pause(0.5)  # the recorder's batch
        await pilot.press("h")
        await until(
            pilot,
            lambda: isinstance(app.screen, HistoryScreen) and app.screen.journal is not None,
            "the History screen",
        )
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        journal = screen.journal
        assert journal is not None
        db = tmp_path / "history.db"
        expected = recompute(db, "USDT", journal.utc_offset_s)
        total = journal.total
        assert total.fills == expected["fills"] >= 4
        assert (total.realized, total.fees, total.volume) == (
            expected["realized"],
            expected["fees"],
            expected["volume"],
        )
        assert (total.wins, total.losses) == (expected["wins"], expected["losses"])
        days = {d.day: (d.realized, d.fees, d.volume, Decimal(d.fills)) for d in journal.days}
        assert days == expected["days"]
        drawn = app.export_screenshot()
        for figure in (money(total.volume), money(total.fees, 4), f"{total.fills:,}"):
            assert figure in drawn, figure


async def _market(app: OmniTradeApp, pilot: Pilot[None], key: str, qty: str) -> None:
    """A MARKET ticket: m buys; M (the same ticket, side switched) sells."""
    from omnitrade_tui.tui.screens.ticket import OrderTicket

    await pilot.press("m")
    await until(pilot, lambda: ticket_open(app), "the ticket")
    if key == "M":
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        for _ in range(12):
            if app.focused is not None and app.focused.id == "side":
                break
            await pilot.press("shift+tab")
        await pilot.press("right")
    for _ in range(12):
        if app.focused is not None and app.focused.id == "quantity":
            break
        await pilot.press("tab")
    await pilot.press(*qty, "enter")
    await until(pilot, lambda: not isinstance(app.screen, OrderTicket), "the ticket to close")


async def test_portfolio_screen_sums_the_balances_at_the_prices_shown(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _runtime):
        await until(pilot, lambda: app.state.valuation is not None, "the engine's valuation")
        # The account summary under the watchlist says the engine's equity (issue 22's
        # summary); prices move, so within the next frames of a valuation.
        await until(
            pilot,
            lambda: f"{app.state.valuation.equity:,.2f}" in app.export_screenshot(),  # type: ignore[union-attr]
            "the account summary",
        )
        await pilot.press("p")
        await pilot.pause(0.3)
        assert isinstance(app.screen, PortfolioScreen)
        # The valuation the screen drew: prices move between its redraws.
        value = app.screen.shown
        assert value is not None
        assert value.equity == sum((a.value for a in value.assets), Decimal(0))
        for a in value.assets:
            assert a.value == a.quantity * a.price
            balance = app.state.balances[a.asset]
            assert a.quantity == balance.free + balance.locked
        assert f"{value.equity:,.2f}" in app.export_screenshot()


FROZEN_JOURNAL = TradingJournal(
    since_ms=0,
    until_ms=T0_MS,
    quote_asset="USDT",
    utc_offset_s=0,
    total=JournalRow(
        key="total",
        quote_asset="USDT",
        realized=Decimal("412.50"),
        fees=Decimal("38.1234"),
        volume=Decimal("254310.55"),
        fills=57,
        wins=14,
        losses=9,
        win_total=Decimal("690.10"),
        loss_total=Decimal("-315.72"),
    ),
    days=[
        JournalDay(
            day=f"2026-11-{d:02d}",
            realized=Decimal(r),
            fees=Decimal("3.2"),
            volume=Decimal("21000"),
            fills=5,
            cumulative_net=Decimal(c),
        )
        for d, r, c in (
            (19, "120.5", "117.3"),
            (20, "-80.2", "33.9"),
            (21, "45", "75.7"),
            (24, "210.9", "283.4"),
            (25, "-35", "245.2"),
            (26, "60.1", "302.1"),
            (27, "-12", "286.9"),
            (30, "103.2", "374.4"),
        )
    ],
    symbols=[
        JournalRow(key="BTCUSDT", quote_asset="USDT", realized=Decimal("350.2"), fills=40),
        JournalRow(key="ETHUSDT", quote_asset="USDT", realized=Decimal("62.3"), fills=17),
    ],
    venues=[JournalRow(key="sim", quote_asset="USDT", realized=Decimal("412.50"), fills=57)],
)

FROZEN_VALUE = valuation(
    "167545.23",
    "1234.56",
    "0.742",
    (
        ("USDT", "100000", "1", "100000", "59.69", "0"),
        ("BTC", "0.5", "67006.70", "33503.35", "20.00", "410.2"),
        ("ETH", "10", "2600.10", "26001", "15.52", "700.1"),
        ("SOL", "53.5", "150.2", "8035.7", "4.80", "124.26"),
    ),
    unpriced=("XYZ",),
)


def _frozen_app() -> OmniTradeApp:
    bus = Bus()

    async def journal(command: JournalSummary) -> TradingJournal:
        return FROZEN_JOURNAL

    bus.handle(JournalSummary, journal)
    app = OmniTradeApp(seeded_session(bus))
    app.animation_level = "none"
    return app


async def _open(pilot: Pilot[Any], key: str) -> None:
    app = pilot.app
    assert isinstance(app, OmniTradeApp)
    publish_feed(app.bus)
    app.bus.publish(topics.PORTFOLIO, FROZEN_VALUE)
    await pilot.pause(0.2)
    await pilot.press(key)
    await pilot.pause(0.4)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_history_screen_snapshot(snap_compare: Any, size: tuple[int, int]) -> None:
    async def run(pilot: Pilot[Any]) -> None:
        await _open(pilot, "h")

    assert snap_compare(_frozen_app(), terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_portfolio_screen_snapshot(snap_compare: Any, size: tuple[int, int]) -> None:
    async def run(pilot: Pilot[Any]) -> None:
        await _open(pilot, "p")

    assert snap_compare(_frozen_app(), terminal_size=size, run_before=run)
