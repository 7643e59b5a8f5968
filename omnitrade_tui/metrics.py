"""Prometheus metrics, fed from the bus: venues and the store never import prometheus.

``MetricsExporter`` subscribes to the events that carry what an operator watches and reads
``Bus.metrics()`` at scrape time:

* messages per stream: ``omnitrade_bus_published_total{topic}`` (use ``rate()``), and
  ``omnitrade_bus_messages_per_second{topic}`` measured between two scrapes;
* bus subscribers: queue depth, delivered, dropped, errors, worst lag;
* latency histograms ``omnitrade_latency_seconds{kind,source}``: ``exchange_to_receipt``
  (venue event time of book tops and trades to delivery here, one in ``sample_every``,
  64 by default),
  ``frame_to_subscriber`` (from ``LatencySample`` events venues publish) and
  ``order_round_trip`` (a ``PlaceOrder`` on the bus to its first report or rejection);
* reconnects, book resyncs and gaps, rate-limit use, recorder lag, kill switch, rejects.

The same figures go to the app's diagnostics screen as a ``Diagnostics`` event on
``sys.diagnostics`` once a second (``start_diagnostics``): the screen reads the bus, never
this module.

Recorder lag is read from any event on ``sys.recorder`` that has a ``lag_s`` (or
``lag_ms``) attribute, so the store keeps its own event type.

The endpoint is served by aiohttp on the app's own event loop (not prometheus_client's
thread), because ``Bus.metrics()`` must be read on the loop that publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from omnitrade_tui.bus import Bus, Subscription, Topic, each, topics
from omnitrade_tui.domain.commands import PlaceOrder
from omnitrade_tui.domain.events import (
    BookHealth,
    BookState,
    BookTop,
    ConnectionChanged,
    Diagnostics,
    KillSwitchChanged,
    LatencySample,
    LatencyStat,
    LinkState,
    OrderRejected,
    OrderUpdated,
    QueueStat,
    RateLimitStat,
    RateLimitUsage,
    RecorderStatus,
    StreamRate,
)
from omnitrade_tui.domain.models import Trade
from omnitrade_tui.health import HealthMonitor

T = TypeVar("T")

#: Orders as they are requested (their journal topic), to time each one's round trip.
PLACE_ORDER: Topic[PlaceOrder] = Topic(topics.command(PlaceOrder.name), PlaceOrder)

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
_MAX_ORDERS_IN_FLIGHT = 10_000
# Recent delays kept per kind for the diagnostics screen's percentiles.
_RECENT_SAMPLES = 1024


class BusCollector(Collector):
    """Reads ``Bus.metrics()`` when scraped."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._last: dict[str, tuple[float, int]] = {}

    def collect(self) -> Iterator[Metric]:
        """The bus counters as Prometheus families."""
        snapshot = self.bus.metrics()
        now = time.monotonic()
        published = CounterMetricFamily(
            "omnitrade_bus_published", "Events published per topic", labels=["topic"]
        )
        rate = GaugeMetricFamily(
            "omnitrade_bus_messages_per_second",
            "Events per second per topic, between the last two scrapes",
            labels=["topic"],
        )
        for t in snapshot.topics:
            published.add_metric([t.topic], t.published)
            prev = self._last.get(t.topic)
            if prev is not None and now > prev[0]:
                rate.add_metric([t.topic], (t.published - prev[1]) / (now - prev[0]))
            self._last[t.topic] = (now, t.published)
        yield published
        yield rate
        labels = ["subscriber", "pattern", "kind"]
        depth = GaugeMetricFamily(
            "omnitrade_bus_queue_depth", "Events waiting in a subscriber's queue", labels=labels
        )
        delivered = CounterMetricFamily(
            "omnitrade_bus_delivered", "Events delivered to a subscriber", labels=labels
        )
        dropped = CounterMetricFamily(
            "omnitrade_bus_dropped", "Events a subscriber's policy dropped", labels=labels
        )
        errors = CounterMetricFamily(
            "omnitrade_bus_subscriber_errors", "Exceptions raised by a subscriber", labels=labels
        )
        lag = GaugeMetricFamily(
            "omnitrade_bus_worst_lag_seconds",
            "Longest wait or slowest callback seen by a subscriber",
            labels=labels,
        )
        for s in snapshot.subscribers:
            key = [s.name, s.pattern, s.kind]
            depth.add_metric(key, s.depth)
            delivered.add_metric(key, s.delivered)
            dropped.add_metric(key, s.dropped)
            errors.add_metric(key, s.errors)
            lag.add_metric(key, s.worst_lag_s)
        yield from (depth, delivered, dropped, errors, lag)


class MetricsExporter:
    """Prometheus metrics of one running app, from its bus."""

    def __init__(self, bus: Bus, sample_every: int = 64) -> None:
        self.bus = bus
        self.registry = CollectorRegistry()
        self._sample_every = max(1, sample_every)
        self._countdown = self._sample_every
        self._market_latency: dict[str, Any] = {}
        r = self.registry
        self.latency = Histogram(
            "omnitrade_latency_seconds",
            "Delays: exchange_to_receipt, frame_to_subscriber, order_round_trip",
            ["kind", "source"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.reconnects = Counter(
            "omnitrade_reconnects",
            "Times a venue link went to reconnecting",
            ["venue", "link"],
            registry=r,
        )
        self.link_up = Gauge(
            "omnitrade_link_up", "1 when a venue link is connected", ["venue", "link"], registry=r
        )
        self.resyncs = Gauge(
            "omnitrade_book_resyncs", "Book resyncs so far per symbol", ["symbol"], registry=r
        )
        self.gaps = Gauge(
            "omnitrade_book_gaps", "Depth sequence gaps so far per symbol", ["symbol"], registry=r
        )
        self.book_live = Gauge(
            "omnitrade_book_live", "1 when a local book is in sync", ["symbol"], registry=r
        )
        self.rate_used = Gauge(
            "omnitrade_rate_limit_used",
            "Rate-limit counter the venue last reported",
            ["venue", "kind", "interval"],
            registry=r,
        )
        self.rate_ratio = Gauge(
            "omnitrade_rate_limit_use_ratio",
            "Share of a rate limit in use (0..1)",
            ["venue", "kind", "interval"],
            registry=r,
        )
        self.recorder_lag = Gauge(
            "omnitrade_recorder_lag_seconds", "How far the recorder is behind", registry=r
        )
        self.kill_switch = Gauge(
            "omnitrade_kill_switch_engaged", "1 while the kill switch locks trading", registry=r
        )
        self.rejects = Counter(
            "omnitrade_order_rejects", "Orders refused, by who refused", ["source"], registry=r
        )
        self.registry.register(BusCollector(bus))
        #: Liveness and readiness, served beside ``/metrics`` (``health.py``).
        self.health = HealthMonitor(bus)
        self._sent: OrderedDict[str, float] = OrderedDict()
        self._subs: list[Subscription] = []
        # Plain copies of what the diagnostics event reports (prometheus objects are not
        # meant to be read back).
        self._recent: dict[str, deque[float]] = {}
        self._reconnect_count = 0
        self._health: dict[str, tuple[int, int]] = {}
        self._rate_limits: dict[tuple[str, str, str], RateLimitUsage] = {}
        self._recorder_lag: float | None = None
        self._kill_engaged = False
        self._diag_last: dict[str, tuple[float, int]] = {}
        self._diag_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # -- feeding ---------------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe to the events the metrics come from."""
        follow = self._follow
        self._subs = [
            follow(topics.book.all, self._on_market),
            follow(topics.trade.all, self._on_market),
            follow(topics.book_health.all, self._on_health),
            follow(topics.LATENCY, self._on_latency),
            follow(topics.CONNECTION, self._on_connection),
            follow(topics.RATE_LIMIT, self._on_rate_limit),
            follow(topics.RECORDER, self._on_recorder),
            follow(topics.KILL_SWITCH, self._on_kill_switch),
            follow(topics.REJECT, self._on_reject),
            follow(topics.ORDER, self._on_order),
            follow(PLACE_ORDER, self._on_place),
        ]
        self.health.start()

    def _follow(self, topic: Topic[T], callback: Callable[[str, T], None]) -> Subscription:
        return self.bus.subscribe(topic, each(callback), name=f"metrics:{topic}")

    def stop(self) -> None:
        """Leave the bus."""
        for sub in self._subs:
            sub.close()
        self._subs = []
        self.health.stop()

    def _remember(self, kind: str, seconds: float) -> None:
        recent = self._recent.get(kind)
        if recent is None:
            recent = self._recent[kind] = deque(maxlen=_RECENT_SAMPLES)
        recent.append(seconds)

    def _on_market(self, topic: str, event: BookTop | Trade) -> None:
        # Runs for every book top and trade: count down, and do real work once per sample.
        self._countdown -= 1
        if self._countdown:
            return
        self._countdown = self._sample_every
        event_ms = event.event_ms if isinstance(event, BookTop) else event.time_ms
        if event_ms > 0:
            child = self._market_latency.get(topic)
            if child is None:
                child = self._market_latency[topic] = self.latency.labels(
                    "exchange_to_receipt", topic
                )
            delay = max(0.0, time.time() - event_ms / 1000)
            child.observe(delay)
            self._remember("exchange_to_receipt", delay)

    def _on_health(self, topic: str, event: BookHealth) -> None:
        self.resyncs.labels(event.symbol).set(event.resyncs)
        self._health[event.symbol] = (event.resyncs, event.gaps)
        self.gaps.labels(event.symbol).set(event.gaps)
        self.book_live.labels(event.symbol).set(1 if event.state is BookState.LIVE else 0)

    def _on_latency(self, topic: str, event: LatencySample) -> None:
        seconds = max(0.0, event.seconds)
        self.latency.labels(event.kind, event.source).observe(seconds)
        self._remember(event.kind, seconds)

    def _on_connection(self, topic: str, event: ConnectionChanged) -> None:
        if event.state is LinkState.RECONNECTING:
            self.reconnects.labels(event.venue, event.link).inc()
            self._reconnect_count += 1
        self.link_up.labels(event.venue, event.link).set(
            1 if event.state is LinkState.CONNECTED else 0
        )

    def _on_rate_limit(self, topic: str, event: RateLimitUsage) -> None:
        labels = (event.venue, event.kind, event.interval)
        self.rate_used.labels(*labels).set(event.used)
        self._rate_limits[labels] = event
        if event.limit > 0:
            self.rate_ratio.labels(*labels).set(event.used / event.limit)

    def _on_recorder(self, topic: str, event: RecorderStatus) -> None:
        lag = event.lag_ms / 1000
        self.recorder_lag.set(lag)
        self._recorder_lag = lag

    def _on_kill_switch(self, topic: str, event: KillSwitchChanged) -> None:
        self.kill_switch.set(1 if event.engaged else 0)
        self._kill_engaged = event.engaged

    def _on_place(self, topic: str, event: PlaceOrder) -> None:
        self._sent[event.request.client_order_id] = time.monotonic()
        while len(self._sent) > _MAX_ORDERS_IN_FLIGHT:
            self._sent.popitem(last=False)

    def _round_trip(self, client_order_id: str) -> None:
        sent = self._sent.pop(client_order_id, None)
        if sent is not None:
            took = time.monotonic() - sent
            self.latency.labels("order_round_trip", "order").observe(took)
            self._remember("order_round_trip", took)

    def _on_order(self, topic: str, event: OrderUpdated) -> None:
        self._round_trip(event.report.order.client_order_id)

    def _on_reject(self, topic: str, event: OrderRejected) -> None:
        self.rejects.labels(event.source).inc()
        self._round_trip(event.client_order_id)

    # -- the diagnostics event -------------------------------------------------------------

    def snapshot(self) -> Diagnostics:
        """The figures of the diagnostics screen, now (rates since the last snapshot)."""
        bus_metrics = self.bus.metrics()
        now = time.monotonic()
        streams = []
        for t in bus_metrics.topics:
            prev = self._diag_last.get(t.topic)
            per_second = 0.0
            if prev is not None and now > prev[0]:
                per_second = (t.published - prev[1]) / (now - prev[0])
            self._diag_last[t.topic] = (now, t.published)
            streams.append(StreamRate(topic=t.topic, per_second=per_second, total=t.published))
        queues = [
            QueueStat(
                subscriber=sub.name,
                kind=sub.kind,
                depth=sub.depth,
                dropped=sub.dropped,
                errors=sub.errors,
                worst_lag_s=sub.worst_lag_s,
            )
            for sub in bus_metrics.subscribers
            if not sub.name.startswith("metrics:")
        ]
        latencies = []
        for kind, recent in sorted(self._recent.items()):
            ordered = sorted(recent)
            if ordered:
                latencies.append(
                    LatencyStat(
                        kind=kind,
                        count=len(ordered),
                        p50_s=ordered[len(ordered) // 2],
                        p99_s=ordered[min(len(ordered) - 1, (len(ordered) * 99) // 100)],
                        max_s=ordered[-1],
                    )
                )
        return Diagnostics(
            time_ms=int(time.time() * 1000),
            streams=streams,
            queues=queues,
            latencies=latencies,
            rate_limits=[
                RateLimitStat(
                    venue=r.venue, kind=r.kind, interval=r.interval, used=r.used, limit=r.limit
                )
                for r in self._rate_limits.values()
            ],
            reconnects=self._reconnect_count,
            resyncs=sum(r for r, _ in self._health.values()),
            gaps=sum(g for _, g in self._health.values()),
            recorder_lag_s=self._recorder_lag,
            kill_switch=self._kill_engaged,
        )

    def start_diagnostics(self, interval: float = 1.0) -> None:
        """Publish a ``Diagnostics`` event on ``sys.diagnostics`` every ``interval`` seconds."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                self.bus.publish(topics.DIAGNOSTICS, self.snapshot())

        if self._diag_task is None:
            self._diag_task = asyncio.ensure_future(loop())

    # -- serving ---------------------------------------------------------------------------

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric, now."""
        return generate_latest(self.registry)

    async def _handle(self, request: web.Request) -> web.Response:
        return web.Response(body=self.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve ``/metrics``, ``/livez`` and ``/readyz`` on ``host:port`` (0 picks a free
        port); returns the port."""
        app = web.Application()
        app.router.add_get("/metrics", self._handle)
        self.health.add_routes(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise OSError(
                exc.errno, f"cannot serve metrics on {host}:{port}: {exc.strerror}"
            ) from None
        self._runner = runner
        self.port = runner.addresses[0][1]
        return self.port

    async def aclose(self) -> None:
        """Stop serving and publishing, and leave the bus."""
        if self._diag_task is not None:
            self._diag_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._diag_task
            self._diag_task = None
        await self.health.aclose()
        self.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def start_metrics(
    bus: Bus,
    port: int | None,
    host: str = "127.0.0.1",
    diagnostics_interval: float | None = 1.0,
) -> MetricsExporter:
    """The one call the runtime makes: follow the bus, feed the diagnostics screen, and
    serve ``/metrics`` on ``host:port`` when a port is given (``--metrics-port``).

    Binds to loopback by default: metrics name symbols and account activity, so exposing
    them beyond the box is a deliberate choice (pass ``host="0.0.0.0"``).
    """
    exporter = MetricsExporter(bus)
    exporter.start()
    if port is not None:
        try:
            await exporter.serve(port, host)
        except OSError:
            exporter.stop()
            raise
    if diagnostics_interval is not None:
        exporter.start_diagnostics(diagnostics_interval)
    return exporter
