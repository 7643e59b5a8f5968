"""The attached terminal's end of the gateway: a local bus fed from a remote one.

``GatewayClient`` logs in over HTTP, opens the WebSocket, subscribes to the topics the
screen follows and republishes every event it receives on a local ``Bus``; it registers
itself as the local handler of every command, so ``bus.request(PlaceOrder(...))`` in the
app travels to the gateway and its reply (or refusal, with the venue's code or the role
it needs) comes back as if the engine were in-process. The app cannot tell the difference,
which is the point: the same screen code runs local and attached.

It keeps the session alive: the access token is refreshed (rotating the refresh token)
before it expires and handed to the open socket (``Reauth``); a dropped socket is
reopened with backoff and the subscriptions restored, and the link's state is published
as ``ConnectionChanged`` on link ``gateway`` for the status bar. A gateway that says the
user was removed, or that refuses the refresh, ends the session instead of retrying.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import msgspec

from omnitrade_tui.bus import Bus, contract, topics
from omnitrade_tui.bus.wire import UnknownWireType, WireTypes, kind_of
from omnitrade_tui.domain.backoff import Backoff
from omnitrade_tui.domain.commands import AnyCommand, Command
from omnitrade_tui.domain.events import BookHealth, BookState, ConnectionChanged, LinkState
from omnitrade_tui.gateway import protocol as wire

log = logging.getLogger(__name__)

R = TypeVar("R")

LINK = "gateway"

#: What the terminal's screen follows (the gateway refuses what the role may not see).
SCREEN_TOPICS = contract.SCREEN


#: How a refusal by the gateway's rate limit begins (``throttle.RateLimited``), and how long
#: a subscription so refused waits before each new try.
_RATE_LIMITED = "too many requests"
_RATE_LIMITED_RETRIES_S = (0.25, 0.5, 1.0, 2.0)


class GatewayError(Exception):
    """The gateway could not be reached, or refused the login (the message says which)."""


class GatewayUnreachable(GatewayError):
    """No answer from the gateway's address (down, wrong port, a firewall)."""


class SessionEnded(GatewayError):
    """The gateway will not renew this session (revoked, expired, user removed): log in."""


class _TokenRefused(GatewayError):
    """The WebSocket handshake refused the access token (expired or revoked)."""


class RemoteRefusal(Exception):
    """The gateway or the engine behind it refused a request.

    ``code`` is the venue's error code when it gave one; ``needed`` the role a refusal by
    role asks for.
    """

    def __init__(self, reason: str, code: int | None = None, needed: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.needed = needed


@dataclass
class Tokens:
    """The current access and refresh tokens."""

    access: str
    refresh: str
    expires_at: float  # local clock
    role: str


class GatewayClient:
    """One terminal's session with a gateway (see the module docstring).

    Args:
        base_url: ``https://host:port`` (or ``http://`` on loopback).
        username: who logs in.
        bus: the local bus events are published on and commands are taken from.
        pin: the gateway certificate's ``SHA256:...`` fingerprint (required for https).
        patterns: the topics to follow.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        bus: Bus | None = None,
        *,
        pin: bytes | None = None,
        patterns: Iterable[str] = SCREEN_TOPICS,
        reconnect: bool = True,
        timeout_s: float = 20.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.bus = bus or Bus()
        self.pin = pin
        # Plain names: a contract Topic is a str subclass msgspec will not encode.
        self.patterns = [str(p) for p in patterns]
        self.reconnect = reconnect
        self.timeout_s = timeout_s
        self.types = WireTypes()
        self.welcome: wire.Welcome | None = None
        self.tokens: Tokens | None = None
        self.refused_patterns: dict[str, str] = {}
        self.goodbye: wire.Goodbye | None = None
        self.events_received = 0
        self.dropped_by_gateway = 0
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._welcomed: asyncio.Future[wire.Welcome] | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._closing = False
        self._following = False
        self._refreshing = asyncio.Lock()
        #: The gateway's own link states and book healths, last seen (see _mark_unknown).
        self._remote_state: dict[tuple[str, str], ConnectionChanged | BookHealth] = {}
        self._installed: list[type[AnyCommand]] = []

    # -- session ---------------------------------------------------------------------------

    async def start(self, password: str, *, follow: bool = True) -> wire.Welcome:
        """Log in, attach, take over the local commands and (``follow``) subscribe.

        With ``follow=False`` nothing is subscribed until ``follow()``: a screen that
        subscribes to the local bus only once it is mounted calls it then, so the state
        the gateway replays on subscribing (balances, open orders) reaches it.

        Raises:
            GatewayError: unreachable, TLS pin mismatch, wrong credentials, blocked address.
        """
        ssl: Any = aiohttp.Fingerprint(self.pin) if self.pin is not None else None
        connector = aiohttp.TCPConnector(ssl=ssl) if ssl is not None else aiohttp.TCPConnector()
        self._http = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout_s)
        )
        try:
            self.tokens = await self._post(
                "/auth/login", {"username": self.username, "password": password}
            )
            welcome = await self._attach()
            if follow:
                await self.follow()
        except BaseException:
            await self.aclose()
            raise
        self._install()
        self._tasks.append(asyncio.create_task(self._keep_fresh(), name="gateway.refresh"))
        return welcome

    async def _post(self, path: str, body: dict[str, str]) -> Tokens:
        assert self._http is not None
        try:
            async with self._http.post(self.base_url + path, json=body) as resp:
                data = await resp.json(content_type=None)
                if resp.status != 200:
                    reason = data.get("error") if isinstance(data, dict) else None
                    raise GatewayError(reason or f"the gateway answered HTTP {resp.status}")
        except aiohttp.ServerFingerprintMismatch as exc:
            raise GatewayError(
                "the gateway's certificate does not match the trusted fingerprint: "
                "someone may be in the middle; refusing to send credentials"
            ) from exc
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise GatewayUnreachable(
                f"cannot reach the gateway at {self.base_url}: {exc or type(exc).__name__}"
            ) from exc
        return Tokens(
            access=data["access_token"],
            refresh=data["refresh_token"],
            expires_at=time.time() + float(data["expires_in"]),
            role=data["role"],
        )

    async def _attach(self) -> wire.Welcome:
        assert self._http is not None
        assert self.tokens is not None
        ws_url = self.base_url.replace("http", "ws", 1) + "/ws"
        try:
            self._ws = await self._http.ws_connect(
                ws_url,
                headers={"Authorization": f"Bearer {self.tokens.access}"},
                heartbeat=20.0,
                max_msg_size=1 << 24,
            )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 401:
                raise _TokenRefused("the gateway refused the access token") from exc
            raise GatewayError(f"the gateway refused the connection: HTTP {exc.status}") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise GatewayUnreachable(
                f"cannot reach the gateway at {self.base_url}: {exc or type(exc).__name__}"
            ) from exc
        self.goodbye = None
        self._welcomed = asyncio.get_running_loop().create_future()
        reader = asyncio.create_task(self._read(self._ws), name="gateway.read")
        self._tasks.append(reader)
        welcome = await asyncio.wait_for(self._welcomed, self.timeout_s)
        if welcome.protocol != wire.PROTOCOL_VERSION:
            raise GatewayError(
                f"the gateway speaks protocol {welcome.protocol}, this terminal "
                f"{wire.PROTOCOL_VERSION}: upgrade one of them"
            )
        if self._following:
            await self._subscribe_all()
        self._link(LinkState.CONNECTED, f"{self.username} ({welcome.role})")
        return welcome

    async def follow(self) -> None:
        """Subscribe to ``patterns`` (again after every reconnect); the gateway answers
        each with its current state first."""
        self._following = True
        await self._subscribe_all()
        welcome = self.welcome
        if welcome is not None:  # the screen missed the link coming up: say it again
            self._link(LinkState.CONNECTED, f"{self.username} ({welcome.role})")

    async def _subscribe_all(self) -> None:
        self.refused_patterns = {}
        for pattern in self.patterns:
            for wait in (*_RATE_LIMITED_RETRIES_S, None):
                try:
                    await self._call(wire.Subscribe(id=self._next_id(), pattern=pattern))
                    break
                except RemoteRefusal as exc:
                    # Many terminals attaching at once through one address (an SSH host)
                    # may meet the gateway's rate limit: that passes, a role does not.
                    if wait is None or not exc.reason.startswith(_RATE_LIMITED):
                        self.refused_patterns[pattern] = exc.reason
                        break
                    await asyncio.sleep(wait)

    def _link(self, state: LinkState, detail: str = "") -> None:
        self.bus.publish(
            topics.CONNECTION,
            ConnectionChanged(
                venue="gateway",
                link=LINK,
                state=state,
                detail=detail,
                time_ms=int(time.time() * 1000),
            ),
        )

    # -- reading ---------------------------------------------------------------------------

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        publish = self.bus.publish
        decode = self.types.decode
        topic_named = contract.topic_named
        try:
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.BINARY:
                    continue
                try:
                    frame = wire.decode_gateway_frame(msg.data)
                except msgspec.DecodeError as exc:
                    log.warning("malformed frame from the gateway: %s", exc)
                    continue
                if isinstance(frame, wire.EventsIn):
                    self.dropped_by_gateway += frame.dropped
                    for topic, kind, raw in frame.items:
                        try:
                            value = decode(kind, raw)
                        except (msgspec.DecodeError, msgspec.ValidationError, UnknownWireType):
                            log.warning("could not decode a %s on %s", kind, topic)
                            continue
                        self.events_received += 1
                        if isinstance(value, ConnectionChanged | BookHealth):
                            self._remote_state[topic, _state_key(value)] = value
                        publish(topic_named(topic), value)
                elif isinstance(frame, wire.ReplyIn):
                    self._settle(frame)
                elif isinstance(frame, wire.Welcome):
                    self.welcome = frame
                    if self._welcomed is not None and not self._welcomed.done():
                        self._welcomed.set_result(frame)
                else:
                    self.goodbye = frame
        finally:
            self._lost()

    def _settle(self, frame: wire.ReplyIn) -> None:
        fut = self._pending.pop(frame.id, None)
        if fut is None or fut.done():
            return
        if not frame.ok:
            fut.set_exception(RemoteRefusal(frame.error, frame.code, frame.needed))
            return
        try:
            fut.set_result(self.types.decode(frame.kind, frame.value))
        except (msgspec.DecodeError, msgspec.ValidationError, UnknownWireType) as exc:
            fut.set_exception(RemoteRefusal(f"undecodable reply: {exc}"))

    def _lost(self) -> None:
        reason = self.goodbye.reason if self.goodbye is not None else "connection lost"
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(
                    ConnectionError(f"the gateway link dropped ({reason}); check the blotter")
                )
        self._pending.clear()
        if self._welcomed is not None and not self._welcomed.done():
            self._welcomed.set_exception(GatewayError(f"the gateway closed: {reason}"))
        if self._closing:
            return
        self._mark_unknown(reason)
        final = self.goodbye is not None and self.goodbye.code == wire.CLOSE_REVOKED
        if final or not self.reconnect:
            self._link(LinkState.FAILED if final else LinkState.DISCONNECTED, reason)
            return
        self._link(LinkState.RECONNECTING, reason)
        self._tasks.append(asyncio.create_task(self._reattach(), name="gateway.reattach"))

    def _mark_unknown(self, reason: str) -> None:
        """With the gateway gone, its links' states and its books are unknown: say so
        rather than leave "connected" and "live" on screen (the replay on reattaching
        brings the true ones back)."""
        detail = f"unknown while the gateway link is down ({reason})"
        for (topic, _), last in list(self._remote_state.items()):
            if isinstance(last, ConnectionChanged):
                stale: ConnectionChanged | BookHealth = msgspec.structs.replace(
                    last, state=LinkState.DISCONNECTED, detail=detail
                )
            else:
                stale = msgspec.structs.replace(last, state=BookState.STALE, detail=detail)
            self.bus.publish(contract.topic_named(topic), stale)

    async def _reattach(self) -> None:
        waits = Backoff(0.5, 15.0, jitter=True)
        while not self._closing:
            await asyncio.sleep(waits.next())
            try:
                if self.tokens is None or self.tokens.expires_at - time.time() < 5:
                    await self._refresh()
                try:
                    await self._attach()
                except _TokenRefused:  # expired meanwhile: renew once, then try again
                    await self._refresh()
                    await self._attach()
                return
            except SessionEnded as exc:
                self._link(LinkState.FAILED, f"log in again: {exc}")
                return
            except GatewayError as exc:  # unreachable, or not up yet: keep trying
                self._link(LinkState.RECONNECTING, str(exc))
            except (TimeoutError, ConnectionError) as exc:
                self._link(LinkState.RECONNECTING, repr(exc))

    # -- keeping the tokens fresh ----------------------------------------------------------

    async def _refresh(self) -> None:
        """New tokens for the refresh token (rotated); ``SessionEnded`` when the gateway
        refuses it, ``GatewayUnreachable`` when it cannot be asked."""
        before = self.tokens
        assert before is not None
        async with self._refreshing:
            # The keep-alive and a reconnect may both decide to renew: a refresh token is
            # good for one use (a second use ends the session), so the later one of two
            # concurrent callers takes the tokens the first one got.
            if self.tokens is not before:
                return
            try:
                self.tokens = await self._post("/auth/refresh", {"refresh_token": before.refresh})
            except GatewayUnreachable:
                raise
            except GatewayError as exc:
                raise SessionEnded(f"the session was not renewed: {exc}") from exc

    async def _keep_fresh(self) -> None:
        while not self._closing:
            assert self.tokens is not None
            left = self.tokens.expires_at - time.time()
            # Renew with a fifth of the lifetime (at least 5 s) left: a slow gateway or a
            # reconnect in between still finds a valid token.
            await asyncio.sleep(max(0.5, left - max(5.0, left / 5)))
            try:
                await self._refresh()
                ws = self._ws
                if ws is not None and not ws.closed:
                    await self._call(wire.Reauth(id=self._next_id(), token=self.tokens.access))
            except SessionEnded as exc:
                self._link(LinkState.FAILED, f"log in again: {exc}")
                return
            except (GatewayError, RemoteRefusal, ConnectionError, TimeoutError) as exc:
                # Down or reconnecting: the reconnect renews as needed; try again shortly.
                log.warning("re-authentication failed: %s", exc)
                await asyncio.sleep(2.0)

    # -- requests --------------------------------------------------------------------------

    def _next_id(self) -> int:
        return next(self._ids)

    async def _call(self, frame: wire.Subscribe | wire.Reauth | wire.RequestOut) -> Any:
        ws = self._ws
        if ws is None or ws.closed:
            raise ConnectionError("not connected to the gateway")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[frame.id] = fut
        await ws.send_bytes(wire.encode(frame))
        try:
            return await asyncio.wait_for(fut, self.timeout_s)
        finally:
            self._pending.pop(frame.id, None)

    async def request(self, command: Command[R]) -> R:
        """Run ``command`` on the gateway's engine; its reply, or ``RemoteRefusal``."""
        reply: R = await self._call(
            wire.RequestOut(
                id=self._next_id(), name=command.name, kind=kind_of(command), body=command
            )
        )
        return reply

    async def operation(self, name: str, **body: Any) -> Any:
        """Run a gateway operation (``gateway.users.list``...)."""
        return await self._call(
            wire.RequestOut(id=self._next_id(), name=name, kind="plain", body=body)
        )

    def _install(self) -> None:
        """Become the local bus's handler of every command: they run on the gateway."""
        for cls in contract.declared_commands():
            if not self.bus.handles(cls):
                self.bus.handle(cls, self.request)
                self._installed.append(cls)

    # -- closing ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Log out (revoking this session's refresh tokens) and close everything."""
        self._closing = True
        for cls in self._installed:
            self.bus.unhandle(cls)
        self._installed.clear()
        if self._http is not None and self.tokens is not None:
            with contextlib.suppress(GatewayError, aiohttp.ClientError, KeyError):
                async with self._http.post(
                    self.base_url + "/auth/logout", json={"refresh_token": self.tokens.refresh}
                ):
                    pass
        if self._ws is not None:
            await self._ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._http is not None:
            await self._http.close()
            self._http = None


def _state_key(value: ConnectionChanged | BookHealth) -> str:
    return value.link if isinstance(value, ConnectionChanged) else value.symbol
