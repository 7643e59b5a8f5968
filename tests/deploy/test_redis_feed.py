"""Scaling past one box on Redis Streams, with real processes: one ``omnitrade record``
records the sim and publishes its feed to Redis; another, with no venue connection,
records only what the feed carries and ends with the publisher's book and trades; two
more share the feed in one consumer group and store each trade once between them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from omnitrade_tui.cli.main import main
from tests.waiting import until

SYMBOLS = "ETHUSDT,BTCUSDT"


def _record(
    tmp_path: Path, name: str, *flags: str, metrics_port: int | None = None
) -> subprocess.Popen[str]:
    """``omnitrade record`` in a process of its own, with its own folders and database."""
    home = tmp_path / name
    env = {
        **os.environ,
        "OMNITRADE_CONFIG_DIR": str(home / "config"),
        "OMNITRADE_STATE_DIR": str(home / "state"),
        "OMNITRADE_DATA_DIR": str(home / "data"),
    }
    argv = [sys.executable, "-c", "from omnitrade_tui.cli import main; raise SystemExit(main())"]
    if metrics_port is not None:
        argv += ["--metrics-port", str(metrics_port)]
    argv += ["record", "--symbols", SYMBOLS, "--db", str(home / "h.db"), "--status-every", "0.2"]
    return subprocess.Popen(
        [*argv, *flags], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _first_status(proc: subprocess.Popen[str]) -> None:
    """Wait until the process prints its first status line (it is running)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("record: "):
            return
        if not line and proc.poll() is not None:
            raise AssertionError(f"record exited {proc.returncode}")
    raise AssertionError("record printed no status line")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    return out


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql).fetchall())


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _drained(tmp_path: Path, timeout: float = 30.0) -> None:
    """Wait until the followers hold every trade the publisher recorded, and the lone one
    every quote (they read the stream's tail after it stopped; a loaded machine takes
    longer; the tail may end in quotes after the last trade)."""
    published = set(_rows(tmp_path / "publisher/h.db", TRADES))
    quotes = set(_rows(tmp_path / "publisher/h.db", QUOTES))

    def drained() -> bool:
        alone = set(_rows(tmp_path / "alone/h.db", TRADES))
        shared = set(_rows(tmp_path / "g1/h.db", TRADES)) | set(_rows(tmp_path / "g2/h.db", TRADES))
        alone_quotes = set(_rows(tmp_path / "alone/h.db", QUOTES))
        return published <= alone and published <= shared and quotes <= alone_quotes

    # A test without an event loop of its own: the one wait-until runs in a fresh one.
    asyncio.run(until(drained, "the followers drained", timeout, interval=0.2, fail=False))


TRADES = "SELECT symbol, trade_id, price, qty, time_ms, buyer_is_maker FROM trades"
QUOTES = "SELECT symbol, update_id, bid_price, bid_qty, ask_price, ask_qty FROM quotes"


@pytest.mark.redis
@pytest.mark.slow
def test_recorders_fed_from_redis_match_the_publisher_and_share_a_group(
    tmp_path: Path, redis_url: str
) -> None:
    stream = f"omt:test:feed:{uuid.uuid4().hex}"
    feed = ["--redis", redis_url, "--redis-stream", stream]
    # The followers start first, on an empty stream, so they see the whole feed.
    port = free_port()
    alone = _record(tmp_path, "alone", "--from-redis", *feed, metrics_port=port)
    group = [
        _record(tmp_path, f"g{i}", "--from-redis", *feed, "--redis-group", "recorders")
        for i in (1, 2)
    ]
    procs = [alone, *group]
    try:
        for proc in procs:
            _first_status(proc)
        publisher = _record(tmp_path, "publisher", *feed)
        procs.append(publisher)
        _first_status(publisher)
        time.sleep(4)  # the sim trades and moves its books several times a second
        # The follower has no venue link: the feed is its market link, and it is ready.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as resp:
            ready = json.loads(resp.read())
        assert ready["ok"] is True, ready
        assert ready["checks"]["venue"]["detail"] == "redis market connected"
        _stop(publisher)
        _drained(tmp_path)
        for proc in (alone, *group):
            _stop(proc)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()

    published_trades = set(_rows(tmp_path / "publisher/h.db", TRADES))
    published_quotes = _rows(tmp_path / "publisher/h.db", QUOTES + " ORDER BY 1, 2")
    assert len(published_trades) > 10
    assert len(published_quotes) > 10
    # Fed only from Redis: the same book, top by top, and the same trades.
    assert _rows(tmp_path / "alone/h.db", QUOTES + " ORDER BY 1, 2") == published_quotes
    assert set(_rows(tmp_path / "alone/h.db", TRADES)) == published_trades
    # One consumer group: each trade stored by exactly one member, none lost.
    first, second = (set(_rows(tmp_path / f"g{i}/h.db", TRADES)) for i in (1, 2))
    assert first and second, "both members took a share"
    assert not first & second
    assert first | second == published_trades


def test_from_redis_flags_are_checked(tmp_path: Path, app_dirs: object) -> None:
    assert main(["record", "--symbols", "ETHUSDT", "--redis-group", "g"]) == 2
    replay = tmp_path / "capture.txt"
    replay.write_text("")
    argv = ["record", "--symbols", "ETHUSDT", "--from-redis", "--replay", str(replay)]
    assert main(argv) == 2
    no_redis = ["record", "--symbols", "ETHUSDT", "--from-redis", "--db", str(tmp_path / "h.db")]
    assert main(no_redis) == 2
