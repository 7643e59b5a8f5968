"""The WebSocket API as ``web-socket-api.md`` describes it: public market data without a
key, session logon with an Ed25519 key (an HMAC key refused), the trading and account
methods beside their REST twins, and ``rateLimits`` in every answer."""

from __future__ import annotations

import base64
import itertools
import time
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from omnitrade_tui.venues.sim.auth import ws_payload
from omnitrade_tui.venues.sim.venue import SimVenue
from tests.venues.sim.test_wire import sign

_ids = itertools.count(1)


async def call(
    ws: aiohttp.ClientWebSocketResponse, method: str, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Send one request and wait for its answer (events in between are skipped)."""
    request_id = next(_ids)
    frame: dict[str, Any] = {"id": request_id, "method": method}
    if params is not None:
        frame["params"] = params
    await ws.send_str(msgspec.json.encode(frame).decode())
    while True:
        answer: dict[str, Any] = msgspec.json.decode(await ws.receive_str())
        if answer.get("id") == request_id:
            return answer


def hmac_signed(sim: SimVenue, params: dict[str, Any]) -> dict[str, Any]:
    key, secret = sim.demo_key
    out = {**params, "apiKey": key, "timestamp": int(time.time() * 1000)}
    out["signature"] = sign(secret, ws_payload(out))
    return out


async def test_public_methods_answer_without_a_key(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    public: dict[str, dict[str, Any]] = {
        "ping": {},
        "time": {},
        "exchangeInfo": {"symbol": "ETHUSDT"},
        "depth": {"symbol": "ETHUSDT", "limit": 5},
        "trades.recent": {"symbol": "ETHUSDT", "limit": 5},
        "trades.historical": {"symbol": "ETHUSDT", "limit": 5},
        "trades.aggregate": {"symbol": "ETHUSDT", "limit": 5},
        "klines": {"symbol": "ETHUSDT", "interval": "1m", "limit": 5},
        "uiKlines": {"symbol": "ETHUSDT", "interval": "1m", "limit": 5},
        "avgPrice": {"symbol": "ETHUSDT"},
        "ticker.24hr": {"symbols": ["ETHUSDT"]},
        "ticker.price": {"symbol": "ETHUSDT"},
        "ticker.book": {"symbol": "ETHUSDT"},
    }
    async with http.ws_connect(sim.ws_api_url) as ws:
        for method, params in public.items():
            answer = await call(ws, method, params)
            assert answer["status"] == 200, (method, answer)
            (weight,) = answer["rateLimits"]
            assert weight["rateLimitType"] == "REQUEST_WEIGHT" and weight["count"] > 0
        assert len((await call(ws, "klines", public["klines"]))["result"]) == 5
        quiet = await call(ws, "time", {"returnRateLimits": False})
        assert "rateLimits" not in quiet
    async with http.ws_connect(sim.ws_api_url + "?returnRateLimits=false") as ws:
        assert "rateLimits" not in await call(ws, "ping")
        assert "rateLimits" in await call(ws, "ping", {"returnRateLimits": True})


async def test_session_logon_with_ed25519_and_refused_for_hmac(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    api_key = "EdKey" + "y" * 59
    sim.add_account(api_key, ed25519_public_key_pem=pem.decode())

    def ed_signed(params: dict[str, Any]) -> dict[str, Any]:
        out = {**params, "apiKey": api_key, "timestamp": int(time.time() * 1000)}
        out["signature"] = base64.b64encode(private.sign(ws_payload(out).encode())).decode()
        return out

    async with http.ws_connect(sim.ws_api_url) as ws:
        refused = await call(ws, "session.logon", hmac_signed(sim, {}))
        assert refused["error"] == {
            "code": -1022,
            "msg": "Signature for this request is not valid.",
        }
        status = (await call(ws, "session.status"))["result"]
        assert status["apiKey"] is None and status["authorizedSince"] is None

        logon = await call(ws, "session.logon", ed_signed({}))
        assert logon["status"] == 200 and logon["result"]["apiKey"] == api_key
        assert logon["result"]["authorizedSince"] >= logon["result"]["connectedSince"]
        # Logged on: signed methods need only a timestamp.
        account = await call(ws, "account.status", {"timestamp": int(time.time() * 1000)})
        assert account["status"] == 200 and "balances" in account["result"]
        sub = await call(ws, "userDataStream.subscribe")
        assert sub["result"] == {"subscriptionId": sub["result"]["subscriptionId"]}
        subs = await call(ws, "session.subscriptions")
        assert subs["result"] == [sub["result"]]
        assert (await call(ws, "session.status"))["result"]["userDataStream"] is True
        out = await call(ws, "session.logout")
        assert out["result"]["apiKey"] is None and out["result"]["userDataStream"] is False
        again = await call(ws, "account.status", {"timestamp": int(time.time() * 1000)})
        assert again["status"] == 401 and again["error"]["code"] == -2014


async def test_trading_and_account_methods(sim: SimVenue, http: aiohttp.ClientSession) -> None:
    book = sim.engine.books["ETHUSDT"]
    bid, ask = book.bids.best(), book.asks.best()
    assert bid is not None and ask is not None

    def px(x: Decimal) -> str:
        return str(x.quantize(Decimal("0.01")))

    order = {
        "symbol": "ETHUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.1",
        "price": px(bid * Decimal("0.9")),
    }
    async with http.ws_connect(sim.ws_api_url) as ws:
        test = await call(ws, "order.test", hmac_signed(sim, order))
        assert test["status"] == 200 and test["result"] == {}
        placed = await call(ws, "order.place", hmac_signed(sim, order))
        assert placed["status"] == 200
        kinds = {(r["rateLimitType"], r["interval"]) for r in placed["rateLimits"]}
        assert kinds == {("REQUEST_WEIGHT", "MINUTE"), ("ORDERS", "SECOND"), ("ORDERS", "DAY")}
        replaced = await call(
            ws,
            "order.cancelReplace",
            hmac_signed(
                sim,
                {
                    **order,
                    "price": px(bid * Decimal("0.89")),
                    "cancelReplaceMode": "STOP_ON_FAILURE",
                    "cancelOrderId": placed["result"]["orderId"],
                },
            ),
        )
        assert replaced["status"] == 200
        assert replaced["result"]["cancelResult"] == "SUCCESS"
        failed = await call(
            ws,
            "order.cancelReplace",
            hmac_signed(
                sim,
                {**order, "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrderId": 999999},
            ),
        )
        assert (failed["status"], failed["error"]["code"]) == (400, -2022)
        assert failed["error"]["data"]["newOrderResult"] == "NOT_ATTEMPTED"

        oco = await call(
            ws,
            "orderList.place.oco",
            hmac_signed(
                sim,
                {
                    "symbol": "ETHUSDT",
                    "side": "SELL",
                    "quantity": "0.1",
                    "aboveType": "LIMIT_MAKER",
                    "abovePrice": px(ask * Decimal("1.05")),
                    "belowType": "STOP_LOSS_LIMIT",
                    "belowStopPrice": px(bid * Decimal("0.95")),
                    "belowPrice": px(bid * Decimal("0.94")),
                    "belowTimeInForce": "GTC",
                },
            ),
        )
        assert oco["status"] == 200 and oco["result"]["contingencyType"] == "OCO"
        lists = await call(ws, "openOrderLists.status", hmac_signed(sim, {}))
        assert [x["orderListId"] for x in lists["result"]] == [oco["result"]["orderListId"]]
        status = await call(
            ws,
            "orderList.status",
            hmac_signed(sim, {"orderListId": oco["result"]["orderListId"]}),
        )
        assert status["result"]["listOrderStatus"] == "EXECUTING"
        all_orders = await call(ws, "allOrders", hmac_signed(sim, {"symbol": "ETHUSDT"}))
        assert len(all_orders["result"]) == 4
        trades = await call(ws, "myTrades", hmac_signed(sim, {"symbol": "ETHUSDT"}))
        assert trades["status"] == 200 and trades["result"] == []
        counts = await call(ws, "account.rateLimits.orders", hmac_signed(sim, {}))
        # One order, two cancel-replaces (the failed one counts: rest-api.md), an OCO's two.
        assert [(r["interval"], r["count"]) for r in counts["result"]] == [
            ("SECOND", 5),
            ("DAY", 5),
        ]
        commission = await call(ws, "account.commission", hmac_signed(sim, {"symbol": "ETHUSDT"}))
        assert commission["result"]["standardCommission"]["maker"] == "0.00100000"
        cancel_all = await call(ws, "openOrders.cancelAll", hmac_signed(sim, {"symbol": "ETHUSDT"}))
        assert cancel_all["status"] == 200 and len(cancel_all["result"]) == 2
