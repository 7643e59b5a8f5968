"""Order lists, cancel restrictions and cancel-replace as ``rest-api.md`` and
``user-data-stream.md`` describe them, over the venue's REST API and user-data stream."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec

from omnitrade_tui.venues.sim.auth import ws_payload
from omnitrade_tui.venues.sim.venue import SimVenue
from tests.venues.sim.test_wire import sign, signed
from tests.waiting import until

LIST_KEYS = {
    "orderListId",
    "contingencyType",
    "listStatusType",
    "listOrderStatus",
    "listClientOrderId",
    "transactionTime",
    "symbol",
    "orders",
}


def prices(sim: SimVenue) -> tuple[str, str, str, str]:
    """A price well above the market, a stop and a limit below it, and a low bid."""
    book = sim.engine.books["ETHUSDT"]
    bid, ask = book.bids.best(), book.asks.best()
    assert bid is not None and ask is not None

    def q(x: Decimal) -> str:
        return str(x.quantize(Decimal("0.01")))

    return (
        q(ask * Decimal("1.05")),
        q(bid * Decimal("0.95")),
        q(bid * Decimal("0.94")),
        q(bid * Decimal("0.9")),
    )


async def place_oco(
    http: aiohttp.ClientSession, sim: SimVenue, list_client_id: str
) -> dict[str, Any]:
    above, stop, below, _ = prices(sim)
    body: dict[str, Any]
    status, body, headers = await signed(
        http,
        sim,
        "POST",
        "orderList/oco",
        {
            "symbol": "ETHUSDT",
            "side": "SELL",
            "quantity": "0.1",
            "listClientOrderId": list_client_id,
            "aboveType": "LIMIT_MAKER",
            "abovePrice": above,
            "belowType": "STOP_LOSS_LIMIT",
            "belowStopPrice": stop,
            "belowPrice": below,
            "belowTimeInForce": "GTC",
        },
    )
    assert status == 200, body
    body["_count"] = int(headers["X-MBX-ORDER-COUNT-10S"])
    return body


async def user_events(
    http: aiohttp.ClientSession, sim: SimVenue
) -> tuple[aiohttp.ClientWebSocketResponse, list[dict[str, Any]], asyncio.Task[None]]:
    """A WebSocket-API connection subscribed to the demo account's user data; the events
    are collected into the returned list by a task."""
    ws = await http.ws_connect(sim.ws_api_url)
    key, secret = sim.demo_key
    params: dict[str, Any] = {"apiKey": key, "timestamp": int(time.time() * 1000)}
    params["signature"] = sign(secret, ws_payload(params))
    await ws.send_str(
        msgspec.json.encode(
            {"id": 1, "method": "userDataStream.subscribe.signature", "params": params}
        ).decode()
    )
    events: list[dict[str, Any]] = []

    async def collect() -> None:
        async for msg in ws:
            frame = msgspec.json.decode(msg.data)
            if "event" in frame:
                events.append(frame["event"])

    task = asyncio.create_task(collect())
    return ws, events, task


async def wait_for(events: list[dict[str, Any]], count: int, kind: str) -> list[dict[str, Any]]:
    def found() -> list[dict[str, Any]]:
        return [e for e in events if e["e"] == kind]

    await until(
        lambda: len(found()) >= count,
        f"{count} {kind} events",
        2.0,
        interval=0.02,
        detail=lambda: f"got {events}",
    )
    return found()


async def test_order_list_endpoints_and_list_status_events(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    ws, events, task = await user_events(http, sim)
    try:
        await asyncio.sleep(0.1)
        first = await place_oco(http, sim, "my-list-1")
        assert first["_count"] == 2  # an OCO counts two orders
        assert set(first) - {"_count", "orderReports"} == LIST_KEYS
        assert first["listClientOrderId"] == "my-list-1"
        list_id = first["orderListId"]
        (started,) = await wait_for(events, 1, "listStatus")
        assert (started["g"], started["c"], started["l"], started["L"], started["C"]) == (
            list_id,
            "OCO",
            "EXEC_STARTED",
            "EXECUTING",
            "my-list-1",
        )
        assert [o["i"] for o in started["O"]] == [o["orderId"] for o in first["orders"]]

        status, got, _ = await signed(http, sim, "GET", "orderList", {"orderListId": list_id})
        assert status == 200 and set(got) == LIST_KEYS and got["listOrderStatus"] == "EXECUTING"
        status, by_client, _ = await signed(
            http, sim, "GET", "orderList", {"origClientOrderId": "my-list-1"}
        )
        assert by_client == got
        status, open_lists, _ = await signed(http, sim, "GET", "openOrderList", {})
        assert [lst["orderListId"] for lst in open_lists] == [list_id]

        status, body, _ = await signed(
            http,
            sim,
            "DELETE",
            "orderList",
            {"symbol": "ETHUSDT", "listClientOrderId": "my-list-1", "newClientOrderId": "c-1"},
        )
        assert status == 200 and body["listStatusType"] == "ALL_DONE"
        assert [r["status"] for r in body["orderReports"]] == ["CANCELED", "CANCELED"]
        (_, done) = await wait_for(events, 2, "listStatus")
        assert (done["l"], done["L"]) == ("ALL_DONE", "ALL_DONE")
        status, open_lists, _ = await signed(http, sim, "GET", "openOrderList", {})
        assert open_lists == []

        second = await place_oco(http, sim, "my-list-2")
        status, all_lists, _ = await signed(http, sim, "GET", "allOrderList", {})
        assert [lst["orderListId"] for lst in all_lists] == [list_id, second["orderListId"]]
        status, later, _ = await signed(
            http, sim, "GET", "allOrderList", {"fromId": second["orderListId"]}
        )
        assert [lst["orderListId"] for lst in later] == [second["orderListId"]]
        status, missing, _ = await signed(http, sim, "GET", "orderList", {"orderListId": 999})
        assert (status, missing["code"]) == (400, -2013)

        # Cancel-all reports the list as a list, with its client id and time.
        _, _, _, low = prices(sim)
        await signed(
            http,
            sim,
            "POST",
            "order",
            {
                "symbol": "ETHUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.1",
                "price": low,
            },
        )
        status, body, _ = await signed(http, sim, "DELETE", "openOrders", {"symbol": "ETHUSDT"})
        assert status == 200 and len(body) == 2
        (as_list,) = [e for e in body if "orderReports" in e]
        assert set(as_list) - {"orderReports"} == LIST_KEYS
        assert as_list["listClientOrderId"] == "my-list-2" and as_list["transactionTime"] > 0
    finally:
        task.cancel()
        await ws.close()


async def test_cancel_restrictions(sim: SimVenue, http: aiohttp.ClientSession) -> None:
    *_, low = prices(sim)
    status, placed, _ = await signed(
        http,
        sim,
        "POST",
        "order",
        {
            "symbol": "ETHUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.1",
            "price": low,
        },
    )
    order = {"symbol": "ETHUSDT", "orderId": placed["orderId"]}
    status, body, _ = await signed(
        http, sim, "DELETE", "order", {**order, "cancelRestrictions": "ONLY_PARTIALLY_FILLED"}
    )
    assert (status, body) == (
        400,
        {"code": -2011, "msg": "Order was not canceled due to cancel restrictions."},
    )
    status, body, _ = await signed(
        http, sim, "DELETE", "order", {**order, "cancelRestrictions": "SOMETIMES"}
    )
    assert body == {"code": -1145, "msg": "Invalid cancelRestrictions"}
    status, body, _ = await signed(
        http, sim, "DELETE", "order", {**order, "cancelRestrictions": "ONLY_NEW"}
    )
    assert status == 200 and body["status"] == "CANCELED"


async def test_cancel_replace_allow_failure_places_the_new_order(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    *_, low = prices(sim)
    new = {
        "symbol": "ETHUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.1",
        "price": low,
    }
    status, body, _ = await signed(
        http,
        sim,
        "POST",
        "order/cancelReplace",
        {**new, "cancelReplaceMode": "ALLOW_FAILURE", "cancelOrderId": 987654},
    )
    assert (status, body["code"], body["msg"]) == (
        409,
        -2021,
        "Order cancel-replace partially failed.",
    )
    data = body["data"]
    assert (data["cancelResult"], data["newOrderResult"]) == ("FAILURE", "SUCCESS")
    assert data["cancelResponse"] == {"code": -2011, "msg": "Unknown order sent."}
    assert data["newOrderResponse"]["status"] == "NEW"
    placed_id = data["newOrderResponse"]["orderId"]

    # The cancel works, the new order is refused: 409 -2021 with both halves.
    status, body, _ = await signed(
        http,
        sim,
        "POST",
        "order/cancelReplace",
        {
            **new,
            "type": "LIMIT_MAKER",
            "price": str(Decimal(low) * 2),
            "cancelReplaceMode": "STOP_ON_FAILURE",
            "cancelOrderId": placed_id,
            "cancelNewClientOrderId": "the-cancel",
        }
        | {"timeInForce": ""},
    )
    assert (status, body["code"]) == (409, -2021), body
    data = body["data"]
    assert (data["cancelResult"], data["newOrderResult"]) == ("SUCCESS", "FAILURE")
    assert data["cancelResponse"]["status"] == "CANCELED"
    assert data["cancelResponse"]["clientOrderId"] == "the-cancel"
    assert data["newOrderResponse"] == {
        "code": -2010,
        "msg": "Order would immediately match and take.",
    }

    # Both fail under ALLOW_FAILURE: 400 -2022.
    status, body, _ = await signed(
        http,
        sim,
        "POST",
        "order/cancelReplace",
        {
            **new,
            "type": "LIMIT_MAKER",
            "price": str(Decimal(low) * 2),
            "cancelReplaceMode": "ALLOW_FAILURE",
            "cancelOrderId": placed_id,
        }
        | {"timeInForce": ""},
    )
    assert (status, body["code"]) == (400, -2022)
    assert (body["data"]["cancelResult"], body["data"]["newOrderResult"]) == (
        "FAILURE",
        "FAILURE",
    )


async def test_cancel_replace_over_the_order_count_cancels_only_when_asked(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    """rest-api.md: over the unfilled order count, DO_NOTHING answers -1015 and cancels
    nothing; CANCEL_ONLY cancels, and the new order's half is the -1015."""
    *_, low = prices(sim)
    order = {
        "symbol": "ETHUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.1",
        "price": low,
    }
    status, placed, _ = await signed(http, sim, "POST", "order", order)
    assert status == 200
    sim.orders_per_10s = 1
    replace = {**order, "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrderId": placed["orderId"]}
    status, body, _ = await signed(http, sim, "POST", "order/cancelReplace", replace)
    assert (status, body["code"]) == (429, -1015)
    status, body, _ = await signed(
        http,
        sim,
        "POST",
        "order/cancelReplace",
        {**replace, "orderRateLimitExceededMode": "CANCEL_ONLY"},
    )
    assert (status, body["code"]) == (409, -2021)
    data = body["data"]
    assert (data["cancelResult"], data["newOrderResult"]) == ("SUCCESS", "FAILURE")
    assert data["cancelResponse"]["status"] == "CANCELED"
    assert data["newOrderResponse"]["code"] == -1015
