"""Issue 14, item 9 (the screen's part): a stream the engine says is stale marks the ladder
and the tape STALE and is named in the status bar within the next frames; live again
clears it. A book whose health turns STALE shows so at once."""

from __future__ import annotations

from omnitrade_tui.bus import topics
from omnitrade_tui.domain.events import BookHealth, BookState, FeedFreshness
from omnitrade_tui.tui.app import OmniTradeApp
from omnitrade_tui.tui.widgets.ladder import Ladder
from omnitrade_tui.tui.widgets.status_bar import StatusBar
from omnitrade_tui.tui.widgets.tape import Tape
from tests.tui.order_path import seeded_app, started, until


def fresh(stream: str, stale: bool, age_ms: int = 3_200, symbol: str = "BTCUSDT") -> FeedFreshness:
    """The engine's word on one stream."""
    return FeedFreshness(symbol=symbol, stream=stream, age_ms=age_ms, stale=stale)


def shown(app: OmniTradeApp) -> tuple[str, str, str]:
    """The ladder's title line, the tape's header line and the status bar, as text."""
    ladder = app.query_one("#ladder", Ladder)
    tape = app.query_one("#tape", Tape)
    status = app.query_one("#status", StatusBar)
    return (
        ladder.render_line(0).text,
        tape.render_line(0).text,
        "".join(seg.text for seg in status.segments()),
    )


async def test_stale_streams_mark_the_ladder_the_tape_and_the_status_bar_until_live() -> None:
    app = seeded_app()
    async with started(app) as pilot:
        assert "STALE" not in "".join(shown(app))
        for stream in ("depth", "trade"):
            app.bus.publish(topics.freshness("BTCUSDT"), fresh(stream, True))
        app.bus.publish(topics.freshness("ETHUSDT"), fresh("ticker", True, 2_500, "ETHUSDT"))
        # The ladder redraws at the frame rate, the tape and the status bar a few times a
        # second (their own caps): all within two seconds.
        await until(
            pilot,
            lambda: (
                "STALE" in shown(app)[0] and "STALE" in shown(app)[1] and "ETHUSDT" in shown(app)[2]
            ),
            "the ladder, the tape and the status bar marked",
            timeout=2.0,
        )
        _ladder, tape, status = shown(app)
        assert "STALE 3s" in tape
        assert "BTCUSDT depth 3s, trade 3s; ETHUSDT ticker 2s" in status  # active first
        app.bus.publish(topics.freshness("BTCUSDT"), fresh("trade", False, 10))
        await until(pilot, lambda: "STALE" not in shown(app)[1], "the tape live again")
        assert "STALE" in shown(app)[0]  # depth still silent
        app.bus.publish(topics.freshness("BTCUSDT"), fresh("depth", False, 10))
        app.bus.publish(topics.freshness("ETHUSDT"), fresh("ticker", False, 10, "ETHUSDT"))
        await until(pilot, lambda: "STALE" not in "".join(shown(app)), "everything live")


async def test_a_book_health_turning_stale_shows_within_a_frame_or_two() -> None:
    app = seeded_app()
    async with started(app) as pilot:
        app.bus.publish(
            topics.book_health("BTCUSDT"),
            BookHealth(symbol="BTCUSDT", state=BookState.STALE, last_update_id=123_456),
        )
        await until(pilot, lambda: "STALE" in shown(app)[0], "the ladder marked", timeout=2.0)
        assert "book stale" in shown(app)[2]
