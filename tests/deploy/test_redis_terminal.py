"""A terminal on another machine fed only from Redis: one process records the sim and
publishes its feed; the app here (``market_data = "redis"``, Pilot) runs with no market
connection of its own, and every book top it shows is the publisher's, update by update."""

from __future__ import annotations

import bisect
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from omnitrade_tui.bus import each
from omnitrade_tui.config import Overrides, load_settings
from omnitrade_tui.domain.events import BookState, BookTop
from omnitrade_tui.runtime import Runtime
from omnitrade_tui.tui.app import OmniTradeApp
from tests.waiting import until

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def _publisher(tmp_path: Path, redis_url: str, stream: str) -> subprocess.Popen[str]:
    home = tmp_path / "publisher"
    env = {
        **os.environ,
        "OMNITRADE_CONFIG_DIR": str(home / "config"),
        "OMNITRADE_STATE_DIR": str(home / "state"),
        "OMNITRADE_DATA_DIR": str(home / "data"),
    }
    argv = [sys.executable, "-c", "from omnitrade_tui.cli import main; raise SystemExit(main())"]
    argv += ["record", "--symbols", "ETHUSDT,BTCUSDT", "--db", str(home / "h.db")]
    argv += ["--redis", redis_url, "--redis-stream", stream, "--status-every", "0.5"]
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


async def test_the_app_fed_only_from_redis_shows_the_publishers_book(
    tmp_path: Path, redis_url: str
) -> None:
    stream = f"omt:test:terminal:{uuid.uuid4().hex}"
    publisher = _publisher(tmp_path, redis_url, stream)
    seen: list[tuple[str, int, float, float]] = []
    try:
        env = {
            "OMNITRADE_CONFIG_DIR": str(tmp_path / "config"),
            "OMNITRADE_STATE_DIR": str(tmp_path / "state"),
            "OMNITRADE_DATA_DIR": str(tmp_path / "data"),
            "OMNITRADE_DB_URL": f"sqlite:///{tmp_path / 'h.db'}",
            "OMNITRADE_REDIS_URL": redis_url,
            "OMNITRADE_MARKET_DATA": "redis",
            "OMNITRADE_MARKET_DATA_STREAM": stream,
        }
        settings = load_settings(Overrides(), env=env)
        async with Runtime.start(settings, seed=99, connect=False) as runtime:
            assert runtime.feed is not None

            def top(topic: str, event: object) -> None:
                if isinstance(event, BookTop) and event.bids and event.asks:
                    seen.append(
                        (event.symbol, event.update_id, event.bids[0].price, event.asks[0].price)
                    )

            runtime.bus.subscribe("md.book.*", each(top), name="test-tops")
            app = OmniTradeApp(runtime.session())
            async with app.run_test(size=(160, 48)) as pilot:

                def arrived() -> bool:
                    eth = app.state.symbols["ETHUSDT"]
                    return (
                        eth.book_state is BookState.LIVE and eth.top is not None and len(seen) > 40
                    )

                await until(
                    arrived,
                    "the book from Redis",
                    40.0,
                    interval=0.1,
                    pause=pilot.pause,
                    fail=False,
                )
                shown = app.state.symbols["ETHUSDT"].top
                assert shown is not None, "no book reached the app from Redis"
                assert app.state.symbols["ETHUSDT"].book_state is BookState.LIVE
                # The app's own sim venue runs, but its streams are never opened.
                assert runtime.market_stream.books["ETHUSDT"].state is not BookState.LIVE
    finally:
        publisher.send_signal(signal.SIGTERM)
        out, _ = publisher.communicate(timeout=30)
    assert publisher.returncode == 0, out

    with sqlite3.connect(tmp_path / "publisher" / "h.db") as conn:
        rows = conn.execute(
            "SELECT symbol, update_id, bid_price, ask_price FROM quotes ORDER BY 1, 2"
        ).fetchall()
    # The publisher records a top when it changes: the top at update u is its last row at
    # or before u.
    ids: dict[str, list[int]] = {}
    tops: dict[str, list[tuple[float, float]]] = {}
    for symbol, update_id, bid, ask in rows:
        ids.setdefault(symbol, []).append(update_id)
        tops.setdefault(symbol, []).append((bid, ask))

    def publishers_top(symbol: str, update_id: int) -> tuple[float, float] | None:
        at = bisect.bisect_right(ids.get(symbol, []), update_id) - 1
        return tops[symbol][at] if at >= 0 else None

    assert len(seen) > 40
    # Every top the app had is the one the publisher's own book had at that update.
    bad = [(s, u, b, a) for s, u, b, a in seen if publishers_top(s, u) != (b, a)]
    assert bad == [], (len(seen), bad)
    # And the top on the app's screen at the end.
    best = (shown.bids[0].price, shown.asks[0].price)
    assert publishers_top("ETHUSDT", shown.update_id) == best
