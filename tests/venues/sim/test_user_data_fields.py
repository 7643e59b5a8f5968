"""executionReport fields as ``user-data-stream.md`` describes them: ``I`` (execution id)
is each report's own, ``C`` on a cancel is the cancelled order's client id while ``c`` is
the cancel's, and the conditional fields (``W``, ``eR``, ``v``) appear only when their
condition holds."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from omnitrade_tui.domain import OrderRequest, OrderType, Side, TimeInForce
from omnitrade_tui.venues.sim.matching import OrderExecuted, SimEvent
from omnitrade_tui.venues.sim.render import cancel_report, execution_report
from tests.venues.sim.engine_helpers import limit, make_engine, market


def reports(events: list[SimEvent]) -> list[dict[str, Any]]:
    return [execution_report(e) for e in events if isinstance(e, OrderExecuted)]


def test_execution_ids_are_unique_per_report_and_per_fill() -> None:
    engine, (a, b), events = make_engine()
    makers = [engine.place(a, limit(Side.SELL, "2000", "1")).order for _ in range(3)]
    engine.place(b, market(Side.BUY, "3"))
    rows = reports(events)
    trades = [r for r in rows if r["x"] == "TRADE"]
    assert len(trades) == 6  # three fills, each reported to maker and taker
    # One match prints three fills at one event time: the old code gave them one id.
    assert len({r["T"] for r in trades}) == 1
    ids = [r["I"] for r in rows]
    assert len(set(ids)) == len(ids) and ids == sorted(ids)
    assert {r["i"] for r in trades} >= {m.order_id for m in makers}


def test_cancel_names_the_cancel_in_c_and_the_order_in_capital_c() -> None:
    engine, (a, _), events = make_engine()
    order = engine.place(a, limit(Side.BUY, "1500", "1", client_order_id="mine-1")).order
    engine.cancel(a, "ETHUSDT", order.order_id, cancel_client_id="cancel-1")
    (report,) = [r for r in reports(events) if r["x"] == "CANCELED"]
    assert (report["c"], report["C"]) == ("cancel-1", "mine-1")
    body = cancel_report(order)
    assert (body["clientOrderId"], body["origClientOrderId"]) == ("cancel-1", "mine-1")

    other = engine.place(a, limit(Side.BUY, "1500", "1", client_order_id="mine-2")).order
    engine.cancel(a, "ETHUSDT", other.order_id)  # no newClientOrderId: the venue makes one
    last = reports(events)[-1]
    assert last["C"] == "mine-2" and last["c"] not in ("", "mine-2")
    new = next(r for r in reports(events) if r["x"] == "NEW")
    assert new["C"] == ""  # only a cancel names an original order


def test_conditional_fields_appear_only_when_their_condition_holds() -> None:
    engine, (a, b), events = make_engine()
    engine.place(a, limit(Side.SELL, "2000", "1"))
    engine.place(b, limit(Side.BUY, "2000", "0.5"))  # last price 2000
    waiting = engine.place(
        b,
        OrderRequest(
            symbol="ETHUSDT",
            side=Side.SELL,
            type=OrderType.STOP_LOSS_LIMIT,
            stop_price=D("1800"),
            price=D("1790"),
            quantity=D("1"),
            time_in_force=TimeInForce.GTC,
        ),
    ).order
    resting = engine.place(b, limit(Side.BUY, "1900", "1")).order
    ioc = engine.place(b, limit(Side.BUY, "2000", "2", "IOC")).order
    rows = reports(events)
    by_order = {r["i"]: r for r in rows}
    assert "W" not in by_order[waiting.order_id]  # a stop waiting is not on the book
    assert by_order[resting.order_id]["W"] == resting.working_ms
    assert "eR" not in by_order[resting.order_id] and "v" not in by_order[resting.order_id]
    expired = [r for r in rows if r["i"] == ioc.order_id and r["x"] == "EXPIRED"]
    assert expired and expired[0]["eR"] == "UNFILLED_IOC_QUANTITY_EXPIRED"
