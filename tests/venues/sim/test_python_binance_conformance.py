"""Every spot call python-binance makes that Binance still serves, unchanged, against the
venue, each answer compared field by field with the documents' example.

REST (with python-binance's helpers and ``v3_*`` spellings), the WebSocket API
(``ws_*``), the market streams of ``BinanceSocketManager`` and the user socket. Left out:
``sapi`` (wallet, margin, savings: not the spot API), the listenKey calls
(``stream_get_listen_key`` and kin: Binance retired listenKeys for the WebSocket API's user
data), ``v3_post_cancel_replace`` (python-binance's path for it, ``/api/v3/cancelReplace``,
is not one Binance serves), retired stream names (``!ticker@arr``, ``!bookTicker``), SOR,
OTO/OTOCO and amend-keep-priority (refused, see ``test_coverage_doc``), and
``get_products`` (a web page's endpoint, not the API). The DepthCacheManager runs in
``test_python_binance``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
from binance import AsyncClient, BinanceSocketManager

from omnitrade_tui.domain import OrderRequest, OrderType, Side, TimeInForce
from omnitrade_tui.domain.enums import SelfTradePreventionMode
from omnitrade_tui.venues.sim.venue import SimVenue
from tests.venues.sim.doc_shapes import EXAMPLES, matches_one


@pytest.fixture
async def client(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[SimVenue, Any]]:
    async with SimVenue.start(symbols=["BTCUSDT", "ETHUSDT"], seed=11) as sim:
        monkeypatch.setattr(AsyncClient, "API_TESTNET_URL", sim.rest_url)
        monkeypatch.setattr(AsyncClient, "WS_API_TESTNET_URL", sim.ws_api_url)
        monkeypatch.setattr(BinanceSocketManager, "STREAM_TESTNET_URL", sim.stream_url)
        key, secret = sim.demo_key
        c = await AsyncClient.create(key, secret, testnet=True)
        try:
            yield sim, c
        finally:
            await c.close_connection()


def prices(sim: SimVenue) -> dict[str, str]:
    book = sim.engine.books["BTCUSDT"]
    bid, ask = book.bids.best(), book.asks.best()
    assert bid is not None and ask is not None

    def q(x: Decimal) -> str:
        return str(x.quantize(Decimal("0.01")))

    return {
        "low": q(bid * Decimal("0.95")),
        "lower": q(bid * Decimal("0.94")),
        "high": q(ask * Decimal("1.05")),
    }


Call = tuple[str, str, Callable[[], Awaitable[Any]]]


async def check(calls: list[Call], examples: dict[str, list[Any]]) -> list[str]:
    """Run each call in order; every difference from its documented example."""
    problems: list[str] = []
    for name, doc, run in calls:
        answer = await run()
        for diff in matches_one(answer, examples[doc]):
            problems.append(f"{name} ({doc}): {diff}")
    return problems


async def test_rest_calls_answer_as_documented(client: tuple[SimVenue, Any]) -> None:
    sim, c = client
    p = prices(sim)
    limit = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.001",
        "price": p["low"],
    }
    placed: dict[str, Any] = {}

    async def place() -> Any:
        answer = await c.create_order(**limit)
        placed["orderId"] = answer["orderId"]
        return answer

    async def oco() -> Any:
        answer = await c.create_oco_order(
            symbol="BTCUSDT",
            side="SELL",
            quantity="0.001",
            aboveType="LIMIT_MAKER",
            abovePrice=p["high"],
            belowType="STOP_LOSS_LIMIT",
            belowStopPrice=p["low"],
            belowPrice=p["lower"],
            belowTimeInForce="GTC",
        )
        placed["list"] = answer["orderListId"]
        return answer

    rest = EXAMPLES["rest"]
    calls: list[Call] = [
        ("ping", "GET /api/v3/ping", c.ping),
        ("get_server_time", "GET /api/v3/time", c.get_server_time),
        ("get_exchange_info", "GET /api/v3/exchangeInfo", c.get_exchange_info),
        ("get_order_book", "GET /api/v3/depth", lambda: c.get_order_book(symbol="BTCUSDT")),
        ("get_recent_trades", "GET /api/v3/trades", lambda: c.get_recent_trades(symbol="BTCUSDT")),
        (
            "get_historical_trades",
            "GET /api/v3/historicalTrades",
            lambda: c.get_historical_trades(symbol="BTCUSDT", fromId=1),
        ),
        (
            "get_aggregate_trades",
            "GET /api/v3/aggTrades",
            lambda: c.get_aggregate_trades(symbol="BTCUSDT"),
        ),
        (
            "get_klines",
            "GET /api/v3/klines",
            lambda: c.get_klines(symbol="BTCUSDT", interval="1m"),
        ),
        (
            "get_ui_klines",
            "GET /api/v3/uiKlines",
            lambda: c.get_ui_klines(symbol="BTCUSDT", interval="1h"),
        ),
        ("get_avg_price", "GET /api/v3/avgPrice", lambda: c.get_avg_price(symbol="BTCUSDT")),
        ("get_ticker", "GET /api/v3/ticker/24hr", lambda: c.get_ticker(symbol="BTCUSDT")),
        ("get_ticker (all)", "GET /api/v3/ticker/24hr", c.get_ticker),
        (
            "get_symbol_ticker",
            "GET /api/v3/ticker/price",
            lambda: c.get_symbol_ticker(symbol="BTCUSDT"),
        ),
        ("get_all_tickers", "GET /api/v3/ticker/price", c.get_all_tickers),
        (
            "get_orderbook_ticker",
            "GET /api/v3/ticker/bookTicker",
            lambda: c.get_orderbook_ticker(symbol="BTCUSDT"),
        ),
        ("get_orderbook_tickers", "GET /api/v3/ticker/bookTicker", c.get_orderbook_tickers),
        (
            "get_symbol_ticker_window",
            "GET /api/v3/ticker",
            lambda: c.get_symbol_ticker_window(symbol="BTCUSDT", windowSize="1h"),
        ),
        (
            "v3_get_ticker_trading_day",
            "GET /api/v3/ticker/tradingDay",
            lambda: c.v3_get_ticker_trading_day(symbol="BTCUSDT"),
        ),
        ("create_test_order", "POST /api/v3/order/test", lambda: c.create_test_order(**limit)),
        (
            "create_test_order (commission)",
            "POST /api/v3/order/test",
            lambda: c.create_test_order(**limit, computeCommissionRates="true"),
        ),
        ("create_order", "POST /api/v3/order", place),
        (
            "order_market_buy",
            "POST /api/v3/order",
            lambda: c.order_market_buy(symbol="BTCUSDT", quantity="0.001"),
        ),
        (
            "get_order",
            "GET /api/v3/order",
            lambda: c.get_order(symbol="BTCUSDT", orderId=placed["orderId"]),
        ),
        ("get_open_orders", "GET /api/v3/openOrders", lambda: c.get_open_orders(symbol="BTCUSDT")),
        ("get_all_orders", "GET /api/v3/allOrders", lambda: c.get_all_orders(symbol="BTCUSDT")),
        (
            "cancel_replace_order",
            "POST /api/v3/order/cancelReplace",
            lambda: c.cancel_replace_order(
                **{**limit, "price": p["lower"]},
                cancelReplaceMode="STOP_ON_FAILURE",
                cancelOrderId=placed["orderId"],
            ),
        ),
        ("create_oco_order", "POST /api/v3/orderList/oco", oco),
        (
            "v3_get_order_list",
            "GET /api/v3/orderList",
            lambda: c.v3_get_order_list(orderListId=placed["list"]),
        ),
        ("get_open_oco_orders", "GET /api/v3/openOrderList", c.get_open_oco_orders),
        ("v3_get_all_order_list", "GET /api/v3/allOrderList", c.v3_get_all_order_list),
        (
            "v3_delete_order_list",
            "DELETE /api/v3/orderList",
            lambda: c.v3_delete_order_list(symbol="BTCUSDT", orderListId=placed["list"]),
        ),
        ("create_order (again)", "POST /api/v3/order", place),
        (
            "cancel_order",
            "DELETE /api/v3/order",
            lambda: c.cancel_order(symbol="BTCUSDT", orderId=placed["orderId"]),
        ),
        ("create_order (to cancel all)", "POST /api/v3/order", place),
        (
            "cancel_all_open_orders",
            "DELETE /api/v3/openOrders",
            lambda: c.cancel_all_open_orders(symbol="BTCUSDT"),
        ),
        ("get_account", "GET /api/v3/account", c.get_account),
        ("get_my_trades", "GET /api/v3/myTrades", lambda: c.get_my_trades(symbol="BTCUSDT")),
        ("get_current_order_count", "GET /api/v3/rateLimit/order", c.get_current_order_count),
        (
            "v3_get_account_commission",
            "GET /api/v3/account/commission",
            lambda: c.v3_get_account_commission(symbol="BTCUSDT"),
        ),
        (
            "get_allocations",
            "GET /api/v3/myAllocations",
            lambda: c.get_allocations(symbol="BTCUSDT"),
        ),
    ]
    problems = await check(calls, rest)
    assert problems == [], "\n".join(problems)


async def test_rest_helpers_and_v3_twins_answer_as_documented(
    client: tuple[SimVenue, Any],
) -> None:
    """python-binance's helpers over the same endpoints (order_limit_buy, get_symbol_info,
    the paginating iterators, ...) and its ``v3_*`` spellings of them, and the prevented
    matches of a self-trade."""
    sim, c = client
    p = prices(sim)
    rest = EXAMPLES["rest"]
    btc = {"symbol": "BTCUSDT"}
    placed: dict[str, Any] = {}
    info = rest["GET /api/v3/exchangeInfo"][0]
    balances = rest["GET /api/v3/account"][0]["balances"]

    async def limit_buy() -> Any:
        answer = await c.order_limit_buy(**btc, quantity="0.001", price=p["low"])
        placed["orderId"] = answer["orderId"]
        return answer

    async def v3_post() -> Any:
        answer = await c.v3_post_order(
            **btc, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001", price=p["low"]
        )
        placed["orderId"] = answer["orderId"]
        return answer

    async def self_trade() -> Any:
        # Our own sell inside the spread, then our own buy meeting it with EXPIRE_MAKER,
        # placed in one step so the generated market cannot trade in between.
        book = sim.engine.books["BTCUSDT"]
        bid, ask = book.bids.best(), book.asks.best()
        assert bid is not None and ask is not None and ask - bid >= Decimal("0.02")
        inside = ((bid + ask) / 2).quantize(Decimal("0.01"))
        account = sim.engine.accounts[sim.keys.lookup(sim.demo_key[0]).account_id]
        sell = sim.engine.place(
            account,
            OrderRequest(
                symbol="BTCUSDT",
                side=Side.SELL,
                type=OrderType.LIMIT,
                price=inside,
                quantity=Decimal("0.001"),
                time_in_force=TimeInForce.GTC,
            ),
        ).order
        sim.engine.place(
            account,
            OrderRequest(
                symbol="BTCUSDT",
                side=Side.BUY,
                type=OrderType.LIMIT,
                price=inside,
                quantity=Decimal("0.001"),
                time_in_force=TimeInForce.IOC,
                stp_mode=SelfTradePreventionMode.EXPIRE_MAKER,
            ),
        )
        answer = await c.get_prevented_matches(**btc, orderId=sell.order_id)
        assert len(answer) == 1 and answer[0]["makerOrderId"] == sell.order_id
        return answer

    async def collect(agen: Any, most: int) -> list[Any]:
        if asyncio.iscoroutine(agen):  # the klines generator is handed out by a coroutine
            agen = await agen
        out = []
        async for item in agen:
            out.append(item)
            if len(out) >= most:
                break
        return out

    now_ms = sim.now_ms()
    calls: list[Call] = [
        ("get_symbol_info", "symbol", lambda: c.get_symbol_info("BTCUSDT")),
        ("get_asset_balance", "balance", lambda: c.get_asset_balance(asset="USDT")),
        (
            "get_historical_klines",
            "GET /api/v3/klines",
            lambda: c.get_historical_klines("BTCUSDT", "1m", now_ms - 3_600_000, now_ms),
        ),
        (
            "get_historical_klines_generator",
            "GET /api/v3/klines",
            lambda: collect(
                c.get_historical_klines_generator("BTCUSDT", "1h", now_ms - 86_400_000), 5
            ),
        ),
        (
            "aggregate_trade_iter",
            "GET /api/v3/aggTrades",
            lambda: collect(c.aggregate_trade_iter("BTCUSDT", last_id=0), 5),
        ),
        ("order_limit_buy", "POST /api/v3/order", limit_buy),
        (
            "order_market_sell",
            "POST /api/v3/order",
            lambda: c.order_market_sell(**btc, quantity="0.001"),
        ),
        (
            "order_oco_sell",
            "POST /api/v3/orderList/oco",
            lambda: c.order_oco_sell(
                **btc,
                quantity="0.001",
                aboveType="LIMIT_MAKER",
                abovePrice=p["high"],
                belowType="STOP_LOSS_LIMIT",
                belowStopPrice=p["low"],
                belowPrice=p["lower"],
                belowTimeInForce="GTC",
            ),
        ),
        ("get_prevented_matches", "GET /api/v3/myPreventedMatches", self_trade),
        ("v3_get_account", "GET /api/v3/account", c.v3_get_account),
        ("v3_post_order", "POST /api/v3/order", v3_post),
        (
            "v3_get_order",
            "GET /api/v3/order",
            lambda: c.v3_get_order(**btc, orderId=placed["orderId"]),
        ),
        ("v3_get_open_orders", "GET /api/v3/openOrders", lambda: c.v3_get_open_orders(**btc)),
        ("v3_get_all_orders", "GET /api/v3/allOrders", lambda: c.v3_get_all_orders(**btc)),
        ("v3_get_my_trades", "GET /api/v3/myTrades", lambda: c.v3_get_my_trades(**btc)),
        (
            "v3_post_order_test",
            "POST /api/v3/order/test",
            lambda: c.v3_post_order_test(**btc, side="BUY", type="MARKET", quantity="0.001"),
        ),
        (
            "v3_post_order_cancel_replace",
            "POST /api/v3/order/cancelReplace",
            lambda: c.v3_post_order_cancel_replace(
                **btc,
                side="BUY",
                type="LIMIT",
                timeInForce="GTC",
                quantity="0.001",
                price=p["lower"],
                cancelReplaceMode="ALLOW_FAILURE",
                cancelOrderId=placed["orderId"],
            ),
        ),
        ("v3_post_order (again)", "POST /api/v3/order", v3_post),
        (
            "v3_delete_order",
            "DELETE /api/v3/order",
            lambda: c.v3_delete_order(**btc, orderId=placed["orderId"]),
        ),
        ("v3_get_open_order_list", "GET /api/v3/openOrderList", c.v3_get_open_order_list),
        ("v3_get_rate_limit_order", "GET /api/v3/rateLimit/order", c.v3_get_rate_limit_order),
        (
            "v3_get_my_prevented_matches",
            "GET /api/v3/myPreventedMatches",
            lambda: c.v3_get_my_prevented_matches(**btc, preventedMatchId=0),
        ),
        (
            "v3_get_my_allocations",
            "GET /api/v3/myAllocations",
            lambda: c.v3_get_my_allocations(**btc),
        ),
        (
            "v3_post_order_list_oco",
            "POST /api/v3/orderList/oco",
            lambda: c.v3_post_order_list_oco(
                **btc,
                side="SELL",
                quantity="0.001",
                aboveType="LIMIT_MAKER",
                abovePrice=p["high"],
                belowType="STOP_LOSS_LIMIT",
                belowStopPrice=p["low"],
                belowPrice=p["lower"],
                belowTimeInForce="GTC",
            ),
        ),
        (
            "v3_delete_open_orders",
            "DELETE /api/v3/openOrders",
            lambda: c.v3_delete_open_orders(**btc),
        ),
    ]
    examples = {**rest, "symbol": [info["symbols"][0]], "balance": [balances[0]]}
    problems = await check(calls, examples)
    assert problems == [], "\n".join(problems)


# python-binance's WebSocket-API reader notices its own close only at its 10 s receive
# timeout, so closing the client takes 10 s whatever the venue does.
@pytest.mark.slow
async def test_websocket_api_calls_answer_as_documented(client: tuple[SimVenue, Any]) -> None:
    sim, c = client
    p = prices(sim)
    limit = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.001",
        "price": p["low"],
    }
    placed: dict[str, Any] = {}

    async def place() -> Any:
        answer = await c.ws_create_order(**limit)
        placed["orderId"] = answer["orderId"]
        return answer

    async def oco() -> Any:
        answer = await c.ws_create_oco_order(
            symbol="BTCUSDT",
            side="SELL",
            quantity="0.001",
            aboveType="LIMIT_MAKER",
            abovePrice=p["high"],
            belowType="STOP_LOSS_LIMIT",
            belowStopPrice=p["low"],
            belowPrice=p["lower"],
            belowTimeInForce="GTC",
        )
        placed["list"] = answer["orderListId"]
        return answer

    btc = {"symbol": "BTCUSDT"}
    calls: list[Call] = [
        ("ws_ping", "ping", c.ws_ping),
        ("ws_get_time", "time", c.ws_get_time),
        ("ws_get_exchange_info", "exchangeInfo", lambda: c.ws_get_exchange_info(**btc)),
        ("ws_get_order_book", "depth", lambda: c.ws_get_order_book(**btc, limit=5)),
        ("ws_get_recent_trades", "trades.recent", lambda: c.ws_get_recent_trades(**btc)),
        (
            "ws_get_historical_trades",
            "trades.historical",
            lambda: c.ws_get_historical_trades(**btc, fromId=1),
        ),
        (
            "ws_get_aggregate_trades",
            "trades.aggregate",
            lambda: c.ws_get_aggregate_trades(**btc),
        ),
        ("ws_get_klines", "klines", lambda: c.ws_get_klines(**btc, interval="1m")),
        ("ws_get_uiKlines", "uiKlines", lambda: c.ws_get_uiKlines(**btc, interval="1m")),
        ("ws_get_avg_price", "avgPrice", lambda: c.ws_get_avg_price(**btc)),
        ("ws_get_ticker", "ticker.24hr", lambda: c.ws_get_ticker(**btc)),
        (
            "ws_get_trading_day_ticker",
            "ticker.tradingDay",
            lambda: c.ws_get_trading_day_ticker(**btc),
        ),
        (
            "ws_get_symbol_ticker_window",
            "ticker",
            lambda: c.ws_get_symbol_ticker_window(**btc, windowSize="7d"),
        ),
        ("ws_get_symbol_ticker", "ticker.price", lambda: c.ws_get_symbol_ticker(**btc)),
        ("ws_get_orderbook_ticker", "ticker.book", lambda: c.ws_get_orderbook_ticker(**btc)),
        ("ws_create_test_order", "order.test", lambda: c.ws_create_test_order(**limit)),
        ("ws_create_order", "order.place", place),
        (
            "ws_get_order",
            "order.status",
            lambda: c.ws_get_order(**btc, orderId=placed["orderId"]),
        ),
        ("ws_get_open_orders", "openOrders.status", lambda: c.ws_get_open_orders(**btc)),
        (
            "ws_cancel_and_replace_order",
            "order.cancelReplace",
            lambda: c.ws_cancel_and_replace_order(
                **{**limit, "price": p["lower"]},
                cancelReplaceMode="STOP_ON_FAILURE",
                cancelOrderId=placed["orderId"],
            ),
        ),
        ("ws_create_oco_order", "orderList.place.oco", oco),
        (
            "ws_get_oco_order",
            "orderList.status",
            lambda: c.ws_get_oco_order(orderListId=placed["list"]),
        ),
        ("ws_get_oco_open_orders", "openOrderLists.status", c.ws_get_oco_open_orders),
        (
            "ws_cancel_oco_order",
            "orderList.cancel",
            lambda: c.ws_cancel_oco_order(**btc, orderListId=placed["list"]),
        ),
        ("ws_create_order (again)", "order.place", place),
        (
            "ws_cancel_order",
            "order.cancel",
            lambda: c.ws_cancel_order(**btc, orderId=placed["orderId"]),
        ),
        ("ws_create_order (to cancel all)", "order.place", place),
        (
            "ws_cancel_all_open_orders",
            "openOrders.cancelAll",
            lambda: c.ws_cancel_all_open_orders(**btc),
        ),
        ("ws_get_account", "account.status", c.ws_get_account),
        (
            "ws_get_account_rate_limits_orders",
            "account.rateLimits.orders",
            c.ws_get_account_rate_limits_orders,
        ),
        ("ws_get_all_orders", "allOrders", lambda: c.ws_get_all_orders(**btc)),
        ("ws_get_my_trades", "myTrades", lambda: c.ws_get_my_trades(**btc)),
        (
            "ws_get_commission_rates",
            "account.commission",
            lambda: c.ws_get_commission_rates(**btc),
        ),
        ("ws_get_allocations", "myAllocations", lambda: c.ws_get_allocations(**btc)),
        (
            "ws_get_prevented_matches",
            "myPreventedMatches",
            lambda: c.ws_get_prevented_matches(**btc, orderId=placed["orderId"]),
        ),
    ]
    problems = await check(calls, EXAMPLES["ws_api"])
    assert problems == [], "\n".join(problems)

    # User data over the same WebSocket-API connection (python-binance's user_socket).
    events = EXAMPLES["events"]
    seen: dict[str, Any] = {}
    async with BinanceSocketManager(c).user_socket() as user:
        await c.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
        await oco()
        await c.v3_delete_order_list(symbol="BTCUSDT", orderListId=placed["list"])
        wanted = {"executionReport", "outboundAccountPosition", "listStatus"}
        while not wanted <= set(seen):
            event = await asyncio.wait_for(user.recv(), 5)
            seen.setdefault(event["e"], event)
    for kind in sorted(wanted):
        problems += [f"user data ({kind}): {d}" for d in matches_one(seen[kind], [events[kind]])]
    assert problems == [], "\n".join(problems)


async def first_message(socket: Any, wanted: Callable[[Any], bool] = lambda m: True) -> Any:
    """The first message of a python-binance socket that ``wanted`` accepts."""
    async with socket as s:
        while True:
            message = await asyncio.wait_for(s.recv(), 6)
            if wanted(message):
                return message


async def test_market_streams_send_what_the_documents_show(
    client: tuple[SimVenue, Any],
) -> None:
    _, c = client
    bsm = BinanceSocketManager(c)
    events = EXAMPLES["events"]
    sockets = {
        "trade_socket": (bsm.trade_socket("BTCUSDT"), "trade"),
        "aggtrade_socket": (bsm.aggtrade_socket("BTCUSDT"), "aggTrade"),
        "kline_socket": (bsm.kline_socket("BTCUSDT", "1m"), "kline"),
        "depth_socket (diff)": (bsm.depth_socket("BTCUSDT"), "depthUpdate"),
        "depth_socket (diff, 100ms)": (bsm.depth_socket("BTCUSDT", interval=100), "depthUpdate"),
        "depth_socket (5)": (bsm.depth_socket("BTCUSDT", depth="5"), "depthN"),
        "depth_socket (20, 100ms)": (
            bsm.depth_socket("BTCUSDT", depth="20", interval=100),
            "depthN",
        ),
        "symbol_ticker_socket": (bsm.symbol_ticker_socket("BTCUSDT"), "24hrTicker"),
        "symbol_miniticker_socket": (bsm.symbol_miniticker_socket("BTCUSDT"), "24hrMiniTicker"),
        "symbol_book_ticker_socket": (bsm.symbol_book_ticker_socket("BTCUSDT"), "bookTicker"),
        "miniticker_socket": (bsm.miniticker_socket(), "24hrMiniTicker"),
    }
    names = list(sockets)
    answers = await asyncio.gather(*(first_message(sockets[n][0]) for n in names))
    problems = []
    for name, answer in zip(names, answers, strict=True):
        doc = sockets[name][1]
        payload = answer[0] if name == "miniticker_socket" else answer
        problems += [f"{name} ({doc}): {d}" for d in matches_one(payload, [events[doc]])]
    multiplexed = await first_message(
        bsm.multiplex_socket(["btcusdt@trade", "ethusdt@kline_1m"]),
        lambda m: m.get("stream") == "ethusdt@kline_1m",
    )
    problems += [f"multiplex: {d}" for d in matches_one(multiplexed["data"], [events["kline"]])]
    for stream, doc in (
        ("btcusdt@avgPrice", "avgPrice"),
        ("btcusdt@ticker_1h", "1hTicker"),
        ("!ticker_4h@arr", "1hTicker"),
    ):

        def wanted(m: Any, s: str = stream) -> bool:
            return bool(m.get("stream") == s)

        framed = await first_message(bsm.multiplex_socket([stream]), wanted)
        data = framed["data"][0] if stream.startswith("!") else framed["data"]
        problems += [f"{stream}: {d}" for d in matches_one(data, [events[doc]])]
    assert problems == [], "\n".join(problems)
