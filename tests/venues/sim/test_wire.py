"""The simulated venue on the wire: signatures, errors, control messages, and each fault
as a client sees it."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from omnitrade_tui.venues.sim.auth import rest_payload, ws_payload
from omnitrade_tui.venues.sim.venue import Faults, SimVenue


def control(sim: SimVenue) -> dict[str, str]:
    """The header fault injection needs (the token the venue made at start)."""
    return {"Authorization": f"Bearer {sim.faults_token}"}


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


async def signed(
    http: aiohttp.ClientSession,
    sim: SimVenue,
    method: str,
    path: str,
    params: dict[str, Any],
    key: tuple[str, str] | None = None,
) -> tuple[int, Any, Any]:
    api_key, secret = key or sim.demo_key
    query = urlencode({**params, "timestamp": int(time.time() * 1000)})
    query += "&signature=" + sign(secret, query)
    async with http.request(
        method, f"{sim.rest_url}/v3/{path}?{query}", headers={"X-MBX-APIKEY": api_key}
    ) as resp:
        return resp.status, await resp.json(), resp.headers


def test_signature_vectors_from_the_reference() -> None:
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
    body = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    assert sign(secret, rest_payload(query, body)) == (
        "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
    )
    payload = rest_payload(query + "&" + body + "&signature=abc", "")
    assert sign(secret, payload) == (
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )
    params = {
        "apiKey": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
        "price": "52000.00",
        "quantity": "0.01000000",
        "recvWindow": 100,
        "side": "SELL",
        "symbol": "BTCUSDT",
        "timeInForce": "GTC",
        "timestamp": 1645423376532,
        "type": "LIMIT",
        "signature": "ignored",
    }
    assert sign(secret, ws_payload(params)) == (
        "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
    )


async def test_signed_request_errors(sim: SimVenue, http: aiohttp.ClientSession) -> None:
    status, body, headers = await signed(http, sim, "GET", "account", {})
    assert status == 200 and body["canTrade"] is True
    assert int(headers["X-MBX-USED-WEIGHT-1M"]) >= 20
    status, body, _ = await signed(http, sim, "GET", "account", {}, key=(sim.demo_key[0], "x" * 64))
    assert (status, body["code"]) == (400, -1022)
    status, body, _ = await signed(http, sim, "GET", "account", {}, key=("A" * 64, "x" * 64))
    assert (status, body["code"]) == (401, -2015)
    status, body, _ = await signed(http, sim, "GET", "account", {}, key=("bad key!", "x"))
    assert (status, body["code"]) == (401, -2014)
    sim.clock_offset_ms = 10_000  # the venue's clock runs ahead: our timestamp is stale
    status, body, _ = await signed(http, sim, "GET", "account", {})
    sim.clock_offset_ms = 0
    assert (status, body["code"]) == (400, -1021)


async def test_ed25519_keys(sim: SimVenue, http: aiohttp.ClientSession) -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    sim.add_account("EdKey" + "x" * 59, ed25519_public_key_pem=pem.decode())
    query = urlencode({"timestamp": sim.now_ms()})
    signature = base64.b64encode(private.sign(query.encode())).decode()
    query += "&" + urlencode({"signature": signature})
    async with http.get(
        f"{sim.rest_url}/v3/account?{query}", headers={"X-MBX-APIKEY": "EdKey" + "x" * 59}
    ) as resp:
        assert resp.status == 200, await resp.text()


async def test_malformed_parameters(sim: SimVenue, http: aiohttp.ClientSession) -> None:
    cases = [
        ({"symbol": "NOPE", "side": "BUY", "type": "MARKET", "quantity": "1"}, -1121),
        ({"symbol": "ETHUSDT", "side": "UP", "type": "MARKET", "quantity": "1"}, -1117),
        ({"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "1e3"}, -1100),
        ({"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1"}, -1102),
        ({"symbol": "ETHUSDT", "side": "BUY", "type": "SOON", "quantity": "1"}, -1116),
    ]
    for params, code in cases:
        status, body, _ = await signed(http, sim, "POST", "order", params)
        assert (status, body["code"]) == (400, code), params
        assert isinstance(body["msg"], str) and body["msg"]
    async with http.get(f"{sim.rest_url}/v3/klines?symbol=ETHUSDT&interval=7m") as resp:
        assert (await resp.json())["code"] == -1120


async def test_rate_limit_429_then_418(http: aiohttp.ClientSession) -> None:
    async with SimVenue.start(symbols=["ETHUSDT"], generate=False) as sim:
        sim.weight_limit = 30
        statuses = []
        for _ in range(25):
            async with http.get(f"{sim.rest_url}/v3/exchangeInfo") as resp:
                statuses.append(resp.status)
                if resp.status in (429, 418):
                    assert int(resp.headers["Retry-After"]) > 0
        assert statuses[0] == 200 and 429 in statuses and statuses[-1] == 418


async def test_retry_after_strikes_reset_once_waited_out(http: aiohttp.ClientSession) -> None:
    # A client told to wait that does wait is never banned, however many 429s it gets
    # over a session; one that keeps sending inside the Retry-After is, and the venue
    # records each such request for the connector's checks.
    async with SimVenue.start(symbols=["ETHUSDT"], generate=False) as sim:
        sim.faults.retry_after_s = 1
        for _ in range(4):
            sim.faults.throttle = 1
            async with http.get(f"{sim.rest_url}/v3/ping") as resp:
                assert resp.status == 429 and resp.headers["Retry-After"] == "1"
            async with http.get(f"{sim.rest_url}/v3/ping") as resp:  # one strike
                assert resp.status == 200
            await asyncio.sleep(1.05)
            async with http.get(f"{sim.rest_url}/v3/ping") as resp:  # waited: strikes cleared
                assert resp.status == 200
        assert sim.ignored_retry_after_total == 4
        assert all(r.request == "GET /api/v3/ping" for r in sim.ignored_retry_after)
        sim.faults.throttle = 1
        statuses = []
        for _ in range(4):
            async with http.get(f"{sim.rest_url}/v3/ping") as resp:
                statuses.append(resp.status)
        assert statuses == [429, 200, 200, 418]


async def test_weight_is_counted_in_the_venues_clock_minute(http: aiohttp.ClientSession) -> None:
    # The client reads the minute from the venue's serverTime: a skewed venue clock moves
    # the minute its weight resets at, and the Retry-After that says when.
    async with SimVenue.start(symbols=["ETHUSDT"], generate=False) as sim:
        sim.weight_limit = 3
        now = time.time()
        sim.clock_offset_ms = int((60 - now % 60 - 20) * 1000)  # venue minute ends in ~20 s
        for _ in range(3):
            async with http.get(f"{sim.rest_url}/v3/ping") as resp:
                assert resp.status == 200
        async with http.get(f"{sim.rest_url}/v3/ping") as resp:
            assert resp.status == 429
            assert 18 <= int(resp.headers["Retry-After"]) <= 21


async def test_stream_control_messages(sim: SimVenue, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(f"{sim.stream_url}ws/0") as ws:
        await ws.send_str('{"method":"SUBSCRIBE","params":["ethusdt@bookTicker"],"id":1}')
        await ws.send_str('{"method":"LIST_SUBSCRIPTIONS","id":2}')
        await ws.send_str('{"method":"GET_PROPERTY","params":["combined"],"id":3}')
        await ws.send_str("not json")
        replies: dict[Any, Any] = {}
        while len(replies) < 4:
            msg = msgspec.json.decode(await ws.receive_str())
            if "id" in msg or "code" in msg:
                replies[msg.get("id", "bad")] = msg
        assert replies[1] == {"result": None, "id": 1}
        assert replies[2]["result"] == ["ethusdt@bookTicker"]
        assert replies[3]["result"] is False
        assert replies["bad"]["code"] == 3
    async with http.ws_connect(f"{sim.stream_url}ws/0") as ws:
        for i in range(8):  # over the 5 messages per second limit
            await ws.send_str(f'{{"method":"LIST_SUBSCRIPTIONS","id":{i}}}')
        closed = False
        for _ in range(20):
            msg = await ws.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                closed = True
                break
        assert closed


async def depth_frames(
    http: aiohttp.ClientSession, sim: SimVenue, seconds: float
) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    async with http.ws_connect(f"{sim.stream_url}stream?streams=ethusdt@depth@100ms") as ws:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                msg = await asyncio.wait_for(ws.receive(), 0.5)
            except TimeoutError:
                continue
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            frames.append(msgspec.json.decode(msg.data)["data"])
    return frames


async def test_depth_sequence_is_gap_free(sim: SimVenue, http: aiohttp.ClientSession) -> None:
    frames = await depth_frames(http, sim, 2.0)
    assert len(frames) >= 10
    assert all(b["U"] == a["u"] + 1 for a, b in itertools.pairwise(frames))


async def test_fault_gap_makes_a_sequence_gap(http: aiohttp.ClientSession) -> None:
    async with SimVenue.start(symbols=["ETHUSDT"], faults=Faults(gap_every_s=0.5)) as sim:
        frames = await depth_frames(http, sim, 2.0)
    gaps = [b["U"] - a["u"] - 1 for a, b in itertools.pairwise(frames)]
    assert any(g > 0 for g in gaps), gaps


async def test_fault_close_drops_stream_connections(http: aiohttp.ClientSession) -> None:
    faults = Faults(close_every_s=0.5)
    async with (
        SimVenue.start(symbols=["ETHUSDT"], faults=faults) as sim,
        http.ws_connect(f"{sim.stream_url}ws/ethusdt@bookTicker") as ws,
    ):
        kinds = []
        for _ in range(200):
            msg = await asyncio.wait_for(ws.receive(), 3)
            kinds.append(msg.type)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
    assert kinds[-1] in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_fault_stall_goes_silent_without_closing(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    arrivals: list[float] = []
    async with http.ws_connect(f"{sim.stream_url}ws/ethusdt@depth@100ms") as ws:

        async def read() -> None:
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    arrivals.append(time.monotonic())

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.5)
        stalled_at = time.monotonic()
        async with http.post(
            f"http://{sim.host}:{sim.port}/sim/faults", headers=control(sim), json={"stall_s": 1.5}
        ):
            pass
        await asyncio.sleep(2.5)
        assert not ws.closed
        reader.cancel()
    during = [t for t in arrivals if stalled_at + 0.3 < t < stalled_at + 1.4]
    after = [t for t in arrivals if t > stalled_at + 1.6]
    assert arrivals and not during and after


async def test_fault_5xx_after_accept_leaves_a_real_order(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        f"http://{sim.host}:{sim.port}/sim/faults", headers=control(sim), json={"fail_orders": 1}
    ):
        pass
    params = {
        "symbol": "ETHUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01",
        "price": "2000",
        "newClientOrderId": "unknown-outcome-1",
    }
    status, body, _ = await signed(http, sim, "POST", "order", params)
    assert (status, body["code"]) == (503, -1007)
    # The client's fix: ask by client order id instead of sending again.
    status, body, _ = await signed(
        http, sim, "GET", "order", {"symbol": "ETHUSDT", "origClientOrderId": "unknown-outcome-1"}
    )
    assert status == 200 and body["status"] == "NEW" and Decimal(body["price"]) == 2000


async def test_fault_429_burst(sim: SimVenue, http: aiohttp.ClientSession) -> None:
    async with http.post(
        f"http://{sim.host}:{sim.port}/sim/faults", headers=control(sim), json={"throttle": 2}
    ):
        pass
    statuses = []
    for _ in range(3):
        async with http.get(f"{sim.rest_url}/v3/ping") as resp:
            statuses.append(resp.status)
    assert statuses == [429, 429, 200]


async def test_fault_server_shutdown_event(sim: SimVenue, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(f"{sim.stream_url}stream?streams=ethusdt@trade") as ws:
        async with http.post(
            f"http://{sim.host}:{sim.port}/sim/shutdown-notice", headers=control(sim)
        ):
            pass
        while True:
            msg = msgspec.json.decode(await asyncio.wait_for(ws.receive_str(), 3))
            if msg.get("stream") == "!serverShutdown":
                assert msg["data"]["e"] == "serverShutdown"
                break


async def test_fault_connection_lifetime(http: aiohttp.ClientSession) -> None:
    faults = Faults(max_connection_s=0.5)
    async with (
        SimVenue.start(symbols=["ETHUSDT"], faults=faults) as sim,
        http.ws_connect(f"{sim.stream_url}ws/ethusdt@bookTicker") as ws,
    ):
        start = time.monotonic()
        while True:
            msg = await asyncio.wait_for(ws.receive(), 3)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
        assert 0.4 < time.monotonic() - start < 3


async def test_bad_json_on_the_websocket_api(sim: SimVenue, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_api_url) as ws:
        await ws.send_str("{nope")
        reply = msgspec.json.decode(await ws.receive_str())
        assert reply["status"] == 400
        await ws.send_str('{"id":7,"method":"time"}')
        reply = msgspec.json.decode(await ws.receive_str())
        assert reply["id"] == 7 and reply["status"] == 200 and reply["result"]["serverTime"] > 0


async def test_oco_and_cancel_replace_over_rest(sim: SimVenue, http: aiohttp.ClientSession) -> None:
    book = sim.engine.books["ETHUSDT"]
    bid, ask = book.bids.best(), book.asks.best()
    assert bid is not None and ask is not None
    above = str((ask * Decimal("1.05")).quantize(Decimal("0.01")))
    stop = str((bid * Decimal("0.95")).quantize(Decimal("0.01")))
    limit = str((bid * Decimal("0.94")).quantize(Decimal("0.01")))
    status, body, _ = await signed(
        http,
        sim,
        "POST",
        "orderList/oco",
        {
            "symbol": "ETHUSDT",
            "side": "SELL",
            "quantity": "0.1",
            "aboveType": "LIMIT_MAKER",
            "abovePrice": above,
            "belowType": "STOP_LOSS_LIMIT",
            "belowStopPrice": stop,
            "belowPrice": limit,
            "belowTimeInForce": "GTC",
        },
    )
    assert status == 200, body
    assert body["contingencyType"] == "OCO" and len(body["orders"]) == 2
    leg_ids = {o["orderId"] for o in body["orders"]}
    status, body, _ = await signed(http, sim, "GET", "openOrders", {"symbol": "ETHUSDT"})
    assert {o["orderId"] for o in body} == leg_ids
    # Cancelling one leg cancels the list.
    status, body, _ = await signed(
        http, sim, "DELETE", "order", {"symbol": "ETHUSDT", "orderId": min(leg_ids)}
    )
    # Answered as the list (Binance: cancelling a leg cancels the entire order list).
    assert status == 200 and body["listStatusType"] == "ALL_DONE"
    assert [r["status"] for r in body["orderReports"]] == ["CANCELED", "CANCELED"]
    status, body, _ = await signed(http, sim, "GET", "openOrders", {"symbol": "ETHUSDT"})
    assert body == []

    low = str((bid * Decimal("0.9")).quantize(Decimal("0.01")))
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
    assert status == 200
    lower = str((bid * Decimal("0.89")).quantize(Decimal("0.01")))
    status, body, _ = await signed(
        http,
        sim,
        "POST",
        "order/cancelReplace",
        {
            "symbol": "ETHUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.2",
            "price": lower,
            "cancelReplaceMode": "STOP_ON_FAILURE",
            "cancelOrderId": placed["orderId"],
        },
    )
    assert status == 200, body
    assert body["cancelResult"] == "SUCCESS" and body["newOrderResult"] == "SUCCESS"
    assert body["cancelResponse"]["status"] == "CANCELED"
    assert Decimal(body["newOrderResponse"]["origQty"]) == Decimal("0.2")
    status, body, _ = await signed(
        http,
        sim,
        "POST",
        "order/cancelReplace",
        {
            "symbol": "ETHUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.2",
            "price": lower,
            "cancelReplaceMode": "STOP_ON_FAILURE",
            "cancelOrderId": placed["orderId"],
        },
    )
    assert (status, body["code"]) == (400, -2022)
    assert body["data"] == {
        "cancelResult": "FAILURE",
        "newOrderResult": "NOT_ATTEMPTED",
        "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
        "newOrderResponse": None,
    }


async def test_fault_delay_holds_frames_back_in_order(http: aiohttp.ClientSession) -> None:
    lags: list[float] = []
    ids: list[tuple[int, int]] = []
    faults = Faults(delay_ms=400)
    async with (
        SimVenue.start(symbols=["ETHUSDT"], faults=faults) as sim,
        http.ws_connect(f"{sim.stream_url}ws/ethusdt@depth@100ms") as ws,
    ):
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            msg = await ws.receive()
            frame = msgspec.json.decode(msg.data)
            lags.append(time.time() * 1000 - frame["E"])
            ids.append((frame["U"], frame["u"]))
    assert len(lags) >= 10
    assert min(lags) >= 350  # every frame arrives about 400 ms after its event time
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(ids))  # late but in order
