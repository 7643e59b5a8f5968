"""Alerts evaluated on the bus: each kind fires once per crossing (again only after its
cooldown), a one-shot fires once, rules and what fired survive a restart, and delivery
reaches a local webhook receiver and a command, with retries."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web

from omnitrade_tui.bus import topics
from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.bus.policy import Each
from omnitrade_tui.domain.alerts import AlertFired, AlertKind, AlertRule, AlertRuleError
from omnitrade_tui.domain.commands import AddAlert, AlertHistory, DeleteAlert, ListAlerts
from omnitrade_tui.domain.enums import ExecutionType, OrderStatus, OrderType, Side
from omnitrade_tui.domain.events import (
    BookTop,
    ConnectionChanged,
    FeedFreshness,
    KillSwitchChanged,
    LinkState,
    OrderRejected,
    OrderUpdated,
)
from omnitrade_tui.domain.models import BookLevel, ExecutionReport, Fill, Order, Trade
from omnitrade_tui.engine.alerts import AlertService, DeliveryTarget
from omnitrade_tui.store.alert_store import SqlAlertStore
from omnitrade_tui.store.database import open_database
from tests.waiting import until


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.ms = 1_000_000

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


class Harness:
    """An alert service on a bus with a test clock, and what fired."""

    def __init__(self, service: AlertService, clock: Clock) -> None:
        self.service = service
        self.clock = clock
        self.fired: list[AlertFired] = []
        service.bus.subscribe(topics.ALERT, _collect(self.fired))

    @property
    def bus(self) -> Bus:
        return self.service.bus

    async def add(self, **fields: object) -> AlertRule:
        # Each test names the fields it needs; AlertRule itself says which are wrong.
        rule = AlertRule(**fields)  # type: ignore[arg-type]
        added: AlertRule = await self.bus.request(AddAlert(rule=rule))
        return added

    def trade(self, price: float, qty: float = 1.0, symbol: str = "BTCUSDT") -> None:
        self.bus.publish(
            topics.trade(symbol),
            Trade(
                symbol=symbol,
                trade_id=self.clock.ms,
                price=price,
                qty=qty,
                time_ms=self.clock.ms,
                buyer_is_maker=False,
            ),
        )

    def book(self, bid: float, ask: float, bid_qty: float = 1.0, ask_qty: float = 1.0) -> None:
        self.bus.publish(
            topics.book("BTCUSDT"),
            BookTop(
                symbol="BTCUSDT",
                update_id=self.clock.ms,
                bids=[BookLevel(bid, bid_qty)],
                asks=[BookLevel(ask, ask_qty)],
            ),
        )

    def count(self) -> int:
        return len(self.fired)


def _collect(into: list[AlertFired]) -> Each[AlertFired]:
    from omnitrade_tui.bus import each

    return each(lambda topic, event: into.append(event))


@pytest.fixture
async def alerts() -> object:
    clock = Clock()
    service = AlertService(Bus(), clock_ms=clock)
    await service.start()
    yield Harness(service, clock)
    await service.stop()


async def test_price_cross_fires_once_per_crossing_then_after_its_cooldown(
    alerts: Harness,
) -> None:
    await alerts.add(
        kind=AlertKind.PRICE_CROSS, symbol="BTCUSDT", level=100.0, repeat=True, cooldown_s=60
    )
    for price in (99.0, 99.5, 101.0, 102.0, 103.0):
        alerts.trade(price)
    assert alerts.count() == 1
    assert "crossed 100 up at 101" in alerts.fired[0].message
    alerts.clock.advance(10)
    alerts.trade(98.0)  # crosses back down, inside the cooldown: quiet
    assert alerts.count() == 1
    alerts.clock.advance(61)
    alerts.trade(100.5)
    assert alerts.count() == 2


async def test_a_one_shot_fires_once_and_is_paused(alerts: Harness) -> None:
    rule = await alerts.add(
        kind=AlertKind.PRICE_CROSS, symbol="BTCUSDT", level=100.0, direction="up"
    )
    for price in (99.0, 101.0, 99.0, 101.0, 99.0, 101.0):
        alerts.clock.advance(120)
        alerts.trade(price)
    assert alerts.count() == 1
    listed = await alerts.bus.request(ListAlerts())
    assert [(r.rule_id, r.enabled) for r in listed] == [(rule.rule_id, False)]


async def test_a_direction_is_honoured(alerts: Harness) -> None:
    await alerts.add(
        kind=AlertKind.PRICE_CROSS, symbol="BTCUSDT", level=100.0, direction="down", repeat=True
    )
    alerts.trade(99.0)
    alerts.trade(101.0)
    assert alerts.count() == 0
    alerts.trade(99.0)
    assert alerts.count() == 1


async def test_move_within_a_window(alerts: Harness) -> None:
    await alerts.add(
        kind=AlertKind.MOVE_PCT,
        symbol="BTCUSDT",
        threshold=1.0,
        window_s=60,
        repeat=True,
        cooldown_s=30,
    )
    alerts.trade(100.0)
    alerts.clock.advance(10)
    alerts.trade(100.5)
    assert alerts.count() == 0
    alerts.clock.advance(10)
    alerts.trade(101.2)  # +1.2% in 20 s
    alerts.trade(101.4)  # still moved: the same episode
    assert alerts.count() == 1
    assert alerts.fired[0].value == pytest.approx(1.2)
    alerts.clock.advance(120)
    alerts.trade(101.4)  # the window now starts near here: no move
    alerts.clock.advance(5)
    alerts.trade(100.0)  # -1.4% in 5 s, after the cooldown
    assert alerts.count() == 2


async def test_spread_and_imbalance_fire_when_they_become_true(alerts: Harness) -> None:
    await alerts.add(
        kind=AlertKind.SPREAD_BPS, symbol="BTCUSDT", threshold=10, repeat=True, cooldown_s=0
    )
    await alerts.add(
        kind=AlertKind.IMBALANCE, symbol="BTCUSDT", threshold=3, repeat=True, cooldown_s=0
    )
    alerts.book(100.0, 100.05)  # 5 bps, 1:1
    alerts.book(100.0, 100.3, bid_qty=10, ask_qty=2)  # 30 bps, 5:1
    alerts.book(100.0, 100.3, bid_qty=10, ask_qty=2)  # still: quiet
    kinds = [f.kind for f in alerts.fired]
    assert sorted(kinds) == sorted([AlertKind.SPREAD_BPS, AlertKind.IMBALANCE])
    alerts.book(100.0, 100.05)  # both false again
    alerts.book(100.0, 100.3, bid_qty=1, ask_qty=9)
    assert alerts.count() == 4
    assert "to the asks" in alerts.fired[-1].message or "to the asks" in alerts.fired[-2].message


async def test_volume_spike(alerts: Harness) -> None:
    await alerts.add(
        kind=AlertKind.VOLUME_SPIKE, symbol="BTCUSDT", threshold=5, window_s=10, repeat=True
    )
    for _ in range(6):  # six quiet windows of 1.0 each
        alerts.trade(100.0, qty=1.0)
        alerts.clock.advance(10)
    assert alerts.count() == 0
    alerts.trade(100.0, qty=6.0)
    assert alerts.count() == 1


def _fill(cid: str, trade_id: int) -> Fill:
    return Fill(
        symbol="BTCUSDT",
        trade_id=trade_id,
        order_id=1,
        client_order_id=cid,
        side=Side.BUY,
        price=Decimal(100),
        qty=Decimal("0.01"),
        commission=Decimal(0),
        commission_asset="BNB",
        is_maker=True,
        time_ms=1,
    )


def _order(cid: str, status: OrderStatus) -> Order:
    return Order(
        symbol="BTCUSDT",
        client_order_id=cid,
        side=Side.BUY,
        type=OrderType.LIMIT,
        status=status,
        quantity=Decimal("0.01"),
        price=Decimal(100),
    )


async def test_own_fill_order_failed_kill_switch_and_risk_refusal(alerts: Harness) -> None:
    for kind in (
        AlertKind.OWN_FILL,
        AlertKind.ORDER_FAILED,
        AlertKind.KILL_SWITCH,
        AlertKind.RISK_REFUSAL,
    ):
        await alerts.add(kind=kind, repeat=True, cooldown_s=0)
    fill = _fill("c1", 7)
    alerts.bus.publish(
        topics.ORDER,
        OrderUpdated(
            report=ExecutionReport(
                execution_type=ExecutionType.TRADE,
                order=_order("c1", OrderStatus.FILLED),
                fill=fill,
            )
        ),
    )
    # A rejection told twice (the REST answer and the stream) is one alert.
    alerts.bus.publish(
        topics.REJECT,
        OrderRejected(client_order_id="c2", symbol="BTCUSDT", code=-2010, reason="balance"),
    )
    alerts.bus.publish(
        topics.ORDER,
        OrderUpdated(
            report=ExecutionReport(
                execution_type=ExecutionType.REJECTED, order=_order("c2", OrderStatus.REJECTED)
            )
        ),
    )
    alerts.bus.publish(topics.KILL_SWITCH, KillSwitchChanged(engaged=True, reason="operator"))
    alerts.bus.publish(topics.KILL_SWITCH, KillSwitchChanged(engaged=False))
    alerts.bus.publish(
        topics.REJECT,
        OrderRejected(
            client_order_id="c3", symbol="BTCUSDT", code=None, reason="notional", source="risk"
        ),
    )
    kinds = [f.kind for f in alerts.fired]
    assert kinds.count(AlertKind.OWN_FILL) == 1
    assert kinds.count(AlertKind.KILL_SWITCH) == 1
    assert kinds.count(AlertKind.RISK_REFUSAL) == 1
    assert kinds.count(AlertKind.ORDER_FAILED) == 2  # c2 once, c3 once


async def test_a_fill_told_twice_is_one_alert(alerts: Harness) -> None:
    """The REST answer and the user stream both report a fill: the engine's book of record
    takes it once, so the trader hears of it once."""
    await alerts.add(kind=AlertKind.OWN_FILL, repeat=True, cooldown_s=0)
    fill = _fill("c9", 9)
    report = OrderUpdated(
        report=ExecutionReport(
            execution_type=ExecutionType.TRADE,
            order=_order("c9", OrderStatus.FILLED),
            fill=fill,
        )
    )
    alerts.bus.publish(topics.ORDER, report)
    alerts.bus.publish(topics.ORDER, report)
    assert [f.kind for f in alerts.fired].count(AlertKind.OWN_FILL) == 1


async def test_link_down_and_feed_stale_for_n_seconds(alerts: Harness) -> None:
    await alerts.add(kind=AlertKind.LINK_DOWN, seconds=5, repeat=True, cooldown_s=0)
    await alerts.add(
        kind=AlertKind.FEED_STALE, symbol="BTCUSDT", seconds=3, repeat=True, cooldown_s=0
    )
    alerts.bus.publish(
        topics.CONNECTION,
        ConnectionChanged(venue="binance", link="market", state=LinkState.RECONNECTING),
    )
    alerts.bus.publish(
        topics.freshness("BTCUSDT"),
        FeedFreshness(symbol="BTCUSDT", stream="depth", age_ms=2000, stale=True),
    )
    alerts.clock.advance(0.5)
    alerts.service.check_time()
    assert alerts.count() == 0
    alerts.clock.advance(1)  # the feed: silent 3.5 s
    alerts.service.check_time()
    alerts.service.check_time()
    assert [f.kind for f in alerts.fired] == [AlertKind.FEED_STALE]
    alerts.clock.advance(4)  # the link: down 5.5 s
    alerts.service.check_time()
    assert [f.kind for f in alerts.fired] == [AlertKind.FEED_STALE, AlertKind.LINK_DOWN]
    alerts.bus.publish(
        topics.CONNECTION,
        ConnectionChanged(venue="binance", link="market", state=LinkState.CONNECTED),
    )
    alerts.service.check_time()
    alerts.clock.advance(10)
    alerts.service.check_time()
    assert alerts.count() == 2


async def test_a_rule_that_cannot_be_evaluated_is_refused_with_the_reason(
    alerts: Harness,
) -> None:
    with pytest.raises(AlertRuleError, match="needs a symbol"):
        await alerts.add(kind=AlertKind.PRICE_CROSS, level=100.0)
    with pytest.raises(AlertRuleError, match="ratio must be above 1"):
        await alerts.add(kind=AlertKind.IMBALANCE, symbol="BTCUSDT", threshold=0.5)
    assert await alerts.bus.request(ListAlerts()) == []


async def test_rules_and_what_fired_survive_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    db = await open_database(str(tmp_path / "h.db"))
    service = AlertService(Bus(), SqlAlertStore(db), clock_ms=clock)
    await service.start()
    harness = Harness(service, clock)
    once = await harness.add(kind=AlertKind.PRICE_CROSS, symbol="BTCUSDT", level=100.0)
    kept = await harness.add(kind=AlertKind.OWN_FILL, repeat=True, label="fills")
    gone = await harness.add(kind=AlertKind.KILL_SWITCH)
    assert await harness.bus.request(DeleteAlert(rule_id=gone.rule_id)) is True
    harness.trade(99.0)
    harness.trade(101.0)
    await service.stop()
    await db.engine.dispose()

    db = await open_database(str(tmp_path / "h.db"))
    again = AlertService(Bus(), SqlAlertStore(db), clock_ms=clock)
    await again.start()
    rules = {r.rule_id: r for r in await again.bus.request(ListAlerts())}
    assert set(rules) == {once.rule_id, kept.rule_id}
    assert rules[once.rule_id].enabled is False  # the one-shot that fired stays done
    assert rules[kept.rule_id].label == "fills"
    history = await again.bus.request(AlertHistory())
    assert [h.rule_id for h in history] == [once.rule_id]
    assert "crossed 100" in history[0].message
    await again.stop()
    await db.engine.dispose()


async def test_delivery_reaches_a_local_webhook_with_retries_and_a_command(
    tmp_path: Path,
) -> None:
    received: list[dict[str, object]] = []
    failures = [2]

    async def hook(request: web.Request) -> web.Response:
        if failures[0]:
            failures[0] -= 1
            return web.Response(status=503)
        received.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    out = tmp_path / "alert.json"
    script = f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"
    targets = {
        "hook": DeliveryTarget(name="hook", url=f"http://127.0.0.1:{port}/hook", retries=3),
        "cmd": DeliveryTarget(name="cmd", argv=(sys.executable, "-c", script)),
    }
    clock = Clock()
    service = AlertService(Bus(), targets=targets, clock_ms=clock)
    service.outbox.retry_s = 0.01
    await service.start()
    harness = Harness(service, clock)
    try:
        await harness.add(
            kind=AlertKind.PRICE_CROSS,
            symbol="BTCUSDT",
            level=100.0,
            delivery=("hook", "cmd", "nowhere"),
        )
        harness.trade(99.0)
        harness.trade(101.0)
        await until(
            lambda: bool(received) and out.exists() and service.outbox.stats.failed > 0,
            "the deliveries",
            4.0,
            interval=0.02,
            fail=False,
        )
    finally:
        await service.stop()
        await runner.cleanup()
    assert len(received) == 1
    assert received[0]["kind"] == "price_cross"
    assert "crossed 100 up" in str(received[0]["message"])
    assert json.loads(out.read_text())["rule_id"] == received[0]["rule_id"]
    assert service.outbox.stats.delivered == 2
    assert service.outbox.stats.failed == 1  # "nowhere" is not a target the config lists


def test_the_config_lists_delivery_targets_and_refuses_bad_ones(tmp_path: Path) -> None:
    from omnitrade_tui.config import ConfigError, Overrides, load_settings

    config = tmp_path / "config.toml"
    env = {"OMNITRADE_CONFIG_DIR": str(tmp_path), "OMNITRADE_DATA_DIR": str(tmp_path)}
    config.write_text(
        '[alerts.targets.phone]\nurl = "https://ntfy.example/omt"\n'
        '[alerts.targets.desk]\ncommand = ["notify-send", "OmniTrade"]\ntimeout_s = 2\n'
    )
    settings = load_settings(Overrides(config_file=config), env=env)
    assert settings.alert_targets["phone"].url == "https://ntfy.example/omt"
    assert settings.alert_targets["desk"].command == ["notify-send", "OmniTrade"]
    for bad, why in (
        ('[alerts.targets.x]\nurl = "file:///etc/passwd"\n', "http:// or https://"),
        ('[alerts.targets.x]\nurl = "https://a"\ncommand = ["b"]\n', "exactly one of"),
        ("[alerts.targets.x]\ncommand = []\n", "must name a program"),
    ):
        config.write_text(bad)
        with pytest.raises(ConfigError, match=why):
            load_settings(Overrides(config_file=config), env=env)


@pytest.mark.parametrize("kind", list(AlertKind))
def test_every_kind_describes_itself_with_its_defaults(kind: AlertKind) -> None:
    assert AlertRule(kind=kind).describe()
    assert AlertRule(kind=kind, symbol="BTCUSDT", label="mine").describe().startswith("mine: ")
