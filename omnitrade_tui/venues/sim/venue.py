"""The simulated venue: matching engine, living market and the Binance wire server.

In-process API (the app and the tests use it)::

    async with SimVenue.start(port=0, symbols=["BTCUSDT"], seed=7) as sim:
        key, secret = sim.demo_key                    # a funded HMAC key, made at start
        sim.add_account("MYKEY...", secret="...", balances={"USDT": "10000"})
        sim.rest_url     # "http://127.0.0.1:PORT/api"   (python-binance's API_URL form)
        sim.ws_api_url   # "ws://127.0.0.1:PORT/ws-api/v3"
        sim.stream_url   # "ws://127.0.0.1:PORT/"        (append "ws/..." or "stream?...")

One aiohttp server on one port serves REST under ``/api/v3``, market streams at
``/ws/<anything>`` and ``/stream?streams=...``, the WebSocket API at ``/ws-api/v3`` and
small control endpoints for fault injection at ``/sim/faults`` and
``/sim/shutdown-notice``. Those need ``Authorization: Bearer <faults_token>`` (a token
made at start, which ``omnitrade sim`` prints) unless the venue was started with
``faults_open=True`` (``--faults-open``, for tests on a private machine), so another user
of the box cannot break a running venue. A background task steps the market every 100 ms,
flushes ``@depth@100ms`` frames and the kline streams that are due (a candle that just
ended goes out closed at once), and once a second the 1000 ms streams and tickers; every
10 s it forgets per-address rate-limit entries that say nothing any more.

What it covers of Binance's API, call by call, and what it refuses: ``docs/sim-coverage.md``
(kept true by ``tests/venues/sim/test_coverage_doc.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import math
import random
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

from omnitrade_tui.domain.enums import ExecutionType
from omnitrade_tui.domain.instrument import Instrument
from omnitrade_tui.venues.sim import rest, ws_api
from omnitrade_tui.venues.sim.accounts import DEFAULT_BALANCES, Account
from omnitrade_tui.venues.sim.appkeys import VENUE_KEY
from omnitrade_tui.venues.sim.auth import (
    ApiKey,
    KeyRing,
    generate_key_pair,
    load_ed25519_public_key,
)
from omnitrade_tui.venues.sim.errors import SimError
from omnitrade_tui.venues.sim.faults import Faults
from omnitrade_tui.venues.sim.market import MarketGenerator
from omnitrade_tui.venues.sim.marketdata import SymbolMarket
from omnitrade_tui.venues.sim.matching import (
    BalancesMoved,
    LevelChanged,
    ListChanged,
    MatchingEngine,
    OrderExecuted,
    SimEvent,
    TradePrinted,
)
from omnitrade_tui.venues.sim.names import (
    ALL_MARKET_STREAMS,
    ALL_MINI_TICKERS,
    ALL_MINI_TICKERS_1S,
    ROLLING_WINDOWS,
    all_window_tickers,
    stream_names,
)
from omnitrade_tui.venues.sim.render import (
    account_position,
    execution_report,
    f8,
    list_status_event,
)
from omnitrade_tui.venues.sim.replay import Replay
from omnitrade_tui.venues.sim.rest import IgnoredRetryAfter, RetryWindow
from omnitrade_tui.venues.sim.state import load_state, save_state
from omnitrade_tui.venues.sim.streams import StreamHub
from omnitrade_tui.venues.sim.symbols import START_PRICES, default_instruments
from omnitrade_tui.venues.sim.ws_api import UserSubscription

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_BALANCES", "Faults", "SimVenue"]

TICK_S = 0.1
PRUNE_EVERY_TICKS = 100
_NOT_AUTHORIZED = {"code": -1002, "msg": "You are not authorized to execute this request."}


class SimVenue:
    """The venue: state, wire server and market loop. Build it with ``SimVenue.start``."""

    def __init__(
        self,
        instruments: Iterable[Instrument],
        seed: int = 1,
        start_prices: dict[str, Decimal] | None = None,
        generate: bool = True,
        faults: Faults | None = None,
        weight_limit: int = 6000,
        replay: Replay | None = None,
        orders_per_10s: int = 50,
        state_path: Path | None = None,
        faults_open: bool = False,
    ) -> None:
        self.engine = MatchingEngine(list(instruments), self.now_ms)
        self.rng = random.Random(seed)
        self.keys = KeyRing()
        self.hub = StreamHub(self._known_stream)
        self.faults = faults or Faults()
        # Empty when fault injection is open to anyone who can reach the port.
        self.faults_token = "" if faults_open else secrets.token_urlsafe(24)
        self.weight_limit = weight_limit
        self.orders_per_10s = orders_per_10s
        self.weights: dict[str, list[float]] = {}  # ip -> [window start, used]
        self.bans: dict[str, float] = {}
        # Retry-After given per IP, and requests that came while one was running (bounded:
        # a soak's client that misbehaved for an hour must not grow the venue without end).
        self.retry_windows: dict[str, RetryWindow] = {}
        self.ignored_retry_after: deque[IgnoredRetryAfter] = deque(maxlen=1000)
        self.ignored_retry_after_total = 0
        self.user_subs: list[UserSubscription] = []
        self.api_sockets: set[web.WebSocketResponse] = set()
        self.clock_offset_ms = 0
        self.my_trades: dict[int, deque[dict[str, Any]]] = {}
        self.order_times: dict[int, deque[float]] = {}
        self.orders_today: dict[int, int] = {}
        replayed = set(replay.symbols) if replay is not None else set()
        prices = {s: p for s, p in (start_prices or START_PRICES).items() if s not in replayed}
        self.generator: MarketGenerator | None = None
        if generate:
            self.generator = MarketGenerator(self.engine, prices, seed=seed)
            # Warm the book up so the first snapshot a client takes is a real market.
            for _ in range(5):
                self.generator.step(self.now_ms())
        self.markets = {
            s: SymbolMarket(self.engine, s, self.hub, random.Random(seed * 1000 + i))
            for i, s in enumerate(self.engine.instruments)
        }
        self._streams = frozenset(
            [*ALL_MARKET_STREAMS, *(n for s in self.markets for n in stream_names(s))]
        )
        self.engine.listeners.append(self._on_event)
        self.replay = replay
        self._next_account = 1
        self._next_sub = 0
        self.state_path = state_path
        self.demo_key = ("", "")
        if state_path is not None and state_path.exists():
            load_state(self, state_path)
        if not self.demo_key[0]:
            key, secret = generate_key_pair()
            self.demo_key = (key, secret)
            self.add_account(key, secret=secret)
        self._runner: web.AppRunner | None = None
        self._background: set[asyncio.Future[Any]] = set()
        self._task: asyncio.Task[None] | None = None
        self.host = "127.0.0.1"
        self.port = 0

    # -- clock ------------------------------------------------------------------------------

    def now_ms(self) -> int:
        """The venue's clock (wall time plus a test-set offset, for clock-skew drills)."""
        return int(time.time() * 1000) + self.clock_offset_ms

    # -- accounts ---------------------------------------------------------------------------

    def add_account(
        self,
        api_key: str,
        secret: str | None = None,
        ed25519_public_key_pem: str | None = None,
        balances: dict[str, str] | None = None,
        can_withdraw: bool = False,
    ) -> Account:
        """Register a key with a new funded account (HMAC ``secret`` or Ed25519 PEM)."""
        if (secret is None) == (ed25519_public_key_pem is None):
            raise ValueError("give exactly one of an HMAC secret and an Ed25519 public key")
        account = Account(self._next_account, can_withdraw=can_withdraw)
        self._next_account += 1
        for asset, amount in (balances or DEFAULT_BALANCES).items():
            account.deposit(asset, Decimal(amount))
        self.engine.add_account(account)
        public = load_ed25519_public_key(ed25519_public_key_pem) if ed25519_public_key_pem else None
        self.keys.add(
            ApiKey(
                api_key,
                account.account_id,
                secret=secret,
                public_key=public,
                public_pem=ed25519_public_key_pem,
            )
        )
        return account

    # -- events -----------------------------------------------------------------------------

    def _on_event(self, ev: SimEvent) -> None:
        if isinstance(ev, LevelChanged):
            self.markets[ev.symbol].on_level(ev)
        elif isinstance(ev, TradePrinted):
            self.markets[ev.symbol].on_trade(ev)
        elif isinstance(ev, OrderExecuted):
            account_id = ev.order.account.account_id
            if ev.execution_type is ExecutionType.TRADE and account_id > 0:
                self._record_trade(ev)
            self._to_user(account_id, execution_report(ev))
        elif isinstance(ev, ListChanged):
            payload = list_status_event(ev.order_list, ev.time_ms)
            self._to_user(ev.order_list.account.account_id, payload)
        elif isinstance(ev, BalancesMoved):
            payload = account_position(ev.account, ev.assets, ev.time_ms)
            self._to_user(ev.account.account_id, payload)

    def _record_trade(self, ev: OrderExecuted) -> None:
        order = ev.order
        self.my_trades.setdefault(order.account.account_id, deque(maxlen=10_000)).append(
            {
                "symbol": order.symbol,
                "id": ev.trade_id,
                "orderId": order.order_id,
                "orderListId": order.order_list_id,
                "price": f8(ev.last_price),
                "qty": f8(ev.last_qty),
                "quoteQty": f8(ev.last_price * ev.last_qty),
                "commission": f8(ev.commission),
                "commissionAsset": ev.commission_asset,
                "time": ev.time_ms,
                "isBuyer": str(order.side) == "BUY",
                "isMaker": ev.is_maker,
                "isBestMatch": True,
            }
        )

    def count_order(self, account: Account, orders: int = 1) -> None:
        """Count new orders (an OCO's two legs are two) against the account's 10 s and
        daily order limits.

        Raises:
            SimError: -1015 when they would pass 50 orders in the last 10 seconds.
        """
        now = time.monotonic()
        times = self.order_times.setdefault(account.account_id, deque())
        while times and now - times[0] > 10:
            times.popleft()
        limit = self.orders_per_10s
        if len(times) + orders > limit:
            exc = SimError(
                -1015, f"Too many new orders; current limit is {limit} orders per 10 SECOND.", 429
            )
            # Until enough of the window's orders have aged out of it.
            oldest = times[min(len(times) - 1, len(times) + orders - limit - 1)]
            exc.retry_after_s = max(1, math.ceil(10 - (now - oldest)))
            raise exc
        times.extend([now] * orders)
        self.orders_today[account.account_id] = (
            self.orders_today.get(account.account_id, 0) + orders
        )

    def order_counts(self, account: Account | None) -> tuple[int, int]:
        """Orders counted in the last 10 s and today."""
        if account is None:
            return 0, 0
        return (
            len(self.order_times.get(account.account_id, ())),
            self.orders_today.get(account.account_id, 0),
        )

    def _to_user(self, account_id: int, event: dict[str, Any]) -> None:
        if account_id < 0:
            return  # the market generator's own accounts have no listeners
        for sub in self.user_subs:
            if sub.account_id == account_id:
                sub.send({"subscriptionId": sub.subscription_id, "event": event})

    def next_subscription_id(self) -> int:
        """A new user-data subscription id."""
        self._next_sub += 1
        return self._next_sub - 1

    def _known_stream(self, name: str) -> bool:
        return name in self._streams

    # -- the market loop --------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        ticks = 0
        while True:
            next_tick += TICK_S
            await asyncio.sleep(max(0.0, next_tick - loop.time()))
            try:
                self.tick(ticks)
                if self.state_path is not None and ticks % 100 == 99:
                    save_state(self, self.state_path)
            except Exception:  # the loop must survive anything a step does
                log.exception("simulated market step failed")
            ticks += 1

    def prune(self) -> None:
        """Forget per-address entries that no longer say anything: weight counted in a
        past minute, bans served, ``Retry-After`` windows waited out. (Each address that
        ever called would otherwise stay for the process's life.)"""
        now_s = self.now_ms() / 1000
        stale = [ip for ip, (start, _) in self.weights.items() if not 0 <= now_s - start < 60]
        for ip in stale:
            del self.weights[ip]
        wall = time.time()
        for ip in [ip for ip, until in self.bans.items() if until <= wall]:
            del self.bans[ip]
        mono = time.monotonic()
        for ip in [
            ip
            for ip, w in self.retry_windows.items()
            if mono - w.given_at >= w.retry_after_s + rest.IN_FLIGHT_S
        ]:
            del self.retry_windows[ip]

    def _apply_stall(self) -> None:
        """``stall_s`` is a one-off: streams go silent from now for that long."""
        if self.faults.stall_s:
            self.hub.stall_all(self.faults.stall_s)
            self.faults.stall_s = 0.0

    def tick(self, ticks: int) -> None:
        """One step of the market loop, the ``ticks``-th since it started (every
        ``PRUNE_EVERY_TICKS``-th also prunes the per-address tables)."""
        self._apply_stall()  # before this step's frames
        now = self.now_ms()
        if self.generator is not None:
            self.generator.step(now)
        slow = ticks % 10 == 0
        if ticks % PRUNE_EVERY_TICKS == 0:
            self.prune()
        faults = self.faults
        mono = time.monotonic()
        if faults.gap_every_s and mono - faults._last_gap >= faults.gap_every_s:
            faults._last_gap = mono
            for market in self.markets.values():
                market.skip_next_depth = True
        replayed = set(self.replay.symbols) if self.replay is not None else set()
        for symbol, market in self.markets.items():
            if symbol in replayed:
                continue  # the recording is the only source of this symbol's frames
            market.flush_depth(now, slow)
            market.flush_klines(now)
            if slow:
                market.flush_second(now)
        for name in (ALL_MINI_TICKERS, ALL_MINI_TICKERS_1S):
            if slow and self.hub.wanted(name):
                self.hub.publish(name, [m.mini_ticker(now) for m in self.markets.values()])
        for window in ROLLING_WINDOWS:
            name = all_window_tickers(window)
            if slow and self.hub.wanted(name):
                tickers = [m.window_ticker(window, now) for m in self.markets.values()]
                self.hub.publish(name, tickers)
        self.hub.delay_s = faults.delay_ms / 1000
        if faults.max_connection_s:
            self.hub.expire(faults.max_connection_s)
        if faults.close_every_s and mono - faults._last_close >= faults.close_every_s:
            faults._last_close = mono
            self.spawn(self.hub.close_all())
            for ws in list(self.api_sockets):
                self.spawn(ws.close(code=1001, message=b"Closed by fault injection"))

    def spawn(self, coro: Any) -> None:
        """Run a coroutine in the background, keeping a reference until it ends."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- serving ----------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application with every route."""
        app = web.Application(client_max_size=64 * 1024, middlewares=[rest.json_errors])
        app[VENUE_KEY] = self
        rest.add_routes(app)
        app.router.add_get("/ws-api/v3", ws_api.handle)
        app.router.add_get("/ws/{path:.*}", self._stream_raw)
        app.router.add_get("/ws", self._stream_raw)
        app.router.add_get("/stream", self._stream_combined)
        app.router.add_post("/sim/faults", self._set_faults)
        app.router.add_post("/sim/shutdown-notice", self._shutdown_notice)
        return app

    async def _stream_raw(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info.get("path", "")
        return await self.hub.serve(request, [p for p in path.split("/") if p], combined=False)

    async def _stream_combined(self, request: web.Request) -> web.StreamResponse:
        # The query's decoding turns "+" into a space; no stream name has a space, and
        # "@+08:00" (the UTC+8 klines) is written unencoded in the documents' examples.
        streams = request.query.get("streams", "").replace(" ", "+")
        return await self.hub.serve(request, [p for p in streams.split("/") if p], combined=True)

    def _authorized(self, request: web.Request) -> bool:
        """Whether a control request carries the fault token (or none is needed)."""
        if not self.faults_token:
            return True
        given = request.headers.get("Authorization", "").encode("utf-8", "surrogatepass")
        return hmac.compare_digest(given, f"Bearer {self.faults_token}".encode())

    async def _set_faults(self, request: web.Request) -> web.Response:
        """``POST /sim/faults`` with a JSON object of switches; all are checked before any
        is set, and a refusal is a Binance-style error body."""
        if not self._authorized(request):
            return web.json_response(_NOT_AUTHORIZED, status=401)
        try:
            body = msgspec.json.decode(await request.read(), type=dict[str, float | int | str])
            staged = replace(self.faults)
            for name, value in body.items():
                staged.set(name, value)
        except (msgspec.DecodeError, RecursionError):
            return web.json_response({"code": -1100, "msg": "Malformed JSON."}, status=400)
        except (msgspec.ValidationError, ValueError) as exc:
            msg = f"Invalid faults: {exc}"[:300]
            return web.json_response({"code": -1130, "msg": msg}, status=400)
        for name in body:
            setattr(self.faults, name, getattr(staged, name))
        return web.json_response({"faults": self.faults.active()})

    async def _shutdown_notice(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response(_NOT_AUTHORIZED, status=401)
        event = {"e": "serverShutdown", "E": self.now_ms()}
        self.hub.broadcast_raw(event, "!serverShutdown")
        text = msgspec.json.encode({"event": event}).decode()  # the WebSocket API's form
        for ws in list(self.api_sockets):
            self.spawn(ws.send_str(text))
        return web.json_response({"sent": True})

    @property
    def rest_url(self) -> str:
        """Base REST URL in python-binance's form (``.../api``)."""
        return f"http://{self.host}:{self.port}/api"

    @property
    def ws_api_url(self) -> str:
        """WebSocket API URL."""
        return f"ws://{self.host}:{self.port}/ws-api/v3"

    @property
    def stream_url(self) -> str:
        """Market-stream base URL, ending in ``/``."""
        return f"ws://{self.host}:{self.port}/"

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start serving and the market loop (``port=0`` picks a free port)."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.host = host
        self.port = sockets[0].getsockname()[1] if sockets else port
        self._apply_stall()  # given by flag: silent from the start
        self._task = asyncio.create_task(self._run())
        if self.replay is not None:
            self.spawn(self.replay.run(self.hub))

    async def close(self) -> None:
        """Stop the market loop and the server."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.hub.close_all()
        if self.state_path is not None:
            save_state(self, self.state_path)
        if self._runner is not None:
            await self._runner.cleanup()

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        host: str = "127.0.0.1",
        port: int = 0,
        symbols: list[str] | None = None,
        seed: int = 1,
        faults: Faults | None = None,
        generate: bool = True,
        replay: Replay | None = None,
        faults_open: bool = False,
    ) -> AsyncIterator[SimVenue]:
        """Run a venue for the duration of an ``async with`` block.

        With ``replay``, the recorded symbols are served from the recording (streams and
        REST depth); other ``symbols`` named beside it are generated as usual.
        """
        if replay is not None:
            symbols = sorted(set(replay.symbols) | set(symbols or []))
            generate = generate and len(symbols) > len(replay.symbols)
        venue = cls(
            default_instruments(symbols),
            seed=seed,
            faults=faults,
            generate=generate,
            replay=replay,
            faults_open=faults_open,
        )
        await venue.serve(host, port)
        try:
            yield venue
        finally:
            await venue.close()
