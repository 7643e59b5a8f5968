"""python-binance, unchanged, trading against the simulated venue over loopback.

The client's URL class attributes are pointed at the sim (reference §9.2); everything
else is the library's own code path: REST signing, the multiplex socket, the user socket
over the WebSocket API, and the DepthCacheManager.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from binance import AsyncClient, BinanceSocketManager, DepthCacheManager
from binance.exceptions import BinanceAPIException

from omnitrade_tui.venues.sim.venue import SimVenue

pytestmark = pytest.mark.slow


@pytest.fixture
async def sim_client(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[SimVenue, Any]]:
    async with SimVenue.start(symbols=["BTCUSDT", "ETHUSDT"], seed=5) as sim:
        monkeypatch.setattr(AsyncClient, "API_TESTNET_URL", sim.rest_url)
        monkeypatch.setattr(AsyncClient, "WS_API_TESTNET_URL", sim.ws_api_url)
        monkeypatch.setattr(BinanceSocketManager, "STREAM_TESTNET_URL", sim.stream_url)
        key, secret = sim.demo_key
        client = await AsyncClient.create(key, secret, testnet=True)
        try:
            yield sim, client
        finally:
            await client.close_connection()


async def test_market_data_endpoints(sim_client: tuple[SimVenue, Any]) -> None:
    _, client = sim_client
    info = await client.get_exchange_info()
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    assert {f["filterType"] for f in btc["filters"]} >= {"PRICE_FILTER", "LOT_SIZE", "NOTIONAL"}
    depth = await client.get_order_book(symbol="BTCUSDT", limit=10)
    assert len(depth["bids"]) == 10 and len(depth["asks"]) == 10
    assert Decimal(depth["bids"][0][0]) < Decimal(depth["asks"][0][0])
    klines = await client.get_klines(symbol="BTCUSDT", interval="1m", limit=100)
    assert len(klines) == 100 and len(klines[0]) == 12
    assert (await client.get_avg_price(symbol="BTCUSDT"))["mins"] == 5
    ticker = await client.get_ticker(symbol="ETHUSDT")
    assert ticker["symbol"] == "ETHUSDT" and Decimal(ticker["lastPrice"]) > 0
    assert len(await client.get_symbol_ticker()) == 2


async def test_orders_of_every_type(sim_client: tuple[SimVenue, Any]) -> None:
    _, client = sim_client
    book = await client.get_order_book(symbol="BTCUSDT", limit=5)
    bid = Decimal(book["bids"][0][0])
    low = str((bid * Decimal("0.95")).quantize(Decimal("0.01")))
    high = str((bid * Decimal("1.05")).quantize(Decimal("0.01")))
    placed = await client.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001", price=low
    )
    assert placed["status"] == "NEW"
    got = await client.get_order(symbol="BTCUSDT", origClientOrderId=placed["clientOrderId"])
    assert got["orderId"] == placed["orderId"]
    assert [o["orderId"] for o in await client.get_open_orders(symbol="BTCUSDT")] == [
        placed["orderId"]
    ]
    canceled = await client.cancel_order(symbol="BTCUSDT", orderId=placed["orderId"])
    assert canceled["status"] == "CANCELED"

    market = await client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
    assert market["status"] == "FILLED" and market["fills"]
    by_quote = await client.create_order(
        symbol="BTCUSDT", side="SELL", type="MARKET", quoteOrderQty="100"
    )
    assert by_quote["status"] == "FILLED"
    assert Decimal(by_quote["cummulativeQuoteQty"]) <= 100

    maker = await client.create_order(
        symbol="BTCUSDT", side="SELL", type="LIMIT_MAKER", quantity="0.001", price=high
    )
    assert maker["orderId"]
    with pytest.raises(BinanceAPIException) as taking:
        await client.create_order(
            symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER", quantity="0.001", price=high
        )
    assert taking.value.code == -2010

    stop = await client.create_order(
        symbol="BTCUSDT",
        side="SELL",
        type="STOP_LOSS_LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price=low,
        stopPrice=low,
    )
    assert stop["orderId"]
    take = await client.create_order(
        symbol="BTCUSDT", side="SELL", type="TAKE_PROFIT", quantity="0.001", stopPrice=high
    )
    assert take["orderId"]
    ioc = await client.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="IOC", quantity="0.001", price=low
    )
    assert ioc["status"] == "EXPIRED"

    with pytest.raises(BinanceAPIException) as bad_tick:
        await client.create_order(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.001",
            price=low + "1",
        )
    assert bad_tick.value.code == -1013 and "PRICE_FILTER" in bad_tick.value.message

    stop_market = await client.create_order(
        symbol="BTCUSDT", side="SELL", type="STOP_LOSS", quantity="0.001", stopPrice=low
    )
    assert stop_market["orderId"]
    take_limit = await client.create_order(
        symbol="BTCUSDT",
        side="SELL",
        type="TAKE_PROFIT_LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price=high,
        stopPrice=high,
    )
    assert take_limit["orderId"]
    fok = await client.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="FOK", quantity="0.001", price=low
    )
    assert fok["status"] == "EXPIRED" and Decimal(fok["executedQty"]) == 0
    oco = await client.create_oco_order(
        symbol="BTCUSDT",
        side="SELL",
        quantity="0.001",
        aboveType="LIMIT_MAKER",
        abovePrice=high,
        belowType="STOP_LOSS_LIMIT",
        belowStopPrice=low,
        belowPrice=low,
        belowTimeInForce="GTC",
    )
    assert oco["contingencyType"] == "OCO" and len(oco["orders"]) == 2
    replaced = await client.cancel_replace_order(
        symbol="BTCUSDT",
        side="SELL",
        type="LIMIT_MAKER",
        quantity="0.002",
        price=high,
        cancelReplaceMode="STOP_ON_FAILURE",
        cancelOrderId=maker["orderId"],
    )
    assert replaced["cancelResult"] == "SUCCESS" and replaced["newOrderResult"] == "SUCCESS"

    canceled_all = await client._delete("openOrders", True, data={"symbol": "BTCUSDT"})
    # The replaced maker, the stop-limit, the take-profit, the stop, the take-profit-limit,
    # and one report for the OCO list (cancelling one leg ends both).
    assert len(canceled_all) == 6
    assert await client.get_open_orders(symbol="BTCUSDT") == []
    account = await client.get_account()
    assert all(Decimal(b["locked"]) == 0 for b in account["balances"])
    trades = await client.get_my_trades(symbol="BTCUSDT")
    assert len(trades) >= 2
    all_orders = await client.get_all_orders(symbol="BTCUSDT")
    assert len(all_orders) == 13


async def test_multiplex_streams(sim_client: tuple[SimVenue, Any]) -> None:
    _, client = sim_client
    bsm = BinanceSocketManager(client)
    seen: dict[str, int] = {}
    streams = ["btcusdt@depth@100ms", "btcusdt@bookTicker", "ethusdt@kline_1m", "btcusdt@trade"]
    async with bsm.multiplex_socket(streams) as socket:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 4.0
        while loop.time() < deadline:
            msg = await asyncio.wait_for(socket.recv(), 5)
            seen[msg["stream"]] = seen.get(msg["stream"], 0) + 1
    assert seen.get("btcusdt@depth@100ms", 0) >= 20
    assert seen.get("btcusdt@bookTicker", 0) >= 10
    assert seen.get("ethusdt@kline_1m", 0) >= 2


async def test_user_socket_receives_execution_reports(sim_client: tuple[SimVenue, Any]) -> None:
    _, client = sim_client
    bsm = BinanceSocketManager(client)
    async with bsm.user_socket() as user:
        order = await client.create_order(
            symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.002"
        )
        reports: list[dict[str, Any]] = []
        while not any(r.get("X") == "FILLED" for r in reports):
            event = await asyncio.wait_for(user.recv(), 5)
            if event.get("e") == "executionReport":
                reports.append(event)
    mine = [r for r in reports if r["i"] == order["orderId"]]
    assert mine[0]["x"] == "NEW"
    assert mine[-1]["X"] == "FILLED" and Decimal(mine[-1]["z"]) == Decimal("0.002")


async def test_depth_cache_manager_stays_in_sync(
    sim_client: tuple[SimVenue, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache never has to re-initialise (python-binance re-fetches the snapshot whenever
    ``U != last_update_id + 1``), and its top agrees with the venue's book.

    CI runs 8 s; ``OMNITRADE_DCM_SECONDS=60`` runs the acceptance's minute by hand.
    """
    sim, client = sim_client
    seconds = float(os.environ.get("OMNITRADE_DCM_SECONDS", "8"))
    snapshots = 0
    original = client.get_order_book

    async def counted(**kwargs: Any) -> Any:
        nonlocal snapshots
        snapshots += 1
        return await original(**kwargs)

    monkeypatch.setattr(client, "get_order_book", counted)
    updates = 0
    async with DepthCacheManager(
        client, symbol="BTCUSDT", refresh_interval=0, ws_interval=100
    ) as dcm:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            cache = await asyncio.wait_for(dcm.recv(), 5)
            bids, asks = cache.get_bids(), cache.get_asks()
            assert bids and asks and bids[0][0] < asks[0][0]
            updates += 1
        venue_bid = sim.engine.books["BTCUSDT"].bids.best()
        assert venue_bid is not None
        assert abs(Decimal(str(bids[0][0])) / venue_bid - 1) < Decimal("0.001")
    assert updates >= seconds * 5
    assert snapshots == 1, f"the depth cache re-initialised {snapshots - 1} times"
