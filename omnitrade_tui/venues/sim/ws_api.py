"""WebSocket API of the simulated venue (``/ws-api/v3``), with user-data subscriptions.

Requests are ``{"id", "method", "params"}``; answers ``{"id", "status", "result" |
"error", "rateLimits"}`` (reference §8). Every market-data, trading and account method is
its REST endpoint under another name (``_METHODS``): the same handler runs with the
frame's params, so both APIs answer alike and share the IP's weight, which ``rateLimits``
reports (with the order counts after an order; ``returnRateLimits`` false, per request or
in the URL, leaves it out). Public methods need no key. Signed methods verify the
signature over the params sorted by name (§5.3), or use the key of ``session.logon``
(Ed25519 keys only: an HMAC key's logon is refused with -1022, as Binance refuses it).
``userDataStream.subscribe`` (logged on) and ``.subscribe.signature`` route the account's
user-data events to this connection, wrapped as ``{"subscriptionId": N, "event": {...}}``.

A frame is decoded straight into the request's shape (params are scalars or lists of
scalars), so a frame nested deeper, or of any other shape, is answered with an error and
the connection keeps serving. Answers and events wait in a byte-bounded outbox: a client
that stops reading is disconnected ("Client too slow") instead of holding the venue's
memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import WSMsgType, web

from omnitrade_tui.venues.sim import params as P
from omnitrade_tui.venues.sim import rest, sockets
from omnitrade_tui.venues.sim.accounts import Account
from omnitrade_tui.venues.sim.appkeys import VENUE_KEY
from omnitrade_tui.venues.sim.auth import check_timestamp, ws_payload
from omnitrade_tui.venues.sim.errors import SimError
from omnitrade_tui.venues.sim.outbox import Outbox, cut_off
from omnitrade_tui.venues.sim.render import in_microseconds

if TYPE_CHECKING:
    from omnitrade_tui.venues.sim.venue import SimVenue

log = logging.getLogger(__name__)


@dataclass
class UserSubscription:
    """One ``userDataStream.subscribe.signature`` of one WebSocket-API connection."""

    subscription_id: int
    account_id: int
    send: Callable[[dict[str, Any]], None]


Scalar = str | int | float | bool | None


class Request(msgspec.Struct):
    """A WebSocket-API request frame, as far as the venue reads it."""

    method: str
    id: int | str | None = None
    params: dict[str, Scalar | list[Scalar]] = msgspec.field(default_factory=dict)


_request_decoder = msgspec.json.Decoder(Request)
_UNKNOWN_ERROR = {"code": -1000, "msg": "An unknown error occurred while processing the request."}


def _strings(params: dict[str, Any]) -> dict[str, str]:
    """Params as the REST form would carry them (a list as its JSON text)."""
    return {
        k: (
            "true"
            if v is True
            else "false"
            if v is False
            else msgspec.json.encode(v).decode()
            if isinstance(v, list)
            else str(v)
        )
        for k, v in params.items()
    }


def _as_ws_list_cancel(result: dict[str, Any]) -> dict[str, Any]:
    """``orderList.cancel``'s leg reports as web-socket-api.md shows them: each leg by its
    own client id, without the REST answer's ``origClientOrderId``."""
    reports = []
    for report in result.get("orderReports", []):
        leg = dict(report)
        leg["clientOrderId"] = leg.pop("origClientOrderId", leg["clientOrderId"])
        reports.append(leg)
    return {**result, "orderReports": reports}


def _weight_limits(venue: SimVenue, used: int) -> list[dict[str, Any]]:
    """The REQUEST_WEIGHT entry of an answer's ``rateLimits``."""
    return [
        {
            "rateLimitType": "REQUEST_WEIGHT",
            "interval": "MINUTE",
            "intervalNum": 1,
            "limit": venue.weight_limit,
            "count": used,
        }
    ]


class WsCall(rest.Call):
    """A WebSocket-API request run by a REST handler: the same parameters as text (lists
    as the JSON the REST form takes), signed by ``apiKey``/``signature`` in the params or
    by the session's logged-on key."""

    def __init__(self, session: Session, params: dict[str, Any]) -> None:
        # No HTTP request to parse: the frame's params are the request.
        self.venue = session.venue
        self.request = session.request
        self.session = session
        self.typed = params
        self.params = _strings(params)
        self.body = ""
        self.raw_query = ""
        self.account: Account | None = None
        self.order_counted = False

    def signed(self) -> Account:
        """The caller's account, by the request's own signature or the session's key."""
        self.account = self.session.signed(self.typed)
        return self.account


# WebSocket-API method -> the REST endpoint it is (web-socket-api.md lists each beside it).
_METHODS: dict[str, rest.Route] = {
    "ping": rest.ping,
    "time": rest.server_time,
    "exchangeInfo": rest.exchange_info,
    "depth": rest.depth,
    "trades.recent": rest.trades,
    "trades.historical": rest.trades,
    "trades.aggregate": rest.agg_trades,
    "klines": rest.klines,
    "uiKlines": rest.klines,
    "avgPrice": rest.avg_price,
    "ticker.24hr": rest.ticker_24hr,
    "ticker.price": rest.ticker_price,
    "ticker.book": rest.ticker_book,
    "ticker": rest.ticker_window,
    "ticker.tradingDay": rest.ticker_trading_day,
    "order.place": rest.new_order,
    "order.test": rest.test_order,
    "order.status": rest.query_order,
    "order.cancel": rest.cancel_order,
    "order.cancelReplace": rest.cancel_replace,
    "openOrders.status": rest.open_orders,
    "openOrders.cancelAll": rest.cancel_open_orders,
    "allOrders": rest.all_orders,
    "myTrades": rest.my_trades,
    "account.status": rest.account,
    "account.rateLimits.orders": rest.unfilled_order_count,
    "account.commission": rest.commission,
    "orderList.place.oco": rest.oco,
    "orderList.status": rest.query_order_list,
    "orderList.cancel": rest.cancel_order_list,
    "openOrderLists.status": rest.open_order_lists,
    "allOrderLists": rest.all_order_lists,
    "sor.order.place": rest.sor_order,
    "sor.order.test": rest.sor_order_test,
    "orderList.place.oto": rest.oto,
    "orderList.place.otoco": rest.oto,
    "orderList.place.opo": rest.opo,
    "orderList.place.opoco": rest.opo,
    "order.amend.keepPriority": rest.amend_keep_priority,
    "order.amendments": rest.order_amendments,
    "myAllocations": rest.my_allocations,
    "myPreventedMatches": rest.my_prevented_matches,
}
METHODS = frozenset(
    [
        *_METHODS,
        "session.logon",
        "session.status",
        "session.logout",
        "session.subscriptions",
        "userDataStream.subscribe",
        "userDataStream.subscribe.signature",
        "userDataStream.unsubscribe",
    ]
)
"""Every method the venue answers (the coverage table in ``docs/sim-coverage.md``)."""


class Session:
    """One WebSocket-API connection."""

    MAX_OUTBOX_BYTES = 4 * 1024 * 1024
    MAX_OUTBOX = 50_000

    def __init__(self, venue: SimVenue, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.venue = venue
        self.ws = ws
        self.request = request
        self.subs: list[UserSubscription] = []
        self.outbox = Outbox(self.MAX_OUTBOX_BYTES, self.MAX_OUTBOX)
        self.writer_task: asyncio.Future[None] | None = None
        self.cut: asyncio.Task[None] | None = None
        self.connected_since = venue.now_ms()
        self.logged_on: str | None = None  # the API key of session.logon
        self.authorized_since: int | None = None
        self.logon_sub: UserSubscription | None = None  # userDataStream.subscribe's
        self.return_rate_limits = request.query.get("returnRateLimits") != "false"
        self.microseconds = request.query.get("timeUnit", "").upper() == "MICROSECOND"

    def push(self, payload: dict[str, Any]) -> None:
        """Queue an answer or event for this connection (past the outbox's bound the
        connection is cut off)."""
        if not self.outbox.put(msgspec.json.encode(payload)) and self.cut is None:
            self.cut = cut_off(self.ws, self.request, self.writer_task)

    async def writer(self) -> None:
        """Send queued answers and events in order."""
        while not self.ws.closed:
            item = await self.outbox.get()
            if self.outbox.overflowed:
                return  # being cut off
            if item is None:
                continue
            try:
                await self.ws.send_str(item[1].decode())
            except (ConnectionResetError, RuntimeError):
                return

    def signed(self, params: dict[str, Any]) -> Account:
        """The caller's account: ``apiKey``/``signature``/``timestamp`` verified, or, with
        no signature sent, the key of ``session.logon`` (``timestamp`` still required)."""
        venue = self.venue
        if self.logged_on is not None and "signature" not in params:
            try:
                key = venue.keys.lookup(self.logged_on)
            except SimError:
                self.logout()  # the key went away: the session is revoked
                raise
            check_timestamp(_strings(params), venue.now_ms())
            return venue.engine.accounts[key.account_id]
        api_key = params.get("apiKey")
        key = venue.keys.lookup(api_key if isinstance(api_key, str) else None)
        signature = params.get("signature")
        if not isinstance(signature, str) or not signature:
            raise SimError(
                -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
            )
        if not key.verify(ws_payload(params), signature):
            raise SimError(-1022, "Signature for this request is not valid.")
        check_timestamp(_strings(params), venue.now_ms())
        return venue.engine.accounts[key.account_id]

    def status(self) -> dict[str, Any]:
        """``session.status`` (and the answer of logon and logout)."""
        return {
            "apiKey": self.logged_on,
            "authorizedSince": self.authorized_since,
            "connectedSince": self.connected_since,
            "returnRateLimits": self.return_rate_limits,
            "serverTime": self.venue.now_ms(),
            "userDataStream": bool(self.subs),
        }

    def logon(self, params: dict[str, Any]) -> dict[str, Any]:
        """``session.logon``: Ed25519 keys only. An HMAC key's request is refused as
        Binance refuses it (its signature is not an Ed25519 one: -1022)."""
        api_key = params.get("apiKey")
        key = self.venue.keys.lookup(api_key if isinstance(api_key, str) else None)
        if key.public_key is None:
            raise SimError(-1022, "Signature for this request is not valid.")
        self.signed(params)
        self.logged_on = key.api_key
        self.authorized_since = self.venue.now_ms()
        return self.status()

    def logout(self) -> None:
        """Forget the logged-on key and end the subscription made through it."""
        self.logged_on = None
        self.authorized_since = None
        if self.logon_sub is not None:
            self.unsubscribe(self.logon_sub)
            self.logon_sub = None

    def _session_method(self, name: str, params: dict[str, Any]) -> Any:
        """The methods of the connection itself (no REST twin)."""
        if name == "session.status":
            return self.status()
        if name == "session.logon":
            return self.logon(params)
        if name == "session.logout":
            self.logout()
            return self.status()
        if name == "session.subscriptions":
            return [{"subscriptionId": s.subscription_id} for s in self.subs]
        if name == "userDataStream.subscribe":
            if self.logged_on is None:
                raise SimError(-1002, "You are not authorized to execute this request.", 401)
            account = self.signed({"timestamp": self.venue.now_ms()})
            if self.logon_sub is not None:
                raise SimError(-2035, "User Data Stream subscription already active.")
            sub_id = self.subscribe(account)
            self.logon_sub = self.subs[-1]
            return {"subscriptionId": sub_id}
        if name == "userDataStream.subscribe.signature":
            account = self.signed(params)
            if any(s.account_id == account.account_id for s in self.subs):
                raise SimError(-2035, "User Data Stream subscription already active.")
            return {"subscriptionId": self.subscribe(account)}
        if name == "userDataStream.unsubscribe":
            wanted = P.integer(_strings(params), "subscriptionId")
            gone = [s for s in self.subs if wanted is None or s.subscription_id == wanted]
            if wanted is not None and not gone:
                raise SimError(-2036, "User Data Stream subscription not active.")
            for sub in gone:
                self.unsubscribe(sub)
                if sub is self.logon_sub:
                    self.logon_sub = None
            return {}
        raise SimError(-1100, f"Unknown method '{name[:64]}'.")

    async def dispatch(self, method: str, params: dict[str, Any]) -> tuple[Any, list[Any]]:
        """Run one method; its result and the rate limits it counted against, or a
        ``SimError``."""
        venue = self.venue
        name = method.removeprefix("v3/")
        ip = self.request.remote or "?"
        route = _METHODS.get(name)
        if route is None:
            if name not in METHODS:
                raise SimError(-1100, f"Unknown method '{method[:64]}'.")
            used = rest.charge(venue, ip, 2)
            return self._session_method(name, params), _weight_limits(venue, used)
        handler, cost = rest.RAW[route]
        call = WsCall(self, params)
        used = rest.charge(venue, ip, cost(call) if callable(cost) else cost)
        if used > venue.weight_limit:
            raise SimError(
                -1003,
                f"Too much request weight used; current limit is {venue.weight_limit} "
                "request weight per 1 MINUTE. Please use WebSocket Streams for live updates "
                "to avoid polling the API.",
                429,
            )
        result = await handler(call)
        if name == "orderList.cancel":
            result = _as_ws_list_cancel(result)
        limits = _weight_limits(venue, used)
        if call.order_counted:
            ten_s, day = venue.order_counts(call.account)
            limits += rest.order_rate_limits(venue.orders_per_10s, ten_s, day)
        return result, limits

    def subscribe(self, account: Account) -> int:
        sub = UserSubscription(self.venue.next_subscription_id(), account.account_id, self.push)
        self.subs.append(sub)
        self.venue.user_subs.append(sub)
        return sub.subscription_id

    def unsubscribe(self, sub: UserSubscription) -> None:
        if sub in self.subs:
            self.subs.remove(sub)
        if sub in self.venue.user_subs:
            self.venue.user_subs.remove(sub)
        self.push(
            {
                "subscriptionId": sub.subscription_id,
                "event": {"e": "eventStreamTerminated", "E": self.venue.now_ms()},
            }
        )

    async def answer(self, text: str) -> None:
        """Parse one request frame and queue its answer (never raises on client input)."""
        try:
            request = _request_decoder.decode(text)
        except msgspec.ValidationError as exc:
            # The request's shape is wrong: a missing method, an id or params of another
            # type, a value nested deeper than a list. Say where, as Binance's parser does.
            self._refuse(-1130, f"Invalid request: {exc}")
            return
        except (msgspec.DecodeError, RecursionError):
            self._refuse(-1100, "Malformed JSON.")
            return
        params = dict(request.params)
        wants_limits = params.pop("returnRateLimits", self.return_rate_limits) is not False
        try:
            result, limits = await self.dispatch(request.method, params)
        except SimError as exc:
            self.push({"id": request.id, "status": exc.status, "error": exc.body()})
            return
        except Exception:  # a bug: the client gets Binance's -1000, the log the traceback
            log.exception("simulated WebSocket API: %s failed", request.method[:64])
            self.push({"id": request.id, "status": 500, "error": _UNKNOWN_ERROR})
            return
        if self.microseconds:
            result = in_microseconds(result)
        answer: dict[str, Any] = {"id": request.id, "status": 200, "result": result}
        if wants_limits:
            answer["rateLimits"] = limits
        self.push(answer)

    def _refuse(self, code: int, msg: str) -> None:
        """Answer a frame that could not be read as a request (its id unknown: null)."""
        self.push({"id": None, "status": 400, "error": {"code": code, "msg": msg[:200]}})


async def handle(request: web.Request) -> web.WebSocketResponse:
    """Serve one WebSocket-API connection until it closes."""
    venue: SimVenue = request.app[VENUE_KEY]
    ws = sockets.websocket(256 * 1024)
    await ws.prepare(request)
    session = Session(venue, ws, request)
    writer = session.writer_task = asyncio.ensure_future(session.writer())
    venue.api_sockets.add(ws)
    try:
        async for msg in ws:
            if session.outbox.overflowed:
                break  # being cut off: read nothing more
            if msg.type is WSMsgType.TEXT:
                await session.answer(msg.data)
    finally:
        for sub in list(session.subs):
            if sub in venue.user_subs:
                venue.user_subs.remove(sub)
        venue.api_sockets.discard(ws)
        writer.cancel()
        if session.cut is not None:
            await asyncio.wait([session.cut])  # closing it, in bounded time
    return ws
