"""The order manager on the bus, with the real Binance execution client and the sim."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from omnitrade_tui.bus import Bus, each, topics
from omnitrade_tui.domain import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.domain.commands import (
    CancelAll,
    CancelOrder,
    PlaceOco,
    PlaceOrder,
    ReplaceOco,
    ReplaceOrder,
)
from omnitrade_tui.domain.events import OrderRejected, OrderUpdated
from omnitrade_tui.engine.order_manager import OrderManager, OrderRefused
from omnitrade_tui.venues.binance.execution import BinanceExecution
from omnitrade_tui.venues.binance.rest import BinanceRest, Credentials, OutcomeUnknown
from omnitrade_tui.venues.sim.venue import SimVenue

D = Decimal


@pytest.fixture
async def wired() -> AsyncIterator[tuple[SimVenue, Bus, OrderManager, list[Any]]]:
    async with SimVenue.start(symbols=["ETHUSDT"], seed=51) as sim:
        bus = Bus()
        events: list[Any] = []
        bus.subscribe("exec.>", each(lambda t, e: events.append(e)))
        rest = BinanceRest(sim.rest_url, Credentials(*sim.demo_key))
        manager = OrderManager(bus, BinanceExecution(rest), ["ETHUSDT"])
        manager.register()
        try:
            yield sim, bus, manager, events
        finally:
            await manager.aclose()
            await rest.aclose()


def limit(sim: SimVenue, away: str, qty: str = "0.1") -> OrderRequest:
    bid = sim.engine.books["ETHUSDT"].bids.best()
    assert bid is not None
    return OrderRequest(
        symbol="ETHUSDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        price=(bid * D(away)).quantize(D("0.01")),
        quantity=D(qty),
        time_in_force=TimeInForce.GTC,
    )


async def test_place_publishes_pending_then_tracks_the_venues_answer(wired: Any) -> None:
    sim, bus, manager, events = wired
    req = limit(sim, "0.9")
    order = await bus.request(PlaceOrder(request=req))
    assert order.status is OrderStatus.NEW and order.order_id is not None
    first = events[0]
    assert isinstance(first, OrderUpdated)
    assert first.report.order.status is OrderStatus.PENDING_NEW
    assert manager.open_orders("ETHUSDT")[0].client_order_id == req.client_order_id


async def test_a_refusal_is_published_and_raised(wired: Any) -> None:
    sim, bus, manager, events = wired
    req = limit(sim, "0.9", qty="100")  # more than the account holds
    with pytest.raises(OrderRefused) as exc:
        await bus.request(PlaceOrder(request=req))
    assert exc.value.code == -2010 and "balance" in exc.value.reason
    rejected = [e for e in events if isinstance(e, OrderRejected)]
    assert rejected and rejected[0].code == -2010
    assert manager.orders[req.client_order_id].status is OrderStatus.REJECTED


async def test_an_unknown_outcome_settles_to_the_truth_without_resending(wired: Any) -> None:
    sim, bus, manager, events = wired
    sim.faults.fail_orders = 1
    req = limit(sim, "0.9")
    order = await bus.request(PlaceOrder(request=req))
    assert order.status is OrderStatus.UNKNOWN
    await manager.aclose()  # the settlement in flight
    assert manager.orders[req.client_order_id].status is OrderStatus.NEW
    statuses = [
        e.report.order.status
        for e in events
        if isinstance(e, OrderUpdated) and e.report.order.client_order_id == req.client_order_id
    ]
    assert statuses == [OrderStatus.PENDING_NEW, OrderStatus.UNKNOWN, OrderStatus.NEW]
    account = sim.engine.accounts[sim.keys.lookup(sim.demo_key[0]).account_id]
    assert len(sim.engine.open_orders(account)) == 1


async def test_cancel_replace_and_cancel_all(wired: Any) -> None:
    sim, bus, manager, _ = wired
    req = limit(sim, "0.9")
    await bus.request(PlaceOrder(request=req))
    new = await bus.request(
        ReplaceOrder(symbol="ETHUSDT", client_order_id=req.client_order_id, quantity=D("0.3"))
    )
    assert new.quantity == D("0.3") and new.price == req.price
    assert manager.orders[req.client_order_id].status is OrderStatus.CANCELED
    other = limit(sim, "0.8")
    await bus.request(PlaceOrder(request=other))
    canceled = await bus.request(
        CancelOrder(symbol="ETHUSDT", client_order_id=other.client_order_id)
    )
    assert canceled.status is OrderStatus.CANCELED
    with pytest.raises(OrderRefused) as exc:
        await bus.request(CancelOrder(symbol="ETHUSDT", client_order_id=other.client_order_id))
    assert exc.value.code == -2011
    done = await bus.request(CancelAll())
    assert [o.client_order_id for o in done] == [new.client_order_id]


async def test_fills_are_counted_once(wired: Any) -> None:
    _, bus, manager, events = wired
    req = OrderRequest(symbol="ETHUSDT", side=Side.BUY, type=OrderType.MARKET, quantity=D("0.2"))
    await bus.request(PlaceOrder(request=req))
    count = len(manager.fills)
    assert count >= 1
    fill = next(iter(manager.fills.values()))
    report = OrderUpdated(
        report=events[0].report.__class__(
            execution_type=events[0].report.execution_type, order=events[0].report.order, fill=fill
        )
    )
    bus.publish(topics.ORDER, report)  # the same fill again (a reconnect, a replay)
    bus.publish(topics.ORDER, report)
    await asyncio.sleep(0)
    assert len(manager.fills) == count


async def test_reconcile_finds_what_changed_while_we_were_not_listening(wired: Any) -> None:
    sim, bus, manager, _ = wired
    sim.generator = None  # freeze the generated market: only this test's traders act
    bid = sim.engine.books["ETHUSDT"].bids.best()
    assert bid is not None
    resting = OrderRequest(  # one tick above the best bid: the next seller takes it first
        symbol="ETHUSDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        price=bid + D("0.01"),
        quantity=D("0.2"),
        time_in_force=TimeInForce.GTC,
    )
    await bus.request(PlaceOrder(request=resting))
    gone = limit(sim, "0.8")
    await bus.request(PlaceOrder(request=gone))
    # While no user-data stream runs: another trader takes our bid, and our other order is
    # cancelled behind the manager's back.
    from omnitrade_tui.venues.sim.accounts import Account

    taker = sim.engine.add_account(Account(900))
    taker.deposit("ETH", D(10))
    taker.deposit("USDT", D(10_000))
    sim.engine.place(
        taker,
        OrderRequest(symbol="ETHUSDT", side=Side.SELL, type=OrderType.MARKET, quantity=D("0.2")),
        validate=False,
    )
    me = sim.engine.accounts[sim.keys.lookup(sim.demo_key[0]).account_id]
    sim.engine.cancel(me, "ETHUSDT", client_order_id=gone.client_order_id)
    assert manager.orders[resting.client_order_id].status is OrderStatus.NEW  # stale view

    report = await manager.reconcile()
    assert set(report.orders_changed) == {resting.client_order_id, gone.client_order_id}
    assert report.fills_added >= 1 and report.balances >= 2
    assert manager.orders[resting.client_order_id].status is OrderStatus.FILLED
    assert manager.orders[gone.client_order_id].status is OrderStatus.CANCELED
    mine = [f for f in manager.fills.values() if f.client_order_id == resting.client_order_id]
    assert sum(f.qty for f in mine) == D("0.2")
    again = await manager.reconcile()  # nothing new: nothing counted twice
    assert again.orders_changed == [] and again.fills_added == 0


def sell_oco(sim: SimVenue, take: str, stop: str, qty: str = "0.1") -> PlaceOco:
    """A SELL OCO around the book: take-profit above, stop-loss-limit below."""
    mid = sim.engine.books["ETHUSDT"].bids.best()
    assert mid is not None
    stop_px = (mid * D(stop)).quantize(D("0.01"))
    return PlaceOco(
        above=OrderRequest(
            symbol="ETHUSDT",
            side=Side.SELL,
            type=OrderType.LIMIT_MAKER,
            price=(mid * D(take)).quantize(D("0.01")),
            quantity=D(qty),
        ),
        below=OrderRequest(
            symbol="ETHUSDT",
            side=Side.SELL,
            type=OrderType.STOP_LOSS_LIMIT,
            stop_price=stop_px,
            price=stop_px - D("0.5"),
            quantity=D(qty),
            time_in_force=TimeInForce.GTC,
        ),
    )


async def test_oco_places_two_linked_legs_and_cancel_all_ends_both(wired: Any) -> None:
    sim, bus, manager, events = wired
    command = sell_oco(sim, "1.05", "0.95")
    legs = await bus.request(command)
    assert [o.client_order_id for o in legs] == [
        command.above.client_order_id,
        command.below.client_order_id,
    ]
    assert all(o.status is OrderStatus.NEW for o in legs)
    assert legs[0].order_list_id == legs[1].order_list_id >= 0
    assert {o.client_order_id for o in manager.open_orders()} == {o.client_order_id for o in legs}
    pending = [e for e in events if isinstance(e, OrderUpdated)][:2]
    assert [e.report.order.status for e in pending] == [OrderStatus.PENDING_NEW] * 2
    await bus.request(CancelAll(symbol="ETHUSDT"))
    assert manager.open_orders() == []
    venue = await manager.port.open_orders("ETHUSDT")
    assert venue == []


async def test_oco_with_legs_on_the_wrong_side_of_the_market_is_refused(wired: Any) -> None:
    sim, bus, manager, events = wired
    command = sell_oco(sim, "0.95", "0.90")  # take-profit below the market: not an OCO
    with pytest.raises(OrderRefused) as refused:
        await bus.request(command)
    assert refused.value.code == -2010
    assert manager.orders[command.above.client_order_id].status is OrderStatus.REJECTED
    assert manager.orders[command.below.client_order_id].status is OrderStatus.REJECTED
    assert any(isinstance(e, OrderRejected) for e in events)


class _FillsOnlyVenue:
    """A venue with no open orders whose account has the given fills (for reconcile)."""

    def __init__(self, fills: list[Any]) -> None:
        self.venue_fills = fills
        self.asked_from: list[int | None] = []
        self.queries_fail = 0  # the next this many queries fail (the venue cannot answer)

    async def query(
        self, symbol: str, client_order_id: str | None = None, *, order_id: int | None = None
    ) -> Any:
        if self.queries_fail:
            self.queries_fail -= 1
            raise TimeoutError("no answer in time")
        from omnitrade_tui.domain.models import Order

        return Order(
            symbol=symbol,
            client_order_id="placed-elsewhere",
            order_id=order_id,
            side=Side.BUY,
            type=OrderType.MARKET,
            status=OrderStatus.FILLED,
            quantity=D("1"),
            filled_qty=D("1"),
        )

    async def open_orders(self, symbol: str | None = None) -> list[Any]:
        return []

    async def fills_since(self, symbol: str, from_trade_id: int | None) -> list[Any]:
        self.asked_from.append(from_trade_id)
        if from_trade_id is None:  # the most recent page
            return self.venue_fills[-2:]
        return [f for f in self.venue_fills if f.trade_id >= from_trade_id]

    async def balances(self) -> list[Any]:
        return []


def _fill(trade_id: int) -> Any:
    from omnitrade_tui.domain.models import Fill

    return Fill(
        symbol="ETHUSDT",
        trade_id=trade_id,
        order_id=7,
        client_order_id="",
        side=Side.BUY,
        price=D("2000"),
        qty=D("0.1"),
        commission=D("0"),
        commission_asset="ETH",
        is_maker=False,
        time_ms=trade_id,
    )


async def test_reconcile_finds_a_fill_missed_below_a_newer_one_the_stream_delivered() -> None:
    """Found by the all-faults drill: asking from the newest known fill loses a hole."""
    # An account with history: the first reconciliation takes the recent page, not id 0.
    venue = _FillsOnlyVenue([_fill(-5), _fill(0), _fill(1)])
    # A stand-in with only the venue methods reconciliation calls.
    manager = OrderManager(Bus(), venue, ["ETHUSDT"])  # type: ignore[arg-type]
    await manager.reconcile()
    assert set(manager.fills) == {("ETHUSDT", 0), ("ETHUSDT", 1)}
    # While the link is down, fill 2 happens; after it comes back the stream delivers 3
    # before the reconciliation runs.
    venue.venue_fills += [_fill(2), _fill(3)]
    manager.fills[("ETHUSDT", 3)] = _fill(3)
    report = await manager.reconcile()
    assert set(manager.fills) == {("ETHUSDT", n) for n in range(4)}
    assert report.fills_added == 1
    assert venue.asked_from == [None, 2]
    await manager.reconcile()
    assert venue.asked_from[-1] == 4  # everything up to 3 is known now


async def test_what_a_rest_answer_tells_first_reaches_the_bus(wired: Any) -> None:
    """No user-data stream runs here: the screen must still see the fill and the cancel."""
    sim, bus, _, events = wired
    market = OrderRequest(symbol="ETHUSDT", side=Side.BUY, type=OrderType.MARKET, quantity=D("0.2"))
    await bus.request(PlaceOrder(request=market))
    mine = [
        e.report
        for e in events
        if isinstance(e, OrderUpdated) and e.report.order.client_order_id == market.client_order_id
    ]
    assert mine[-1].order.status is OrderStatus.FILLED
    venue_trades = [t for t in sim.my_trades[1] if t["symbol"] == "ETHUSDT"]
    assert sum(r.fill.qty for r in mine if r.fill is not None) == D("0.2")
    assert {r.fill.trade_id for r in mine if r.fill} == {int(t["id"]) for t in venue_trades}
    resting = limit(sim, "0.9")
    await bus.request(PlaceOrder(request=resting))
    await bus.request(CancelOrder(symbol="ETHUSDT", client_order_id=resting.client_order_id))
    statuses = [
        e.report.order.status
        for e in events
        if isinstance(e, OrderUpdated) and e.report.order.client_order_id == resting.client_order_id
    ]
    assert statuses == [OrderStatus.PENDING_NEW, OrderStatus.NEW, OrderStatus.CANCELED]


def _order(client_id: str, status: OrderStatus) -> Any:
    from omnitrade_tui.domain.models import Order

    return Order(
        symbol="ETHUSDT",
        client_order_id=client_id,
        side=Side.BUY,
        type=OrderType.LIMIT,
        status=status,
        quantity=D("0.1"),
    )


def _report(order: Any, fill: Any = None) -> OrderUpdated:
    from omnitrade_tui.domain.enums import ExecutionType
    from omnitrade_tui.domain.models import ExecutionReport

    return OrderUpdated(
        report=ExecutionReport(execution_type=ExecutionType.TRADE, order=order, fill=fill)
    )


async def test_memory_is_bounded_final_orders_and_old_fills_are_let_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from omnitrade_tui.engine import order_manager

    monkeypatch.setattr(order_manager, "KEEP_FINAL_ORDERS", 3)
    monkeypatch.setattr(order_manager, "KEEP_FORGOTTEN_IDS", 5)
    monkeypatch.setattr(order_manager, "KEEP_FILLS", 4)
    bus = Bus()
    # A stand-in with only the venue methods reconciliation calls.
    manager = OrderManager(bus, _FillsOnlyVenue([]), ["ETHUSDT"])  # type: ignore[arg-type]
    bus.publish(topics.ORDER, _report(_order("open", OrderStatus.NEW)))
    for n in range(10):
        bus.publish(topics.ORDER, _report(_order(f"o{n}", OrderStatus.NEW)))
        bus.publish(topics.ORDER, _report(_order(f"o{n}", OrderStatus.FILLED), _fill(n)))
    # An open order stays however many finish after it; of the final ones, the newest 3.
    assert set(manager.orders) == {"open", "o7", "o8", "o9"}
    assert set(manager.fills) == {("ETHUSDT", n) for n in range(6, 10)}
    # A late report of an order let go does not bring it back as open.
    bus.publish(topics.ORDER, _report(_order("o5", OrderStatus.PARTIALLY_FILLED)))
    assert "o5" not in manager.orders
    # A fill let go is still counted once: a late repeat is not new.
    assert not manager._count_fill(_fill(2))
    assert manager._count_fill(_fill(10))
    assert len(manager._forgotten_ids) == 5


async def test_a_fetched_fill_of_an_order_not_known_by_its_id_is_published_with_it() -> None:
    """An order whose answer was lost has no venue id yet, and one placed elsewhere is not
    known at all: the fill is published with the order the venue names, not just counted."""
    bus = Bus()
    said: list[OrderUpdated] = []
    bus.subscribe(topics.ORDER, each(lambda t, e: said.append(e)))
    venue = _FillsOnlyVenue([_fill(0), _fill(1)])
    # A stand-in with only the venue methods reconciliation calls.
    manager = OrderManager(bus, venue, ["ETHUSDT"])  # type: ignore[arg-type]
    report = await manager.reconcile()
    assert report.fills_added == 2
    assert [
        (e.report.order.client_order_id, e.report.fill.trade_id) for e in said if e.report.fill
    ] == [
        ("placed-elsewhere", 0),
        ("placed-elsewhere", 1),
    ]
    assert manager.orders["placed-elsewhere"].status is OrderStatus.FILLED


async def test_a_fill_whose_order_cannot_be_found_now_is_fetched_again_not_dropped() -> None:
    bus = Bus()
    said: list[OrderUpdated] = []
    bus.subscribe(topics.ORDER, each(lambda t, e: said.append(e)))
    venue = _FillsOnlyVenue([_fill(0), _fill(1)])
    venue.queries_fail = 1
    # A stand-in with only the venue methods reconciliation calls.
    manager = OrderManager(bus, venue, ["ETHUSDT"])  # type: ignore[arg-type]
    first = await manager.reconcile()
    assert first.fills_added == 0 and not said and not manager.fills
    venue.venue_fills.append(_fill(2))
    second = await manager.reconcile()
    assert venue.asked_from == [None, 0]  # from the fill that could not be placed
    assert second.fills_added == 3
    assert sorted(e.report.fill.trade_id for e in said if e.report.fill) == [0, 1, 2]


# -- one intent, one venue order; unknown stays unknown until settled ------------------------


def lose_answers(
    monkeypatch: pytest.MonkeyPatch, rest: BinanceRest, method: str, path: str, times: int = 1
) -> None:
    """The next ``times`` requests to ``method path`` are done at the venue and their answers
    lost (a 503 after the fact, the fault that leaves an outcome unknown)."""
    real = rest.request
    left = [times]

    async def request(m: str, p: str, params: Any = None, signed: bool = False, **kw: Any) -> Any:
        result = await real(m, p, params, signed, **kw)
        if (m, p) == (method, path) and left[0] > 0:
            left[0] -= 1
            raise OutcomeUnknown(503, -1007, "Timeout waiting for response from backend server.")
        return result

    monkeypatch.setattr(rest, "request", request)


def venue_open(sim: SimVenue) -> list[Any]:
    account = sim.engine.accounts[sim.keys.lookup(sim.demo_key[0]).account_id]
    return sim.engine.open_orders(account)


def statuses_of(events: list[Any], client_id: str) -> list[OrderStatus]:
    return [
        e.report.order.status
        for e in events
        if isinstance(e, OrderUpdated) and e.report.order.client_order_id == client_id
    ]


async def test_a_cancel_whose_answer_is_lost_is_unknown_until_settled_never_refused(
    wired: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, bus, manager, events = wired
    req = limit(sim, "0.9")
    await bus.request(PlaceOrder(request=req))
    lose_answers(monkeypatch, manager.port.rest, "DELETE", "order")
    answer = await bus.request(CancelOrder(symbol="ETHUSDT", client_order_id=req.client_order_id))
    assert answer.status is OrderStatus.UNKNOWN
    assert not any(isinstance(e, OrderRejected) for e in events)
    await manager.aclose()  # the settlement in flight
    assert manager.orders[req.client_order_id].status is OrderStatus.CANCELED
    assert statuses_of(events, req.client_order_id)[-2:] == [
        OrderStatus.UNKNOWN,
        OrderStatus.CANCELED,
    ]
    assert venue_open(sim) == []


async def test_a_cancel_replace_whose_answer_is_lost_tracks_the_replacement_as_unknown(
    wired: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, bus, manager, events = wired
    req = limit(sim, "0.9")
    await bus.request(PlaceOrder(request=req))
    lose_answers(monkeypatch, manager.port.rest, "POST", "order/cancelReplace")
    amend = ReplaceOrder(
        symbol="ETHUSDT",
        client_order_id=req.client_order_id,
        quantity=D("0.3"),
        new_client_order_id="omt-amend-1",
    )
    answer = await bus.request(amend)
    assert (answer.client_order_id, answer.status) == ("omt-amend-1", OrderStatus.UNKNOWN)
    assert manager.orders[req.client_order_id].status is OrderStatus.UNKNOWN
    assert not any(isinstance(e, OrderRejected) for e in events)
    # The same intent again (a second Enter after the timeout): no second replacement.
    again = await bus.request(amend)
    assert again.client_order_id == "omt-amend-1"
    await manager.aclose()
    assert manager.orders[req.client_order_id].status is OrderStatus.CANCELED
    assert manager.orders["omt-amend-1"].status is OrderStatus.NEW
    assert statuses_of(events, "omt-amend-1") == [
        OrderStatus.PENDING_NEW,
        OrderStatus.UNKNOWN,
        OrderStatus.NEW,
    ]
    assert [(o.client_order_id, o.orig_qty) for o in venue_open(sim)] == [("omt-amend-1", D("0.3"))]


async def test_a_cancel_all_whose_answer_is_lost_settles_every_order(
    wired: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, bus, manager, _ = wired
    reqs = [limit(sim, "0.9"), limit(sim, "0.8")]
    for req in reqs:
        await bus.request(PlaceOrder(request=req))
    lose_answers(monkeypatch, manager.port.rest, "DELETE", "openOrders")
    answer = await bus.request(CancelAll(symbol="ETHUSDT"))
    assert {o.status for o in answer} == {OrderStatus.UNKNOWN}
    await manager.aclose()
    assert {manager.orders[r.client_order_id].status for r in reqs} == {OrderStatus.CANCELED}
    assert venue_open(sim) == []


async def test_a_resend_of_an_intent_already_sent_returns_it_and_sends_nothing(
    wired: Any,
) -> None:
    sim, bus, manager, events = wired
    sim.faults.fail_orders = 1  # accepted, answer lost
    req = limit(sim, "0.9")
    first = await bus.request(PlaceOrder(request=req))
    assert first.status is OrderStatus.UNKNOWN
    second = await bus.request(PlaceOrder(request=req))
    assert second.client_order_id == req.client_order_id
    await manager.aclose()
    assert len(venue_open(sim)) == 1
    assert not any(isinstance(e, OrderRejected) for e in events)
    assert manager.orders[req.client_order_id].status is OrderStatus.NEW


async def test_the_venues_duplicate_refusal_is_read_as_already_there(wired: Any) -> None:
    """After a restart the manager does not know the id; the venue refuses the resend as a
    duplicate, and that is the order it holds, not a refusal."""
    sim, bus, manager, events = wired
    req = limit(sim, "0.9")
    placed = await bus.request(PlaceOrder(request=req))
    manager.orders.clear()  # a fresh manager: it never saw this order
    again = await bus.request(PlaceOrder(request=req))
    assert (again.order_id, again.status) == (placed.order_id, OrderStatus.NEW)
    assert not any(isinstance(e, OrderRejected) for e in events)
    assert len(venue_open(sim)) == 1


async def test_an_oco_and_an_amend_use_the_ids_the_command_gives(wired: Any) -> None:
    sim, bus, _, _ = wired
    command = sell_oco(sim, "1.05", "0.95")
    command = PlaceOco(above=command.above, below=command.below, list_client_order_id="omt-list-1")
    legs = await bus.request(command)
    assert [o.client_order_id for o in legs] == [
        command.above.client_order_id,
        command.below.client_order_id,
    ]
    again = await bus.request(command)  # the same intent: the legs known, nothing sent
    assert [o.order_id for o in again] == [o.order_id for o in legs]
    assert len(venue_open(sim)) == 2
    req = limit(sim, "0.9")
    assert req.price is not None
    await bus.request(PlaceOrder(request=req))
    new = await bus.request(
        ReplaceOrder(
            symbol="ETHUSDT",
            client_order_id=req.client_order_id,
            price=req.price - D("1"),
            new_client_order_id="omt-amend-2",
        )
    )
    assert new.client_order_id == "omt-amend-2" and new.status is OrderStatus.NEW


# -- OCO legs move together ------------------------------------------------------------------


def moved(command: PlaceOco, order_list_id: int, take: str, stop: str, sim: SimVenue) -> ReplaceOco:
    """The same SELL OCO at new prices, as one amend of list ``order_list_id``."""
    fresh = sell_oco(sim, take, stop, qty=str(command.above.quantity))
    return ReplaceOco(
        symbol="ETHUSDT",
        order_list_id=order_list_id,
        above=fresh.above,
        below=fresh.below,
        list_client_order_id="omt-list-2",
    )


async def test_amending_an_oco_replaces_the_whole_list_at_the_venue(wired: Any) -> None:
    sim, bus, manager, _ = wired
    sim.generator = None  # a still market: the new prices stay on their sides
    command = sell_oco(sim, "1.05", "0.95")
    legs = await bus.request(command)
    amend = moved(command, legs[0].order_list_id, "1.06", "0.94", sim)
    new_legs = await bus.request(amend)
    assert [o.client_order_id for o in new_legs] == [
        amend.above.client_order_id,
        amend.below.client_order_id,
    ]
    assert {manager.orders[o.client_order_id].status for o in legs} == {OrderStatus.CANCELED}
    at_venue = venue_open(sim)
    assert sorted((o.client_order_id, o.type) for o in at_venue) == sorted(
        [
            (amend.above.client_order_id, OrderType.LIMIT_MAKER),
            (amend.below.client_order_id, OrderType.STOP_LOSS_LIMIT),
        ]
    )
    assert len({o.order_list_id for o in at_venue}) == 1  # still one linked list


async def test_amending_one_leg_of_an_oco_is_refused_with_the_reason(wired: Any) -> None:
    sim, bus, _, _ = wired
    legs = await bus.request(sell_oco(sim, "1.05", "0.95"))
    with pytest.raises(OrderRefused) as refused:
        await bus.request(
            ReplaceOrder(
                symbol="ETHUSDT", client_order_id=legs[0].client_order_id, price=D("99999")
            )
        )
    assert f"leg of OCO list {legs[0].order_list_id}: amend the whole list" in refused.value.reason
    assert {o.client_order_id for o in venue_open(sim)} == {o.client_order_id for o in legs}


async def test_an_oco_amend_whose_cancel_is_lost_places_nothing_and_says_why(
    wired: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, bus, manager, events = wired
    sim.generator = None
    command = sell_oco(sim, "1.05", "0.95")
    legs = await bus.request(command)
    lose_answers(monkeypatch, manager.port.rest, "DELETE", "orderList")
    amend = moved(command, legs[0].order_list_id, "1.06", "0.94", sim)
    with pytest.raises(OrderRefused) as refused:
        await bus.request(amend)
    assert "outcome is unknown" in refused.value.reason and "not placed" in refused.value.reason
    assert any(
        isinstance(e, OrderRejected) and "not placed" in e.reason for e in events
    )  # the event log says it
    await manager.aclose()
    assert {manager.orders[o.client_order_id].status for o in legs} == {OrderStatus.CANCELED}
    assert venue_open(sim) == []  # nothing placed in the dark


def take_up_to(sim: SimVenue, client_id: str, qty: str) -> None:
    """Another trader buys through the asks up to our resting sell ``client_id``, taking
    ``qty`` of it (IOC: nothing of theirs rests)."""
    from omnitrade_tui.venues.sim.accounts import Account

    me = sim.engine.accounts[sim.keys.lookup(sim.demo_key[0]).account_id]
    ours = sim.engine.find_order(me, "ETHUSDT", client_order_id=client_id)
    assert ours is not None and ours.price is not None
    asks = sim.engine.books["ETHUSDT"].asks
    ahead = sum((asks.totals[p] for p in asks.prices if p < ours.price), D(0))
    for other in asks.queues.get(ours.price, ()):
        if other is ours:
            break
        ahead += other.remaining
    taker = sim.engine.add_account(Account(901))
    taker.deposit("USDT", D(100_000_000))
    sim.engine.place(
        taker,
        OrderRequest(
            symbol="ETHUSDT",
            side=Side.BUY,
            type=OrderType.LIMIT,
            time_in_force=TimeInForce.IOC,
            price=ours.price,
            quantity=ahead + D(qty),
        ),
        validate=False,
    )


async def test_an_oco_amend_after_a_leg_traded_places_nothing(wired: Any) -> None:
    sim, bus, manager, _ = wired
    sim.generator = None
    command = sell_oco(sim, "1.05", "0.95")
    legs = await bus.request(command)
    take_up_to(sim, legs[0].client_order_id, "0.1")  # the take-profit filled: the list is done
    with pytest.raises(OrderRefused) as refused:
        await bus.request(moved(command, legs[0].order_list_id, "1.06", "0.94", sim))
    assert "could not be cancelled" in refused.value.reason
    assert venue_open(sim) == []
    await manager.aclose()
    assert manager.orders[legs[0].client_order_id].status is OrderStatus.FILLED


async def test_an_oco_amend_after_a_leg_partly_traded_cancels_but_places_nothing(
    wired: Any,
) -> None:
    sim, bus, manager, _ = wired
    sim.generator = None
    command = sell_oco(sim, "1.05", "0.95")
    legs = await bus.request(command)
    take_up_to(sim, legs[0].client_order_id, "0.04")
    with pytest.raises(OrderRefused) as refused:
        await bus.request(moved(command, legs[0].order_list_id, "1.06", "0.94", sim))
    assert f"leg {legs[0].client_order_id} had traded 0.04:" in refused.value.reason
    assert venue_open(sim) == []  # the rest cancelled, no new list on top of a sale
    assert manager.orders[legs[0].client_order_id].status is OrderStatus.CANCELED


async def test_an_oco_amend_is_refused_while_the_kill_switch_is_engaged(wired: Any) -> None:
    from omnitrade_tui.engine.risk import RiskGate, RiskLimits, RiskRejected

    sim, _, manager, _ = wired
    sim.generator = None
    bus = Bus()  # the runtime's wiring: the gate in front of the manager's handler
    gate = RiskGate(bus, RiskLimits())
    bus.handle(ReplaceOco, gate.guard_replace_oco(manager.replace_oco))
    command = sell_oco(sim, "1.05", "0.95")
    legs = await manager.place_oco(command)
    gate.locked = True
    with pytest.raises(RiskRejected):
        await bus.request(moved(command, legs[0].order_list_id, "1.06", "0.94", sim))
    assert {o.client_order_id for o in venue_open(sim)} == {o.client_order_id for o in legs}


# -- balances are the venue's ----------------------------------------------------------------


def shown_eth(bus: Bus) -> list[Any]:
    """Every ETH balance the bus says from now on; the screen saw 9.8 free, 0.2 locked (the
    issue's drift: the release of a lock lost on the way)."""
    from omnitrade_tui.domain.events import BalancesChanged
    from omnitrade_tui.domain.models import Balance

    said: list[Any] = []

    def keep(t: str, e: BalancesChanged) -> None:
        said.extend((b.free, b.locked) for b in e.balances if b.asset == "ETH")

    bus.subscribe(topics.BALANCE, each(keep))
    stale = Balance(asset="ETH", free=D("9.8"), locked=D("0.2"))
    bus.publish(topics.BALANCE, BalancesChanged(balances=[stale]))
    return said


def reconciled(events: list[Any]) -> list[str]:
    from omnitrade_tui.domain.events import Reconciled

    return [e.detail for e in events if isinstance(e, Reconciled)]


async def test_balances_are_checked_with_the_venue_after_a_cancel_all(wired: Any) -> None:
    sim, bus, manager, events = wired
    said = shown_eth(bus)
    await bus.request(PlaceOrder(request=limit(sim, "0.9")))
    await bus.request(CancelAll(symbol="ETHUSDT"))
    await manager.aclose()  # the check in flight
    assert said[-1] == (D(10), D(0))  # the venue's, not the drifted 9.8 / 0.2
    [detail] = reconciled(events)
    assert "after cancel-all" in detail
    assert "ETH shown free 9.8 locked 0.2, venue free 10 locked 0" in detail


async def test_the_kill_switch_leaves_the_venues_balances_shown(wired: Any) -> None:
    from omnitrade_tui.engine.risk import RiskGate, RiskLimits

    sim, bus, manager, events = wired
    said = shown_eth(bus)
    gate = RiskGate(bus, RiskLimits())
    gate.start()
    await bus.request(PlaceOrder(request=limit(sim, "0.9")))
    await gate.engage("test")
    await manager.aclose()
    gate.stop()
    assert said[-1] == (D(10), D(0))
    assert any("ETH shown free 9.8" in d for d in reconciled(events))


async def test_balances_are_checked_after_a_fill_burst(wired: Any) -> None:
    _, bus, manager, events = wired
    said = shown_eth(bus)
    for _ in range(5):  # a burst of fills, within a second
        market = OrderRequest(
            symbol="ETHUSDT", side=Side.BUY, type=OrderType.MARKET, quantity=D("0.1")
        )
        await bus.request(PlaceOrder(request=market))
    assert len(manager.fills) >= 5
    await manager.aclose()
    venue_eth = next(b for b in await manager.port.balances() if b.asset == "ETH")
    assert said[-1] == (venue_eth.free, venue_eth.locked)
    assert any("after a fill burst" in d for d in reconciled(events))


async def test_a_reconciliation_says_which_balances_differed(wired: Any) -> None:
    _, bus, manager, _ = wired
    said = shown_eth(bus)
    report = await manager.reconcile()
    assert said[-1] == (D(10), D(0))
    assert "balances differed: " in report.detail
    assert "ETH shown free 9.8 locked 0.2, venue free 10 locked 0" in report.detail


async def test_a_resend_behind_the_risk_gate_is_not_counted_against_itself(wired: Any) -> None:
    from omnitrade_tui.engine.risk import RiskGate, RiskLimits

    sim, _, manager, _ = wired
    bus = Bus()  # the runtime's wiring: the gate in front of the manager
    gate = RiskGate(bus, RiskLimits(max_open_orders=1))
    gate.start()
    bus.handle(PlaceOrder, gate.guard(manager.place))
    sim.faults.fail_orders = 1
    req = limit(sim, "0.9")
    first = await bus.request(PlaceOrder(request=req))
    assert first.status is OrderStatus.UNKNOWN
    again = await bus.request(PlaceOrder(request=req))  # not "open order 2, limit 1"
    assert again.client_order_id == req.client_order_id
    await manager.aclose()
    gate.stop()
    assert len(venue_open(sim)) == 1


async def test_an_oco_resent_after_a_restart_is_read_as_the_list_already_there(
    wired: Any,
) -> None:
    sim, bus, manager, events = wired
    sim.generator = None
    command = sell_oco(sim, "1.05", "0.95")
    legs = await bus.request(command)
    manager.orders.clear()  # a fresh manager: it never saw this list
    again = await bus.request(command)
    assert [(o.order_id, o.status) for o in again] == [(o.order_id, o.status) for o in legs]
    assert not any(isinstance(e, OrderRejected) for e in events)
    assert len(venue_open(sim)) == 2
