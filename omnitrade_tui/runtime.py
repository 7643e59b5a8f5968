"""The composition root: one bus, the venue, the engine and the store for a profile.

Everything else knows only its own layer; this module alone wires them together. A run on
profile ``sim`` first starts the simulated venue in-process on a loopback port, so the
connector the screen talks through is the one that trades on testnet and live.

What a run holds, in start order (stopped in reverse):

1. the simulated venue (profile ``sim``) or the profile's URLs and its key from the key store;
2. REST (exchange info: the instruments; klines for the chart's top-up);
3. the history store, the recorder and the history service (answers ``history.*``);
4. the order manager behind the risk gate (answers the order and kill-switch commands);
5. market streams for the watchlist and the user-data stream (which reconciles on every
   (re)subscription);
6. the metrics exporter (diagnostics on the bus; Prometheus when a port is given).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.config import Settings
from omnitrade_tui.domain.capabilities import VenueCapabilities
from omnitrade_tui.domain.commands import (
    CancelAll,
    CancelOrder,
    PlaceOco,
    PlaceOrder,
    ReplaceOco,
    ReplaceOrder,
    SubscribeSymbol,
    VenueCandles,
)
from omnitrade_tui.domain.events import VenuesInForce
from omnitrade_tui.domain.instrument import Instrument
from omnitrade_tui.domain.models import Candle
from omnitrade_tui.domain.venue import grouped_by_pair, symbol_of, venue_of
from omnitrade_tui.engine.alerts import AlertService, DeliveryTarget
from omnitrade_tui.engine.book_of_record import OrderBookOfRecord
from omnitrade_tui.engine.journal import JournalService
from omnitrade_tui.engine.order_manager import OrderManager
from omnitrade_tui.engine.order_router import OrderRouter
from omnitrade_tui.engine.positions import PositionKeeper
from omnitrade_tui.engine.risk import RiskGate
from omnitrade_tui.engine.valuation import PortfolioValuer
from omnitrade_tui.logs import RingHandler, set_loop_crash_handler
from omnitrade_tui.metrics import MetricsExporter, start_metrics
from omnitrade_tui.secrets import (
    KeyNotFoundError,
    KeyStore,
    VenueUnreachableError,
    open_key_store,
    resolve_key,
)
from omnitrade_tui.store.alert_store import SqlAlertStore
from omnitrade_tui.store.backfill import TradeGapFiller
from omnitrade_tui.store.database import Database, open_database
from omnitrade_tui.store.errors import StoreError
from omnitrade_tui.store.history import CandleTopUp, HistoryService
from omnitrade_tui.store.recorder import Recorder, RecorderConfig
from omnitrade_tui.store.redis_feed import RedisFeed, open_market_feed
from omnitrade_tui.store.replica import history_reader
from omnitrade_tui.store.repository import SqlHistoryStore
from omnitrade_tui.tui.session import TerminalSession
from omnitrade_tui.venues.binance.exchange_info import instrument_of
from omnitrade_tui.venues.binance.execution import BinanceExecution
from omnitrade_tui.venues.binance.key_check import credentials_of, verify_run_key
from omnitrade_tui.venues.binance.market_stream import MarketStream
from omnitrade_tui.venues.binance.rest import BinanceError, BinanceRest, Credentials
from omnitrade_tui.venues.binance.trade_history import TradeHistory
from omnitrade_tui.venues.binance.user_data import UserDataStream
from omnitrade_tui.venues.ccxt.exchange import binance_urls, open_exchange
from omnitrade_tui.venues.ccxt.venue import CcxtVenue, VenueOpenError
from omnitrade_tui.venues.sim.venue import Faults, SimVenue

log = logging.getLogger(__name__)

#: Binance's default spot commission, used for previews until the account says otherwise.
DEFAULT_FEE_RATE = Decimal("0.001")

#: Levels a side the connector publishes: enough for a tall ladder grouped by ten ticks.
BOOK_LEVELS = 200


@dataclass(frozen=True)
class Endpoints:
    """Where a run's venue answers: REST base (``.../api``), WebSocket API, stream base."""

    rest: str
    ws_api: str
    stream: str

    @classmethod
    def of_sim(cls, sim: SimVenue) -> Endpoints:
        """The in-process simulated venue's URLs."""
        return cls(rest=sim.rest_url, ws_api=sim.ws_api_url, stream=sim.stream_url)

    @classmethod
    def of_profile(
        cls, name: str, rest: str | None, ws_api: str | None, stream: str | None
    ) -> Endpoints:
        """A venue profile's URLs, normalised; each must be set.

        Raises:
            VenueUnreachableError: a URL is missing (nothing to connect to).
        """
        if not rest or not ws_api or not stream:
            named = (("rest_url", rest), ("ws_api_url", ws_api), ("stream_url", stream))
            missing = ", ".join(n for n, v in named if not v)
            raise VenueUnreachableError(
                f"profile {name!r} has no {missing}: set it under [profiles.{name}] in the "
                "config file"
            )
        return cls(rest=rest.rstrip("/") + "/api", ws_api=ws_api, stream=stream.rstrip("/") + "/")


@dataclass
class Runtime:
    """A running engine for one profile; built by ``Runtime.start``."""

    settings: Settings
    bus: Bus
    #: The first venue's URLs, REST client and market stream: ``None`` when the profile
    #: reaches its own venue through ccxt (``venue = "ccxt"``; then it is ``venues[""]``).
    endpoints: Endpoints | None
    instruments: dict[str, Instrument]
    watchlist: tuple[str, ...]
    rest: BinanceRest | None
    manager: OrderManager
    gate: RiskGate
    stream: MarketStream | None
    #: None when the run has no key (``record`` on a profile without one): market data only.
    user: UserDataStream | None
    recorder: Recorder | None
    metrics: MetricsExporter
    sim: SimVenue | None = None
    #: The Redis Streams feed the market data comes from (``market_data = "redis"``).
    feed: RedisFeed | None = None
    fee_rate: Decimal = DEFAULT_FEE_RATE
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    #: The run's store (the history, the alerts, the gateway's users), when it opened one.
    database: Database | None = None
    #: The symbols the venue lists as trading (from the exchange info read at start).
    listed: frozenset[str] = frozenset()
    #: The venues beside the profile's first (``[profiles.NAME.venues.VENUE]``), by name.
    venues: dict[str, CcxtVenue] = field(default_factory=dict)
    #: Routes the order commands to the order manager of their venue.
    router: OrderRouter | None = None

    @property
    def market_stream(self) -> MarketStream:
        """The first venue's native market stream.

        Raises:
            LookupError: the profile reaches its own venue through ccxt (no native stream).
        """
        if self.stream is None:
            raise LookupError(f"profile {self.settings.profile.name} has no native market stream")
        return self.stream

    @property
    def native_rest(self) -> BinanceRest:
        """The first venue's native REST client.

        Raises:
            LookupError: the profile reaches its own venue through ccxt.
        """
        if self.rest is None:
            raise LookupError(f"profile {self.settings.profile.name} has no native REST client")
        return self.rest

    @property
    def profile_label(self) -> str:
        """``SIM``, ``TESTNET``, ``LIVE``..."""
        return self.settings.profile.label

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        settings: Settings,
        *,
        seed: int = 1,
        faults: Faults | None = None,
        record: bool = True,
        generate: bool = True,
        ask_passphrase: Callable[[str], str] | None = None,
        connect: bool = True,
        symbols: Sequence[str] | None = None,
        spill_dir: Path | None = None,
        key_optional: bool = False,
        open_store: bool = False,
    ) -> AsyncIterator[Runtime]:
        """Run the engine for ``settings.profile`` for the duration of an ``async with``.

        ``record=False`` leaves the history store out (a quick demo, a test).
        ``connect=False`` builds everything but opens the streams only when ``connect()`` is
        called: the screen subscribes first, so it sees the first connection and balance
        events instead of starting blank. ``symbols`` replaces the watchlist (``record``'s
        ``--symbols``); ``spill_dir`` the recorder's journal folder. ``key_optional``: a
        venue profile with no key runs on market data alone (no user data; an order would
        be refused for want of a key) instead of failing. ``open_store`` opens the
        database even without ``record`` (the gateway keeps its users there).

        Raises:
            VenueUnreachableError: the venue does not answer (exit code 7 at the CLI).
            KeyStoreError: the profile's key is missing, locked or refused.
            StoreError: the database cannot be opened.
        """
        profile = settings.profile
        watchlist = tuple(symbols) if symbols is not None else settings.ui.watchlist
        # A task's exception nobody awaited goes to the (redacting) log like any other.
        set_loop_crash_handler(asyncio.get_running_loop())
        bus = Bus()
        async with contextlib.AsyncExitStack() as stack:
            opened_store: list[KeyStore] = []

            def key_store() -> KeyStore:
                # Opened once for every venue: the encrypted file asks its passphrase once.
                if not opened_store:
                    opened_store.append(
                        open_key_store(
                            settings.dirs, settings.key_backend, ask_passphrase=ask_passphrase
                        )
                    )
                return opened_store[0]

            sim: SimVenue | None = None
            endpoints: Endpoints | None = None
            credentials: Credentials | None = None
            if profile.venue == "sim":
                sim = await stack.enter_async_context(
                    SimVenue.start(
                        symbols=[s for s in watchlist if not venue_of(s)] or None,
                        seed=seed,
                        faults=faults,
                        generate=generate,
                    )
                )
                endpoints = Endpoints.of_sim(sim)
                credentials = Credentials(*sim.demo_key)
            elif profile.venue != "ccxt":
                endpoints = Endpoints.of_profile(
                    profile.name, profile.rest_url, profile.ws_api_url, profile.stream_url
                )
                try:
                    key = resolve_key(key_store(), profile)
                except KeyNotFoundError:
                    if not key_optional:
                        raise
                    log.warning("profile %s has no key: market data only", profile.name)
                    key = None
                if key is not None:
                    await verify_run_key(key, profile)
                    credentials = credentials_of(key)
            # The first venue through the native connector (the sim, Binance), unless the
            # profile reaches its own venue through ccxt (then it is among ``others``).
            rest: BinanceRest | None = None
            instruments: dict[str, Instrument] = {}
            listed: frozenset[str] = frozenset()
            first_watch = tuple(s for s in watchlist if venue_of(s) == "")
            if endpoints is not None:
                rest = BinanceRest(endpoints.rest, credentials, bus=bus)
                stack.push_async_callback(rest.aclose)
                instruments, listed = await _instruments(rest, endpoints, first_watch)
            others = await _open_other_venues(
                stack, bus, settings, watchlist, seed, faults, key_store
            )
            for other in others.values():
                instruments.update(other.instruments)
            missing = [s for s in first_watch if s not in instruments]
            if missing:
                log.warning("watchlist symbols the venue does not list: %s", ", ".join(missing))
            symbols = [s for s in first_watch if s in instruments]
            if not any(s in instruments for s in watchlist):
                where = endpoints.rest if endpoints is not None else f"{profile.name}'s venues"
                raise VenueUnreachableError(
                    f"none of the watchlist symbols ({', '.join(watchlist)}) trade on "
                    f"{where}: set [ui] watchlist in the config file"
                )

            recorder: Recorder | None = None
            alert_store: SqlAlertStore | None = None
            db: Database | None = None
            if record or open_store:
                db = await open_database(settings.db_url)
                stack.push_async_callback(db.dispose)
            if record:
                assert db is not None
                history_store = SqlHistoryStore(db)
                alert_store = SqlAlertStore(db)
                recorder = Recorder(
                    bus,
                    history_store,
                    RecorderConfig(spill_dir=spill_dir or settings.dirs.data / "spill"),
                )
                await recorder.start()
                stack.push_async_callback(recorder.stop)
                reader = await history_reader(stack, settings.db_read_url, history_store)
                history = HistoryService(
                    bus,
                    reader,
                    reader,
                    top_up=_routed_top_up(rest, others),
                    venue_first=sim is not None,
                )
                history.register()
                stack.callback(history.unregister)
                journal = JournalService(
                    bus,
                    {s: (i.base_asset, i.quote_asset) for s, i in instruments.items()},
                    venue=profile.venue,
                )
                journal.register()
                stack.callback(journal.unregister)
                if rest is not None:  # a ccxt venue fills no trade gaps yet (its ids differ)
                    trade_history = TradeHistory(bus, rest)
                    trade_history.register()
                    stack.callback(trade_history.unregister)
                filler = TradeGapFiller(bus, last_stored=history_store.last_trade_id)
                filler.start()
                stack.push_async_callback(filler.stop)

            valuer = PortfolioValuer(
                bus, {s: (i.base_asset, i.quote_asset) for s, i in instruments.items()}
            )
            valuer.start()
            stack.push_async_callback(valuer.stop)
            alerts = AlertService(bus, alert_store, delivery_targets(settings))
            await alerts.start()
            stack.push_async_callback(alerts.stop)

            # The engine's one account of our orders: the order managers and the risk gate
            # read it, the screen and the gateway follow what it publishes.
            book = OrderBookOfRecord.on(bus)  # the alerts may have made it already
            stack.callback(book.close)
            positions = PositionKeeper(
                bus, {s: (i.base_asset, i.quote_asset) for s, i in instruments.items()}
            )
            # A venue account may have traded before this run: its recent fills count.
            positions.start(load_history=record and sim is None)
            stack.push_async_callback(positions.stop)
            managers: dict[str, OrderManager] = {}
            if rest is not None:
                managers[""] = OrderManager(bus, BinanceExecution(rest), symbols, book=book)
            for name, other in others.items():
                # A venue with no key has a manager too: its orders are refused by the venue,
                # said like any refusal, instead of by a missing handler.
                managers[name] = OrderManager(
                    bus, other.execution, list(other.instruments), book=book, venue=name
                )
                if other.user is not None:
                    other.user.on_subscribed = managers[name].reconcile
            manager = managers[""]
            router = OrderRouter(managers)
            stack.push_async_callback(router.aclose)
            gate = RiskGate(
                bus,
                profile.risk,
                base_assets={s: i.base_asset for s, i in instruments.items()},
                book=book,
                venue_limits={v.name: v.risk for v in profile.venues},
            )
            gate.start()
            stack.callback(gate.stop)
            bus.handle(PlaceOrder, gate.guard(router.place))
            bus.handle(PlaceOco, gate.guard_oco(router.place_oco))
            bus.handle(ReplaceOrder, gate.guard_replace(router.replace))
            bus.handle(ReplaceOco, gate.guard_replace_oco(router.replace_oco))
            bus.handle(CancelOrder, router.cancel)
            bus.handle(CancelAll, router.cancel_all)

            stream: MarketStream | None = None
            if rest is not None and endpoints is not None:
                stream = MarketStream(
                    endpoints.stream,
                    rest,
                    bus,
                    symbols,
                    book_levels=BOOK_LEVELS,
                    stale_after_s=settings.ui.stale_after_s,
                )
                stack.push_async_callback(stream.aclose)

            async def subscribe(cmd: SubscribeSymbol) -> bool:
                if venue_of(cmd.symbol) in others or stream is None:
                    return True  # a ccxt venue watches its whole watchlist from the start
                if cmd.active:
                    await stream.subscribe(cmd.symbol)
                else:
                    await stream.unsubscribe(cmd.symbol)
                return True

            async def venue_candles(cmd: VenueCandles) -> list[Candle]:
                other = others.get(venue_of(cmd.symbol))
                if other is not None:
                    return await other.candles(cmd)
                if stream is None:
                    raise ValueError(f"{cmd.symbol}: no venue of this run trades it")
                return await stream.candles(cmd)

            bus.handle(SubscribeSymbol, subscribe)
            bus.handle(VenueCandles, venue_candles)
            user: UserDataStream | None = None
            if credentials is not None and endpoints is not None and rest is not None:
                user = UserDataStream(
                    endpoints.ws_api,
                    credentials,
                    bus,
                    on_subscribed=manager.reconcile,
                    # The subscription is signed on the venue's clock, resynced on a -1021.
                    clock_ms=rest.now_ms,
                    resync_clock=rest.sync_time,
                )
            feed: RedisFeed | None = None
            if settings.market_data == "redis":  # market data from another run's feed
                try:
                    feed = await open_market_feed(
                        stack, bus, settings.redis_url or "", settings.market_data_stream
                    )
                except StoreError as exc:
                    raise VenueUnreachableError(str(exc)) from exc
            metrics = await start_metrics(bus, settings.metrics_port, settings.metrics_host)
            stack.push_async_callback(metrics.aclose)

            runtime = cls(
                settings=settings,
                bus=bus,
                endpoints=endpoints,
                instruments={s: instruments[s] for s in (*symbols, *others_ids(others))},
                watchlist=tuple(grouped_by_pair(s for s in watchlist if s in instruments)),
                rest=rest,
                manager=manager,
                gate=gate,
                stream=stream,
                user=user,
                recorder=recorder,
                metrics=metrics,
                sim=sim,
                feed=feed,
                database=db,
                listed=listed | frozenset(symbols) | frozenset(others_ids(others)),
                venues=others,
                router=router,
            )
            stack.push_async_callback(runtime._stop_tasks)
            if connect:
                runtime.connect()
            yield runtime

    def connect(self) -> None:
        """Open the market and user-data streams (once), and say the risk limits again: the
        screen subscribes between ``start`` and ``connect`` and checks tickets against them."""
        if self.tasks:
            return
        self.gate.publish_limits()
        self.publish_venues()
        if self.feed is not None:
            self.tasks = [asyncio.create_task(self.feed.run(), name="market-feed")]
        elif self.stream is not None:
            self.tasks = [asyncio.create_task(self.stream.run(), name="market-stream")]
        if self.user is not None:
            self.tasks.append(asyncio.create_task(self.user.run(), name="user-data"))
        for name, venue in self.venues.items():
            self.tasks.append(asyncio.create_task(venue.market.run(), name=f"market-{name}"))
            if venue.user is not None:
                self.tasks.append(asyncio.create_task(venue.user.run(), name=f"user-{name}"))

    def publish_venues(self) -> None:
        """Say which venues the run trades and what each lacks of the native connector's
        guarantees (``sys.venues``): the screen marks those venues."""
        first = VenueCapabilities(venue=self.settings.profile.venue)
        self.bus.publish(
            topics.VENUES,
            VenuesInForce(
                venues=[first, *(v.capabilities for v in self.venues.values())],
                time_ms=int(time.time() * 1000),
            ),
        )

    def session(
        self, *, user_theme_dir: Path | None = None, log_ring: RingHandler | None = None
    ) -> TerminalSession:
        """What the terminal app is handed to run on this engine: its bus and the run's
        facts; the streams open once the screen follows the bus (``on_ready``)."""
        return TerminalSession(
            bus=self.bus,
            instruments=self.instruments,
            watchlist=self.watchlist,
            profile_label=self.profile_label,
            live=self.settings.profile.live,
            ui=self.settings.ui,
            user_theme_dir=user_theme_dir,
            fee_rate=self.fee_rate,
            # A fresh sim has no fills to show; a venue's account may.
            load_history=self.sim is None,
            log_ring=log_ring,
            on_ready=self.connect,
            # Where the screen writes what it exports (the order history's CSV).
            export_dir=self.settings.dirs.data,
            first_venue=self.settings.profile.venue,
        )

    async def _stop_tasks(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def delivery_targets(settings: Settings) -> dict[str, DeliveryTarget]:
    """The config's alert targets as the engine's outbox takes them."""
    return {
        name: DeliveryTarget(
            name=name,
            url=target.url,
            argv=tuple(target.command or ()),
            timeout_s=target.timeout_s,
            retries=target.retries,
        )
        for name, target in settings.alert_targets.items()
    }


def others_ids(others: Mapping[str, CcxtVenue]) -> list[str]:
    """Every instrument id of the venues beside the first."""
    return [i for venue in others.values() for i in venue.instruments]


async def _open_other_venues(
    stack: contextlib.AsyncExitStack,
    bus: Bus,
    settings: Settings,
    watchlist: Sequence[str],
    seed: int,
    faults: Faults | None,
    key_store: Callable[[], KeyStore],
) -> dict[str, CcxtVenue]:
    """Open each venue the profile lists beside its first, for its watchlist symbols
    (``BTCUSDT@kraken``); each stays open until ``stack`` closes.

    A venue with no key runs on market data alone (its orders are refused by the router);
    a simulated one is started in-process and traded with its demo key.

    Raises:
        VenueUnreachableError: a venue does not answer, lists none of its symbols, or its
            exchange is not one ccxt knows.
        KeyStoreError: a venue's key is missing or locked.
    """
    opened: dict[str, CcxtVenue] = {}
    known = set(settings.profile.venue_names)
    strays = sorted({venue_of(s) for s in watchlist} - known)
    if strays:
        log.warning(
            "watchlist names venues profile %s does not list: %s",
            settings.profile.name,
            ", ".join(strays),
        )
    own = (settings.profile.ccxt,) if settings.profile.ccxt is not None else ()
    for venue in (*own, *settings.profile.venues):
        wanted = [symbol_of(s) for s in watchlist if venue_of(s) == venue.name]
        if not wanted:
            log.warning(
                "venue %s has no symbol in the watchlist (add SYMBOL@%s)", venue.name, venue.name
            )
            continue
        api_key: str | None = None
        secret: str | None = None
        password: str | None = None
        if venue.simulated:
            sim = await stack.enter_async_context(
                SimVenue.start(
                    symbols=wanted, seed=venue.seed, faults=copy.copy(faults) if faults else None
                )
            )
            urls = binance_urls(sim.rest_url, sim.ws_api_url, sim.stream_url)
            api_key, secret = sim.demo_key
        else:
            urls = None
            if venue.rest_url:  # a ccxt Binance client pointed at a host that speaks Binance
                at = Endpoints.of_profile(
                    venue.name, venue.rest_url, venue.ws_api_url, venue.stream_url
                )
                urls = binance_urls(at.rest, at.ws_api, at.stream)
            if venue.key:
                key = key_store().get(venue.key)
                api_key, secret = key.api_key.reveal(), key.secret.reveal()
                if key.api_passphrase is not None:
                    password = key.api_passphrase.reveal()
            else:
                log.warning("venue %s has no key: market data only", venue.name)
        try:
            exchange = open_exchange(
                venue.exchange,
                api_key=api_key,
                secret=secret,
                password=password,
                options=venue.options,
                urls=urls,
            )
            opened[venue.name] = ccxt_venue = await stack.enter_async_context(
                CcxtVenue.open(
                    exchange,
                    bus,
                    venue.name,
                    wanted,
                    book_levels=BOOK_LEVELS,
                    stale_after_s=settings.ui.stale_after_s,
                )
            )
        except (ValueError, VenueOpenError) as exc:
            raise VenueUnreachableError(str(exc)) from None
        if api_key:
            ccxt_venue.follow_user(bus, on_subscribed=None)
    return opened


def _routed_top_up(rest: BinanceRest | None, others: Mapping[str, CcxtVenue]) -> CandleTopUp:
    """The history's candle top-up, from the venue an id names."""

    async def top_up(
        symbol: str, interval: str, limit: int, end_ms: int | None = None
    ) -> list[Candle]:
        other = others.get(venue_of(symbol))
        if other is not None:
            return await other.klines(symbol, interval, limit, end_ms)
        if rest is None:
            return []
        return await rest.klines(symbol, interval, limit, end_ms)

    return top_up


async def _instruments(
    rest: BinanceRest, endpoints: Endpoints, watchlist: tuple[str, ...]
) -> tuple[dict[str, Instrument], frozenset[str]]:
    """The watchlist's instruments, and every symbol the venue lists as trading."""
    try:
        await rest.sync_time()
        info = await rest.exchange_info()
    except BinanceError as exc:
        raise VenueUnreachableError(f"cannot reach the venue at {endpoints.rest}: {exc}") from None
    wanted = set(watchlist)
    out: dict[str, Instrument] = {}
    listed: set[str] = set()
    for entry in info.get("symbols", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("symbol"), str):
            continue
        if entry.get("status", "TRADING") == "TRADING":
            listed.add(entry["symbol"])
        if entry["symbol"] in wanted:
            out[entry["symbol"]] = instrument_of(entry)
    return out, frozenset(listed)
