"""WebSocket API of the simulated venue (``/ws-api/v3``), with user-data subscriptions.

Requests are ``{"id", "method", "params"}``; answers ``{"id", "status", "result" |
"error", "rateLimits"}`` (reference §8). Signed methods verify the signature over the
params sorted by name (§5.3). ``userDataStream.subscribe.signature`` routes the account's
``executionReport`` and ``outboundAccountPosition`` events to this connection, wrapped as
``{"subscriptionId": N, "event": {...}}``.
"""

from __future__ import annotations

import asyncio
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
from omnitrade_tui.venues.sim.render import (
    account_info,
    cancel_report,
    order_query,
    placed_order,
)

if TYPE_CHECKING:
    from omnitrade_tui.venues.sim.venue import SimVenue


@dataclass
class UserSubscription:
    """One ``userDataStream.subscribe.signature`` of one WebSocket-API connection."""

    subscription_id: int
    account_id: int
    send: Callable[[dict[str, Any]], None]


def _strings(params: dict[str, Any]) -> dict[str, str]:
    return {
        k: ("true" if v is True else "false" if v is False else str(v)) for k, v in params.items()
    }


class Session:
    """One WebSocket-API connection."""

    def __init__(self, venue: SimVenue, ws: web.WebSocketResponse) -> None:
        self.venue = venue
        self.ws = ws
        self.subs: list[UserSubscription] = []
        self.outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=50_000)

    def push(self, payload: dict[str, Any]) -> None:
        """Queue an event for this connection (dropping the connection if it lags far)."""
        try:
            self.outbox.put_nowait(msgspec.json.encode(payload).decode())
        except asyncio.QueueFull:
            self.venue.spawn(self.ws.close(code=1008, message=b"Client too slow"))

    async def writer(self) -> None:
        """Send queued answers and events in order."""
        while not self.ws.closed:
            text = await self.outbox.get()
            try:
                await self.ws.send_str(text)
            except (ConnectionResetError, RuntimeError):
                return

    def signed(self, params: dict[str, Any]) -> Account:
        """Verify ``apiKey``, ``signature`` and ``timestamp``; the caller's account."""
        venue = self.venue
        key = venue.keys.lookup(params.get("apiKey"))
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
            limit = int(params.get("limit", 100))
            return venue.markets[self.symbol(params)].partial_depth(limit)
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
            wanted = params.get("subscriptionId")
            gone = [s for s in self.subs if wanted is None or s.subscription_id == int(wanted)]
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
                account, symbol, P.integer(text, "orderId"), text.get("origClientOrderId")
            )
            return cancel_report(order, text.get("newClientOrderId"))
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
            return [cancel_report(o, None) for o in engine.cancel_all(account, symbol)]
        if name == "account.status":
            return account_info(account, venue.now_ms())
        raise SimError(-1100, f"Unknown method '{method}'.")

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
            request = msgspec.json.decode(text)
        except msgspec.DecodeError:
            self.push(
                {"id": None, "status": 400, "error": {"code": -1100, "msg": "Malformed JSON."}}
            )
            return
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            self.push(
                {
                    "id": request.get("id") if isinstance(request, dict) else None,
                    "status": 400,
                    "error": {"code": -1102, "msg": "Mandatory parameter 'method' was not sent."},
                }
            )
            return
        req_id = request.get("id")
        params = request.get("params") or {}
        if not isinstance(params, dict):
            self.push(
                {"id": req_id, "status": 400, "error": {"code": -1130, "msg": "Invalid params."}}
            )
            return
        try:
            result = await self.dispatch(request["method"], params)
        except SimError as exc:
            self.push({"id": req_id, "status": exc.status, "error": exc.body()})
            return
        except (ValueError, TypeError) as exc:
            self.push({"id": req_id, "status": 400, "error": {"code": -1130, "msg": str(exc)}})
            return
        self.push({"id": req_id, "status": 200, "result": result, "rateLimits": []})


async def handle(request: web.Request) -> web.WebSocketResponse:
    """Serve one WebSocket-API connection until it closes."""
    venue: SimVenue = request.app[VENUE_KEY]
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=256 * 1024)
    await ws.prepare(request)
    session = Session(venue, ws)
    writer = asyncio.ensure_future(session.writer())
    venue.api_sockets.add(ws)
    try:
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                await session.answer(msg.data)
    finally:
        for sub in list(session.subs):
            if sub in venue.user_subs:
                venue.user_subs.remove(sub)
        venue.api_sockets.discard(ws)
        writer.cancel()
    return ws
