"""What marks the status bar: a change of state is drawn with the next frame; a measured
figure that moves with every sample (latency, rate-limit use, a silent stream's age, the
recorder's row counts) is a gauge, drawn once a second; a health check that changes nothing
shown marks nothing (no Textual: the screen's state only)."""

from __future__ import annotations

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.domain.events import (
    BookHealth,
    BookState,
    FeedFreshness,
    LatencySample,
    RecorderStatus,
)
from omnitrade_tui.domain.instrument import Instrument
from omnitrade_tui.tui import state as parts
from omnitrade_tui.tui.state import TerminalState
from omnitrade_tui.tui.widgets.status_bar import StatusBar
from tests.tui.order_path import seeded_app, started, until


def _state() -> tuple[Bus, TerminalState]:
    bus = Bus()
    instruments = {
        s: Instrument(symbol=s, base_asset=s[:3], quote_asset="USDT")
        for s in ("BTCUSDT", "ETHUSDT")
    }
    state = TerminalState(bus, instruments, ("BTCUSDT", "ETHUSDT"))
    state.start()
    state.take_dirty()
    return bus, state


def _health(state: BookState = BookState.LIVE, gaps: int = 0, update_id: int = 1) -> BookHealth:
    return BookHealth(symbol="BTCUSDT", state=state, last_update_id=update_id, gaps=gaps)


def _recorder(state: str, backlog: int) -> RecorderStatus:
    return RecorderStatus(
        state=state,
        written_rows=100,
        backlog_rows=backlog,
        spilled_rows=0,
        spilled_total=0,
        lag_ms=5.0,
    )


def test_a_health_check_that_changes_nothing_shown_marks_nothing() -> None:
    bus, state = _state()
    bus.publish(topics.book_health("BTCUSDT"), _health())
    assert {parts.STATUS, parts.BOOK} <= state.take_dirty()
    bus.publish(topics.book_health("BTCUSDT"), _health(update_id=2))
    assert state.take_dirty() == set()
    bus.publish(topics.book_health("BTCUSDT"), _health(BookState.RESYNCING, update_id=3))
    assert {parts.STATUS, parts.BOOK} <= state.take_dirty()
    bus.publish(topics.book_health("BTCUSDT"), _health(BookState.RESYNCING, gaps=1))
    assert parts.STATUS in state.take_dirty()


def test_measured_figures_are_gauges_and_changes_of_state_are_status() -> None:
    bus, state = _state()
    bus.publish(
        topics.LATENCY,
        LatencySample(kind="exchange_to_receipt", source="market", seconds=0.012),
    )
    assert state.take_dirty() == {parts.GAUGES}
    bus.publish(topics.RECORDER, _recorder("ok", 10))
    assert parts.STATUS in state.take_dirty()
    bus.publish(topics.RECORDER, _recorder("ok", 5_000))
    assert state.take_dirty() == {parts.GAUGES}
    bus.publish(topics.RECORDER, _recorder("degraded", 9_000))
    assert parts.STATUS in state.take_dirty()


def test_a_stream_going_silent_is_status_and_its_age_a_gauge() -> None:
    bus, state = _state()
    silent = FeedFreshness(symbol="BTCUSDT", stream="trade", stale=True, age_ms=2_100)
    bus.publish(topics.freshness("BTCUSDT"), silent)
    assert {parts.STATUS, parts.BOOK, parts.TAPE} <= state.take_dirty()
    older = FeedFreshness(symbol="BTCUSDT", stream="trade", stale=True, age_ms=3_100)
    bus.publish(topics.freshness("BTCUSDT"), older)
    assert state.take_dirty() == {parts.GAUGES, parts.TAPE}
    back = FeedFreshness(symbol="BTCUSDT", stream="trade", stale=False, age_ms=0)
    bus.publish(topics.freshness("BTCUSDT"), back)
    assert parts.STATUS in state.take_dirty()


async def test_a_gauge_reaches_the_status_bar_on_its_beat() -> None:
    app = seeded_app()
    async with started(app) as pilot:
        status = app.query_one("#status", StatusBar)
        for ms in range(100, 140):  # a sample every 25 ms for a second: the last one shows
            app.bus.publish(
                topics.LATENCY,
                LatencySample(kind="exchange_to_receipt", source="market", seconds=ms / 1000),
            )
            await pilot.pause(0.025)
        await until(
            pilot,
            lambda: "139ms" in "".join(seg.text for seg in status.segments()),
            "the latest latency on the status bar",
        )
