"""The composition root on the simulated venue: what one ``Runtime.start`` wires together."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from omnitrade_tui.config import Overrides, Settings, load_settings
from omnitrade_tui.domain.commands import (
    CandleHistory,
    EngageKillSwitch,
    PlaceOrder,
    ReleaseKillSwitch,
)
from omnitrade_tui.domain.enums import OrderType, Side, TimeInForce
from omnitrade_tui.domain.events import BookState
from omnitrade_tui.domain.models import OrderRequest
from omnitrade_tui.engine.risk import RiskRejected
from omnitrade_tui.runtime import Runtime
from tests.waiting import until


def sim_settings(tmp_path: Path) -> Settings:
    """Settings of profile sim with every directory and the database under ``tmp_path``."""
    return load_settings(
        Overrides(),
        env={
            "OMNITRADE_CONFIG_DIR": str(tmp_path / "config"),
            "OMNITRADE_STATE_DIR": str(tmp_path / "state"),
            "OMNITRADE_DATA_DIR": str(tmp_path / "data"),
            "OMNITRADE_DB_URL": f"sqlite:///{tmp_path / 'h.db'}",
        },
    )


async def test_sim_runtime_serves_history_orders_through_risk_and_the_kill_switch(
    tmp_path: Path,
) -> None:
    async with Runtime.start(sim_settings(tmp_path), seed=5) as rt:
        assert rt.profile_label == "SIM"
        assert set(rt.instruments) == {"BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"}
        # The chart's backfill: closed klines from the venue (the top-up hook of the store).
        candles = await rt.bus.request(CandleHistory(symbol="ETHUSDT", interval="1m", limit=40))
        assert len(candles) == 40
        assert all(c.closed for c in candles)
        assert [c.open_ms for c in candles] == sorted(c.open_ms for c in candles)
        await until(
            lambda: (
                rt.market_stream.books["BTCUSDT"].state is BookState.LIVE
                and "BTCUSDT" in rt.gate.mids
            ),
            "a live book and a mid",
            5.0,
            fail=False,
        )
        mid = rt.gate.mids["BTCUSDT"]
        fat_finger = OrderRequest(
            symbol="BTCUSDT",
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=Decimal("0.01"),
            price=(mid * Decimal("1.5")).quantize(Decimal("0.01")),
            time_in_force=TimeInForce.GTC,
        )
        with pytest.raises(RiskRejected, match="price_band"):
            await rt.bus.request(PlaceOrder(request=fat_finger))
        assert await rt.manager.port.open_orders("BTCUSDT") == []
        await rt.bus.request(EngageKillSwitch(reason="test"))
        ok = OrderRequest(
            symbol="BTCUSDT",
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=Decimal("0.01"),
            price=(mid * Decimal("0.98")).quantize(Decimal("0.01")),
            time_in_force=TimeInForce.GTC,
        )
        with pytest.raises(RiskRejected, match="kill_switch"):
            await rt.bus.request(PlaceOrder(request=ok))
        await rt.bus.request(ReleaseKillSwitch())
        order = await rt.bus.request(PlaceOrder(request=ok))
        assert order.status.value == "NEW"


async def test_the_stale_limit_comes_from_the_config_and_issue_14s_commands_are_served(
    tmp_path: Path,
) -> None:
    from omnitrade_tui.domain.commands import ReplaceOco, VenueCandles
    from omnitrade_tui.engine.order_manager import OrderRefused

    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text("[ui]\nstale_after_s = 0.7\n")
    settings = sim_settings(tmp_path)
    assert settings.ui.stale_after_s == 0.7
    async with Runtime.start(settings, seed=5, record=False) as rt:
        assert rt.market_stream.fresh.stale_after_ms == 700
        leg = OrderRequest(symbol="ETHUSDT", side=Side.SELL, type=OrderType.LIMIT_MAKER)
        with pytest.raises(OrderRefused, match="OCO list 7 is not open"):
            await rt.bus.request(
                ReplaceOco(symbol="ETHUSDT", order_list_id=7, above=leg, below=leg)
            )
        # The chart's seed: the venue's own klines, the current (open) candle last.
        candles = await rt.bus.request(VenueCandles(symbol="ETHUSDT", interval="1m", limit=5))
        assert rt.sim is not None
        venue = rt.sim.markets["ETHUSDT"].history.klines("1m", limit=5)
        assert [c.open_ms for c in candles] == [c.open_ms for c in venue]
        # Closed candles agree (to the float the wire's 8 decimals parse to).
        assert [c.close for c in candles[:-1]] == pytest.approx(
            [c.close for c in venue[:-1]], rel=1e-9
        )
        assert [c.closed for c in candles] == [True] * 4 + [False]
        now = rt.native_rest.now_ms()
        assert candles[-1].open_ms == now - now % 60_000


async def test_a_runtime_that_never_connected_stops_at_once(tmp_path: Path) -> None:
    # The app may quit before its screen is ready, so before the streams open. The
    # valuer's stop then lands during its day-open request, which must not swallow it
    # (it ran on with its loop, and the runtime's exit waited for it forever).
    async def start_and_stop() -> None:
        async with Runtime.start(sim_settings(tmp_path), seed=3, record=False, connect=False):
            pass

    await asyncio.wait_for(start_and_stop(), 20)
