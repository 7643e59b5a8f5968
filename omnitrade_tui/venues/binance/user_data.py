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
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import websockets

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.domain.backoff import Backoff
from omnitrade_tui.domain.events import LinkState, OrderUpdated, Reconciled
from omnitrade_tui.domain.recent import RecentKeys
from omnitrade_tui.venues.binance.renewal import OPEN_ERRORS, KeptConnection
from omnitrade_tui.venues.binance.rest import Credentials, MalformedAnswer
from omnitrade_tui.venues.binance.user_events import (
    parse_account_position,
    parse_balance_move,
    parse_execution_report,
    parse_list_status,
)

log = logging.getLogger(__name__)


class _Link:
    """One WebSocket-API connection carrying (or about to carry) the user-data subscription."""

    __slots__ = ("held", "opened", "overlap", "retired", "subscribed", "task", "ws")

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.opened = time.monotonic()
        self.task: asyncio.Task[None] | None = None
        self.held: list[dict[str, Any]] = []  # a renewal's events, until it is promoted
        self.subscribed = asyncio.Event()
        self.overlap = asyncio.Event()
        self.retired = False


# Binance closes a WebSocket-API connection after 24 hours; we renew it ten minutes before.
DEFAULT_MAX_LIFE_S = 23 * 3600 + 50 * 60
_RENEW_WAIT_S = 3.0  # for the new subscription's confirmation
_OVERLAP_WAIT_S = 1.0  # for an event seen on both connections (the account may be quiet)
_SEEN = 4096


def _event_key(event: dict[str, Any]) -> tuple[Any, ...]:
    """What identifies one user-data event across two subscriptions: the event's own ids
    and what it says, never its type and time alone. Two account updates in one
    millisecond (a lock, then its release by a cancel) differ only in their balances, and
    dropping the second as a repeat leaves the screen with the first for good."""
    key = tuple(event.get(k) for k in ("e", "E", "i", "x", "X", "t", "z", "I", "u"))
    balances = event.get("B")
    if isinstance(balances, list):
        key += tuple((b.get("a"), b.get("f"), b.get("l")) for b in balances if isinstance(b, dict))
    return key


class UserDataStream(KeptConnection[_Link]):
    """Keeps one user-data subscription alive and publishes what it carries.

    A connection that has to go (``serverShutdown``, or ``max_life_s`` reached ahead of
    the venue's 24-hour cut) is renewed make-before-break: a new connection subscribes
    while the old one still delivers; the new one's events are held until the old one
    has delivered one of them (or briefly, on a quiet account), then replayed without the
    events already seen, and the old connection closed. ``on_subscribed`` (the order
    manager's reconciliation) runs after the switch too, so an event that slipped
    between the two is still found.
    """

    LINK = "user"
    CLOSED_TEXT = "closed by the venue"

    def __init__(
        self,
        ws_api_url: str,
        credentials: Credentials,
        bus: Bus,
        clock_offset_ms: int = 0,
        max_backoff_s: float = 30.0,
        on_subscribed: Callable[[], Awaitable[Any]] | None = None,
        max_life_s: float = DEFAULT_MAX_LIFE_S,
        clock_ms: Callable[[], int] | None = None,
        resync_clock: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        """``on_subscribed`` runs after every (re)subscription: the runtime passes the
        order manager's ``reconcile``, so what happened while the link was down is found.
        ``clock_ms`` is our estimate of the venue's clock (``BinanceRest.now_ms``, which
        follows the venue after a -1021); without it, local time plus ``clock_offset_ms``.
        ``resync_clock`` (``BinanceRest.sync_time``) runs when the venue refuses the
        subscription's timestamp (-1021), before the next attempt."""
        super().__init__(bus, max_backoff_s, max_life_s)
        self.clock_ms = clock_ms
        self.resync_clock = resync_clock
        self.on_subscribed = on_subscribed
        self._tasks: set[asyncio.Task[Any]] = set()
        self.url = ws_api_url
        self.credentials = credentials
        self.clock_offset_ms = clock_offset_ms
        self.subscribed = asyncio.Event()
        self.duplicates = 0
        self._ids = itertools.count(1)
        self._seen: RecentKeys[tuple[Any, ...]] = RecentKeys(_SEEN)
        self._holding: list[dict[str, Any]] | None = None  # events held while reconciling
        self._reconciling: asyncio.Task[Any] | None = None
        self._reconcile_again = False

    def _subscribe_request(self) -> str:
        if self.clock_ms is not None:
            timestamp = self.clock_ms()
        else:
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

    async def _open(self) -> _Link:
        ws = await websockets.connect(self.url, compression=None, ping_interval=20)
        link = _Link(ws)
        link.task = asyncio.create_task(self._reader(link))
        await ws.send(self._subscribe_request())
        return link

    def _was_useful(self, conn: _Link) -> bool:
        return conn.subscribed.is_set()

    def _on_lost(self, reason: str) -> None:
        self.subscribed.clear()

    async def _renew_connection(self, old: _Link) -> bool:
        """Make-before-break: subscribe on a new connection, overlap, switch, close."""
        try:
            new = await self._open()
        except OPEN_ERRORS as exc:
            log.warning("user-data renewal failed to connect: %s", exc)
            return False
        self._renewal = new
        assert new.task is not None
        assert old.task is not None
        ok = await _first(new.subscribed.wait(), {new.task}, _RENEW_WAIT_S)
        if not ok or new.task.done():
            self._renewal = None
            await self._retire(new)
            log.warning("user-data renewal could not subscribe; keeping the old connection")
            return False
        await _first(new.overlap.wait(), {old.task, new.task}, _OVERLAP_WAIT_S)
        self._promote(new, old)
        await self._retire(old)
        return True

    def _promote(self, new: _Link, old: _Link) -> None:
        old.retired = True
        self._primary = new
        self._renewal = None
        held, new.held = new.held, []
        for event in held:
            self._deliver(event)
        self.renewals += 1
        self._publish_link(LinkState.CONNECTED, "user data renewed")
        self._after_subscribe()

    async def aclose(self) -> None:
        """Close the connections and stop reconciliations in flight."""
        await self._drop_all()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _reader(self, link: _Link) -> None:
        async for raw in link.ws:
            if link.retired:
                return
            self._handle(raw, link)

    def _handle(self, raw: str | bytes, link: _Link | None = None) -> bool:
        """Handle one frame; True when it confirmed the subscription."""
        try:
            msg = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            log.warning("malformed user-data frame skipped")
            return False
        event = msg.get("event") if isinstance(msg, dict) else None
        if isinstance(event, dict):
            if "subscriptionId" not in msg:
                if event.get("e") == "serverShutdown" and link is self._primary:
                    self._renew.set()
                return False
            if event.get("e") == "eventStreamTerminated" and link is not None:
                self._terminated(link)
                return False
            if link is not None and link is self._renewal:
                link.held.append(event)
                if _event_key(event) in self._seen:
                    link.overlap.set()
            else:
                self._deliver(event)
                renewal = self._renewal
                if renewal is not None and any(
                    _event_key(e) == _event_key(event) for e in renewal.held
                ):
                    renewal.overlap.set()
            return False
        if msg.get("status") == 200 and isinstance(msg.get("result"), dict):
            if "subscriptionId" in msg["result"]:
                if link is not None:
                    link.subscribed.set()
                    if link is self._renewal:
                        return True  # announced when promoted
                self.subscribed.set()
                self._publish_link(LinkState.CONNECTED, "user data subscribed")
                self._after_subscribe()
                return True
        elif "error" in msg:
            error = msg["error"]
            self._publish_link(LinkState.FAILED, f"{error.get('code')}: {error.get('msg')}")
            if link is not None and not link.subscribed.is_set():
                # A refused subscription (a clock off by more than the window, say) leaves
                # a connection that carries nothing: drop it, so it is tried again.
                self._spawn(self._refused(link, error.get("code")))
        return False

    def _terminated(self, link: _Link) -> None:
        """The venue ended this connection's subscription (``eventStreamTerminated``): the
        connection carries no more user data. Drop it, so the keeper connects and subscribes
        again and the reconciliation finds what happened between."""
        if link is self._renewal:
            link.subscribed.clear()
            return  # the renewal fails to subscribe and the old connection is kept
        self.subscribed.clear()
        self._publish_link(LinkState.RECONNECTING, "user data stream terminated by the venue")
        self._spawn(link.ws.close())

    async def _refused(self, link: _Link, code: Any) -> None:
        if code == -1021 and self.resync_clock is not None:
            with contextlib.suppress(Exception):
                await self.resync_clock()
        await link.ws.close()

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _after_subscribe(self) -> None:
        hook = self.on_subscribed
        if hook is None:
            return
        if self._holding is None:
            self._holding = []
        if self._reconciling is not None and not self._reconciling.done():
            # One at a time: a link that flaps while the venue is slow to answer would
            # otherwise pile up reconciliations, each holding its requests and the first
            # to end releasing events the others have not accounted for yet.
            self._reconcile_again = True
            return
        self._reconciling = self._spawn(self._reconcile_then_release(hook))

    async def _reconcile_then_release(self, reconcile: Callable[[], Awaitable[Any]]) -> None:
        """Run the reconciliation (again until it succeeds, and once more if the link was
        subscribed again meanwhile) while the new subscription's events wait, then let
        them through in order.

        Why: a reconciliation asks for fills newer than the newest one it knows; a fill
        that arrived on the new subscription before it asked would hide an older fill
        missed while the link was down. Correct fills come before prompt ones: while the
        venue cannot be asked, events wait (and say so in the log).
        """
        waits = Backoff(0.5, 10.0)
        try:
            while True:
                self._reconcile_again = False
                try:
                    await reconcile()
                except Exception as exc:  # the venue could not be asked: try again
                    log.warning("reconciliation failed (%s); user events wait for it", exc)
                    await asyncio.sleep(waits.next())
                    continue
                if not self._reconcile_again:
                    return
        finally:
            held, self._holding = self._holding or [], None
            for event in held:
                self._publish(event)

    def _deliver(self, event: dict[str, Any]) -> None:
        """Publish one event, once: an event seen on both sides of a renewal is dropped."""
        key = _event_key(event)
        if key in self._seen:
            self.duplicates += 1
            return
        self._seen.add(key)
        if self._holding is not None:
            self._holding.append(event)
            return
        self._publish(event)

    def _publish(self, event: dict[str, Any]) -> None:
        kind = event.get("e")
        try:
            if kind == "executionReport":
                self.bus.publish(topics.ORDER, OrderUpdated(report=parse_execution_report(event)))
            elif kind == "outboundAccountPosition":
                self.bus.publish(topics.BALANCE, parse_account_position(event))
            elif kind == "listStatus":
                self.bus.publish(topics.ORDER_LIST, parse_list_status(event))
            elif kind in ("balanceUpdate", "externalLockUpdate"):
                # The balances themselves follow in an outboundAccountPosition; this says
                # why they changed, so a deposit is not mistaken for a fill on the screen.
                move = parse_balance_move(event)
                detail = move.describe()
                log.info("user data: %s", detail)
                self.bus.publish(
                    topics.RECONCILE,
                    Reconciled(
                        orders_changed=[],
                        fills_added=0,
                        balances=1,
                        detail=detail,
                        time_ms=move.event_ms,
                    ),
                )
            elif kind != "eventStreamTerminated":
                log.info("user-data event %s not used", kind)
        except MalformedAnswer as exc:
            log.warning("user-data event %s skipped: %s", kind, exc.msg)


async def _first(
    awaitable: Awaitable[Any], others: set[asyncio.Task[None]], timeout: float
) -> bool:
    """Wait for ``awaitable`` unless one of ``others`` ends or time runs out; True if done."""
    waiter = asyncio.ensure_future(awaitable)
    try:
        await asyncio.wait({waiter, *others}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    return waiter.done() and not waiter.cancelled()
