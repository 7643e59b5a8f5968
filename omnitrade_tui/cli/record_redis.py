"""``omnitrade record --from-redis``: record the Redis Streams feed another run publishes.

No venue connection: a bus and the recorder on the history (as a replay has), fed by a
``RedisFeed`` (``store/redis_feed.py``), alone or as one member of ``--redis-group``; the
metrics exporter with its health endpoints and systemd watchdog, as any recording run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
from pathlib import Path

import redis.asyncio as redis

from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.cli.record import Source, _replay_engine
from omnitrade_tui.config import Settings, masked_url
from omnitrade_tui.metrics import start_metrics
from omnitrade_tui.store.recorder import Recorder
from omnitrade_tui.store.redis_feed import RedisFeed, redis_feed_source


async def redis_feed_engine(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    spill_dir: Path,
    symbols: set[str],
    args: argparse.Namespace,
) -> tuple[Bus, Recorder, Source]:
    """A bus and a recorder, and the feed that fills the bus (joined when the source runs).

    Raises:
        CliError: no Redis URL (exit 2), or Redis does not answer (exit 7).
    """
    if not settings.redis_url:
        raise CliError(
            "--from-redis needs --redis URL (or redis_url in the config)", ExitCode.USAGE
        )
    client = redis.Redis.from_url(settings.redis_url)
    stack.push_async_callback(client.aclose)
    try:
        await client.ping()
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise CliError(
            f"cannot reach Redis at {masked_url(settings.redis_url)}: {exc}",
            ExitCode.VENUE_UNREACHABLE,
        ) from exc
    bus, recorder = await _replay_engine(stack, settings, spill_dir)
    # Metrics, /livez, /readyz and systemd's watchdog, as a venue-fed run has them.
    metrics = await start_metrics(bus, settings.metrics_port, settings.metrics_host)
    stack.push_async_callback(metrics.aclose)
    feed = RedisFeed(
        bus,
        client,
        args.redis_stream,
        group=args.redis_group,
        consumer=args.redis_consumer or f"{socket.gethostname()}-{os.getpid()}",
        symbols=frozenset(symbols),
    )
    return bus, recorder, redis_feed_source(feed)
