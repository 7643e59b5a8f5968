"""Property-based fuzzing of the simulated venue (issue 16's acceptance): every REST endpoint
and WebSocket-API method, with generated parameters, headers and bodies, signed right,
wrong or not at all. Whatever comes in, the venue answers below 500, every refusal is a
Binance error body (``{"code": <negative int>, "msg": <text>}``), and afterwards the market
still flows.

The venue runs in this process, on an event loop of its own in a thread, so Hypothesis'
synchronous examples can each send a batch of requests (concurrently, on one HTTP session
and one WebSocket-API connection) and check the answers. One run sends more than 5,000
requests (the count is asserted; the time is for benchmarks, not asserted here).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import threading
from collections import Counter
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import msgspec
import pytest
import yarl
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnitrade_tui.domain.enums import OrderType, SelfTradePreventionMode
from omnitrade_tui.venues.sim import rest as rest_api
from omnitrade_tui.venues.sim import ws_api
from omnitrade_tui.venues.sim.auth import ws_payload
from omnitrade_tui.venues.sim.names import KLINE_INTERVALS
from omnitrade_tui.venues.sim.symbols import START_PRICES
from omnitrade_tui.venues.sim.venue import SimVenue

T = TypeVar("T")
SYMBOLS = ["BTCUSDT", "ETHUSDT"]
BATCH = 60
EXAMPLES = 100  # x BATCH requests = 6,000 a run
#: Every method the WebSocket API serves (read from its table, so a new one is fuzzed too),
#: a REST-style name and one it does not know.
WS_METHODS = [*sorted(ws_api.METHODS), "v3/time", "no.such.method"]
_WS_SIGNED = {
    m
    for m in WS_METHODS
    if m.startswith(("order", "openOrder", "account", "user", "all", "my", "session.logon"))
}

# -- values -----------------------------------------------------------------------------------

HOSTILE = st.one_of(
    st.text(max_size=24),
    st.sampled_from(
        [
            "",
            "nan",
            "NaN",
            "inf",
            "-1",
            "0",
            "1e400",
            "1e3",
            "99999999999999999999999",
            "٣",
            "１２",
            " 1",
            "1_000",
            "0x10",
            "null",
            "true",
            "[",
            '["ETHUSDT"',
            '[["ETHUSDT"]]',
            "[1]",
            "{}",
            "[" * 300 + "]" * 300,
            "é" * 40,
            "\x00",
        ]
    ),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)


def price_of(symbol: str) -> st.SearchStrategy[str]:
    """A price near the symbol's market (so orders pass the filters and trade)."""
    base = START_PRICES.get(symbol, Decimal(2650))
    return st.integers(min_value=80, max_value=120).map(lambda pct: f"{base * pct / 100:.2f}")


GOOD: dict[str, st.SearchStrategy[str]] = {
    "symbol": st.sampled_from([*SYMBOLS, "ethusdt", "NOPE"]),
    "side": st.sampled_from(["BUY", "SELL"]),
    "type": st.sampled_from([str(t) for t in OrderType]),
    "timeInForce": st.sampled_from(["GTC", "IOC", "FOK"]),
    "quantity": st.sampled_from(["0.001", "0.01", "0.05", "0.1", "1"]),
    "quoteOrderQty": st.sampled_from(["10", "50", "200"]),
    "price": price_of("ETHUSDT"),
    "stopPrice": price_of("ETHUSDT"),
    "newClientOrderId": st.text(alphabet="abcdefghij-_0123", min_size=1, max_size=40),
    "origClientOrderId": st.text(alphabet="abcdefghij-_0123", min_size=1, max_size=12),
    "newOrderRespType": st.sampled_from(["ACK", "RESULT", "FULL"]),
    "selfTradePreventionMode": st.sampled_from([str(m) for m in SelfTradePreventionMode]),
    "orderId": st.integers(min_value=0, max_value=400).map(str),
    "limit": st.sampled_from(["1", "5", "100", "500", "1000", "5000", "5001", "0"]),
    "interval": st.sampled_from([*KLINE_INTERVALS, "7m", "1w"]),
    "startTime": st.integers(min_value=0, max_value=2**42).map(str),
    "endTime": st.integers(min_value=0, max_value=2**42).map(str),
    "fromId": st.integers(min_value=0, max_value=10**6).map(str),
    "symbols": st.sampled_from(['["ETHUSDT"]', '["ETHUSDT","BTCUSDT"]', '["NOPE"]', "[]"]),
    "recvWindow": st.sampled_from(["5000", "1", "60000", "60001", "0.5", "5000.125"]),
    "cancelReplaceMode": st.sampled_from(["STOP_ON_FAILURE", "ALLOW_FAILURE"]),
    "cancelOrderId": st.integers(min_value=0, max_value=400).map(str),
    "aboveType": st.sampled_from(["LIMIT_MAKER", "TAKE_PROFIT", "STOP_LOSS_LIMIT"]),
    "belowType": st.sampled_from(["STOP_LOSS", "STOP_LOSS_LIMIT", "LIMIT_MAKER"]),
    "abovePrice": price_of("ETHUSDT"),
    "belowPrice": price_of("ETHUSDT"),
    "aboveStopPrice": price_of("ETHUSDT"),
    "belowStopPrice": price_of("ETHUSDT"),
    "belowTimeInForce": st.sampled_from(["GTC", "IOC"]),
    "omitZeroBalances": st.sampled_from(["true", "false"]),
    "subscriptionId": st.integers(min_value=0, max_value=5).map(str),
}
NAMES = sorted(GOOD)


def value(name: str) -> st.SearchStrategy[str]:
    """Mostly a well-formed value for ``name``, sometimes a hostile one."""
    good = GOOD.get(name)
    return HOSTILE if good is None else st.one_of(good, good, good, HOSTILE)


@st.composite
def parameters(draw: st.DrawFn) -> dict[str, str]:
    """Parameters for any endpoint: a plausible order half the time, then random ones."""
    params: dict[str, str] = {}
    if draw(st.booleans()):
        symbol = draw(st.sampled_from(SYMBOLS))
        order_type = draw(st.sampled_from(["LIMIT", "MARKET", "LIMIT_MAKER", "STOP_LOSS_LIMIT"]))
        params.update(symbol=symbol, side=draw(GOOD["side"]), type=order_type)
        params["quantity"] = draw(GOOD["quantity"])
        if order_type != "MARKET":
            params["price"] = draw(price_of(symbol))
        if order_type in ("LIMIT", "STOP_LOSS_LIMIT"):
            params["timeInForce"] = draw(GOOD["timeInForce"])
        if order_type == "STOP_LOSS_LIMIT":
            params["stopPrice"] = draw(price_of(symbol))
    elif draw(st.integers(0, 4)):
        params["symbol"] = draw(value("symbol"))
    extra = draw(st.lists(st.sampled_from(NAMES), max_size=6, unique=True))
    for name in extra:
        params[name] = draw(value(name))
    for name in draw(st.lists(st.text(min_size=1, max_size=8), max_size=2)):
        params.setdefault(name, draw(HOSTILE))
    return params


# -- requests ---------------------------------------------------------------------------------


@dataclass
class RestRequest:
    """One REST request as sent: method, path, raw query, raw body, headers."""

    method: str
    path: str
    query: str
    body: bytes | None
    headers: dict[str, str] = field(default_factory=dict)


def encode(params: dict[str, str]) -> str:
    """Percent-encode as clients do (everything but unreserved characters)."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())


HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


@st.composite
def rest_request(draw: st.DrawFn, routes: list[tuple[str, str]], key: tuple[str, str]) -> Any:
    method, path = draw(st.sampled_from(routes))
    if draw(st.integers(0, 30)) == 0:
        path = "/api/v3/" + quote(draw(st.text(max_size=12)), safe="")
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]))
    params = parameters_for(draw)
    signing = draw(st.sampled_from(["right", "right", "right", "wrong", "none"]))
    if signing != "none":
        params.setdefault("timestamp", "{now}")  # filled in when the batch is sent
    in_body = method in ("POST", "DELETE") and draw(st.booleans())
    query = "" if in_body else encode(params)
    body_text = encode(params) if in_body else ""
    if draw(st.integers(0, 12)) == 0:  # a raw escape no decoder likes
        query += draw(st.sampled_from(["&x=%zz", "&%", "&y=%ff%fe", "&&&", "&=1"]))
    body: bytes | None = body_text.encode() if body_text else None
    if method != "GET" and draw(st.integers(0, 12)) == 0:
        body = draw(st.binary(max_size=200))
    headers: dict[str, str] = {}
    api_key = draw(st.sampled_from([key[0], key[0], key[0], "", "x" * 16, "short"]))
    if api_key or draw(st.booleans()):
        headers["X-MBX-APIKEY"] = api_key if draw(st.integers(0, 8)) else draw(HEADER_TEXT)
    if body is not None:
        headers["Content-Type"] = draw(
            st.sampled_from(
                ["application/x-www-form-urlencoded"] * 4 + ["application/json", "text/plain"]
            )
        )
    if draw(st.integers(0, 6)) == 0:
        headers[draw(st.sampled_from(["X-Junk", "Accept", "X-MBX-TIME-UNIT"]))] = draw(HEADER_TEXT)
    return RestRequest(method, path, query, body, headers), signing


def parameters_for(draw: st.DrawFn) -> dict[str, str]:
    return draw(parameters())


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def ws_frame(draw: st.DrawFn) -> tuple[str, Any, str]:
    """A WebSocket-API frame: (kind, payload, signing) with kind 'request' or 'raw'."""
    roll = draw(st.integers(0, 19))
    if roll == 0:
        return "raw", draw(st.text(max_size=60)), "none"
    if roll == 1:
        return "raw", msgspec.json.encode(draw(JSON)).decode(), "none"
    if roll == 2:
        depth = draw(st.integers(100, 3000))
        return (
            "raw",
            '{"id":1,"method":"ping","params":{"a":' + "[" * depth + "]" * depth + "}}",
            "none",
        )
    method = draw(st.sampled_from(WS_METHODS))
    params: dict[str, Any] = dict(parameters_for(draw))
    if draw(st.integers(0, 5)) == 0:  # JSON values of other types
        params[draw(st.sampled_from(NAMES))] = draw(JSON)
    request: dict[str, Any] = {
        "id": draw(st.integers(0, 2**40) | st.text(max_size=10)),
        "method": method,
    }
    if bool(params) or draw(st.booleans()):
        request["params"] = params
    signing = "none"
    if method in _WS_SIGNED:
        signing = draw(st.sampled_from(["right", "right", "wrong", "none"]))
    return "request", request, signing


# -- the venue in a thread --------------------------------------------------------------------


class Harness:
    """A venue, an HTTP session and a WebSocket-API connection on a loop in a thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._stack = contextlib.AsyncExitStack()
        self.sent = Counter[str]()
        self.statuses = Counter[int]()
        self.run(self._open())

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _open(self) -> None:
        stack = self._stack
        self.sim = await stack.enter_async_context(SimVenue.start(symbols=SYMBOLS, seed=11))
        self.sim.weight_limit = 10**12  # rate limits are tested elsewhere; here, parsing
        self.sim.orders_per_10s = 10**9
        connector = aiohttp.TCPConnector(limit=16)
        self.http = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))
        self.ws = await stack.enter_async_context(
            self.http.ws_connect(self.sim.ws_api_url, max_msg_size=0)
        )
        app = web.Application()
        rest_api.add_routes(app)  # every REST endpoint the venue serves, read from its table
        self.routes = sorted(
            {
                (r.method, r.resource.canonical)
                for r in app.router.routes()
                if r.resource is not None and r.method != "HEAD"
            }
        )

    def close(self) -> None:
        self.run(self._stack.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    # -- sending ----------------------------------------------------------------------------

    def sign_rest(self, req: RestRequest, signing: str) -> RestRequest:
        now = str(self.sim.now_ms())
        req.query = req.query.replace("%7Bnow%7D", now)
        if req.body is not None:
            req.body = req.body.replace(b"%7Bnow%7D", now.encode())
        if signing == "none":
            return req
        payload = req.query + (req.body.decode("utf-8", "replace") if req.body else "")
        signature = hmac.new(
            self.sim.demo_key[1].encode(), payload.encode(), hashlib.sha256
        ).hexdigest()
        if signing == "wrong":
            signature = signature[::-1]
        req.query = f"{req.query}&signature={signature}" if req.query else f"signature={signature}"
        return req

    async def rest(self, req: RestRequest) -> None:
        url = yarl.URL(
            f"http://{self.sim.host}:{self.sim.port}{req.path}"
            + (f"?{req.query}" if req.query else ""),
            encoded=True,
        )
        async with self.http.request(req.method, url, data=req.body, headers=req.headers) as resp:
            raw = await resp.read()
            self.sent[f"{req.method} {req.path}"] += 1
            self.statuses[resp.status] += 1
            assert resp.status < 500, (req, resp.status, raw[:300])
            assert resp.content_type == "application/json", (req, resp.status, raw[:300])
            body = msgspec.json.decode(raw)
            if resp.status >= 400:
                assert_error_shape(body, req)

    def ws_text(self, kind: str, payload: Any, signing: str) -> str:
        if kind == "raw":
            return str(payload)
        params = payload.get("params")
        if signing != "none" and isinstance(params, dict):
            params["apiKey"] = self.sim.demo_key[0]
            params["timestamp"] = self.sim.now_ms()
            signature = hmac.new(
                self.sim.demo_key[1].encode(), ws_payload(params).encode(), hashlib.sha256
            ).hexdigest()
            params["signature"] = signature if signing == "right" else signature[::-1]
        return msgspec.json.encode(payload).decode()

    async def ws_batch(self, frames: list[str]) -> None:
        for text in frames:
            await self.ws.send_str(text)
        answered = 0
        while answered < len(frames):
            msg = await asyncio.wait_for(self.ws.receive(), 20)
            assert msg.type is aiohttp.WSMsgType.TEXT, (msg, frames[answered][:200])
            reply = msgspec.json.decode(msg.data)
            if "subscriptionId" in reply and "event" in reply:
                continue  # a user-data event of a subscription the fuzz made
            self.statuses[reply["status"]] += 1
            assert reply["status"] < 500, (frames[answered][:300], reply)
            if reply["status"] != 200:
                assert_error_shape(reply["error"], frames[answered][:300])
            answered += 1
        self.sent["ws-api"] += len(frames)

    async def batch(self, rest: list[RestRequest], frames: list[str]) -> None:
        await asyncio.gather(self.ws_batch(frames), *(self.rest(r) for r in rest))


def assert_error_shape(body: Any, context: Any) -> None:
    """Binance's error body: exactly a negative integer code and a message."""
    assert isinstance(body, dict) and set(body) == {"code", "msg"}, (context, body)
    assert isinstance(body["code"], int) and body["code"] < 0, (context, body)
    assert isinstance(body["msg"], str) and body["msg"], (context, body)


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    h = Harness()
    try:
        yield h
    finally:
        h.close()


# -- the fuzz ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_fuzz_every_endpoint_and_method(harness: Harness) -> None:
    routes = harness.routes
    key = harness.sim.demo_key

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        st.lists(rest_request(routes, key), min_size=BATCH // 2, max_size=BATCH // 2),
        st.lists(ws_frame(), min_size=BATCH // 2, max_size=BATCH // 2),
    )
    def batch(rest: list[tuple[RestRequest, str]], frames: list[tuple[str, Any, str]]) -> None:
        signed = [harness.sign_rest(r, signing) for r, signing in rest]
        texts = [harness.ws_text(*f) for f in frames]
        harness.run(harness.batch(signed, texts))

    batch()
    total = sum(harness.sent.values())
    assert total >= 5000, harness.sent
    missing = [f"{m} {p}" for m, p in routes if not harness.sent[f"{m} {p}"]]
    assert not missing, f"endpoints never fuzzed: {missing}"
    assert harness.statuses[200] > 500, harness.statuses  # much of it got through the checks
    harness.run(_market_still_flows(harness))


async def _market_still_flows(harness: Harness) -> None:
    sim = harness.sim
    streams = "ethusdt@depth@100ms/ethusdt@trade/btcusdt@bookTicker"
    seen: set[str] = set()
    async with harness.http.ws_connect(f"{sim.stream_url}stream?streams={streams}") as ws:
        while len(seen) < 3:
            frame = msgspec.json.decode((await asyncio.wait_for(ws.receive(), 15)).data)
            seen.add(frame["stream"])
    async with harness.http.get(f"{sim.rest_url}/v3/depth?symbol=ETHUSDT&limit=5") as resp:
        book = await resp.json()
        assert resp.status == 200 and book["bids"] and book["asks"]
