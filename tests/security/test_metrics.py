"""The Prometheus endpoint: fed from the bus, scraped over HTTP, parsed with the text parser."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from omnitrade_tui.bus import Bus, each, queue, topics
from omnitrade_tui.domain.commands import PlaceOrder
from omnitrade_tui.domain.enums import ExecutionType, OrderStatus, OrderType, Side
from omnitrade_tui.domain.events import (
    BookHealth,
    BookState,
    BookTop,
    ConnectionChanged,
    Diagnostics,
    KillSwitchChanged,
    LatencySample,
    LinkState,
    OrderRejected,
    OrderUpdated,
    RateLimitUsage,
    RecorderStatus,
)
from omnitrade_tui.domain.models import BookLevel, ExecutionReport, Order, OrderRequest, Trade
from omnitrade_tui.metrics import MetricsExporter, start_metrics
from tests.waiting import until


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return found[(name, tuple(sorted(labels.items())))]


async def test_scrape_and_parse() -> None:
    bus = Bus()
    exporter = MetricsExporter(bus, sample_every=1)
    exporter.start()
    port = await exporter.serve(0)

    async def place(command: PlaceOrder) -> Order:
        r = command.request
        order = Order(
            symbol=r.symbol,
            client_order_id=r.client_order_id,
            side=r.side,
            type=r.type,
            status=OrderStatus.NEW,
            quantity=r.quantity or Decimal(0),
        )
        report = ExecutionReport(execution_type=ExecutionType.NEW, order=order)
        bus.publish(topics.ORDER, OrderUpdated(report=report))
        return order

    bus.handle(PlaceOrder, place)
    bus.subscribe_queue("md.trade.*", queue(2), name="slow-recorder")

    now_ms = int(time.time() * 1000)
    for i in range(5):
        bus.publish(
            topics.book("BTCUSDT"),
            BookTop(
                symbol="BTCUSDT",
                update_id=i,
                bids=[BookLevel(1.0, 1.0)],
                asks=[BookLevel(2.0, 1.0)],
                event_ms=now_ms - 50,
            ),
        )
        bus.publish(
            topics.trade("BTCUSDT"),
            Trade(
                symbol="BTCUSDT",
                trade_id=i,
                price=1.5,
                qty=1.0,
                time_ms=now_ms - 20,
                buyer_is_maker=False,
            ),
        )
    bus.publish(
        topics.LATENCY, LatencySample(kind="frame_to_subscriber", source="binance", seconds=0.0003)
    )
    for state in (LinkState.CONNECTED, LinkState.RECONNECTING, LinkState.CONNECTED):
        bus.publish(
            topics.CONNECTION, ConnectionChanged(venue="binance", link="stream", state=state)
        )
    bus.publish(
        topics.book_health("BTCUSDT"),
        BookHealth(symbol="BTCUSDT", state=BookState.LIVE, last_update_id=5, gaps=3, resyncs=2),
    )
    bus.publish(
        topics.RATE_LIMIT,
        RateLimitUsage(
            venue="binance", kind="REQUEST_WEIGHT", interval="1m", used=1500, limit=6000
        ),
    )
    bus.publish(
        topics.RECORDER,
        RecorderStatus(
            state="ok", written_rows=0, backlog_rows=10, spilled_rows=0, spilled_total=0, lag_ms=750
        ),
    )
    bus.publish(topics.KILL_SWITCH, KillSwitchChanged(engaged=True, reason="test"))
    request = OrderRequest(
        symbol="BTCUSDT", side=Side.BUY, type=OrderType.MARKET, quantity=Decimal(1)
    )
    await bus.request(PlaceOrder(request=request))
    bus.publish(
        topics.REJECT,
        OrderRejected(client_order_id="x", symbol="BTCUSDT", code=None, reason="r", source="risk"),
    )

    async with httpx.AsyncClient() as client:
        first = await client.get(f"http://127.0.0.1:{port}/metrics")
        for _ in range(10):
            bus.publish(
                topics.trade("ETHUSDT"),
                Trade(
                    symbol="ETHUSDT", trade_id=1, price=1.0, qty=1.0, time_ms=0, buyer_is_maker=True
                ),
            )
        second = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/plain")
    found = samples(first.text)

    assert value(found, "omnitrade_bus_published_total", topic="md.book.BTCUSDT") == 5
    assert value(found, "omnitrade_bus_published_total", topic="md.trade.BTCUSDT") == 5
    sub = {"subscriber": "slow-recorder", "pattern": "md.trade.*", "kind": "queue"}
    assert value(found, "omnitrade_bus_queue_depth", **sub) == 2
    assert value(found, "omnitrade_bus_dropped_total", **sub) == 3
    ex = {"kind": "exchange_to_receipt", "source": "md.book.BTCUSDT"}
    assert value(found, "omnitrade_latency_seconds_count", **ex) == 5
    assert 0.25 < value(found, "omnitrade_latency_seconds_sum", **ex) < 5  # ~5 x 50 ms
    assert value(found, "omnitrade_latency_seconds_bucket", le="0.025", **ex) == 0
    assert (
        value(
            found,
            "omnitrade_latency_seconds_count",
            kind="exchange_to_receipt",
            source="md.trade.BTCUSDT",
        )
        == 5
    )
    fr = {"kind": "frame_to_subscriber", "source": "binance"}
    assert value(found, "omnitrade_latency_seconds_bucket", le="0.0005", **fr) == 1
    assert (
        value(found, "omnitrade_latency_seconds_count", kind="order_round_trip", source="order")
        == 1
    )
    assert value(found, "omnitrade_reconnects_total", venue="binance", link="stream") == 1
    assert value(found, "omnitrade_link_up", venue="binance", link="stream") == 1
    assert value(found, "omnitrade_book_resyncs", symbol="BTCUSDT") == 2
    assert value(found, "omnitrade_book_gaps", symbol="BTCUSDT") == 3
    rl = {"venue": "binance", "kind": "REQUEST_WEIGHT", "interval": "1m"}
    assert value(found, "omnitrade_rate_limit_used", **rl) == 1500
    assert value(found, "omnitrade_rate_limit_use_ratio", **rl) == 0.25
    assert value(found, "omnitrade_recorder_lag_seconds") == 0.75
    assert value(found, "omnitrade_kill_switch_engaged") == 1
    assert value(found, "omnitrade_order_rejects_total", source="risk") == 1

    diag = exporter.snapshot()
    assert diag.reconnects == 1
    assert (diag.resyncs, diag.gaps) == (2, 3)
    assert diag.recorder_lag_s == 0.75
    assert diag.kill_switch is True
    assert {(r.kind, r.used, r.limit) for r in diag.rate_limits} == {("REQUEST_WEIGHT", 1500, 6000)}
    lat = {stat.kind: stat for stat in diag.latencies}
    assert lat["exchange_to_receipt"].count == 10
    assert 0.015 < lat["exchange_to_receipt"].p50_s < 1
    assert lat["frame_to_subscriber"].max_s == 0.0003
    assert lat["order_round_trip"].count == 1
    slow = next(q for q in diag.queues if q.subscriber == "slow-recorder")
    assert (slow.depth, slow.dropped) == (2, 3 + 10)
    assert not any(q.subscriber.startswith("metrics:") for q in diag.queues)
    assert {st.topic: st.total for st in diag.streams}["md.trade.ETHUSDT"] == 10

    later = samples(second.text)
    assert value(later, "omnitrade_bus_published_total", topic="md.trade.ETHUSDT") == 10
    assert value(later, "omnitrade_bus_messages_per_second", topic="md.book.BTCUSDT") == 0
    await exporter.aclose()
    await bus.aclose()


async def test_port_in_use_is_a_clear_error() -> None:
    bus = Bus()
    first = MetricsExporter(bus)
    port = await first.serve(0)
    second = MetricsExporter(bus)
    try:
        with pytest.raises(OSError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            await second.serve(port)
    finally:
        await first.aclose()


async def test_start_metrics_serves_the_bus_and_feeds_diagnostics() -> None:
    bus = Bus()
    seen: list[Diagnostics] = []
    bus.subscribe(topics.DIAGNOSTICS, each(lambda topic, event: seen.append(event)))
    exporter = await start_metrics(bus, 0, diagnostics_interval=0.02)
    for i in range(3):
        bus.publish(
            topics.trade("BTCUSDT"),
            Trade(symbol="BTCUSDT", trade_id=i, price=1.0, qty=1.0, time_ms=0, buyer_is_maker=True),
        )
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{exporter.port}/metrics")).text
    found = samples(text)
    assert value(found, "omnitrade_bus_published_total", topic="md.trade.BTCUSDT") == 3
    await until(lambda: len(seen) >= 2, "two diagnostics", 2.0, interval=0.01, fail=False)
    assert len(seen) >= 2
    totals = {st.topic: st.total for st in seen[-1].streams}
    assert totals["md.trade.BTCUSDT"] == 3
    await exporter.aclose()
    assert len(bus.subscriptions) == 1  # only the test's own


async def test_diagnostics_without_a_port() -> None:
    bus = Bus()
    exporter = await start_metrics(bus, None, diagnostics_interval=None)
    assert exporter.port is None
    assert exporter.snapshot().streams == []
    await exporter.aclose()
