"""The gateway's network face: login over HTTP, the bus over a WebSocket, roles enforced.

One engine runs on the trading box; terminals attach here. The server holds one ``each``
subscription on the whole bus (``>``) and fans events out to the attached terminals
(``_Terminal``): an event is encoded once, and its bytes are copied into the batch of every
terminal whose subscriptions match its topic. Each terminal has its own sender task, so a
slow one never delays the engine or the others:

* book tops, book health, tickers and the diagnostics, latency and rate-limit figures are
  *conflated* per topic (only the newest is worth drawing);
* public trades go to a bounded queue that drops the oldest when a terminal falls behind
  (the count is sent along, so the tape can say so);
* order, fill, balance, risk and link events are never dropped: a terminal that lets that queue
  overflow is disconnected ("too slow"), and on reconnecting it reloads them from history.

A sender sends at once when idle and at most once per ``flush_s`` under load, which bounds
the frames a busy market costs each terminal (and its SSH link); order, fill and balance
events never wait for that window.

Every frame a terminal sends pays the rate limit (per user and per address) first, so
refusals are limited too; its shape is walked (depth, number of values) before it is
decoded (``gateway.admission``). A command is then checked against the sender's role (taken
from the decoded command's own name, never from what the frame claims) and its values
against what the venue lists, so no user input but a listed symbol reaches the engine's
venue URLs; it is written to the audit log with who sent it and how it ended. Each user has
caps: requests in flight, patterns followed (count and length), symbols added. Refusals are
audited within a per-client budget (``gateway.audit``); a failure nobody planned for answers
a reference, and its detail goes to the log only.

aiohttp serves both HTTP and WebSocket on one port; it is already the simulated venue's
server, so the gateway adds no web framework.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from omnitrade_tui.bus import Bus, contract, topics
from omnitrade_tui.bus.bus import CommandTimeout, NoHandler
from omnitrade_tui.bus.policy import each
from omnitrade_tui.bus.subscription import Subscription
from omnitrade_tui.bus.wire import UnknownWireType, WireTypes, kind_of
from omnitrade_tui.domain.commands import AnyCommand, Command, SubscribeSymbol
from omnitrade_tui.domain.events import OrderBookSnapshot
from omnitrade_tui.domain.instrument import Instrument
from omnitrade_tui.engine.book_of_record import OrderBookOfRecord
from omnitrade_tui.engine.order_manager import OrderRefused
from omnitrade_tui.engine.risk import RiskRejected
from omnitrade_tui.escape import shown
from omnitrade_tui.gateway import protocol as wire
from omnitrade_tui.gateway.admission import CommandInput, InputLimits, Refused, check_shape
from omnitrade_tui.gateway.audit import Outcome
from omnitrade_tui.gateway.auth import AddressBlocked, AuthService
from omnitrade_tui.gateway.last_values import LastValues
from omnitrade_tui.gateway.roles import (
    GATEWAY_AUDIT_RECENT,
    GATEWAY_USERS_ADD,
    GATEWAY_USERS_LIST,
    GATEWAY_USERS_PASSWD,
    GATEWAY_USERS_REMOVE,
    GATEWAY_USERS_ROLE,
    GATEWAY_USERS_VENUES,
    Forbidden,
    Role,
    VenueForbidden,
    authorize_command,
    authorize_venue,
    parse_venue_list,
    venue_list_text,
)
from omnitrade_tui.gateway.throttle import RateLimited
from omnitrade_tui.gateway.tokens import AuthError, Principal, TokenPair
from omnitrade_tui.gateway.users import UserError
from omnitrade_tui.venues.binance.rest import BinanceError

log = logging.getLogger(__name__)

#: Topics (and prefixes) whose newest value is all a terminal needs. Link states, the
#: recorder and the circuit are not among them: one topic carries several links' states.
CONFLATED = (
    "md.book.",
    "md.health.",
    "md.ticker.",
    topics.DIAGNOSTICS,
    topics.LATENCY,
    topics.RATE_LIMIT,
    topics.BUS_METRICS,
)
#: Topic prefixes that may be dropped (oldest first) for a terminal that falls behind.
DROPPABLE = ("md.trade.", "md.candle.")
#: How often an attached terminal's session is checked against the store (a user removed
#: or demoted by another process, a session revoked) even when no change was announced.
SESSION_CHECK_S = 15.0
#: What a (un)subscription costs of the rate limit, a command costing 1: it never reaches
#: the engine, and a terminal sends ~17 at once when it attaches; a dozen terminals
#: reconnecting through one SSH host (one address) must not be refused their market data.
_SUBSCRIPTION_COST = 0.25
_SUBSCRIPTIONS = (wire.Subscribe, wire.Unsubscribe)
#: The longest a flooding connection's reading pauses after a frame over its rate limit.
_MAX_FLOOD_PAUSE_S = 1.0
#: The answer to a request that failed in a way nobody planned for: the detail (which may
#: name internals) goes to the gateway's log under the reference, never to the terminal.
_GENERIC_ERROR = "the gateway could not carry this out (reference {ref}; the detail is in its log)"

_LOGIN_BODY_LIMIT = 4096


@dataclass(frozen=True)
class RunFacts:
    """What the Welcome tells a terminal about the run it attaches to."""

    gateway: str
    profile: str
    live: bool
    watchlist: tuple[str, ...]
    instruments: tuple[Instrument, ...]
    fee_rate: Decimal


@dataclass(frozen=True)
class ServerLimits:
    """Per-terminal bounds and timings."""

    market_queue: int = 5_000
    account_queue: int = 20_000
    flush_s: float = 0.005
    request_timeout_s: float = 20.0
    #: How often the store's change counter is read (users changed by another process).
    change_poll_s: float = 1.0
    #: How often refresh tokens long expired are deleted (at start, then this often), so
    #: the token table stays bounded by the sessions of the last day.
    purge_every_s: float = 3_600.0
    inputs: InputLimits = field(default_factory=InputLimits)


class _Terminal:
    """One attached terminal: its identity, subscriptions, outbox and sender."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        principal: Principal,
        address: str,
        limits: ServerLimits,
        venues: tuple[str, ...] = (),
    ) -> None:
        self.ws = ws
        self.principal = principal
        self.address = address
        self.limits = limits
        #: The venues the user may trade on, read at attach (``()``: every venue); a change
        #: ends the user's sessions, so it is never stale for long.
        self.venues = venues
        self.patterns: set[str] = set()
        self._wants: dict[str, bool] = {}
        self.latest: dict[str, msgspec.Raw] = {}
        self.market: deque[msgspec.Raw] = deque()
        self.account: deque[msgspec.Raw] = deque()
        self.dropped = 0
        self.too_slow = False
        self.wake = asyncio.Event()
        self.last_send = 0.0
        self.sent_frames = 0
        self.tasks: set[asyncio.Task[Any]] = set()

    @property
    def user(self) -> str:
        return self.principal.username

    @property
    def role(self) -> Role:
        return Role(self.principal.role)

    def wants(self, topic: str) -> bool:
        """Whether any of this terminal's patterns covers ``topic`` (cached per topic)."""
        hit = self._wants.get(topic)
        if hit is None:
            hit = any(topics.matches(p, topic) for p in self.patterns)
            self._wants[topic] = hit
        return hit

    def set_patterns(self, patterns: set[str]) -> None:
        self.patterns = patterns
        self._wants.clear()

    def push(self, topic: str, raw: msgspec.Raw) -> None:
        """Queue one encoded event by its topic's class (see the module docstring)."""
        if topic.startswith(CONFLATED):
            self.latest.pop(topic, None)  # re-insert: keeps the dict in arrival order
            self.latest[topic] = raw
        elif topic.startswith(DROPPABLE):
            if len(self.market) >= self.limits.market_queue:
                self.market.popleft()
                self.dropped += 1
            self.market.append(raw)
        else:
            if len(self.account) >= self.limits.account_queue:
                self.too_slow = True
            else:
                self.account.append(raw)
        self.wake.set()

    def take_batch(self) -> tuple[list[msgspec.Raw], int]:
        """Everything queued, account events first (they matter most), and the drop count."""
        items = list(self.account)
        self.account.clear()
        items.extend(self.latest.values())
        self.latest.clear()
        items.extend(self.market)
        self.market.clear()
        dropped, self.dropped = self.dropped, 0
        return items, dropped

    async def send(self, frame: msgspec.Struct) -> None:
        """Send one frame (ignoring a socket that is already closing)."""
        if not self.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_bytes(wire.encode(frame))

    async def close(self, code: int, reason: str) -> None:
        """Say why, then close the socket."""
        await self.send(wire.Goodbye(code=code, reason=reason))
        with contextlib.suppress(ConnectionError, RuntimeError):
            # A close frame's reason is at most 123 bytes of UTF-8: cut on a character.
            message = reason.encode()[:120].decode(errors="ignore").encode()
            await self.ws.close(code=code, message=message)


class GatewayServer:
    """Serve one bus to attached terminals (see the module docstring).

    Args:
        bus: the engine's bus.
        auth: logins, tokens, roles, rate limits, users and the audit log
            (``gateway.auth``).
        facts: what a Welcome tells about the run.
        listed: the symbols the venue lists (``exchangeInfo``); a command naming any
            other is refused before it reaches the engine. Default: the watchlist's.
    """

    def __init__(
        self,
        bus: Bus,
        auth: AuthService,
        facts: RunFacts,
        *,
        limits: ServerLimits | None = None,
        clock: Callable[[], float] = time.time,
        listed: frozenset[str] | None = None,
    ) -> None:
        self.bus = bus
        self.auth = auth
        self.audit = auth.audit
        self.facts = facts
        self.limits = limits or ServerLimits()
        self.clock = clock
        self.types = WireTypes()
        self.terminals: set[_Terminal] = set()
        self.last_values = LastValues(orders=lambda: _book_snapshot(bus))
        self.input = CommandInput(
            listed if listed is not None else frozenset(i.symbol for i in facts.instruments)
        )
        # Symbols the engine follows, and those each user added (bounded by the caps).
        self._followed: set[str] = set(facts.watchlist)
        self._added: dict[str, set[str]] = {}
        self._in_flight: dict[str, int] = {}
        self._sub: Subscription | None = None
        self._runner: web.AppRunner | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._unencodable: set[str] = set()
        self.url = ""

    @property
    def in_flight(self) -> Mapping[str, int]:
        """Commands running now, per user (a user with none is absent): read-only."""
        return MappingProxyType(self._in_flight)

    # -- lifecycle -------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application (login, refresh, logout, the WebSocket)."""
        app = web.Application(client_max_size=_LOGIN_BODY_LIMIT)
        app.router.add_post("/auth/login", self._login)
        app.router.add_post("/auth/refresh", self._refresh)
        app.router.add_post("/auth/logout", self._logout)
        app.router.add_get("/ws", self._websocket)
        app.router.add_get("/healthz", self._health)
        return app

    def follow(self) -> None:
        """Start following the bus (before the engine connects, so the first balances and
        link states reach ``last_values``); ``start`` does it if not done yet."""
        if self._sub is None:
            self._sub = self.bus.subscribe(">", each(self._on_event), name="gateway.fanout")

    async def start(self, host: str, port: int, ssl_context: Any = None) -> str:
        """Listen on ``host:port`` (port 0: any free one); the base URL."""
        self.follow()
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=ssl_context)
        await site.start()
        bound = int(self._runner.addresses[0][1]) if port == 0 else port
        scheme = "https" if ssl_context is not None else "http"
        host_shown = f"[{host}]" if ":" in host else host
        self.url = f"{scheme}://{host_shown}:{bound}"
        self._watcher = asyncio.create_task(self._watch_changes(), name="gateway.changes")
        return self.url

    async def aclose(self) -> None:
        """Say goodbye to every terminal and stop listening."""
        if self._sub is not None:
            self._sub.close()
            self._sub = None
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
            self._watcher = None
        for term in list(self.terminals):
            await term.close(wire.CLOSE_SHUTDOWN, "the gateway is shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- fan-out ---------------------------------------------------------------------------

    def _on_event(self, topic: str, event: Any) -> None:
        self.last_values.on_event(topic, event)
        raw: msgspec.Raw | None = None
        for term in self.terminals:
            if term.wants(topic):
                if raw is None:
                    try:
                        raw = wire.encode_event(topic, kind_of(event), event)
                    except (UnknownWireType, TypeError) as exc:
                        if topic not in self._unencodable:
                            self._unencodable.add(topic)
                            log.warning("gateway cannot carry %s: %s", topic, exc)
                        return
                term.push(topic, raw)

    async def _sender(self, term: _Terminal) -> None:
        flush_s = self.limits.flush_s
        while not term.ws.closed:
            await term.wake.wait()
            term.wake.clear()
            if term.too_slow:
                await term.close(
                    wire.CLOSE_TOO_SLOW,
                    "this terminal fell too far behind on order events; reconnect to resync",
                )
                return
            # Market data waits for the flush window; an order, fill or balance event does
            # not (it takes whatever market data is queued along with it).
            wait = term.last_send + flush_s - time.monotonic()
            if wait > 0 and not term.account:
                await asyncio.sleep(wait)
            items, dropped = term.take_batch()
            if not items:
                continue
            term.last_send = time.monotonic()
            await term.send(wire.EventsOut(items=items, dropped=dropped))
            term.sent_frames += 1

    # -- HTTP: login, refresh, logout ------------------------------------------------------

    @staticmethod
    def _address(request: web.Request) -> str:
        return request.remote or "unknown"

    async def _json_body(self, request: web.Request, *fields: str) -> dict[str, str]:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            raise web.HTTPBadRequest(text='{"error": "the body must be JSON"}') from None
        if not isinstance(body, dict) or not all(isinstance(body.get(f), str) for f in fields):
            raise web.HTTPBadRequest(
                text=msgspec.json.encode(
                    {"error": f"expected JSON with {', '.join(fields)}"}
                ).decode(),
                content_type="application/json",
            )
        return {f: body[f] for f in fields}

    def _tokens(self, pair: TokenPair) -> web.Response:
        return web.json_response(
            {
                "access_token": pair.access_token,
                "refresh_token": pair.refresh_token,
                "token_type": "Bearer",
                "expires_in": max(0, int(pair.access_expires_at - self.clock())),
                "role": str(pair.role),
                "username": pair.username,
            }
        )

    @staticmethod
    def _auth_error(exc: AuthError) -> web.Response:
        status = 429 if isinstance(exc, AddressBlocked) else 401
        headers = {}
        if isinstance(exc, AddressBlocked):
            headers["Retry-After"] = str(max(1, int(exc.retry_after + 0.999)))
        return web.json_response({"error": str(exc)}, status=status, headers=headers)

    async def _login(self, request: web.Request) -> web.Response:
        body = await self._json_body(request, "username", "password")
        address = self._address(request)
        try:  # the auth service audits every attempt
            pair = await self.auth.login(body["username"], body["password"], address)
        except AuthError as exc:
            return self._auth_error(exc)
        return self._tokens(pair)

    async def _refresh(self, request: web.Request) -> web.Response:
        body = await self._json_body(request, "refresh_token")
        address = self._address(request)
        try:
            pair = await self.auth.refresh(body["refresh_token"], address)
        except AuthError as exc:
            return self._auth_error(exc)
        return self._tokens(pair)

    async def _logout(self, request: web.Request) -> web.Response:
        body = await self._json_body(request, "refresh_token")
        await self.auth.logout(body["refresh_token"], self._address(request))
        return web.Response(status=204)

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "terminals": len(self.terminals)})

    # -- the WebSocket ---------------------------------------------------------------------

    async def _principal_of(self, request: web.Request) -> Principal:
        """The upgrade's principal: a valid token whose session the store still backs
        (user present and enabled, same role, session not revoked). Every refusal is
        audited."""
        address = self._address(request)
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            await self.audit.refusal(
                "", address, "attach", "no bearer token", Outcome.DENIED, per_user=False
            )
            raise _unauthorized("log in first: Authorization: Bearer <access token>")
        try:
            principal = self.auth.verify_access(token.strip())
        except AuthError as exc:
            await self.audit.refusal(
                "", address, "attach", f"token refused: {exc}", Outcome.DENIED, per_user=False
            )
            raise _unauthorized(str(exc)) from None
        if not await self.auth.session_alive(principal):
            await self.audit.refusal(
                principal.username,
                address,
                "attach",
                "session no longer backed by the store (user removed, re-roled or disabled, "
                "password changed or session ended)",
                Outcome.DENIED,
            )
            raise _unauthorized("this session was ended: log in again")
        return principal

    def _welcome(self, term: _Terminal) -> wire.Welcome:
        facts = self.facts
        role = term.role
        refused: dict[str, str] = {}
        for cmd_type in _command_types():
            try:
                authorize_command(role, cmd_type.name)
            except Forbidden as exc:
                refused[cmd_type.name] = str(exc)
        return wire.Welcome(
            protocol=wire.PROTOCOL_VERSION,
            user=term.user,
            role=str(role),
            gateway=facts.gateway,
            profile=facts.profile,
            live=facts.live,
            watchlist=list(facts.watchlist),
            instruments=list(facts.instruments),
            fee_rate=str(facts.fee_rate),
            refused=refused,
            access_expires_ms=int(term.principal.expires_at * 1000),
            server_ms=int(self.clock() * 1000),
            venues=list(term.venues),
        )

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        principal = await self._principal_of(request)
        inputs = self.limits.inputs
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=inputs.max_frame_bytes)
        await ws.prepare(request)
        stored = await self.auth.repo.get_user(principal.username)
        venues = parse_venue_list(stored.venues) if stored is not None else ()
        term = _Terminal(ws, principal, self._address(request), self.limits, venues)
        self.terminals.add(term)
        await self.audit.record(term.user, term.address, "attach", "", Outcome.OK)
        sender = asyncio.create_task(self._sender(term), name=f"gateway.send.{term.user}")
        expiry = asyncio.create_task(self._expire(term), name=f"gateway.expiry.{term.user}")
        try:
            await term.send(self._welcome(term))
            async for msg in ws:
                if msg.type is WSMsgType.ERROR:  # e.g. larger than max_frame_bytes
                    await self._bad_frame(term, f"unreadable frame: {msg.data}")
                    break
                if msg.type is not WSMsgType.BINARY:
                    if msg.type is WSMsgType.TEXT:
                        await self._bad_frame(term, "frames are msgpack (binary)")
                        break
                    continue
                try:
                    check_shape(msg.data, inputs.max_depth, inputs.max_values)
                    frame = wire.decode_terminal_frame(msg.data)
                except (Refused, msgspec.DecodeError) as exc:
                    await self._bad_frame(term, f"malformed frame: {shown(str(exc))}")
                    break
                await self._on_frame(term, frame)
        finally:
            self.terminals.discard(term)
            for task in (sender, expiry, *term.tasks):
                task.cancel()
            await asyncio.gather(sender, expiry, *term.tasks, return_exceptions=True)
            await self.audit.flush(term.user, term.address)
            await self.audit.record(term.user, term.address, "detach", "", Outcome.OK)
        return ws

    async def _bad_frame(self, term: _Terminal, reason: str) -> None:
        """Audit a frame that cannot be read and close the connection, saying why."""
        await self.audit.refusal(term.user, term.address, "frame", reason, Outcome.DENIED)
        await term.close(wire.CLOSE_BAD_FRAME, reason[:120])

    async def _expire(self, term: _Terminal) -> None:
        """Close the socket when its access token expires unrenewed, or when the store no
        longer backs the session (checked every ``SESSION_CHECK_S`` here, and at once when
        the store's change counter moves: ``_watch_changes``)."""
        while not term.ws.closed:
            left = term.principal.expires_at - self.clock()
            if left <= 0:
                await term.close(wire.CLOSE_TOKEN_EXPIRED, "the access token expired; log in again")
                return
            await asyncio.sleep(min(left, SESSION_CHECK_S))
            await self._recheck(term)

    async def _recheck(self, term: _Terminal) -> None:
        if not term.ws.closed and not await self.auth.session_alive(term.principal):
            await term.close(wire.CLOSE_REVOKED, "this session was ended by an admin")

    async def _watch_changes(self) -> None:
        """Poll the store's change counter; when another process (``omnitrade gateway users
        ...``) or this one changed users or sessions, recheck every attached terminal, so a
        removal, a demotion or a new password ends the sessions within a second. Refresh
        tokens expired over a day ago are purged on the way (``purge_every_s``)."""
        seen: int | None = None
        loop = asyncio.get_running_loop()
        purge_at = loop.time()
        while True:
            try:
                if loop.time() >= purge_at:
                    purge_at = loop.time() + self.limits.purge_every_s
                    purged = await self.auth.purge_expired()
                    if purged:
                        log.info("gateway: %d expired refresh tokens purged", purged)
                counter = await self.auth.repo.change_counter()
                if seen is not None and counter != seen:
                    for term in list(self.terminals):
                        await self._recheck(term)
                seen = counter
            except asyncio.CancelledError:
                raise
            except Exception:  # a store hiccup must not end the watch
                log.warning("gateway: cannot read the store's change counter", exc_info=True)
            await asyncio.sleep(self.limits.change_poll_s)

    async def _refuse(
        self, term: _Terminal, frame_id: int, action: str, exc: Exception, outcome: str
    ) -> None:
        """Answer a refused frame and audit it (within the client's audit budget)."""
        needed = str(exc.needed) if isinstance(exc, Forbidden) else None
        await self.audit.refusal(term.user, term.address, action, str(exc), outcome)
        await term.send(wire.ReplyOut(id=frame_id, ok=False, error=str(exc), needed=needed))

    async def _on_frame(self, term: _Terminal, frame: wire.TerminalFrame) -> None:
        cost = _SUBSCRIPTION_COST if isinstance(frame, _SUBSCRIPTIONS) else 1.0
        try:  # every frame pays, refused or not: the limit also bounds the refusals
            self.auth.admit(term.principal, term.address, cost)
        except RateLimited as exc:
            await self._refuse(term, frame.id, _action_of(frame), exc, Outcome.DENIED)
            # And this connection's next frame is read only when one would pass: a client
            # that floods is slowed by its own socket (TCP pushes back), instead of costing
            # the event loop, and so every other terminal, a refusal per frame it sends.
            await asyncio.sleep(min(exc.retry_after, _MAX_FLOOD_PAUSE_S))
            return
        if isinstance(frame, wire.Subscribe):
            await self._subscribe(term, frame)
        elif isinstance(frame, wire.Unsubscribe):
            term.set_patterns(term.patterns - {frame.pattern})
            await term.send(wire.ReplyOut(id=frame.id, ok=True))
        elif isinstance(frame, wire.Reauth):
            await self._reauth(term, frame)
        else:
            inputs = self.limits.inputs
            running = self._in_flight.get(term.user, 0)
            if running >= inputs.max_tasks_per_user:
                busy = Refused(
                    f"{running} requests of yours are still running; wait for their answers"
                )
                await self._refuse(term, frame.id, frame.name, busy, Outcome.DENIED)
                return
            self._in_flight[term.user] = running + 1
            task = asyncio.create_task(self._request(term, frame))
            term.tasks.add(task)
            task.add_done_callback(term.tasks.discard)
            user = term.user
            task.add_done_callback(lambda _t: self._request_done(user))

    def _request_done(self, user: str) -> None:
        left = self._in_flight.pop(user, 0) - 1
        if left > 0:
            self._in_flight[user] = left

    async def _subscribe(self, term: _Terminal, frame: wire.Subscribe) -> None:
        inputs = self.limits.inputs
        try:
            if len(frame.pattern) > inputs.max_pattern_len:
                raise Refused(f"a pattern is at most {inputs.max_pattern_len} characters")
            if frame.pattern not in term.patterns and len(term.patterns) >= inputs.max_patterns:
                raise Refused(f"a terminal follows at most {inputs.max_patterns} patterns")
            topics.validate_pattern(frame.pattern)
            self.auth.check_subscription(term.principal, frame.pattern)
        except (Forbidden, ValueError) as exc:
            await self._refuse(term, frame.id, "subscribe", exc, Outcome.DENIED)
            return
        term.set_patterns(term.patterns | {frame.pattern})
        # What the terminal missed before attaching, ahead of any live event (the push
        # happens in this same turn of the loop, so nothing can come in between).
        for topic, event in self.last_values.replay(frame.pattern):
            with contextlib.suppress(UnknownWireType, TypeError):
                term.push(topic, wire.encode_event(topic, kind_of(event), event))
        await term.send(wire.ReplyOut(id=frame.id, ok=True))

    async def _reauth(self, term: _Terminal, frame: wire.Reauth) -> None:
        try:
            principal = self.auth.verify_access(frame.token)
            if principal.username != term.user:
                raise AuthError("that token is another user's")
        except AuthError as exc:
            await self._refuse(term, frame.id, "reauth", exc, Outcome.DENIED)
            return
        role_changed = principal.role != term.principal.role
        term.principal = principal
        if role_changed:  # what the terminal may see may have shrunk
            allowed = set()
            for p in term.patterns:
                with contextlib.suppress(Forbidden):
                    self.auth.check_subscription(principal, p)
                    allowed.add(p)
            term.set_patterns(allowed)
            await term.send(self._welcome(term))
        await term.send(wire.ReplyOut(id=frame.id, ok=True))

    # -- commands --------------------------------------------------------------------------

    def _admit_symbol(self, term: _Terminal, command: SubscribeSymbol) -> None:
        """Apply the symbol caps to a subscription; remember what it adds."""
        symbol = command.symbol
        if not command.active:
            # Stops the symbol's streams for every attached terminal, not just this one.
            if not term.role.at_least(Role.ADMIN):
                raise Forbidden("unsubscribing the gateway's market data", Role.ADMIN, term.role)
            self._followed.discard(symbol)
            for symbols in self._added.values():
                symbols.discard(symbol)
            return
        if symbol in self._followed:
            return  # already followed: nothing new reaches the venue
        inputs = self.limits.inputs
        mine = self._added.setdefault(term.user, set())
        if len(mine) >= inputs.max_symbols_per_user:
            raise Refused(f"you added {len(mine)} symbols already, the most a user may add")
        # What bounds the engine's stream URL and control messages is the total followed.
        most = len(self.facts.watchlist) + inputs.max_symbols
        if len(self._followed) >= most:
            raise Refused(f"the gateway follows {len(self._followed)} symbols, its most")
        mine.add(symbol)
        self._followed.add(symbol)

    async def _request(self, term: _Terminal, frame: wire.RequestIn) -> None:
        name = frame.name
        detail = ""
        try:
            body: Any
            if name.startswith("gateway."):
                body = _OPERATION_BODY(frame.body)
                detail = ", ".join(f"{k}={v}" for k, v in body.items() if k != "password")
                authorize_command(term.role, name)
                value = await self._operation(name, body)
            else:
                body = self.types.decode(frame.kind, frame.body)
                if not isinstance(body, Command):
                    raise Refused(f"{shown(frame.kind[:40])} is not a command")
                name = body.name  # the role is judged on what will run, not on the label
                detail = msgspec.json.encode(body).decode()
                authorize_command(term.role, name)
                authorize_venue(term.venues, body)
                self.input.check(body)
                if isinstance(body, SubscribeSymbol):
                    self._admit_symbol(term, body)
                value = await self.bus.request(body, timeout=self.limits.request_timeout_s)
            reply = wire.ReplyOut(id=frame.id, ok=True, kind=kind_of(value), value=value)
            outcome, why = Outcome.OK, ""
        except Forbidden as exc:
            reply = wire.ReplyOut(id=frame.id, ok=False, error=str(exc), needed=str(exc.needed))
            outcome, why = Outcome.DENIED, str(exc)
        except (Refused, VenueForbidden) as exc:
            reply = wire.ReplyOut(id=frame.id, ok=False, error=str(exc))
            outcome, why = Outcome.DENIED, str(exc)
        except (msgspec.DecodeError, msgspec.ValidationError, UnknownWireType) as exc:
            reply = wire.ReplyOut(id=frame.id, ok=False, error=f"malformed request: {exc}")
            outcome, why = Outcome.DENIED, f"malformed: {exc}"
        except (CommandTimeout, NoHandler, UserError) as exc:
            reply = wire.ReplyOut(id=frame.id, ok=False, error=str(exc))
            outcome, why = Outcome.FAILED, str(exc)
        except (OrderRefused, RiskRejected, BinanceError) as exc:
            # The engine's or the venue's refusal: meant for the person who sent it.
            code = getattr(exc, "code", None)
            code = code if isinstance(code, int) else None
            reason = str(getattr(exc, "reason", None) or exc or type(exc).__name__)
            reply = wire.ReplyOut(id=frame.id, ok=False, error=reason, code=code)
            outcome, why = Outcome.FAILED, reason if code is None else f"[{code}] {reason}"
        except Exception:
            ref = secrets.token_hex(4)
            log.exception(
                "gateway: %s from %s failed (reference %s)", shown(name), shown(term.user), ref
            )
            reply = wire.ReplyOut(id=frame.id, ok=False, error=_GENERIC_ERROR.format(ref=ref))
            outcome, why = Outcome.FAILED, f"internal error, reference {ref}"
        if why:
            detail = f"{detail} -> {why}" if detail else why
        # Recorded before the answer: a command whose answer arrived is in the audit log.
        # Refusals are what a hostile client can produce at will: within its audit budget.
        if outcome == Outcome.DENIED:
            await self.audit.refusal(term.user, term.address, name, detail, outcome)
        else:
            await self.audit.record(term.user, term.address, name, detail, outcome)
        await term.send(reply)

    async def _operation(self, name: str, body: dict[str, Any]) -> Any:
        """A gateway operation (user management, the audit log); admins only (checked)."""
        users = self.auth.users

        def arg(key: str) -> str:
            value = body.get(key)
            if not isinstance(value, str) or not value:
                raise UserError(f"{name} needs {key!r}")
            return value

        def role(key: str) -> Role:
            try:
                return Role.parse(arg(key))
            except ValueError as exc:
                raise UserError(str(exc)) from None

        if name == GATEWAY_USERS_LIST:
            return [_user_row(u) for u in await users.list_users()]
        if name == GATEWAY_USERS_ADD:
            return _user_row(await users.add(arg("username"), role("role"), arg("password")))
        if name == GATEWAY_USERS_REMOVE:
            username = arg("username")
            await users.remove(username)
            await self._disconnect_user(username, "this user was removed by an admin")
            return True
        if name == GATEWAY_USERS_PASSWD:
            username = arg("username")
            await users.set_password(username, arg("password"))
            await self._disconnect_user(username, "the password changed: log in again")
            return True
        if name == GATEWAY_USERS_ROLE:
            username = arg("username")
            row = _user_row(await users.set_role(username, role("role")))
            await self._disconnect_user(username, "the role changed: log in again")
            return row
        if name == GATEWAY_USERS_VENUES:
            username = arg("username")
            try:
                venues = parse_venue_list(str(body.get("venues") or ""))
            except ValueError as exc:
                raise UserError(str(exc)) from None
            row = _user_row(await users.set_venues(username, venues))
            await self._disconnect_user(username, "the venues you may trade changed: log in again")
            return row
        if name == GATEWAY_AUDIT_RECENT:
            limit = body.get("limit", 100)
            limit = limit if isinstance(limit, int) and 1 <= limit <= 1000 else 100
            records = await self.audit.recent(limit)
            return [msgspec.to_builtins(r) for r in records]
        raise UserError(f"unknown gateway operation {shown(name[:64])}")

    async def _disconnect_user(self, username: str, reason: str) -> None:
        for term in list(self.terminals):
            if term.user == username:
                await term.close(wire.CLOSE_REVOKED, reason)


#: A gateway operation's body: a flat mapping of short values (nothing nested to walk).
_OPERATION_BODY = msgspec.msgpack.Decoder(dict[str, str | int | bool | None]).decode


def _book_snapshot(bus: Bus) -> OrderBookSnapshot | None:
    """The snapshot of the engine's order book of record on ``bus`` (taken now, in the turn
    that starts a subscription), or ``None`` when the bus has no book."""
    book = OrderBookOfRecord.of(bus)
    return book.snapshot() if book is not None else None


def _unauthorized(reason: str) -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(
        text=msgspec.json.encode({"error": reason}).decode(), content_type="application/json"
    )


def _action_of(frame: wire.TerminalFrame) -> str:
    """The audit action a frame would have been (for refusals before it is looked at)."""
    if isinstance(frame, wire.RequestIn):
        return frame.name
    return {wire.Subscribe: "subscribe", wire.Unsubscribe: "unsubscribe"}.get(type(frame), "reauth")


def _user_row(user: Any) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": str(user.role),
        "created_ms": user.created_ms,
        "updated_ms": user.updated_ms,
        "disabled": user.disabled,
        "venues": venue_list_text(user.venues),
    }


def _command_types() -> list[type[AnyCommand]]:
    return sorted(contract.declared_commands(), key=lambda c: c.name)
