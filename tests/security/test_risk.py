"""Pre-trade risk: each limit refuses the order that breaks it and passes the one just inside."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.bus.policy import Each
from omnitrade_tui.domain.commands import (
    CancelAll,
    EngageKillSwitch,
    PlaceOrder,
    ReleaseKillSwitch,
    ReplaceOrder,
)
from omnitrade_tui.domain.enums import ExecutionType, OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.domain.events import (
    BalancesChanged,
    BookHealth,
    BookState,
    BookTop,
    KillSwitchChanged,
    OrderRejected,
    OrderUpdated,
)
from omnitrade_tui.domain.models import Balance, BookLevel, ExecutionReport, Order, OrderRequest
from omnitrade_tui.engine.risk import PreTradeRisk, RiskGate, RiskLimits, RiskRejected

D = Decimal
MID = D(100)


def limit(qty: str, price: str, side: Side = Side.BUY, symbol: str = "BTCUSDT") -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side=side,
        type=OrderType.LIMIT,
        quantity=D(qty),
        price=D(price),
        time_in_force=TimeInForce.GTC,
    )


def market(qty: str | None = None, quote: str | None = None) -> OrderRequest:
    return OrderRequest(
        symbol="BTCUSDT",
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=D(qty) if qty else None,
        quote_order_qty=D(quote) if quote else None,
    )


def test_max_order_notional() -> None:
    risk = PreTradeRisk(RiskLimits(max_order_notional=D(1000)))
    assert risk.check(limit("10", "100"), now=0, mid=MID) is None  # exactly 1000
    v = risk.check(limit("10.01", "100"), now=0, mid=MID)
    assert v is not None
    assert (v.limit, v.limit_value, v.order_value) == ("max_order_notional", "1000", "1001")
    assert "notional 1001 exceeds the limit 1000" in v.message
    assert "BTCUSDT BUY LIMIT 10.01 @ 100" in v.message
    # market by quantity is valued at the mid; by quote amount at the amount
    assert risk.check(market(qty="10"), now=0, mid=MID) is None
    assert risk.check(market(qty="10.00000001"), now=0, mid=MID) is not None
    assert risk.check(market(quote="1000"), now=0) is None
    assert risk.check(market(quote="1000.01"), now=0) is not None
    v = risk.check(market(qty="1"), now=0, mid=None)
    assert v is not None
    assert v.order_value == "unknown"


def test_max_position_per_asset() -> None:
    risk = PreTradeRisk(RiskLimits(max_position={"BTC": D("0.5")}))
    kw: dict[str, Any] = {"now": 0, "mid": MID, "base_asset": "BTC", "position": D("0.3")}
    assert risk.check(limit("0.2", "100"), **kw) is None  # lands on 0.5
    v = risk.check(limit("0.20000001", "100"), **kw)
    assert v is not None
    assert (v.limit, v.limit_value, v.order_value) == ("max_position", "0.5", "0.50000001")
    # selling down from above the limit reduces exposure: allowed
    assert (
        risk.check(limit("0.1", "100", Side.SELL), now=0, mid=MID, base_asset="BTC", position=D(1))
        is None
    )
    # another asset has no limit
    assert risk.check(limit("100", "100"), now=0, mid=MID, base_asset="ETH") is None
    # a quote-amount market order is turned into quantity at the mid
    kw["position"] = D(0)
    assert risk.check(market(quote="50"), **kw) is None
    assert risk.check(market(quote="50.01"), **kw) is not None


def test_price_band_around_the_mid() -> None:
    risk = PreTradeRisk(RiskLimits(price_band_pct=D(5)))
    assert risk.check(limit("1", "105"), now=0, mid=MID) is None
    assert risk.check(limit("1", "95", Side.SELL), now=0, mid=MID) is None
    v = risk.check(limit("1", "105.01"), now=0, mid=MID)
    assert v is not None
    assert (v.limit, v.limit_value, v.order_value) == ("price_band_pct", "5", "5.01")
    assert "from the mid 100" in v.message
    assert risk.check(limit("1", "94.99"), now=0, mid=MID) is not None
    assert risk.check(market(qty="1"), now=0, mid=MID) is None  # no price, no band
    v = risk.check(limit("1", "100"), now=0, mid=None)
    assert v is not None
    assert "no mid price" in v.message


def test_price_band_of_a_stop_limit_is_around_its_stop() -> None:
    risk = PreTradeRisk(RiskLimits(price_band_pct=D(5)))

    def stop_limit(stop: str, price: str) -> OrderRequest:
        return OrderRequest(
            symbol="BTCUSDT",
            side=Side.SELL,
            type=OrderType.STOP_LOSS_LIMIT,
            quantity=D(1),
            price=D(price),
            stop_price=D(stop),
            time_in_force=TimeInForce.GTC,
        )

    # a stop-loss 20% under the market is legitimate; its limit 5% under the stop is too
    assert risk.check(stop_limit("80", "76"), now=0, mid=MID) is None
    v = risk.check(stop_limit("80", "75.99"), now=0, mid=MID)
    assert v is not None
    assert (v.limit, v.order_value) == ("price_band_pct", "5.01")
    assert "from the stop price 80" in v.message


def test_max_open_orders() -> None:
    risk = PreTradeRisk(RiskLimits(max_open_orders=3))
    assert risk.check(limit("1", "100"), now=0, open_orders=2) is None
    v = risk.check(limit("1", "100"), now=0, open_orders=3)
    assert v is not None
    assert (v.limit, v.limit_value, v.order_value) == ("max_open_orders", "3", "4")


def test_max_orders_per_second() -> None:
    risk = PreTradeRisk(RiskLimits(max_orders_per_second=2))
    assert risk.check(limit("1", "100"), now=10.0) is None
    risk.record_sent(10.0)
    assert risk.check(limit("1", "100"), now=10.5) is None
    risk.record_sent(10.5)
    v = risk.check(limit("1", "100"), now=10.99)
    assert v is not None
    assert (v.limit, v.limit_value, v.order_value) == ("max_orders_per_second", "2", "3")
    assert risk.check(limit("1", "100"), now=11.0) is None  # the first one left the window


# -- on the bus ------------------------------------------------------------------------------


class Venue:
    """A stand-in order manager behind the gate: records what reached it."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.placed: list[OrderRequest] = []
        self.cancel_alls = 0

    async def place(self, command: PlaceOrder) -> Order:
        self.placed.append(command.request)
        r = command.request
        order = Order(
            symbol=r.symbol,
            client_order_id=r.client_order_id,
            side=r.side,
            type=r.type,
            status=OrderStatus.NEW,
            quantity=r.quantity or D(0),
            price=r.price,
        )
        self.bus.publish(
            topics.ORDER,
            OrderUpdated(report=ExecutionReport(execution_type=ExecutionType.NEW, order=order)),
        )
        return order

    async def replace(self, command: ReplaceOrder) -> Order:
        """The replacement, named ``replaced`` so a test sees the request got through."""
        return Order(
            symbol=command.symbol,
            client_order_id="replaced",
            side=Side.BUY,
            type=OrderType.LIMIT,
            status=OrderStatus.NEW,
            quantity=D(1),
        )

    async def cancel_all(self, command: CancelAll) -> list[Order]:
        self.cancel_alls += 1
        return []


def collect(bus: Bus, pattern: str) -> list[Any]:
    seen: list[Any] = []
    bus.subscribe(pattern, Each(lambda topic, event: seen.append(event)))
    return seen


async def test_gate_refuses_on_the_bus_and_follows_events() -> None:
    bus = Bus(check_contract=True)  # the stand-in venue answers as the contract says
    venue = Venue(bus)
    gate = RiskGate(
        bus,
        RiskLimits(price_band_pct=D(5), max_position={"BTC": D(1)}, max_open_orders=2),
        base_assets={"BTCUSDT": "BTC"},
    )
    gate.start()
    bus.handle(PlaceOrder, gate.guard(venue.place))
    rejects = collect(bus, topics.REJECT)

    # no mid yet: the band cannot be checked, so the order is refused
    with pytest.raises(RiskRejected, match="no mid price"):
        await bus.request(PlaceOrder(request=limit("0.1", "100")))
    bus.publish(
        topics.book("BTCUSDT"),
        BookTop(
            symbol="BTCUSDT",
            update_id=1,
            bids=[BookLevel(99.0, 1.0)],
            asks=[BookLevel(101.0, 1.0)],
        ),
    )
    assert gate.mids["BTCUSDT"] == MID
    await bus.request(PlaceOrder(request=limit("0.1", "104")))
    with pytest.raises(RiskRejected) as exc:
        await bus.request(PlaceOrder(request=limit("0.1", "106")))
    assert exc.value.violation.limit == "price_band_pct"

    # holding 0.8 plus the working buy of 0.1: room for 0.1 more, not 0.10000001
    bus.publish(topics.BALANCE, BalancesChanged(balances=[Balance(asset="BTC", free=D("0.8"))]))
    with pytest.raises(RiskRejected, match=r"position would be 1.00000001, limit 1"):
        await bus.request(PlaceOrder(request=limit("0.10000001", "100")))
    await bus.request(PlaceOrder(request=limit("0.1", "100")))
    assert gate.open_orders == 2
    with pytest.raises(RiskRejected, match="max_open_orders"):
        await bus.request(PlaceOrder(request=limit("0.01", "100")))

    assert len(venue.placed) == 2
    assert [r.source for r in rejects] == ["risk"] * 4
    assert all(isinstance(r, OrderRejected) for r in rejects)
    assert "price_band_pct" in rejects[1].reason
    gate.stop()


async def test_kill_switch_cancels_all_and_locks_until_released() -> None:
    bus = Bus(check_contract=True)  # the stand-in venue answers as the contract says
    venue = Venue(bus)
    gate = RiskGate(bus, RiskLimits())
    gate.start()
    bus.handle(PlaceOrder, gate.guard(venue.place))
    bus.handle(ReplaceOrder, gate.guard_replace(venue.replace))
    bus.handle(CancelAll, venue.cancel_all)
    states = collect(bus, topics.KILL_SWITCH)

    await bus.request(PlaceOrder(request=market(qty="1")))
    detail = await bus.request(EngageKillSwitch(reason="fat finger"))
    assert venue.cancel_alls == 1
    assert "cancel-all done" in detail
    assert all(isinstance(s, KillSwitchChanged) for s in states)
    assert [s.engaged for s in states] == [True, True]
    assert states[0].reason == "fat finger"
    with pytest.raises(RiskRejected, match="kill switch"):
        await bus.request(PlaceOrder(request=market(qty="1")))
    with pytest.raises(RiskRejected, match="locked"):
        await bus.request(ReplaceOrder(symbol="BTCUSDT", client_order_id="x", price=D(1)))
    assert len(venue.placed) == 1

    await bus.request(ReleaseKillSwitch())
    assert states[-1].engaged is False
    await bus.request(PlaceOrder(request=market(qty="1")))
    assert len(venue.placed) == 2
    replaced = await bus.request(ReplaceOrder(symbol="BTCUSDT", client_order_id="x"))
    assert replaced.client_order_id == "replaced"


async def test_kill_switch_says_when_cancel_all_fails() -> None:
    bus = Bus(check_contract=True)  # the stand-in venue answers as the contract says
    gate = RiskGate(bus, RiskLimits())
    gate.start()  # nobody handles CancelAll
    states = collect(bus, topics.KILL_SWITCH)
    detail = await gate.engage("test")
    assert "FAILED" in detail
    assert "NoHandler" in states[-1].detail
    assert gate.locked


async def test_gate_frees_cancelled_orders_and_distrusts_a_stale_book() -> None:
    bus = Bus(check_contract=True)  # the stand-in venue answers as the contract says
    venue = Venue(bus)
    gate = RiskGate(
        bus,
        RiskLimits(price_band_pct=D(5), max_position={"BTC": D(1)}),
        base_assets={"BTCUSDT": "BTC"},
    )
    gate.start()
    bus.handle(PlaceOrder, gate.guard(venue.place))

    def top(state: BookState) -> BookTop:
        return BookTop(
            symbol="BTCUSDT",
            update_id=1,
            bids=[BookLevel(99.0, 1.0)],
            asks=[BookLevel(101.0, 1.0)],
            state=state,
        )

    bus.publish(topics.book("BTCUSDT"), top(BookState.LIVE))
    cid = (await bus.request(PlaceOrder(request=limit("1", "100")))).client_order_id
    with pytest.raises(RiskRejected, match="max_position"):
        await bus.request(PlaceOrder(request=limit("0.5", "100")))
    # the venue cancels the first order: its quantity no longer counts
    cancelled = Order(
        symbol="BTCUSDT",
        client_order_id=cid,
        side=Side.BUY,
        type=OrderType.LIMIT,
        status=OrderStatus.CANCELED,
        quantity=D(1),
        price=D(100),
    )
    report = ExecutionReport(execution_type=ExecutionType.CANCELED, order=cancelled)
    bus.publish(topics.ORDER, OrderUpdated(report=report))
    assert gate.open_orders == 0
    await bus.request(PlaceOrder(request=limit("0.5", "100")))

    bus.publish(
        topics.book_health("BTCUSDT"),
        BookHealth(symbol="BTCUSDT", state=BookState.STALE, last_update_id=1),
    )
    with pytest.raises(RiskRejected, match="no mid price"):
        await bus.request(PlaceOrder(request=limit("0.1", "100")))
    bus.publish(topics.book("BTCUSDT"), top(BookState.RESYNCING))
    assert "BTCUSDT" not in gate.mids
    bus.publish(topics.book("BTCUSDT"), top(BookState.LIVE))
    await bus.request(PlaceOrder(request=limit("0.1", "100")))


async def test_the_gate_says_which_limits_apply_at_start_and_after_a_change() -> None:
    """The ticket checks an order against the limits as it is typed: it learns them from
    sys.risk_limits, never by importing the engine."""
    from omnitrade_tui.domain.commands import SetRiskLimits
    from omnitrade_tui.domain.events import RiskLimitsInForce

    bus = Bus(check_contract=True)  # the stand-in venue answers as the contract says
    said = collect(bus, topics.RISK_LIMITS)
    gate = RiskGate(bus, RiskLimits(max_open_orders=2), base_assets={"BTCUSDT": "BTC"})
    gate.start()
    await bus.request(SetRiskLimits(limits=RiskLimits(max_order_notional=D(500))))
    assert [type(e) for e in said] == [RiskLimitsInForce, RiskLimitsInForce]
    assert said[0].limits.max_open_orders == 2
    assert said[1].limits.max_open_orders == 2
    assert said[1].limits.max_order_notional == D(500)
    gate.stop()


async def test_each_venue_trades_under_its_own_limits_and_counts_its_own_orders() -> None:
    """An order on ``BTCUSDT@alt`` meets ``alt``'s limits and ``alt``'s open orders; the
    first venue's orders do not use up ``alt``'s room, nor the other way round; a change
    of one venue's limits leaves the other's as they were."""
    from omnitrade_tui.domain.commands import SetRiskLimits

    bus = Bus(check_contract=True)
    venue = Venue(bus)
    said = collect(bus, topics.RISK_LIMITS)
    gate = RiskGate(
        bus,
        RiskLimits(max_open_orders=1),
        base_assets={"BTCUSDT": "BTC", "BTCUSDT@alt": "BTC@alt"},
        venue_limits={"alt": RiskLimits(max_open_orders=2, max_order_notional=D(50))},
    )
    gate.start()
    bus.handle(PlaceOrder, gate.guard(venue.place))
    assert {(e.venue, e.limits.max_open_orders) for e in said} == {("", 1), ("alt", 2)}
    for symbol in ("BTCUSDT", "BTCUSDT@alt"):
        bus.publish(
            topics.book(symbol),
            BookTop(
                symbol=symbol,
                update_id=1,
                bids=[BookLevel(99.0, 1.0)],
                asks=[BookLevel(101.0, 1.0)],
            ),
        )
    await bus.request(PlaceOrder(request=limit("0.1", "100")))
    with pytest.raises(RiskRejected, match="max_open_orders"):
        await bus.request(PlaceOrder(request=limit("0.1", "100")))
    # alt's room is its own: two orders there although the first venue is full.
    await bus.request(PlaceOrder(request=limit("0.1", "100", symbol="BTCUSDT@alt")))
    with pytest.raises(RiskRejected, match="max_order_notional"):
        await bus.request(PlaceOrder(request=limit("1", "100", symbol="BTCUSDT@alt")))
    await bus.request(PlaceOrder(request=limit("0.2", "100", symbol="BTCUSDT@alt")))
    with pytest.raises(RiskRejected, match="max_open_orders"):
        await bus.request(PlaceOrder(request=limit("0.1", "100", symbol="BTCUSDT@alt")))

    changed = await bus.request(SetRiskLimits(limits=RiskLimits(max_open_orders=3), venue="alt"))
    assert changed.max_open_orders == 3 and gate.risk.limits.max_open_orders == 1
    await bus.request(PlaceOrder(request=limit("0.1", "100", symbol="BTCUSDT@alt")))
    with pytest.raises(ValueError, match="no venue 'nope'"):
        await bus.request(SetRiskLimits(limits=RiskLimits(), venue="nope"))
    gate.stop()
