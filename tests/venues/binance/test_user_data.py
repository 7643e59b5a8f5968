"""User data over the WebSocket API against the simulated venue: order and balance events
arrive as exact domain values, and the subscription comes back after a reconnect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from omnitrade_tui.bus import Bus, each, topics
from omnitrade_tui.domain import (
    ExecutionType,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from omnitrade_tui.domain.events import BalancesChanged, LinkState, OrderUpdated
from omnitrade_tui.venues.binance.execution import BinanceExecution
from omnitrade_tui.venues.binance.rest import BinanceRest, Credentials
from omnitrade_tui.venues.binance.user_data import UserDataStream, _Link
from omnitrade_tui.venues.sim.venue import SimVenue
from tests.waiting import until


@pytest.fixture
async def wired() -> AsyncIterator[
    tuple[SimVenue, BinanceExecution, UserDataStream, dict[str, Any]]
]:
    async with SimVenue.start(symbols=["ETHUSDT"], seed=41) as sim:
        bus = Bus()
        seen: dict[str, Any] = {"orders": [], "balances": []}
        bus.subscribe(topics.ORDER, each(lambda t, e: seen["orders"].append(e)))
        bus.subscribe(topics.BALANCE, each(lambda t, e: seen["balances"].append(e)))
        creds = Credentials(*sim.demo_key)
        rest = BinanceRest(sim.rest_url, creds)
        seen["resubscribed"] = 0

        async def on_subscribed() -> None:
            seen["resubscribed"] += 1

        user = UserDataStream(sim.ws_api_url, creds, bus, on_subscribed=on_subscribed)
        task = asyncio.create_task(user.run())
        await asyncio.wait_for(user.subscribed.wait(), 5)
        try:
            yield sim, BinanceExecution(rest), user, seen
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await rest.aclose()


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    await until(predicate, "the condition", timeout, interval=0.02)


async def test_fills_and_balances_arrive_exactly(wired: Any) -> None:
    _, ex, _, seen = wired
    req = OrderRequest(
        symbol="ETHUSDT", side=Side.BUY, type=OrderType.MARKET, quantity=Decimal("0.3")
    )
    _, fills = await ex.place(req)

    def mine() -> list[OrderUpdated]:
        client_id = req.client_order_id
        return [u for u in seen["orders"] if u.report.order.client_order_id == client_id]

    await wait_for(lambda: any(u.report.order.status is OrderStatus.FILLED for u in mine()))
    reports = [u.report for u in mine()]
    assert isinstance(seen["orders"][0], OrderUpdated)
    assert reports[0].execution_type is ExecutionType.NEW
    trade_fills = [r.fill for r in reports if r.fill is not None]
    assert sum(f.qty for f in trade_fills) == Decimal("0.3")
    assert {f.trade_id for f in trade_fills} == {f.trade_id for f in fills}
    await wait_for(lambda: bool(seen["balances"]))
    latest: BalancesChanged = seen["balances"][-1]
    assert {b.asset for b in latest.balances} >= {"ETH", "USDT"}
    assert all(isinstance(b.free, Decimal) for b in latest.balances)


async def test_cancel_reports_the_original_client_id(wired: Any) -> None:
    sim, ex, _, seen = wired
    bid = sim.engine.books["ETHUSDT"].bids.best()
    req = OrderRequest(
        symbol="ETHUSDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        price=(bid * Decimal("0.9")).quantize(Decimal("0.01")),
        quantity=Decimal("0.1"),
    )
    await ex.place(req)
    await ex.cancel("ETHUSDT", req.client_order_id)
    await wait_for(
        lambda: any(
            u.report.execution_type is ExecutionType.CANCELED
            and u.report.order.client_order_id == req.client_order_id
            for u in seen["orders"]
        )
    )


async def test_subscription_is_renewed_after_a_reconnect(wired: Any) -> None:
    sim, ex, user, seen = wired
    sim.faults.close_every_s = 0.5  # the venue drops every socket, WebSocket API included
    await wait_for(lambda: user.reconnects >= 1)
    sim.faults.close_every_s = 0
    await asyncio.wait_for(user.subscribed.wait(), 5)
    await wait_for(lambda: seen["resubscribed"] >= 2)  # the hook ran again: reconcile goes here
    req = OrderRequest(
        symbol="ETHUSDT", side=Side.SELL, type=OrderType.MARKET, quantity=Decimal("0.1")
    )
    await ex.place(req)
    await wait_for(
        lambda: any(u.report.order.client_order_id == req.client_order_id for u in seen["orders"])
    )


async def test_a_shutdown_notice_renews_the_subscription_without_a_break(wired: Any) -> None:
    sim, ex, user, seen = wired
    import httpx

    reports_before = len(seen["orders"])
    async with httpx.AsyncClient() as http:
        for _ in range(3):
            before = user.renewals
            # Orders trade while the connections switch: every event must arrive once.
            placing = asyncio.ensure_future(
                ex.place(
                    OrderRequest(
                        symbol="ETHUSDT",
                        side=Side.BUY,
                        type=OrderType.MARKET,
                        quantity=Decimal("0.01"),
                    )
                )
            )
            await http.post(
                f"http://{sim.host}:{sim.port}/sim/shutdown-notice",
                headers={"Authorization": f"Bearer {sim.faults_token}"},
            )
            await placing

            def renewed(b: int = before) -> bool:
                return bool(user.renewals == b + 1)

            await wait_for(renewed)
    assert user.reconnects == 0 and user.subscribed.is_set()
    req = OrderRequest(
        symbol="ETHUSDT", side=Side.SELL, type=OrderType.MARKET, quantity=Decimal("0.03")
    )
    await ex.place(req)
    await wait_for(
        lambda: any(u.report.order.client_order_id == req.client_order_id for u in seen["orders"])
    )
    reports = [u.report for u in seen["orders"][reports_before:]]
    trade_ids = [r.fill.trade_id for r in reports if r.fill is not None]
    assert len(trade_ids) == len(set(trade_ids)), "a fill was delivered twice"
    venue_trades = sim.my_trades[1]
    assert {t["id"] for t in venue_trades} <= set(trade_ids) | {
        r.fill.trade_id for u in seen["orders"][:reports_before] if (r := u.report).fill
    }
    assert seen["resubscribed"] >= 4  # reconciliation after each switch too


async def test_renewal_before_the_maximum_life(wired: Any) -> None:
    _, _, user, _ = wired
    user.max_life_s = 0.5
    user._renew.set()  # wake the supervisor so it sees the new limit
    await wait_for(lambda: user.renewals >= 3, timeout=6)
    assert user.reconnects == 0


async def test_reconciliations_run_one_at_a_time_and_events_wait_for_the_last() -> None:
    """A link that flaps while the venue is slow: no pile of reconciliations, and the
    events that came meanwhile are let through only after one that began after them."""
    bus = Bus()
    published: list[Any] = []
    bus.subscribe(topics.ORDER, each(lambda t, e: published.append(e)))
    running = 0
    most = 0
    calls = 0
    gate = asyncio.Event()

    async def reconcile() -> None:
        nonlocal running, most, calls
        calls += 1
        running += 1
        most = max(most, running)
        try:
            await gate.wait()
        finally:
            running -= 1

    user = UserDataStream("ws://127.0.0.1:9/", Credentials("k", "s"), bus, on_subscribed=reconcile)
    user._after_subscribe()
    await asyncio.sleep(0)
    for _ in range(5):  # subscribed again and again while the first is still waiting
        user._after_subscribe()
        await asyncio.sleep(0)
    report = {
        "e": "executionReport", "E": 1, "s": "ETHUSDT", "c": "a", "S": "BUY", "o": "LIMIT",
        "f": "GTC", "q": "1", "p": "10", "x": "NEW", "X": "NEW", "i": 7, "z": "0", "Z": "0",
        "T": 1, "O": 1,
    }  # fmt: skip
    user._deliver(report)
    assert calls == 1 and published == []
    gate.set()
    await asyncio.sleep(0.01)
    # One more after the first, for the subscriptions that came while it ran; then the event.
    assert calls == 2 and most == 1
    assert len(published) == 1
    await user.aclose()


async def test_two_account_updates_in_one_millisecond_both_arrive(wired: Any) -> None:
    """The issue's drift: a lock and its release by a cancel in one millisecond carry the
    same event and update time; the second is not a repeat of the first."""
    sim, _, user, seen = wired
    sim.generator = None
    sim.engine.clock = lambda: 1_900_000_000_000  # both updates stamped the same ms
    me = sim.engine.accounts[sim.keys.lookup(sim.demo_key[0]).account_id]
    ask = sim.engine.books["ETHUSDT"].asks.best()
    assert ask is not None
    req = OrderRequest(
        symbol="ETHUSDT",
        side=Side.SELL,
        type=OrderType.LIMIT,
        price=ask * 2,
        quantity=Decimal("0.2"),
        time_in_force=TimeInForce.GTC,
    )
    sim.engine.place(me, req, validate=False)
    sim.engine.cancel(me, "ETHUSDT", client_order_id=req.client_order_id)

    def eth() -> list[tuple[Decimal, Decimal]]:
        return [
            (b.free, b.locked) for e in seen["balances"] for b in e.balances if b.asset == "ETH"
        ]

    await wait_for(lambda: len(eth()) >= 2)
    assert eth()[-2:] == [(Decimal("9.8"), Decimal("0.2")), (Decimal("10"), Decimal("0"))]
    assert user.duplicates == 0


class _FakeWs:
    """A connection that only records being closed."""

    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


def _frame(event: dict[str, Any]) -> str:
    return msgspec.json.encode({"subscriptionId": 0, "event": event}).decode()


async def test_list_status_balance_moves_and_expiry_reasons_reach_the_bus() -> None:
    """Events the connector used to drop: an OCO list's state, a deposit, and why an order
    expired (Binance's own example payloads)."""
    bus = Bus()
    seen: list[Any] = []
    bus.subscribe(">", each(lambda t, e: seen.append((t, e))))
    user = UserDataStream("ws://127.0.0.1:9/", Credentials("k", "s"), bus)
    user._handle(
        _frame(
            {
                "e": "listStatus", "E": 1564035303637, "s": "ETHBTC", "g": 2, "c": "OCO",
                "l": "EXEC_STARTED", "L": "EXECUTING", "r": "NONE",
                "C": "F4QN4G8DlFATFlIUQ0cjdD", "T": 1564035303625,
                "O": [
                    {"s": "ETHBTC", "i": 17, "c": "AJYsMjErWJesZvqlJCTUgL"},
                    {"s": "ETHBTC", "i": 18, "c": "bfYPSQdLoqAJeNrOr9adzq"},
                ],
            }
        )
    )  # fmt: skip
    user._handle(
        _frame(
            {"e": "balanceUpdate", "E": 1573200697110, "a": "BTC", "d": "100.00000000",
             "T": 1573200697068}
        )
    )  # fmt: skip
    user._handle(
        _frame(
            {
                "e": "executionReport", "E": 5, "s": "ETHUSDT", "c": "ioc-1", "S": "BUY",
                "o": "LIMIT", "f": "IOC", "q": "1", "p": "10", "x": "EXPIRED", "X": "EXPIRED",
                "r": "NONE", "eR": "UNFILLED_IOC_QUANTITY_EXPIRED", "i": 9, "z": "0",
                "Z": "0", "T": 5, "O": 5, "I": 77,
            }
        )
    )  # fmt: skip
    lists = [e for t, e in seen if t == topics.ORDER_LIST]
    assert len(lists) == 1
    assert lists[0].order_list_id == 2 and lists[0].list_order_status == "EXECUTING"
    assert [o.order_id for o in lists[0].orders] == [17, 18]
    moves = [e for t, e in seen if t == topics.RECONCILE]
    assert [m.detail for m in moves] == [
        "+100 BTC moved by the venue (deposit, withdrawal or transfer)"
    ]
    orders = [e for t, e in seen if t == topics.ORDER]
    assert orders[0].report.order.reject_reason == "expired: UNFILLED_IOC_QUANTITY_EXPIRED"
    await user.aclose()


async def test_a_terminated_stream_is_dropped_so_it_is_subscribed_again() -> None:
    """eventStreamTerminated: the connection carries no more user data; it is closed (the
    keeper then subscribes again and reconciles) and the link says so."""
    bus = Bus()
    links: list[Any] = []
    bus.subscribe(topics.CONNECTION, each(lambda t, e: links.append(e)))
    user = UserDataStream("ws://127.0.0.1:9/", Credentials("k", "s"), bus)
    ws = _FakeWs()
    link = _Link(ws)
    user._primary = link
    user.subscribed.set()
    user._handle(_frame({"e": "eventStreamTerminated", "E": 1728973001334}), link)
    await asyncio.sleep(0.01)
    assert ws.closed
    assert not user.subscribed.is_set()
    assert links[-1].state is LinkState.RECONNECTING
    assert "terminated" in links[-1].detail
    await user.aclose()
