"""``omnitrade record``: the headless recorder for a trading box.

Live, it runs the engine's one composition (``Runtime``, as the app and the gateway do) on
the profile's venue with ``--symbols`` for a watchlist and no screen: market data (trades,
tops of book, candles), the trades a reconnect missed (backfilled) and, where the profile
has a key, the account's orders, fills and balances, into the history the app uses. It
says on stderr when the venue cannot be reached and gives up with exit 7 after
``--connect-timeout``. ``--replay FILE`` records a capture instead (lines
``<ns> <JSON frame>``, decoded with the Binance wire schemas), with no venue at all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

import redis.asyncio as redis

from omnitrade_tui.bus import Topic, each, topics
from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.cli.startup import overrides_from_args, start_logging
from omnitrade_tui.config import Settings, load_settings, masked_url
from omnitrade_tui.domain.events import BookTop, ConnectionChanged, LinkState
from omnitrade_tui.domain.models import BookLevel
from omnitrade_tui.domain.venue import InstrumentIdError, parse, venue_of
from omnitrade_tui.runtime import Runtime
from omnitrade_tui.store.database import open_database
from omnitrade_tui.store.errors import StoreError
from omnitrade_tui.store.partitions import keep_partitions
from omnitrade_tui.store.recorder import Recorder, RecorderConfig
from omnitrade_tui.store.redis_bridge import RedisBridgePublisher, RedisTopCache
from omnitrade_tui.store.repository import SqlHistoryStore
from omnitrade_tui.venues.binance import schemas
from omnitrade_tui.venues.sim.symbols import default_instruments

#: When to say on stderr that the venue has not been reached yet.
NOTICE_S = 10.0

#: What ``--redis`` carries to other processes: market data, executions, balances.
BRIDGED_PATTERNS = ("md.>", "exec.>", "acct.>")

#: A market-data source: publishes on the bus until done (or cancelled); returns how many
#: events it published.
Source = Callable[[Bus], Coroutine[Any, Any, int]]


class ReplayCounter:
    """How many market events the source has published so far (for the status line)."""

    published = 0

    def count(self) -> None:
        """One more."""
        self.published += 1


def replay_source(path: Path, symbols: set[str], speed: float, counter: ReplayCounter) -> Source:
    """A source that replays a recorded Binance capture onto the bus.

    ``speed`` 0 publishes as fast as the recorder takes it; 1.0 keeps the recorded pace.
    """

    async def run(bus: Bus) -> int:
        opener: Any = gzip.open if path.suffix == ".gz" else open
        first_ns: int | None = None
        start = time.monotonic()
        with opener(path, "rb") as f:
            for line in f:
                stamp, _, body = line.partition(b" ")
                if not body.startswith(b'{"stream"'):
                    continue
                frame = schemas.stream_frame_decoder.decode(body)
                kind = schemas.stream_kind(frame.stream)
                topic: Topic[Any]
                event: Any
                if kind == "trade":
                    msg = schemas.trade_decoder.decode(frame.data)
                    if msg.symbol not in symbols:
                        continue
                    topic, event = topics.trade(msg.symbol), msg.to_trade()
                elif kind == "bookTicker":
                    bt = schemas.book_ticker_decoder.decode(frame.data)
                    if bt.symbol not in symbols:
                        continue
                    topic = topics.book(bt.symbol)
                    event = BookTop(
                        symbol=bt.symbol,
                        update_id=bt.update_id,
                        bids=[BookLevel(bt.bid, bt.bid_qty)],
                        asks=[BookLevel(bt.ask, bt.ask_qty)],
                        event_ms=int(stamp) // 1_000_000,
                    )
                else:
                    continue
                if speed > 0:
                    ns = int(stamp)
                    first_ns = ns if first_ns is None else first_ns
                    due = (ns - first_ns) / 1e9 / speed - (time.monotonic() - start)
                    if due > 0:
                        await asyncio.sleep(due)
                await bus.publish_wait(topic, event)
                counter.published += 1
                if counter.published % 256 == 0:
                    await asyncio.sleep(0)
        return counter.published

    return run


async def record(args: argparse.Namespace) -> int:
    """Record until the source ends or SIGINT/SIGTERM; return the exit code."""
    try:  # ids: BTCUSDT on the profile's first venue, BTCUSDT@kraken on another
        symbols = {parse(s) for s in args.symbols.split(",") if s.strip()}
    except InstrumentIdError as exc:
        raise CliError(f"--symbols: {exc}", ExitCode.USAGE) from None
    if not symbols:
        raise CliError(
            "--symbols needs at least one symbol, e.g. --symbols ETHUSDT,BTCUSDT", ExitCode.USAGE
        )
    if args.replay is not None and not args.replay.is_file():
        raise CliError(f"--replay {args.replay}: no such file", ExitCode.USAGE)
    if args.from_redis and args.replay is not None:
        raise CliError("--from-redis and --replay are two sources: give one", ExitCode.USAGE)
    if args.redis_group is not None and not args.from_redis:
        raise CliError("--redis-group shares a feed taken --from-redis", ExitCode.USAGE)
    # One history: the database, Redis and data directory the app uses, unless flags say.
    settings = load_settings(
        replace(overrides_from_args(args), db_url=args.db, redis_url=args.redis)
    )
    start_logging(settings)
    if args.replay is None and not args.from_redis and settings.profile.venue == "sim":
        try:  # the simulated venue lists a fixed set: say so before anything starts
            default_instruments(sorted(s for s in symbols if not venue_of(s)))
        except ValueError as exc:
            raise CliError(str(exc), ExitCode.USAGE) from None
    spill_dir = args.spill_dir or settings.dirs.data / "spill"
    counter = ReplayCounter()
    async with contextlib.AsyncExitStack() as stack:
        if args.from_redis:
            from omnitrade_tui.cli.record_redis import redis_feed_engine

            bus, recorder, source = await redis_feed_engine(
                stack, settings, spill_dir, symbols, args
            )
            bus.subscribe("md.>", each(lambda t, e: counter.count()), name="record-counter")

            def work() -> Coroutine[Any, Any, Any]:
                return source(bus)

        elif args.replay is not None:
            bus, recorder = await _replay_engine(stack, settings, spill_dir)
            source = replay_source(args.replay, symbols, args.speed, counter)

            def work() -> Coroutine[Any, Any, Any]:
                return source(bus)

        else:
            runtime = await _live_engine(stack, settings, symbols, spill_dir)
            assert runtime.recorder is not None  # started with record=True
            bus, recorder = runtime.bus, runtime.recorder
            bus.subscribe("md.>", each(lambda t, e: counter.count()), name="record-counter")
            stream_url = (
                runtime.endpoints.stream
                if runtime.endpoints is not None
                else f"{settings.profile.name}'s venue (through ccxt)"
            )

            def work() -> Coroutine[Any, Any, Any]:
                return _until_connected(bus, stream_url, args.connect_timeout)

            runtime.connect()
        await keep_partitions(stack, settings.db_url, settings.market_retention_days)
        if not args.from_redis:  # a feed taken from Redis is not put back on it
            await _share_through_redis(stack, bus, settings.redis_url, args)
        _, failure = await _run_until_stopped(work, recorder, counter, args)
    print(_status_line(recorder, counter), flush=True)
    if isinstance(failure, CliError):  # a mistake of the user's, with its own exit code
        raise failure
    if failure is not None:
        raise CliError(f"the market-data source failed: {failure}")
    return 0


async def _replay_engine(
    stack: contextlib.AsyncExitStack, settings: Settings, spill_dir: Path
) -> tuple[Bus, Recorder]:
    """A bus and a recorder on the history, for a replay (no venue, nothing to backfill)."""
    try:
        db = await open_database(settings.db_url)
    except StoreError as exc:
        raise CliError(str(exc), ExitCode.DATABASE) from exc
    store = SqlHistoryStore(db)
    stack.push_async_callback(store.close)
    bus = Bus()
    recorder = Recorder(bus, store, RecorderConfig(spill_dir=spill_dir))
    await recorder.start()
    stack.push_async_callback(recorder.stop)
    return bus, recorder


async def _live_engine(
    stack: contextlib.AsyncExitStack, settings: Settings, symbols: set[str], spill_dir: Path
) -> Runtime:
    """The engine's one composition on the profile's venue, recording; a key is optional."""
    runtime = await stack.enter_async_context(
        Runtime.start(
            settings,
            symbols=sorted(symbols),
            spill_dir=spill_dir,
            key_optional=True,
            connect=False,
        )
    )
    unknown = sorted(symbols - set(runtime.watchlist))
    if unknown:
        raise CliError(
            f"unknown symbol(s) {', '.join(unknown)}: the venue at "
            f"{where_listed(settings, runtime)} does not list them",
            ExitCode.USAGE,
        )
    if runtime.user is None and not any(v.user for v in runtime.venues.values()):
        print(
            f"record: profile {settings.profile.name} has no key: recording market data only "
            "(add one with `omnitrade keys add` to record orders, fills and balances too)",
            file=sys.stderr,
            flush=True,
        )
    return runtime


def where_listed(settings: Settings, runtime: Runtime) -> str:
    """The venue a symbol was looked for at, as the trader would name it."""
    if runtime.endpoints is not None:
        return settings.profile.rest_url or runtime.endpoints.rest
    return f"of profile {settings.profile.name}"


async def _until_connected(bus: Bus, where: str, timeout_s: float) -> None:
    """Return never while the venue's market streams connect; say so on stderr when they
    have not within ``NOTICE_S``, and raise (exit 7) when not within ``timeout_s``."""
    connected = asyncio.Event()
    last = ""

    def on_link(topic: str, event: Any) -> None:
        nonlocal last
        if isinstance(event, ConnectionChanged) and event.link == "market":  # the first venue's
            last = event.detail or event.state.value
            if event.state is LinkState.CONNECTED:
                connected.set()

    bus.subscribe(topics.CONNECTION, each(on_link), name="record-connection")
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(connected.wait(), min(NOTICE_S, timeout_s))
    if not connected.is_set():
        print(
            f"record: no connection to the market streams at {where} after "
            f"{min(NOTICE_S, timeout_s):g} s ({last or 'no answer'}); still trying for "
            f"{max(0.0, timeout_s - NOTICE_S):g} s more",
            file=sys.stderr,
            flush=True,
        )
        try:
            await asyncio.wait_for(connected.wait(), max(0.0, timeout_s - NOTICE_S))
        except TimeoutError:
            raise CliError(
                f"cannot reach the venue's market streams at {where} within "
                f"{timeout_s:g} s ({last or 'no answer'})",
                ExitCode.VENUE_UNREACHABLE,
            ) from None
    await asyncio.Event().wait()  # connected: record until stopped


async def _share_through_redis(
    stack: contextlib.AsyncExitStack, bus: Bus, redis_url: str | None, args: argparse.Namespace
) -> None:
    """With a Redis URL: publish the feed on a stream and cache the latest tops."""
    if not redis_url:
        return
    client = redis.Redis.from_url(redis_url)
    stack.push_async_callback(client.aclose)
    try:
        await client.ping()
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise CliError(
            f"cannot reach Redis at {masked_url(redis_url)}: {exc}", ExitCode.VENUE_UNREACHABLE
        ) from exc
    bridge = RedisBridgePublisher(bus, client, args.redis_stream, BRIDGED_PATTERNS)
    cache = RedisTopCache(bus, client, prefix=args.redis_prefix)
    await bridge.start()
    stack.push_async_callback(bridge.stop)
    await cache.start()
    stack.push_async_callback(cache.stop)


def _status_line(recorder: Recorder, counter: ReplayCounter) -> str:
    s = recorder.status()
    return (
        f"record: {s.state} published={counter.published} written={s.written_rows} "
        f"backlog={s.backlog_rows} spilled={s.spilled_rows} lag={s.lag_ms:.0f}ms "
        f"batches={s.batches}"
        + (f" gaps={s.trade_gaps} ({s.missing_trades} trades)" if s.trade_gaps else "")
        + (f" error={s.last_error}" if s.last_error else "")
    )


async def _run_until_stopped(
    work: Callable[[], Coroutine[Any, Any, Any]],
    recorder: Recorder,
    counter: ReplayCounter,
    args: argparse.Namespace,
) -> tuple[bool, BaseException | None]:
    """Run ``work`` with a status line every ``--status-every`` s until it ends or a
    SIGINT/SIGTERM; whether it was interrupted, and what the work raised."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def status_lines() -> None:
        while True:
            await asyncio.sleep(args.status_every)
            print(_status_line(recorder, counter), flush=True)

    source: asyncio.Task[Any] = asyncio.create_task(work())
    status_task = asyncio.create_task(status_lines())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({source, stopper}, return_when=asyncio.FIRST_COMPLETED)
    interrupted = stop.is_set()
    for task in (source, stopper, status_task):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    failure = None if interrupted or source.cancelled() else source.exception()
    return interrupted, failure


def _run(args: argparse.Namespace) -> int:
    return asyncio.run(record(args))


def register(subparsers: Any) -> None:
    """Add the ``record`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "record",
        help="record market data and account history to the database, with no screen",
        description="Record the trades, best bid and ask and closed candles of the given "
        "symbols (filling in the trades a reconnect missed) and, when the profile has a key, "
        "the account's orders, fills and balances, into the app's history (SQLite or "
        "PostgreSQL), optionally sharing the feed through Redis.",
    )
    parser.add_argument(
        "--symbols",
        required=True,
        help="comma-separated, e.g. ETHUSDT,BTCUSDT (BTCUSDT@VENUE on a venue of the profile "
        "beside its first)",
    )
    # Also after the subcommand (``omnitrade record --symbols ... --profile testnet``), as a
    # unit file writes it; SUPPRESS keeps a profile given before the subcommand.
    parser.add_argument(
        "--profile",
        default=argparse.SUPPRESS,
        help="the profile whose venue (and key, for account events) to record from",
    )
    parser.add_argument(
        "--db",
        default=None,
        help="SQLite path or postgresql:// URL (default: the app's, as config show says)",
    )
    parser.add_argument(
        "--redis",
        default=None,
        help="redis:// URL: share the feed and cache the latest tops (default: redis_url)",
    )
    parser.add_argument(
        "--redis-stream", default="omt:bus", help="Redis stream key of the shared feed"
    )
    parser.add_argument(
        "--redis-prefix", default="omt", help="key prefix of the cached tickers and tops"
    )
    parser.add_argument(
        "--from-redis",
        action="store_true",
        help="take market data from the Redis feed (--redis, --redis-stream) that another "
        "record --redis publishes, instead of connecting to the venue",
    )
    parser.add_argument(
        "--redis-group",
        default=None,
        metavar="NAME",
        help="with --from-redis: share the feed with the other recorders of this consumer "
        "group (each entry to one of them)",
    )
    parser.add_argument(
        "--redis-consumer",
        default=None,
        metavar="NAME",
        help="this recorder's name in --redis-group (default: host and process id)",
    )
    parser.add_argument("--replay", type=Path, default=None, help="recorded capture to replay")
    parser.add_argument(
        "--speed", type=float, default=0.0, help="replay pace: 0 = as fast as possible"
    )
    parser.add_argument(
        "--spill-dir",
        type=Path,
        default=None,
        help="the journal of rows the database has not taken yet (default: <data dir>/spill)",
    )
    parser.add_argument(
        "--status-every", type=float, default=5.0, help="seconds between status lines"
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="give up (exit 7) when the venue's streams do not connect within this long",
    )
    parser.set_defaults(handler=_run)
