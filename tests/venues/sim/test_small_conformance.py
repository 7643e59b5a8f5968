"""The smaller points of issue 19 against ``rest-api.md`` and ``web-socket-streams.md``:
the pong wait, -1015's Retry-After, aggregate trades, depth truncation, the MINI ticker
and its weight, rolling-window and trading-day tickers, test orders' commission rates,
avgPrice's closeTime."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal as D
from typing import Any

import aiohttp
import pytest

from omnitrade_tui.domain import OrderRequest, OrderType, Side, TimeInForce
from omnitrade_tui.venues.sim import sockets
from omnitrade_tui.venues.sim.accounts import Account
from omnitrade_tui.venues.sim.venue import SimVenue
from tests.venues.sim.test_wire import signed

DAY_MS = 86_400_000


@pytest.fixture
async def quiet() -> AsyncIterator[SimVenue]:
    """A venue with no generated market: its book and trades are the test's own."""
    async with SimVenue.start(symbols=["ETHUSDT"], generate=False) as venue:
        yield venue


async def get(http: aiohttp.ClientSession, sim: SimVenue, path: str, **params: Any) -> Any:
    async with http.get(f"{sim.rest_url}/v3/{path}", params=params) as resp:
        return resp.status, await resp.json(), resp.headers


async def test_a_client_has_a_minute_to_answer_a_ping(
    monkeypatch: pytest.MonkeyPatch, http: aiohttp.ClientSession
) -> None:
    # The documents' 20 s and one minute, scaled down a hundredfold.
    monkeypatch.setattr(sockets, "PING_EVERY_S", 0.2)
    monkeypatch.setattr(sockets, "PONG_WAIT_S", 0.6)
    async with SimVenue.start(symbols=["ETHUSDT"], generate=False) as sim:
        started = time.monotonic()
        async with http.ws_connect(f"{sim.stream_url}ws/ethusdt@trade", autoping=False) as ws:
            async for msg in ws:  # pings arrive; never answered
                assert msg.type is aiohttp.WSMsgType.PING
        lasted = time.monotonic() - started
    # Dropped after the first ping's wait (0.2 + 0.6 s), not half a ping period later.
    assert 0.7 <= lasted < 3, lasted


async def test_too_many_orders_says_when_to_retry(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    sim.orders_per_10s = 2
    bid = sim.engine.books["ETHUSDT"].bids.best()
    assert bid is not None
    order = {
        "symbol": "ETHUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.1",
        "price": str((bid * D("0.9")).quantize(D("0.01"))),
    }
    for _ in range(2):
        assert (await signed(http, sim, "POST", "order", order))[0] == 200
    status, body, headers = await signed(http, sim, "POST", "order", order)
    assert (status, body["code"]) == (429, -1015)
    assert 1 <= int(headers["Retry-After"]) <= 10


async def test_trades_of_one_taker_at_one_price_aggregate(
    quiet: SimVenue, http: aiohttp.ClientSession
) -> None:
    engine = quiet.engine
    maker = engine.add_account(Account(900))
    taker = engine.add_account(Account(901))
    maker.deposit("ETH", D(10))
    taker.deposit("USDT", D(100_000))

    def sell(price: str) -> OrderRequest:
        return OrderRequest(
            symbol="ETHUSDT",
            side=Side.SELL,
            type=OrderType.LIMIT,
            price=D(price),
            quantity=D(1),
            time_in_force=TimeInForce.GTC,
        )

    for price in ("2000", "2000", "2000", "2001"):
        engine.place(maker, sell(price))
    engine.place(
        taker,
        OrderRequest(symbol="ETHUSDT", side=Side.BUY, type=OrderType.MARKET, quantity=D(4)),
    )
    status, rows, _ = await get(http, quiet, "aggTrades", symbol="ETHUSDT")
    assert status == 200 and len(rows) == 2  # four trades: three at 2000, one at 2001
    first, second = rows
    assert (first["p"], first["q"], first["l"] - first["f"]) == ("2000.00000000", "3.00000000", 2)
    assert (second["f"], second["l"], second["a"]) == (first["l"] + 1, first["l"] + 1, 2)
    status, closed, _ = await get(http, quiet, "avgPrice", symbol="ETHUSDT")
    assert closed["closeTime"] == quiet.markets["ETHUSDT"].trades[-1].time_ms


async def test_depth_over_5000_is_truncated(sim: SimVenue, http: aiohttp.ClientSession) -> None:
    status, body, headers = await get(http, sim, "depth", symbol="ETHUSDT", limit=6000)
    assert status == 200 and len(body["bids"]) <= 5000
    assert headers["X-MBX-USED-WEIGHT-1M"] == "250"


async def test_ticker_shapes_and_weights(sim: SimVenue, http: aiohttp.ClientSession) -> None:
    mini_keys = {
        "symbol",
        "openPrice",
        "highPrice",
        "lowPrice",
        "lastPrice",
        "volume",
        "quoteVolume",
        "openTime",
        "closeTime",
        "firstId",
        "lastId",
        "count",
    }
    status, mini, headers = await get(http, sim, "ticker/24hr", symbols='["ETHUSDT"]', type="MINI")
    assert status == 200 and set(mini[0]) == mini_keys
    assert headers["X-MBX-USED-WEIGHT-1M"] == "2"  # symbols=: 2 for up to 20
    status, window, headers = await get(http, sim, "ticker", symbol="ETHUSDT", windowSize="15m")
    assert status == 200 and window["openTime"] % 60_000 == 0
    assert 0 <= window["closeTime"] - window["openTime"] - 15 * 60_000 < 60_000
    assert "prevClosePrice" not in window and D(window["lastPrice"]) > 0
    status, bad, _ = await get(http, sim, "ticker", symbol="ETHUSDT", windowSize="60m")
    assert status == 400 and bad["code"] == -1100
    status, day, _ = await get(http, sim, "ticker/tradingDay", symbol="ETHUSDT", type="MINI")
    assert status == 200 and set(day) == mini_keys and day["openTime"] % DAY_MS == 0
    status, east, _ = await get(http, sim, "ticker/tradingDay", symbol="ETHUSDT", timeZone="8")
    assert east["openTime"] % DAY_MS == 16 * 3_600_000


async def test_test_order_computes_commission_rates(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    order = {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.1"}
    status, plain, _ = await signed(http, sim, "POST", "order/test", order)
    assert (status, plain) == (200, {})
    status, rates, _ = await signed(
        http, sim, "POST", "order/test", {**order, "computeCommissionRates": "true"}
    )
    assert status == 200 and set(rates) == {
        "standardCommissionForOrder",
        "specialCommissionForOrder",
        "taxCommissionForOrder",
        "discount",
    }
    assert rates["standardCommissionForOrder"] == {"maker": "0.00100000", "taker": "0.00100000"}


async def test_times_in_microseconds_when_asked(sim: SimVenue, http: aiohttp.ClientSession) -> None:
    headers = {"X-MBX-TIME-UNIT": "MICROSECOND"}
    async with http.get(f"{sim.rest_url}/v3/time", headers=headers) as resp:
        micro = (await resp.json())["serverTime"]
    assert abs(micro - sim.now_ms() * 1000) < 5_000_000
    params = {"symbol": "ETHUSDT", "interval": "1m", "limit": "2"}
    async with http.get(f"{sim.rest_url}/v3/klines", params=params, headers=headers) as resp:
        row = (await resp.json())[0]
    assert row[0] % 60_000_000 == 0 and row[6] == row[0] + 60_000_000 - 1000
    async with http.ws_connect(sim.ws_api_url + "?timeUnit=MICROSECOND") as ws:
        await ws.send_str('{"id":1,"method":"time"}')
        answer = await ws.receive_json()
    assert answer["result"]["serverTime"] > 10**15


async def test_exchange_info_filters(sim: SimVenue, http: aiohttp.ClientSession) -> None:
    async def symbols(**params: str) -> Any:
        status, body, _ = await get(http, sim, "exchangeInfo", **params)
        return body["symbols"] if status == 200 else body

    assert [s["symbol"] for s in await symbols(permissions="SPOT")] == ["ETHUSDT"]
    assert await symbols(permissions='["MARGIN","LEVERAGED"]') == []
    assert await symbols(symbolStatus="HALT") == []
    assert len(await symbols(symbolStatus="TRADING")) == 1
    (entry,) = await symbols(showPermissionSets="false")
    assert entry["permissionSets"] == []
    assert (await symbols(symbol="ETHUSDT", permissions="SPOT"))["code"] == -1128


async def test_features_out_of_scope_are_refused_as_binance_refuses_a_symbol_without_them(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    info = (await get(http, sim, "exchangeInfo", symbol="ETHUSDT"))[1]["symbols"][0]
    assert (info["otoAllowed"], info["opoAllowed"], info["amendAllowed"]) == (False,) * 3
    refused = {
        ("POST", "sor/order"): (-2010, "This symbol is not permitted for this account."),
        ("POST", "sor/order/test"): (-2010, "This symbol is not permitted for this account."),
        ("POST", "orderList/oto"): (-2010, "OTO orders are not supported for this symbol."),
        ("POST", "orderList/otoco"): (-2010, "OTO orders are not supported for this symbol."),
        ("POST", "orderList/opo"): (-2010, "OPO orders are not supported for this symbol."),
        ("PUT", "order/amend/keepPriority"): (
            -2038,
            "Order amend is not supported for this symbol.",
        ),
    }
    for (method, path), (code, msg) in refused.items():
        status, body, _ = await signed(http, sim, method, path, {"symbol": "ETHUSDT"})
        assert (status, body) == (400, {"code": code, "msg": msg}), path
    status, body, _ = await signed(http, sim, "GET", "myAllocations", {"symbol": "ETHUSDT"})
    assert (status, body) == (200, [])


async def test_stream_times_in_microseconds_when_asked(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    url = f"{sim.stream_url}stream?streams=ethusdt@kline_1m&timeUnit=MICROSECOND"
    async with http.ws_connect(url) as ws:
        frame = (await ws.receive_json(timeout=5))["data"]
    assert frame["E"] > 10**15 and frame["k"]["t"] % 60_000_000 == 0
    assert frame["k"]["T"] == frame["k"]["t"] + 60_000_000 - 1000


async def test_symbol_status_filters_market_data(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await get(http, sim, "depth", symbol="ETHUSDT", symbolStatus="HALT")
    assert (status, body["code"]) == (400, -1220)
    status, body, _ = await get(http, sim, "ticker/24hr", symbolStatus="HALT")
    assert (status, body) == (200, [])
    status, body, _ = await get(http, sim, "ticker/price", symbol="ETHUSDT", symbolStatus="TRADING")
    assert status == 200 and body["symbol"] == "ETHUSDT"
