"""What observability costs on the hot path: the metrics exporter and the log redaction.

* ``metrics_publish``: publishing book tops with the Prometheus exporter subscribed (one
  latency sample in 64, the default) against the same bus with one do-nothing subscriber. Ratio =
  baseline time / ours (1.0 = free; the goal is to stay above 0.5).
* ``log_redaction``: one JSON log line to a file with the secret filter (20 registered
  secrets) against the same handler without it. Ratio = baseline / ours.
"""

from __future__ import annotations

import logging
import logging.handlers
import secrets
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Result, best_of
from omnitrade_tui.bus import Bus, each, topics
from omnitrade_tui.domain.events import BookTop
from omnitrade_tui.domain.models import BookLevel
from omnitrade_tui.logs import JsonFormatter, SecretRedactionFilter
from omnitrade_tui.metrics import MetricsExporter
from omnitrade_tui.redaction import Secret


def _tops(n: int) -> list[BookTop]:
    now = int(time.time() * 1000)
    return [
        BookTop(
            symbol="BTCUSDT",
            update_id=i,
            bids=[BookLevel(100.0 - j, 1.0) for j in range(10)],
            asks=[BookLevel(101.0 + j, 1.0) for j in range(10)],
            event_ms=now,
        )
        for i in range(n)
    ]


def _publish_all(bus: Bus, events: list[BookTop]) -> None:
    topic = topics.book("BTCUSDT")
    publish = bus.publish
    for e in events:
        publish(topic, e)


def bench_metrics(quick: bool) -> Result:
    n = 20_000 if quick else 200_000
    events = _tops(n)
    base_bus = Bus()
    base_bus.subscribe("md.book.*", each(lambda t, e: None))
    ours_bus = Bus()
    ours_bus.subscribe("md.book.*", each(lambda t, e: None))
    exporter = MetricsExporter(ours_bus)
    exporter.start()
    repeats = 3 if quick else 5
    base = best_of(repeats, lambda: _publish_all(base_bus, events))
    ours = best_of(repeats, lambda: _publish_all(ours_bus, events))
    ratio = base / ours
    return Result(
        name="metrics_publish",
        figures={
            "messages": n,
            "baseline_ns_per_msg": round(base / n * 1e9),
            "ours_ns_per_msg": round(ours / n * 1e9),
            "overhead_ns_per_msg": round((ours - base) / n * 1e9),
        },
        baseline="same bus, one do-nothing subscriber, no exporter",
        ratio=ratio,
        goal="exporter keeps publish at least half as fast (ratio >= 0.5)",
        met=ratio >= 0.5,
    )


def bench_redaction(quick: bool) -> Result:
    n = 5_000 if quick else 50_000
    for _ in range(20):
        Secret(secrets.token_hex(32))
    with tempfile.TemporaryDirectory() as tmp:

        def make(filtered: bool, name: str) -> logging.Logger:
            handler = logging.FileHandler(Path(tmp) / f"{name}.jsonl", encoding="utf-8")
            handler.setFormatter(JsonFormatter())
            if filtered:
                handler.addFilter(SecretRedactionFilter())
            logger = logging.getLogger(f"bench.{name}")
            logger.propagate = False
            logger.handlers = [handler]
            logger.setLevel(logging.INFO)
            return logger

        plain = make(False, "plain")
        redacted = make(True, "redacted")

        def log_many(logger: logging.Logger) -> None:
            for i in range(n):
                logger.info("order %s filled %d", "omt-abc", i, extra={"symbol": "BTCUSDT"})

        repeats = 3
        base = best_of(repeats, lambda: log_many(plain))
        ours = best_of(repeats, lambda: log_many(redacted))
        for logger in (plain, redacted):
            for h in logger.handlers:
                h.close()
    ratio = base / ours
    return Result(
        name="log_redaction",
        figures={
            "records": n,
            "baseline_us_per_record": round(base / n * 1e6, 2),
            "ours_us_per_record": round(ours / n * 1e6, 2),
        },
        baseline="same JSON file handler without the secret filter",
        ratio=ratio,
        goal="redaction costs under half again (ratio >= 0.67)",
        met=ratio >= 0.67,
    )


def run(quick: bool) -> list[Result]:
    """Both measurements."""
    return [bench_metrics(quick), bench_redaction(quick)]
