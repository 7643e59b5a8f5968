"""User data over the WebSocket API with ``userDataStream.subscribe.signature``.

The listenKey flow was switched off in 2026 (reference §0, §7.1): we sign
``apiKey=...&timestamp=...`` the WebSocket-API way (params sorted, not percent-encoded)
and receive ``{"subscriptionId": N, "event": {...}}`` frames. ``executionReport`` becomes an
``OrderUpdated`` (exact order state, and the fill on a trade) on ``exec.order``;
``outboundAccountPosition`` becomes ``BalancesChanged`` on ``acct.balance``. The
subscription is renewed on every reconnect, and the link's state is published.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import msgspec
import websockets

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.domain.decimals import ZERO
from omnitrade_tui.domain.enums import ExecutionType, OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.domain.events import BalancesChanged, ConnectionChanged, LinkState, OrderUpdated
from omnitrade_tui.domain.models import Balance, ExecutionReport, Fill, Order
from omnitrade_tui.venues.binance.rest import Credentials

log = logging.getLogger(__name__)


def _d(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else ZERO


def parse_execution_report(e: dict[str, Any]) -> ExecutionReport:
    """A domain execution report from Binance's ``executionReport`` event."""
    execution = ExecutionType(e["x"])
    # On a cancel, "c" is the cancel request's own id and "C" the order's.
    client_id = e.get("C") or e["c"]
    price, stop = _d(e.get("p")), _d(e.get("P"))
    tif = str(e.get("f") or "")
    order = Order(
        symbol=e["s"],
        client_order_id=client_id,
        order_id=int(e["i"]),
        side=Side(e["S"]),
        type=OrderType(e["o"]),
        status=OrderStatus(e["X"]),
        quantity=_d(e.get("q")),
        price=price if price > 0 else None,
        stop_price=stop if stop > 0 else None,
        time_in_force=TimeInForce(tif) if tif in TimeInForce.__members__ else None,
        filled_qty=_d(e.get("z")),
        cum_quote_qty=_d(e.get("Z")),
        order_list_id=int(e.get("g", -1)),
        created_ms=int(e.get("O", 0)),
        updated_ms=int(e.get("T", e.get("E", 0))),
        reject_reason=None if e.get("r", "NONE") == "NONE" else str(e["r"]),
    )
    fill = None
    if execution is ExecutionType.TRADE:
        fill = Fill(
            symbol=order.symbol,
            trade_id=int(e["t"]),
            order_id=int(e["i"]),
            client_order_id=client_id,
            side=order.side,
            price=_d(e["L"]),
            qty=_d(e["l"]),
            commission=_d(e.get("n")),
            commission_asset=str(e.get("N") or ""),
            is_maker=bool(e.get("m")),
            time_ms=int(e.get("T", 0)),
        )
    return ExecutionReport(
        execution_type=execution, order=order, fill=fill, time_ms=int(e.get("E", 0))
    )


def parse_account_position(e: dict[str, Any]) -> BalancesChanged:
    """Balances from ``outboundAccountPosition``."""
    return BalancesChanged(
        balances=[Balance(asset=b["a"], free=_d(b["f"]), locked=_d(b["l"])) for b in e["B"]],
        time_ms=int(e.get("E", 0)),
    )


class UserDataStream:
    """Keeps one user-data subscription alive and publishes what it carries."""

    def __init__(
        self,
        ws_api_url: str,
        credentials: Credentials,
        bus: Bus,
        clock_offset_ms: int = 0,
        max_backoff_s: float = 30.0,
        on_subscribed: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        """``on_subscribed`` runs after every (re)subscription: the runtime passes the
        order manager's ``reconcile``, so what happened while the link was down is found."""
        self.on_subscribed = on_subscribed
        self._tasks: set[asyncio.Task[Any]] = set()
        self.url = ws_api_url
        self.credentials = credentials
        self.bus = bus
        self.clock_offset_ms = clock_offset_ms
        self.max_backoff_s = max_backoff_s
        self.subscribed = asyncio.Event()
        self.reconnects = 0
        self._ids = itertools.count(1)

    def _link(self, state: LinkState, detail: str = "") -> None:
        self.bus.publish(
            topics.CONNECTION,
            ConnectionChanged(
                venue="binance",
                link="user",
                state=state,
                detail=detail,
                time_ms=int(time.time() * 1000),
            ),
        )

    def _subscribe_request(self) -> str:
        timestamp = int(time.time() * 1000) + self.clock_offset_ms
        payload = f"apiKey={self.credentials.api_key}&timestamp={timestamp}"
        params = {
            "apiKey": self.credentials.api_key,
            "timestamp": timestamp,
            "signature": self.credentials.sign(payload),
        }
        request = {
            "id": f"sub-{next(self._ids)}",
            "method": "userDataStream.subscribe.signature",
            "params": params,
        }
        return msgspec.json.encode(request).decode()

    async def run(self) -> None:
        """Stay subscribed until cancelled."""
        backoff = 0.5
        while True:
            self._link(LinkState.CONNECTING if self.reconnects == 0 else LinkState.RECONNECTING)
            try:
                async with websockets.connect(self.url, compression=None, ping_interval=20) as ws:
                    await ws.send(self._subscribe_request())
                    async for raw in ws:
                        if self._handle(raw):
                            backoff = 0.5
            except (OSError, websockets.WebSocketException) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                reason = "closed by the venue"
            self.subscribed.clear()
            self.reconnects += 1
            self._link(LinkState.RECONNECTING, reason)
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, self.max_backoff_s)

    def _handle(self, raw: str | bytes) -> bool:
        """Handle one frame; True when it confirmed the subscription."""
        try:
            msg = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            log.warning("malformed user-data frame skipped")
            return False
        if "event" in msg and "subscriptionId" in msg:
            event = msg["event"]
            kind = event.get("e")
            try:
                if kind == "executionReport":
                    self.bus.publish(
                        topics.ORDER, OrderUpdated(report=parse_execution_report(event))
                    )
                elif kind == "outboundAccountPosition":
                    self.bus.publish(topics.BALANCE, parse_account_position(event))
            except (KeyError, ValueError) as exc:
                log.warning("user-data event %s skipped: %s", kind, exc)
            return False
        if msg.get("status") == 200 and isinstance(msg.get("result"), dict):
            if "subscriptionId" in msg["result"]:
                self.subscribed.set()
                self._link(LinkState.CONNECTED, "user data subscribed")
                if self.on_subscribed is not None:
                    task = asyncio.ensure_future(self.on_subscribed())
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                return True
        elif "error" in msg:
            error = msg["error"]
            self._link(LinkState.FAILED, f"{error.get('code')}: {error.get('msg')}")
        return False
