"""``omnitrade record``: the headless recorder for a trading box.

Wiring lives here (the CLI may import anything): a bus, the history store, the recorder,
and a market-data source publishing on the bus. Until the Binance connector lands, the
source is a replay of a recorded capture (``--replay FILE``, lines ``<ns> <JSON frame>``)
decoded with the Binance wire schemas; the runtime plugs the live connector in the same
way, as any coroutine that publishes on the bus.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import signal
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

import redis.asyncio as redis

from omnitrade_tui.bus import each, topics
from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.cli.startup import overrides_from_args
from omnitrade_tui.config import Profile, load_settings, masked_url
from omnitrade_tui.domain.events import BookTop
from omnitrade_tui.domain.models import BookLevel
from omnitrade_tui.store.backfill import TradeGapFiller
from omnitrade_tui.store.database import open_database
from omnitrade_tui.store.errors import StoreError
from omnitrade_tui.store.recorder import Recorder, RecorderConfig
from omnitrade_tui.store.redis_bridge import RedisBridgePublisher, RedisTopCache
from omnitrade_tui.store.repository import SqlHistoryStore
from omnitrade_tui.venues.binance import schemas
from omnitrade_tui.venues.binance.market_stream import MarketStream
from omnitrade_tui.venues.binance.rest import BinanceError, BinanceRest
from omnitrade_tui.venues.binance.trade_history import TradeHistory
from omnitrade_tui.venues.sim.symbols import default_instruments
from omnitrade_tui.venues.sim.venue import SimVenue

#: What ``--redis`` carries to other processes: market data, executions, balances.
BRIDGED_PATTERNS = ("md.>", "exec.>", "acct.>")

#: A market-data source: publishes on the bus until done (or cancelled); returns how many
#: events it published.
Source = Callable[[Bus], Coroutine[Any, Any, int]]


class ReplayCounter:
    """How many events the replay has published so far (for the status line)."""

    published = 0


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


def live_source(profile: Profile, symbols: set[str], counter: ReplayCounter) -> Source:
    """A source that follows the profile's venue live: the connector's market streams.

    Profile ``sim`` starts the simulated venue in-process on a loopback port first, so a
    recorder with no network records the generated market through the real connector.
    """

    async def run(bus: Bus) -> int:
        def count(topic: str, event: Any) -> None:
            counter.published += 1

        bus.subscribe("md.>", each(count), name="record-counter")
        async with contextlib.AsyncExitStack() as stack:
            if profile.venue == "sim":
                sim = await stack.enter_async_context(SimVenue.start(symbols=sorted(symbols)))
                rest_base, stream_base = sim.rest_url, sim.stream_url
            else:
                if not profile.rest_url or not profile.stream_url:
                    raise CliError(f"profile {profile.name} has no REST or stream URL")
                rest_base = profile.rest_url.rstrip("/") + "/api"
                stream_base = profile.stream_url.rstrip("/") + "/"
            rest = BinanceRest(rest_base, bus=bus)
            stack.push_async_callback(rest.aclose)
            if profile.venue != "sim":
                await check_listed(rest, profile.rest_url or rest_base, symbols)
            trade_history = TradeHistory(bus, rest)
            trade_history.register()  # the backfill of what a reconnect missed asks it
            stack.callback(trade_history.unregister)
            stream = MarketStream(stream_base, rest, bus, sorted(symbols))
            stack.push_async_callback(stream.aclose)
            await stream.run()  # runs until cancelled (SIGINT/SIGTERM)
        return counter.published

    return run


async def check_listed(rest: BinanceRest, venue: str, symbols: set[str]) -> None:
    """Refuse symbols the venue does not list (a typo would record nothing, forever).

    Raises:
        CliError: exit 2 for unknown symbols, 7 when the venue does not answer.
    """
    try:
        info = await rest.exchange_info()
    except BinanceError as exc:
        raise CliError(
            f"cannot reach the venue at {venue}: {exc.msg}", ExitCode.VENUE_UNREACHABLE
        ) from exc
    listed = {str(s.get("symbol")) for s in info.get("symbols", [])}
    unknown = sorted(symbols - listed)
    if unknown:
        raise CliError(
            f"unknown symbol(s) {', '.join(unknown)}: the venue at {venue} does not list them",
            ExitCode.USAGE,
        )


async def record(args: argparse.Namespace) -> int:
    """Run the recorder until the source ends or SIGINT/SIGTERM; return the exit code."""
    symbols = {s.strip().upper() for s in args.symbols.split(",") if s.strip()}
    if not symbols:
        raise CliError(
            "--symbols needs at least one symbol, e.g. --symbols ETHUSDT,BTCUSDT", ExitCode.USAGE
        )
    if args.replay is not None and not args.replay.is_file():
        raise CliError(f"--replay {args.replay}: no such file", ExitCode.USAGE)
    # One history: the database, Redis and data directory the app uses, unless flags say.
    settings = load_settings(
        replace(overrides_from_args(args), db_url=args.db, redis_url=args.redis)
    )
    profile = settings.profile
    if args.replay is None and profile.venue == "sim":
        try:  # the simulated venue lists a fixed set: say so before anything starts
            default_instruments(sorted(symbols))
        except ValueError as exc:
            raise CliError(str(exc), ExitCode.USAGE) from None
    try:
        db = await open_database(settings.db_url)
    except StoreError as exc:
        raise CliError(str(exc), ExitCode.DATABASE) from exc
    store = SqlHistoryStore(db)
    bus = Bus()
    spill_dir = args.spill_dir or settings.dirs.data / "spill"
    recorder = Recorder(bus, store, RecorderConfig(spill_dir=spill_dir))
    counter = ReplayCounter()
    await recorder.start()
    filler: TradeGapFiller | None = None
    if args.replay is None:
        filler = TradeGapFiller(bus, last_stored=store.last_trade_id)
        filler.start()
    bridge: RedisBridgePublisher | None = None
    cache: RedisTopCache | None = None
    client: redis.Redis | None = None
    redis_url = settings.redis_url
    if redis_url:
        client = redis.Redis.from_url(redis_url)
        try:
            await client.ping()
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            await recorder.stop()
            await store.close()
            raise CliError(
                f"cannot reach Redis at {masked_url(redis_url)}: {exc}",
                ExitCode.VENUE_UNREACHABLE,
            ) from exc
        bridge = RedisBridgePublisher(bus, client, args.redis_stream, BRIDGED_PATTERNS)
        cache = RedisTopCache(bus, client, prefix=args.redis_prefix)
        await bridge.start()
        await cache.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    feed = (
        replay_source(args.replay, symbols, args.speed, counter)
        if args.replay is not None
        else live_source(profile, symbols, counter)
    )
    source: asyncio.Task[int] = asyncio.create_task(feed(bus))

    def line() -> str:
        s = recorder.status()
        return (
            f"record: {s.state} published={counter.published} written={s.written_rows} "
            f"backlog={s.backlog_rows} spilled={s.spilled_rows} lag={s.lag_ms:.0f}ms "
            f"batches={s.batches}"
            + (f" gaps={s.trade_gaps} ({s.missing_trades} trades)" if s.trade_gaps else "")
            + (f" error={s.last_error}" if s.last_error else "")
        )

    async def status_lines() -> None:
        while True:
            await asyncio.sleep(args.status_every)
            print(line(), flush=True)

    status_task = asyncio.create_task(status_lines())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({source, stopper}, return_when=asyncio.FIRST_COMPLETED)
    interrupted = stop.is_set()
    for task in (source, stopper, status_task):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    if bridge is not None and cache is not None and client is not None:
        await bridge.stop()
        await cache.stop()
        await client.aclose()
    if filler is not None:
        await filler.stop()
    await recorder.stop()
    print(line(), flush=True)
    await store.close()
    failure = None if interrupted else source.exception()
    if isinstance(failure, CliError):  # a mistake of the user's, with its own exit code
        raise failure
    if failure is not None:
        raise CliError(f"the market-data source failed: {failure}")
    return 0


def _run(args: argparse.Namespace) -> int:
    return asyncio.run(record(args))


def register(subparsers: Any) -> None:
    """Add the ``record`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "record",
        help="record market data and account history to the database, with no screen",
        description="Record trades, quotes, candles and account events of the given symbols "
        "to SQLite or PostgreSQL, optionally sharing the feed through Redis.",
    )
    parser.add_argument("--symbols", required=True, help="comma-separated, e.g. ETHUSDT,BTCUSDT")
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
    parser.set_defaults(handler=_run)
