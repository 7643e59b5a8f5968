"""REST API of the simulated venue under ``/api/v3``: Binance's endpoints, weights,
signatures and error bodies.

Parameters come from the query string and the form body; a name sent twice is -1101, a
body that is not UTF-8 is -1100, and every parameter is parsed by ``params`` into a
Binance error when malformed, so hostile input gets a JSON error body, never a 500.
Signed endpoints verify the signature over the raw payload, then the timestamp window.
Every answer carries ``X-MBX-USED-WEIGHT-1M``; successful orders carry the order-count
headers. Over the weight limit a client gets 429 with ``Retry-After``; one that keeps
going while told to wait is banned with 418.

Weight is counted per IP in the venue's clock minutes (the minute a client reads from the
venue's ``serverTime`` is the one its weight is counted in, clock-skew drills included).
A request that arrives while a ``Retry-After`` this venue gave is still running is a
*strike*, recorded in ``SimVenue.ignored_retry_after`` for tests and the soak to check;
three strikes in a row earn a 418 ban, and a request that waited the ``Retry-After`` out
clears them (a client that was told to wait once and did is not punished for it later).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import msgspec
from aiohttp import web

from omnitrade_tui.venues.binance.exchange_info import symbol_entry
from omnitrade_tui.venues.sim import params as P
from omnitrade_tui.venues.sim.accounts import Account
from omnitrade_tui.venues.sim.appkeys import VENUE_KEY
from omnitrade_tui.venues.sim.auth import check_timestamp, rest_payload
from omnitrade_tui.venues.sim.errors import SimError, bad_symbol, no_such_order
from omnitrade_tui.venues.sim.klinetime import kline_close, kline_open, parse_time_zone
from omnitrade_tui.venues.sim.matching import ReplaceResult
from omnitrade_tui.venues.sim.names import KLINE_INTERVALS
from omnitrade_tui.venues.sim.orders import OrderList
from omnitrade_tui.venues.sim.render import (
    account_info,
    cancel_report,
    f8,
    ff,
    in_microseconds,
    kline_row,
    list_cancel_report,
    order_query,
    order_result,
    placed_order,
)
from omnitrade_tui.venues.sim.render import order_list as order_list_body

if TYPE_CHECKING:
    from omnitrade_tui.venues.sim.venue import SimVenue

log = logging.getLogger(__name__)

Handler = Callable[["Call"], Awaitable[Any]]
Route = Callable[[web.Request], Awaitable[web.Response]]
Cost = int | Callable[["Call"], int]

RAW: dict[Route, tuple[Handler, Cost]] = {}
"""Each endpoint's own handler and weight, by its route function: the WebSocket API runs
the same handlers (its methods are the REST endpoints under other names)."""

_UNKNOWN = SimError(
    -1007,
    "Timeout waiting for response from backend server. Send status unknown; "
    "execution status unknown.",
    503,
)


class Call:
    """One REST request: the venue, merged parameters, raw payload, and the caller.

    Raises:
        SimError: -1101 when a parameter is sent twice (in the query, the body, or both).
    """

    def __init__(self, venue: SimVenue, request: web.Request, body: str) -> None:
        self.venue = venue
        self.request = request
        self.body = body
        pairs = parse_qsl(body, keep_blank_values=True)
        # The query as sent, still percent-encoded: what the signature covers, and decoded
        # once here (aiohttp's ``query_string`` is decoded already).
        self.raw_query = request.rel_url.raw_query_string
        pairs += parse_qsl(self.raw_query, keep_blank_values=True)
        self.params: dict[str, str] = dict(pairs)
        if len(self.params) != len(pairs):
            raise SimError(-1101, "Duplicate values for a parameter detected.")
        self.account: Account | None = None
        self.order_counted = False

    def signed(self) -> Account:
        """Check key, signature and timestamp; the caller's account."""
        venue = self.venue
        key = venue.keys.lookup(self.request.headers.get("X-MBX-APIKEY"))
        signature = self.params.get("signature")
        if not signature:
            raise SimError(
                -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
            )
        if not key.verify(rest_payload(self.raw_query, self.body), signature):
            raise SimError(-1022, "Signature for this request is not valid.")
        check_timestamp(self.params, venue.now_ms())
        account = venue.engine.accounts[key.account_id]
        self.account = account
        return account

    def symbol(self) -> str:
        """The ``symbol`` parameter, checked against the listed symbols."""
        symbol = P.required(self.params, "symbol")
        if symbol not in self.venue.markets:
            raise bad_symbol()
        return symbol


# HTTP/1.1 without pipelining: a request on the connection a 429 was written to was sent
# after the client read that 429. On another connection, one arriving this soon after was
# likely sent before the client could have read it (in flight, not ignoring it).
IN_FLIGHT_S = 0.05
# Requests inside a running Retry-After, in a row, that earn a 418.
STRIKES_TO_BAN = 3
BAN_S = 120


class IgnoredRetryAfter(msgspec.Struct, frozen=True):
    """A request that arrived while a ``Retry-After`` given to its IP was still running."""

    request: str  # "GET /api/v3/depth"
    after_s: float  # how long after the 429/418 was written
    retry_after_s: float  # what the 429/418 said


class RetryWindow:
    """The ``Retry-After`` last given to one IP, and the strikes against it."""

    __slots__ = ("connection", "given_at", "retry_after_s", "strikes")

    def __init__(self) -> None:
        self.given_at = 0.0  # monotonic seconds
        self.retry_after_s = 0.0
        self.strikes = 0
        self.connection: object = None

    def give(self, retry_after_s: float, request: web.Request) -> None:
        """A 429/418 with this ``Retry-After`` is being written now, answering ``request``."""
        self.given_at = time.monotonic()
        self.retry_after_s = retry_after_s
        self.connection = request.transport


def _strike(venue: SimVenue, ip: str, request: web.Request) -> bool:
    """Note a request arriving inside a running ``Retry-After``; True when it earns a ban."""
    window = venue.retry_windows.get(ip)
    if window is None:
        return False
    after = time.monotonic() - window.given_at
    if after >= window.retry_after_s:
        window.strikes = 0  # waited it out: the slate is clean
        return False
    if after < IN_FLIGHT_S and request.transport is not window.connection:
        return False
    venue.ignored_retry_after.append(
        IgnoredRetryAfter(f"{request.method} {request.path}", round(after, 4), window.retry_after_s)
    )
    venue.ignored_retry_after_total += 1
    window.strikes += 1
    return window.strikes >= STRIKES_TO_BAN


def charge(venue: SimVenue, ip: str, cost: int) -> int:
    """Charge ``cost`` to ``ip`` in the venue's current minute (REST and WebSocket API
    share the count, as on Binance); the weight used so far."""
    now = venue.now_ms() / 1000
    window = venue.weights.setdefault(ip, [now - now % 60, 0.0])
    if now - window[0] >= 60 or now < window[0]:  # a new minute (or the clock went back)
        window[0], window[1] = now - now % 60, 0.0
    window[1] += cost
    return int(window[1])


def _banned(venue: SimVenue, ip: str, banned_until: float, request: web.Request) -> web.Response:
    retry = int(banned_until - time.time()) + 1
    venue.retry_windows.setdefault(ip, RetryWindow()).give(retry, request)
    return _json(
        {
            "code": -1003,
            "msg": f"Way too much request weight used; IP banned until "
            f"{int(banned_until * 1000)}. Please use WebSocket Streams for live "
            "updates to avoid bans.",
        },
        418,
        {"Retry-After": str(retry)},
    )


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(data),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def endpoint(cost: Cost) -> Callable[[Handler], Route]:
    """Wrap a handler with weight accounting, bans, throttling and Binance error bodies."""

    def wrap(handler: Handler) -> Route:
        async def run(request: web.Request) -> web.Response:
            venue: SimVenue = request.app[VENUE_KEY]
            ip = request.remote or "?"
            if _strike(venue, ip, request):
                venue.bans[ip] = time.time() + BAN_S
            banned_until = venue.bans.get(ip, 0.0)
            if banned_until > time.time():
                return _banned(venue, ip, banned_until, request)
            try:
                call = Call(venue, request, await _body(request))
                used = charge(venue, ip, cost(call) if callable(cost) else cost)
                headers = {"X-MBX-USED-WEIGHT-1M": str(used)}
                throttled = venue.faults.throttle > 0
                if throttled:
                    venue.faults.throttle -= 1
                if used > venue.weight_limit or throttled:
                    return _too_many(venue, ip, headers, request)
                result = await handler(call)
            except SimError as exc:
                headers = {"X-MBX-USED-WEIGHT-1M": str(charge(venue, ip, 0))}
                if exc.retry_after_s is not None:
                    headers["Retry-After"] = str(exc.retry_after_s)
                return _json(exc.body(), exc.status, headers)
            if request.headers.get("X-MBX-TIME-UNIT", "").upper() == "MICROSECOND":
                result = in_microseconds(result)
            if call.order_counted:
                counts = venue.order_counts(call.account)
                headers["X-MBX-ORDER-COUNT-10S"] = str(counts[0])
                headers["X-MBX-ORDER-COUNT-1D"] = str(counts[1])
            return _json(result, 200, headers)

        RAW[run] = (handler, cost)
        return run

    return wrap


async def _body(request: web.Request) -> str:
    """The form body as text: -1100 when it is not UTF-8, -1101 over the size limit."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise SimError(-1101, "Too many parameters sent for this endpoint.", 413) from None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise SimError(-1100, "Illegal characters found in a parameter.") from None


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Binance's JSON error body for what no endpoint answers (an unknown path or method)
    and for a bug (-1000, logged with its traceback), instead of aiohttp's text pages."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, msg = (-1020, "This operation is not supported.")
        if exc.status == 413:
            code, msg = (-1101, "Too many parameters sent for this endpoint.")
        elif exc.status not in (404, 405):
            code, msg = (-1000, "An unknown error occurred while processing the request.")
        return _json({"code": code, "msg": msg}, exc.status)
    except Exception:
        log.exception("simulated venue: %s %s failed", request.method, request.path)
        return _json(
            {"code": -1000, "msg": "An unknown error occurred while processing the request."},
            500,
        )


def _too_many(
    venue: SimVenue, ip: str, headers: dict[str, str], request: web.Request
) -> web.Response:
    """429 with Retry-After (the fault's, else until the venue's minute turns)."""
    now = venue.now_ms() / 1000
    retry_after = venue.faults.retry_after_s or 60 - int(now % 60) or 1
    window = venue.retry_windows.setdefault(ip, RetryWindow())
    if time.monotonic() - window.given_at >= window.retry_after_s:
        window.give(retry_after, request)  # a 429 inside a running window does not extend it
    return _json(
        {
            "code": -1003,
            "msg": f"Too much request weight used; current limit is {venue.weight_limit} request "
            "weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling "
            "the API.",
        },
        429,
        {**headers, "Retry-After": str(retry_after)},
    )


# -- general ----------------------------------------------------------------------------------


@endpoint(1)
async def ping(call: Call) -> dict[str, Any]:
    return {}


@endpoint(1)
async def server_time(call: Call) -> dict[str, Any]:
    return {"serverTime": call.venue.now_ms()}


@endpoint(20)
async def exchange_info(call: Call) -> dict[str, Any]:
    venue = call.venue
    params = call.params
    wanted = None
    if "symbol" in params:
        wanted = [call.symbol()]
    elif "symbols" in params:
        wanted = _listed(call)
    if wanted is not None and ("permissions" in params or "symbolStatus" in params):
        raise SimError(-1128, "Combination of optional parameters invalid.")
    status = params.get("symbolStatus")
    if status is not None and status not in ("TRADING", "HALT", "BREAK"):
        raise SimError(-1130, "Data sent for parameter 'symbolStatus' is not valid.")
    # Every symbol here is SPOT; without `permissions` SPOT, MARGIN and LEVERAGED show.
    permissions = _permissions(params.get("permissions"))
    symbols = [
        symbol_entry(i)
        for s, i in venue.engine.instruments.items()
        if (wanted is None or s in wanted)
        and (status is None or i.status == status)
        and "SPOT" in permissions
    ]
    if params.get("showPermissionSets") == "false":
        for entry in symbols:
            entry["permissionSets"] = []
    return {
        "timezone": "UTC",
        "serverTime": venue.now_ms(),
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": venue.weight_limit,
            },
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 160000},
            {
                "rateLimitType": "RAW_REQUESTS",
                "interval": "MINUTE",
                "intervalNum": 5,
                "limit": 300000,
            },
        ],
        "exchangeFilters": [],
        "symbols": symbols,
    }


def _permissions(raw: str | None) -> set[str]:
    """``permissions``: one name or a JSON list of names (SPOT, MARGIN, LEVERAGED when
    absent)."""
    if raw is None or raw == "":
        return {"SPOT", "MARGIN", "LEVERAGED"}
    if raw.startswith("["):
        try:
            return set(msgspec.json.decode(raw, type=list[str]))
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise SimError(-1130, "Data sent for parameter 'permissions' is not valid.") from None
    return {raw}


# -- market data ------------------------------------------------------------------------------


def _depth_limit(call: Call) -> int:
    """``limit`` of depth: 1 and up; over 5000 answers 5000 levels (rest-api.md)."""
    return min(P.limit(call.params, 100, 2**31 - 1), P.DEPTH_LIMIT_MAX)


def _depth_weight(call: Call) -> int:
    limit = _depth_limit(call)
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


@endpoint(_depth_weight)
async def depth(call: Call) -> dict[str, Any]:
    (symbol,) = _with_status(call, [call.symbol()])
    limit = _depth_limit(call)
    replay = call.venue.replay
    if replay is not None and symbol in replay.books:
        return replay.books[symbol].depth(limit)
    return call.venue.markets[symbol].partial_depth(limit)


@endpoint(25)
async def trades(call: Call) -> list[dict[str, Any]]:
    market = call.venue.markets[call.symbol()]
    limit = min(P.integer(call.params, "limit", 500) or 500, 1000)
    from_id = P.integer(call.params, "fromId")
    if from_id is None:
        out = list(market.trades)[-limit:]
    else:
        # historicalTrades: the oldest kept trades from that id on (the sim keeps the
        # latest _TRADES_KEPT; Binance keeps them all).
        out = [t for t in market.trades if t.trade_id >= from_id][:limit]
    return [
        {
            "id": t.trade_id,
            "price": f8(t.price),
            "qty": f8(t.qty),
            "quoteQty": f8(t.price * t.qty),
            "time": t.time_ms,
            "isBuyerMaker": t.buyer_is_maker,
            "isBestMatch": True,
        }
        for t in out
    ]


@endpoint(4)
async def agg_trades(call: Call) -> list[dict[str, Any]]:
    """``aggTrades``: fills of one taker order at one price and time, as one row."""
    market = call.venue.markets[call.symbol()]
    limit = min(P.integer(call.params, "limit", 500) or 500, 1000)
    start = P.integer(call.params, "startTime")
    end = P.integer(call.params, "endTime")
    from_id = P.integer(call.params, "fromId")
    rows = [
        a
        for a in market.aggs
        if (start is None or a.time_ms >= start)
        and (end is None or a.time_ms <= end)
        and (from_id is None or a.agg_id >= from_id)
    ]
    rows = rows[:limit] if (start is not None or from_id is not None) else rows[-limit:]
    return [a.row() for a in rows]


@endpoint(2)
async def klines(call: Call) -> list[list[Any]]:
    market = call.venue.markets[call.symbol()]
    interval = P.required(call.params, "interval")
    if interval not in KLINE_INTERVALS:
        raise SimError(-1120, "Invalid interval.")
    limit = P.limit(call.params, 500, 1000)
    candles = market.klines(
        interval,
        P.integer(call.params, "startTime"),
        P.integer(call.params, "endTime"),
        limit,
        parse_time_zone(call.params.get("timeZone")),
        call.venue.now_ms(),
    )
    return [kline_row(c) for c in candles]


@endpoint(2)
async def avg_price(call: Call) -> dict[str, Any]:
    symbol = call.symbol()
    price, last_trade_ms = call.venue.markets[symbol].average_price()
    # closeTime is the last trade's time (rest-api.md), not the time of asking.
    close_time = last_trade_ms if last_trade_ms is not None else call.venue.now_ms()
    return {"mins": 5, "price": ff(price), "closeTime": close_time}


def _listed(call: Call) -> list[str]:
    """The ``symbols`` parameter, each one listed by the venue (-1121 otherwise)."""
    names = P.symbol_list(call.params)
    if any(n not in call.venue.markets for n in names):
        raise bad_symbol()
    return names


def _symbols_of(call: Call) -> list[str]:
    if "symbol" in call.params:
        return _with_status(call, [call.symbol()])
    if "symbols" in call.params:
        return _with_status(call, _listed(call))
    return _with_status(call, list(call.venue.markets))


def _with_status(call: Call, symbols: list[str]) -> list[str]:
    """The symbols whose trading status is ``symbolStatus`` (all without it): one named
    symbol of another status is -1220, several are filtered."""
    status = call.params.get("symbolStatus")
    if status is None:
        return symbols
    if status not in ("TRADING", "HALT", "BREAK"):
        raise SimError(-1130, "Data sent for parameter 'symbolStatus' is not valid.")
    instruments = call.venue.engine.instruments
    kept = [s for s in symbols if instruments[s].status == status]
    if "symbol" in call.params and not kept:
        raise SimError(-1220, "The symbol's status does not match the requested symbolStatus.")
    return kept


def _ticker_weight(call: Call) -> int:
    """ticker/24hr: 2 for one symbol or up to 20 listed, 40 up to 100, else 80."""
    if "symbol" in call.params:
        return 2
    if "symbols" not in call.params:
        return 80
    count = len(P.symbol_list(call.params))
    return 2 if count <= 20 else 40 if count <= 100 else 80


_MINI_KEYS = (
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
)


def _ticker_type(call: Call) -> bool:
    """Whether ``type`` asks for the MINI shape (FULL by default; -1100 for others)."""
    kind = call.params.get("type", "FULL")
    if kind not in ("FULL", "MINI"):
        raise P.illegal("type", "FULL|MINI")
    return kind == "MINI"


def _shaped(call: Call, rows: list[dict[str, Any]]) -> Any:
    if _ticker_type(call):
        rows = [{k: row[k] for k in _MINI_KEYS} for row in rows]
    return rows[0] if "symbol" in call.params else rows


@endpoint(_ticker_weight)
async def ticker_24hr(call: Call) -> Any:
    venue = call.venue
    now = venue.now_ms()
    rows = []
    for symbol in _symbols_of(call):
        market = venue.markets[symbol]
        t = market.ticker_event(now)
        rows.append(
            {
                "symbol": symbol,
                "priceChange": t["p"],
                "priceChangePercent": t["P"],
                "weightedAvgPrice": t["w"],
                "prevClosePrice": t["x"],
                "lastPrice": t["c"],
                "lastQty": t["Q"],
                "bidPrice": t["b"],
                "bidQty": t["B"],
                "askPrice": t["a"],
                "askQty": t["A"],
                "openPrice": t["o"],
                "highPrice": t["h"],
                "lowPrice": t["l"],
                "volume": t["v"],
                "quoteVolume": t["q"],
                "openTime": t["O"],
                "closeTime": t["C"],
                "firstId": t["F"],
                "lastId": t["L"],
                "count": t["n"],
            }
        )
    return _shaped(call, rows)


_WINDOW = re.compile(r"([1-9][0-9]?)([mhd])")
_WINDOW_MAX = {"m": 59, "h": 23, "d": 7}
_WINDOW_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


def _window_ms(call: Call) -> int:
    """``windowSize``: 1m..59m, 1h..23h, 1d..7d (default 1d), in milliseconds."""
    raw = call.params.get("windowSize", "1d")
    m = _WINDOW.fullmatch(raw)
    if m is None or int(m.group(1)) > _WINDOW_MAX[m.group(2)]:
        raise SimError(-1100, "Invalid windowSize.")
    return int(m.group(1)) * _WINDOW_UNIT_MS[m.group(2)]


def _listed_or_one(call: Call) -> list[str]:
    """``symbol`` or ``symbols`` (one of them must be sent; 100 symbols at most)."""
    if "symbol" in call.params:
        return _with_status(call, [call.symbol()])
    if "symbols" not in call.params:
        raise SimError(-1102, "Param 'symbol' or 'symbols' must be sent, but both were empty/null!")
    names = _listed(call)
    if len(names) > 100:
        raise SimError(-1101, "Too many values sent for parameter 'symbols', max allowed: 100.")
    return _with_status(call, names)


def _per_symbol_weight(call: Call) -> int:
    """4 per symbol, 200 at most (rolling-window and trading-day tickers)."""
    count = len(P.symbol_list(call.params)) if "symbols" in call.params else 1
    return min(4 * count, 200)


def _window_row(call: Call, symbol: str, open_ms: int, close_ms: int) -> dict[str, Any]:
    """Statistics of one symbol between two times, in the REST answer's names."""
    w = call.venue.markets[symbol].window_stats(open_ms, close_ms)
    return {
        "symbol": symbol,
        "priceChange": w["p"],
        "priceChangePercent": w["P"],
        "weightedAvgPrice": w["w"],
        "openPrice": w["o"],
        "highPrice": w["h"],
        "lowPrice": w["l"],
        "lastPrice": w["c"],
        "volume": w["v"],
        "quoteVolume": w["q"],
        "openTime": w["O"],
        "closeTime": w["C"],
        "firstId": w["F"],
        "lastId": w["L"],
        "count": w["n"],
    }


@endpoint(_per_symbol_weight)
async def ticker_window(call: Call) -> Any:
    """``GET /api/v3/ticker``: a rolling window whose open is on a minute, closing now."""
    window = _window_ms(call)
    now = call.venue.now_ms()
    open_ms = now - window
    open_ms -= open_ms % 60_000
    return _shaped(call, [_window_row(call, s, open_ms, now) for s in _listed_or_one(call)])


@endpoint(_per_symbol_weight)
async def ticker_trading_day(call: Call) -> Any:
    """``GET /api/v3/ticker/tradingDay``: the day so far, in ``timeZone`` (UTC default)."""
    zone = parse_time_zone(call.params.get("timeZone"))
    now = call.venue.now_ms()
    open_ms = kline_open(now, "1d", zone)
    close_ms = kline_close(open_ms, "1d", zone)
    return _shaped(call, [_window_row(call, s, open_ms, close_ms) for s in _listed_or_one(call)])


@endpoint(lambda call: 2 if "symbol" in call.params else 4)
async def ticker_price(call: Call) -> Any:
    venue = call.venue
    rows = []
    for symbol in _symbols_of(call):
        market = venue.markets[symbol]
        last = market.trades[-1].price if market.trades else venue.engine.avg_price(symbol)
        rows.append({"symbol": symbol, "price": f8(last)})
    return rows[0] if "symbol" in call.params else rows


@endpoint(lambda call: 2 if "symbol" in call.params else 4)
async def ticker_book(call: Call) -> Any:
    venue = call.venue
    rows = []
    for symbol in _symbols_of(call):
        bid, bid_qty, ask, ask_qty = venue.markets[symbol].best
        rows.append(
            {
                "symbol": symbol,
                "bidPrice": f8(bid),
                "bidQty": f8(bid_qty),
                "askPrice": f8(ask),
                "askQty": f8(ask_qty),
            }
        )
    return rows[0] if "symbol" in call.params else rows


# -- trading ----------------------------------------------------------------------------------


@endpoint(1)
async def new_order(call: Call) -> dict[str, Any]:
    account = call.signed()
    request = P.order_request(call.params)
    call.symbol()
    venue = call.venue
    venue.count_order(account)
    result = venue.engine.place(account, request)
    call.order_counted = True
    if venue.faults.fail_orders > 0:
        venue.faults.fail_orders -= 1
        raise _UNKNOWN
    return placed_order(result, call.params.get("newOrderRespType"))


def _wants_commission(call: Call) -> bool:
    return call.params.get("computeCommissionRates") == "true"


@endpoint(lambda call: 20 if _wants_commission(call) else 1)
async def test_order(call: Call) -> dict[str, Any]:
    account = call.signed()
    request = P.order_request(call.params)
    call.symbol()
    engine = call.venue.engine
    # Run every check the real placement runs, without placing.
    engine.check(engine.instrument(request.symbol), account, request)
    if not _wants_commission(call):
        return {}
    zero = {"maker": f8(None), "taker": f8(None)}
    return {
        "standardCommissionForOrder": {
            "maker": f8(account.maker_fee),
            "taker": f8(account.taker_fee),
        },
        "specialCommissionForOrder": zero,
        "taxCommissionForOrder": zero,
        "discount": _NO_DISCOUNT,
    }


_NO_DISCOUNT = {
    "enabledForAccount": False,
    "enabledForSymbol": False,
    "discountAsset": "BNB",
    "discount": f8(None),
}


@endpoint(4)
async def query_order(call: Call) -> dict[str, Any]:
    account = call.signed()
    symbol = call.symbol()
    order = call.venue.engine.find_order(
        account, symbol, P.integer(call.params, "orderId"), call.params.get("origClientOrderId")
    )
    if order is None:
        raise no_such_order()
    return order_query(order)


def _restriction(params: dict[str, str]) -> str | None:
    """``cancelRestrictions``, or -1145 for a value the documents do not list."""
    value = params.get("cancelRestrictions")
    if value is None:
        return None
    if value not in ("ONLY_NEW", "ONLY_PARTIALLY_FILLED"):
        raise SimError(-1145, "Invalid cancelRestrictions")
    return value


@endpoint(1)
async def cancel_order(call: Call) -> dict[str, Any]:
    account = call.signed()
    symbol = call.symbol()
    engine = call.venue.engine
    order = engine.cancel(
        account,
        symbol,
        P.integer(call.params, "orderId"),
        call.params.get("origClientOrderId"),
        call.params.get("newClientOrderId"),
        _restriction(call.params),
    )
    order_list = engine.order_lists.get(order.order_list_id)
    if order_list is not None:  # a leg's cancel ends its list: answered as the list's
        return list_cancel_report(order_list)
    return cancel_report(order)


@endpoint(lambda call: 6 if "symbol" in call.params else 80)
async def open_orders(call: Call) -> list[dict[str, Any]]:
    account = call.signed()
    symbol = call.symbol() if "symbol" in call.params else None
    return [order_query(o) for o in call.venue.engine.open_orders(account, symbol)]


@endpoint(1)
async def cancel_open_orders(call: Call) -> list[dict[str, Any]]:
    account = call.signed()
    symbol = call.symbol()
    engine = call.venue.engine
    out: list[dict[str, Any]] = []
    listed: set[int] = set()
    for o in engine.cancel_all(account, symbol):
        order_list = engine.order_lists.get(o.order_list_id)
        if order_list is None:
            out.append(cancel_report(o))
        elif o.order_list_id not in listed:  # Binance reports a list's legs together
            listed.add(o.order_list_id)
            out.append(list_cancel_report(order_list))
    return out


@endpoint(20)
async def all_orders(call: Call) -> list[dict[str, Any]]:
    account = call.signed()
    symbol = call.symbol()
    limit = min(P.integer(call.params, "limit", 500) or 500, 1000)
    from_id = P.integer(call.params, "orderId")
    start = P.integer(call.params, "startTime")
    end = P.integer(call.params, "endTime")
    rows = [
        o
        for (s, _), o in call.venue.engine.orders.items()
        if s == symbol
        and o.account is account
        and (from_id is None or o.order_id >= from_id)
        and (start is None or o.time_ms >= start)
        and (end is None or o.time_ms <= end)
    ]
    rows.sort(key=lambda o: o.order_id)
    rows = rows[:limit] if from_id is not None or start is not None else rows[-limit:]
    return [order_query(o) for o in rows]


@endpoint(20)
async def account(call: Call) -> dict[str, Any]:
    acct = call.signed()
    info = account_info(acct, call.venue.now_ms())
    if call.params.get("omitZeroBalances") == "true":
        info["balances"] = [
            b for b in info["balances"] if b["free"] != f8(None) or b["locked"] != f8(None)
        ]
    return info


@endpoint(lambda call: 5 if "orderId" in call.params else 20)
async def my_trades(call: Call) -> list[dict[str, Any]]:
    acct = call.signed()
    symbol = call.symbol()
    limit = min(P.integer(call.params, "limit", 500) or 500, 1000)
    order_id = P.integer(call.params, "orderId")
    from_id = P.integer(call.params, "fromId")
    start = P.integer(call.params, "startTime")
    end = P.integer(call.params, "endTime")
    rows = [
        t
        for t in call.venue.my_trades.get(acct.account_id, ())
        if t["symbol"] == symbol
        and (order_id is None or t["orderId"] == order_id)
        and (from_id is None or t["id"] >= from_id)
        and (start is None or t["time"] >= start)
        and (end is None or t["time"] <= end)
    ]
    return rows[:limit] if from_id is not None or start is not None else rows[-limit:]


@endpoint(40)
async def unfilled_order_count(call: Call) -> list[dict[str, Any]]:
    """``GET /api/v3/rateLimit/order``: the account's order count per interval."""
    acct = call.signed()
    ten_s, day = call.venue.order_counts(acct)
    return order_rate_limits(call.venue.orders_per_10s, ten_s, day)


@endpoint(20)
async def commission(call: Call) -> dict[str, Any]:
    """``GET /api/v3/account/commission``: the account's rates on one symbol."""
    acct = call.signed()
    symbol = call.symbol()
    zero = {"maker": f8(None), "taker": f8(None), "buyer": f8(None), "seller": f8(None)}
    return {
        "symbol": symbol,
        "standardCommission": {**zero, "maker": f8(acct.maker_fee), "taker": f8(acct.taker_fee)},
        "specialCommission": zero,
        "taxCommission": zero,
        "discount": _NO_DISCOUNT,
    }


def order_rate_limits(per_10s: int, ten_s: int, day: int) -> list[dict[str, Any]]:
    """The ORDERS rate limits with their counts (``rateLimit/order``, and the WebSocket
    API's ``rateLimits`` after an order)."""
    return [
        {
            "rateLimitType": "ORDERS",
            "interval": "SECOND",
            "intervalNum": 10,
            "limit": per_10s,
            "count": ten_s,
        },
        {
            "rateLimitType": "ORDERS",
            "interval": "DAY",
            "intervalNum": 1,
            "limit": 160000,
            "count": day,
        },
    ]


def _refuse(message: str, code: int = -2010) -> Handler:
    """An endpoint of a feature the venue's symbols do not have: signed and checked like
    the real one, then refused as Binance refuses a symbol without it."""

    async def refuse(call: Call) -> Any:
        call.signed()
        call.symbol()
        raise SimError(code, message)

    return refuse


_NOT_PERMITTED = "This symbol is not permitted for this account."
sor_order = endpoint(1)(_refuse(_NOT_PERMITTED))
sor_order_test = endpoint(1)(_refuse(_NOT_PERMITTED))
oto = endpoint(1)(_refuse("OTO orders are not supported for this symbol."))
opo = endpoint(1)(_refuse("OPO orders are not supported for this symbol."))
amend_keep_priority = endpoint(4)(_refuse("Order amend is not supported for this symbol.", -2038))


def _prevented_weight(call: Call) -> int:
    return 2 if "preventedMatchId" in call.params else 20


@endpoint(_prevented_weight)
async def my_prevented_matches(call: Call) -> list[dict[str, Any]]:
    """``GET /api/v3/myPreventedMatches``: by ``preventedMatchId``, or by ``orderId``
    (from ``fromPreventedMatchId``, ``limit`` of them)."""
    acct = call.signed()
    symbol = call.symbol()
    params = call.params
    match_id = P.integer(params, "preventedMatchId")
    order_id = P.integer(params, "orderId")
    from_id = P.integer(params, "fromPreventedMatchId")
    if (match_id is None) == (order_id is None) or (from_id is not None and order_id is None):
        raise SimError(-1128, "Combination of optional parameters invalid.")
    limit = P.limit(params, 500, 1000)
    rows = [
        p
        for p in call.venue.engine.prevented_log.get(acct.account_id, ())
        if p.symbol == symbol
        and (match_id is None or p.prevented_match_id == match_id)
        and (order_id is None or order_id in (p.taker_order_id, p.maker_order_id))
        and (from_id is None or p.prevented_match_id >= from_id)
    ][:limit]
    out = []
    for p in rows:
        row: dict[str, Any] = {
            "symbol": p.symbol,
            "preventedMatchId": p.prevented_match_id,
            "takerOrderId": p.taker_order_id,
            "makerSymbol": p.symbol,
            "makerOrderId": p.maker_order_id,
            "tradeGroupId": -1,  # the sim has no trade groups
            "selfTradePreventionMode": p.mode,
            "price": f8(p.price),
            "makerPreventedQuantity": f8(p.maker_qty),
            "transactTime": p.time_ms,
        }
        if p.taker_qty:
            row["takerPreventedQuantity"] = f8(p.taker_qty)
        out.append(row)
    return out


@endpoint(20)
async def my_allocations(call: Call) -> list[dict[str, Any]]:
    """``GET /api/v3/myAllocations``: none, since no symbol here trades through SOR."""
    call.signed()
    call.symbol()
    return []


@endpoint(4)
async def order_amendments(call: Call) -> list[dict[str, Any]]:
    """``GET /api/v3/order/amendments``: none (amend-keep-priority is refused); -2013 for
    an order that does not exist."""
    account = call.signed()
    symbol = call.symbol()
    found = call.venue.engine.find_order(
        account, symbol, P.integer(call.params, "orderId"), call.params.get("origClientOrderId")
    )
    if found is None:
        raise no_such_order()
    return []


def _half(body: dict[str, Any] | None, error: SimError | None) -> dict[str, Any] | None:
    """One half of a cancel-replace's ``data``: its answer, or its error body."""
    return error.body() if error is not None else body


@endpoint(1)
async def cancel_replace(call: Call) -> dict[str, Any]:
    acct = call.signed()
    call.symbol()
    params = call.params
    mode = P.required(params, "cancelReplaceMode")
    if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
        raise SimError(-1130, "Data sent for parameter 'cancelReplaceMode' is not valid.")
    request = P.order_request(params)
    restriction = _restriction(params)
    over_limit = params.get("orderRateLimitExceededMode", "DO_NOTHING")
    if over_limit not in ("DO_NOTHING", "CANCEL_ONLY"):
        raise SimError(-1130, "Data sent for parameter 'orderRateLimitExceededMode' is not valid.")
    venue = call.venue
    engine = venue.engine
    cancel_id = P.integer(params, "cancelOrderId")
    cancel_orig = params.get("cancelOrigClientOrderId")
    cancel_new = params.get("cancelNewClientOrderId")
    try:
        venue.count_order(acct)
    except SimError as exc:
        if over_limit != "CANCEL_ONLY" or exc.code != -1015:
            raise
        # CANCEL_ONLY: over the order count, the cancel still goes; the new order fails.
        done = ReplaceResult(place_error=exc)
        try:
            done.canceled = engine.cancel(
                acct, request.symbol, cancel_id, cancel_orig, cancel_new, restriction
            )
        except SimError as cancel_exc:
            done.cancel_error = cancel_exc
    else:
        call.order_counted = True  # counted whatever happens next (rest-api.md)
        done = engine.cancel_replace(
            acct,
            cancel_id,
            cancel_orig,
            request,
            allow_failure=mode == "ALLOW_FAILURE",
            cancel_client_id=cancel_new,
            restriction=restriction,
        )
    cancel_body = cancel_report(done.canceled) if done.canceled is not None else None
    placed_body = (
        placed_order(done.placed, params.get("newOrderRespType"))
        if done.placed is not None
        else None
    )
    data: dict[str, object] = {
        "cancelResult": "FAILURE" if done.cancel_error else "SUCCESS",
        "newOrderResult": (
            "SUCCESS" if done.placed else "FAILURE" if done.place_error else "NOT_ATTEMPTED"
        ),
        "cancelResponse": _half(cancel_body, done.cancel_error),
        "newOrderResponse": _half(placed_body, done.place_error),
    }
    if done.cancel_error is None and done.place_error is None:
        return dict(data)
    if done.placed is None and done.canceled is None:
        raise SimError(-2022, "Order cancel-replace failed.", 400, data)
    raise SimError(-2021, "Order cancel-replace partially failed.", 409, data)


@endpoint(1)
async def oco(call: Call) -> dict[str, Any]:
    acct = call.signed()
    call.symbol()
    params = call.params
    above = P.order_request(params, prefix="above")
    below = P.order_request(params, prefix="below")
    venue = call.venue
    venue.count_order(acct, 2)  # an OCO is two orders to the order count
    order_list = venue.engine.place_oco(acct, above, below, params.get("listClientOrderId"))
    call.order_counted = True
    return {
        **order_list_body(order_list),
        "orderReports": [order_result(o) for o in order_list.orders],
    }


def _find_list(call: Call, account: Account, id_name: str, client_name: str) -> OrderList:
    """The order list named by id (searched first) or client id; -2011/-2013 otherwise."""
    engine = call.venue.engine
    list_id = P.integer(call.params, id_name)
    client_id = call.params.get(client_name)
    if list_id is None and not client_id:
        raise SimError(
            -1102, f"Param '{client_name}' or '{id_name}' must be sent, but both were empty/null!"
        )
    found = engine.order_lists.get(list_id) if list_id is not None else None
    if list_id is None:
        found = next(
            (
                lst
                for lst in engine.order_lists.values()
                if lst.account is account and lst.list_client_order_id == client_id
            ),
            None,
        )
    elif found is not None and client_id and found.list_client_order_id != client_id:
        found = None
    if found is None or found.account is not account:
        raise SimError(-2013, "Order list does not exist.")
    return found


@endpoint(1)
async def cancel_order_list(call: Call) -> dict[str, Any]:
    """``DELETE /api/v3/orderList``: cancel both legs of an open OCO."""
    acct = call.signed()
    symbol = call.symbol()
    try:
        order_list = _find_list(call, acct, "orderListId", "listClientOrderId")
    except SimError as exc:
        if exc.code != -2013:
            raise
        raise SimError(-2011, "Unknown order list sent.") from None
    open_legs = [o for o in order_list.orders if o.is_open]
    if order_list.symbol != symbol or not open_legs:
        raise SimError(-2011, "Unknown order list sent.")
    call.venue.engine.cancel(
        acct, symbol, open_legs[0].order_id, cancel_client_id=call.params.get("newClientOrderId")
    )
    return list_cancel_report(order_list)


@endpoint(4)
async def query_order_list(call: Call) -> dict[str, Any]:
    """``GET /api/v3/orderList`` by ``orderListId`` or ``origClientOrderId``."""
    acct = call.signed()
    return order_list_body(_find_list(call, acct, "orderListId", "origClientOrderId"))


@endpoint(6)
async def open_order_lists(call: Call) -> list[dict[str, Any]]:
    """``GET /api/v3/openOrderList``."""
    acct = call.signed()
    lists = call.venue.engine.order_lists.values()
    return [order_list_body(lst) for lst in lists if lst.account is acct and not lst.done]


@endpoint(20)
async def all_order_lists(call: Call) -> list[dict[str, Any]]:
    """``GET /api/v3/allOrderList``: by ``fromId``, or a time range (24 h at most)."""
    acct = call.signed()
    limit = P.limit(call.params, 500, 1000)
    from_id = P.integer(call.params, "fromId")
    start = P.integer(call.params, "startTime")
    end = P.integer(call.params, "endTime")
    if from_id is not None and (start is not None or end is not None):
        raise SimError(-1128, "Combination of optional parameters invalid.")
    if start is not None and end is not None and end - start > 86_400_000:
        raise SimError(-1127, "More than 24 hours between startTime and endTime.")
    rows = [
        lst
        for lst in call.venue.engine.order_lists.values()
        if lst.account is acct
        and (from_id is None or lst.list_id >= from_id)
        and (start is None or lst.orders[0].time_ms >= start)
        and (end is None or lst.orders[0].time_ms <= end)
    ]
    rows = rows[:limit] if from_id is not None or start is not None else rows[-limit:]
    return [order_list_body(lst) for lst in rows]


def add_routes(app: web.Application) -> None:
    """Register every REST route of ``/api/v3``."""
    r = app.router
    r.add_get("/api/v3/ping", ping)
    r.add_get("/api/v3/time", server_time)
    r.add_get("/api/v3/exchangeInfo", exchange_info)
    r.add_get("/api/v3/depth", depth)
    r.add_get("/api/v3/trades", trades)
    r.add_get("/api/v3/historicalTrades", trades)
    r.add_get("/api/v3/aggTrades", agg_trades)
    r.add_get("/api/v3/klines", klines)
    r.add_get("/api/v3/uiKlines", klines)
    r.add_get("/api/v3/avgPrice", avg_price)
    r.add_get("/api/v3/ticker/24hr", ticker_24hr)
    r.add_get("/api/v3/ticker/price", ticker_price)
    r.add_get("/api/v3/ticker/bookTicker", ticker_book)
    r.add_get("/api/v3/ticker", ticker_window)
    r.add_get("/api/v3/ticker/tradingDay", ticker_trading_day)
    r.add_post("/api/v3/order", new_order)
    r.add_get("/api/v3/order", query_order)
    r.add_delete("/api/v3/order", cancel_order)
    r.add_post("/api/v3/order/test", test_order)
    r.add_get("/api/v3/openOrders", open_orders)
    r.add_delete("/api/v3/openOrders", cancel_open_orders)
    r.add_get("/api/v3/allOrders", all_orders)
    r.add_get("/api/v3/account", account)
    r.add_get("/api/v3/myTrades", my_trades)
    r.add_post("/api/v3/order/cancelReplace", cancel_replace)
    r.add_post("/api/v3/orderList/oco", oco)
    r.add_delete("/api/v3/orderList", cancel_order_list)
    r.add_get("/api/v3/orderList", query_order_list)
    r.add_get("/api/v3/openOrderList", open_order_lists)
    r.add_get("/api/v3/allOrderList", all_order_lists)
    r.add_get("/api/v3/rateLimit/order", unfilled_order_count)
    r.add_get("/api/v3/account/commission", commission)
    r.add_post("/api/v3/sor/order", sor_order)
    r.add_post("/api/v3/sor/order/test", sor_order_test)
    for kind in ("oto", "otoco"):
        r.add_post(f"/api/v3/orderList/{kind}", oto)
    for kind in ("opo", "opoco"):
        r.add_post(f"/api/v3/orderList/{kind}", opo)
    r.add_put("/api/v3/order/amend/keepPriority", amend_keep_priority)
    r.add_get("/api/v3/order/amendments", order_amendments)
    r.add_get("/api/v3/myAllocations", my_allocations)
    r.add_get("/api/v3/myPreventedMatches", my_prevented_matches)
