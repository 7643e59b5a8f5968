"""WebSocket API of the simulated venue (``/ws-api/v3``), with user-data subscriptions.

Requests are ``{"id", "method", "params"}``; answers ``{"id", "status", "result" |
"error", "rateLimits"}`` (reference §8). Signed methods verify the signature over the
params sorted by name (§5.3). ``userDataStream.subscribe.signature`` routes the account's
``executionReport`` and ``outboundAccountPosition`` events to this connection, wrapped as
``{"subscriptionId": N, "event": {...}}``.

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
from omnitrade_tui.venues.sim.accounts import Account
from omnitrade_tui.venues.sim.appkeys import VENUE_KEY
from omnitrade_tui.venues.sim.auth import check_timestamp, ws_payload
from omnitrade_tui.venues.sim.errors import SimError, bad_symbol, no_such_order
from omnitrade_tui.venues.sim.outbox import Outbox, cut_off
from omnitrade_tui.venues.sim.render import (
    account_info,
    cancel_report,
    order_query,
    placed_order,
)

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
    return {
        k: ("true" if v is True else "false" if v is False else str(v)) for k, v in params.items()
    }


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
        """Verify ``apiKey``, ``signature`` and ``timestamp``; the caller's account."""
        venue = self.venue
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

    def symbol(self, params: dict[str, Any]) -> str:
        symbol = str(params.get("symbol", ""))
        if not symbol:
            raise SimError(
                -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
            )
        if symbol not in self.venue.markets:
            raise bad_symbol()
        return symbol

    async def dispatch(self, method: str, params: dict[str, Any]) -> Any:
        """Run one method; its result, or a ``SimError``."""
        venue = self.venue
        engine = venue.engine
        name = method.removeprefix("v3/")
        if name == "ping":
            return {}
        if name == "time":
            return {"serverTime": venue.now_ms()}
        if name == "exchangeInfo":
            return {
                "timezone": "UTC",
                "serverTime": venue.now_ms(),
                "rateLimits": [],
                "exchangeFilters": [],
                "symbols": [i.to_exchange_info() for i in engine.instruments.values()],
            }
        if name == "depth":
            symbol = self.symbol(params)
            limit = P.limit(_strings(params), 100, P.DEPTH_LIMIT_MAX)
            return venue.markets[symbol].partial_depth(limit)
        if name == "session.status":
            return {
                "apiKey": None,
                "authorizedSince": None,
                "connectedSince": venue.now_ms(),
                "returnRateLimits": True,
                "serverTime": venue.now_ms(),
                "userDataStream": bool(self.subs),
            }
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
            return {}
        account = self.signed(params)
        text = _strings(params)
        if name == "order.place":
            request = P.order_request(text)
            self.symbol(params)
            venue.count_order(account)
            result = engine.place(account, request)
            return placed_order(result, text.get("newOrderRespType"))
        if name == "order.cancel":
            symbol = self.symbol(params)
            order = engine.cancel(
                account,
                symbol,
                P.integer(text, "orderId"),
                text.get("origClientOrderId"),
                text.get("newClientOrderId"),
            )
            return cancel_report(order)
        if name == "order.status":
            symbol = self.symbol(params)
            found = engine.find_order(
                account, symbol, P.integer(text, "orderId"), text.get("origClientOrderId")
            )
            if found is None:
                raise no_such_order()
            return order_query(found)
        if name == "openOrders.status":
            symbol_or_none = self.symbol(params) if "symbol" in params else None
            return [order_query(o) for o in engine.open_orders(account, symbol_or_none)]
        if name == "openOrders.cancelAll":
            symbol = self.symbol(params)
            return [cancel_report(o) for o in engine.cancel_all(account, symbol)]
        if name == "account.status":
            return account_info(account, venue.now_ms())
        raise SimError(-1100, f"Unknown method '{method[:64]}'.")

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
        try:
            result = await self.dispatch(request.method, request.params)
        except SimError as exc:
            self.push({"id": request.id, "status": exc.status, "error": exc.body()})
            return
        except Exception:  # a bug: the client gets Binance's -1000, the log the traceback
            log.exception("simulated WebSocket API: %s failed", request.method[:64])
            self.push({"id": request.id, "status": 500, "error": _UNKNOWN_ERROR})
            return
        self.push({"id": request.id, "status": 200, "result": result, "rateLimits": []})

    def _refuse(self, code: int, msg: str) -> None:
        """Answer a frame that could not be read as a request (its id unknown: null)."""
        self.push({"id": None, "status": 400, "error": {"code": code, "msg": msg[:200]}})


async def handle(request: web.Request) -> web.WebSocketResponse:
    """Serve one WebSocket-API connection until it closes."""
    venue: SimVenue = request.app[VENUE_KEY]
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=256 * 1024)
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
