"""History without silent gaps: the trades a stream missed while it reconnected are fetched
from the venue by id, or recorded as a gap row covering exactly the ids that are missing.

The main test records live from the simulated venue for two minutes while it closes every
stream every few seconds, skips depth frames and stalls: one recording with the backfill
on, one beside it (same venue, same faults, same moments) with it switched off. The first
must hold exactly the venue's trade ids over the span it saw; the second's gap rows must
cover exactly the ids it lacks.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from omnitrade_tui.bus import each, topics
from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.domain.commands import VenueCandles, VenueTrades
from omnitrade_tui.domain.events import TradeGap
from omnitrade_tui.domain.models import Trade
from omnitrade_tui.store.backfill import BackfillConfig, TradeGapFiller
from omnitrade_tui.store.database import open_database
from omnitrade_tui.store.recorder import Recorder, RecorderConfig
from omnitrade_tui.store.repository import SqlHistoryStore
from omnitrade_tui.venues.binance.market_stream import MarketStream
from omnitrade_tui.venues.binance.rest import BinanceRest
from omnitrade_tui.venues.binance.trade_history import TradeHistory
from omnitrade_tui.venues.sim.matching import TradePrinted
from omnitrade_tui.venues.sim.venue import Faults, SimVenue
from tests.waiting import until

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
#: The issue asks for two minutes; OMNITRADE_BACKFILL_DRILL_S shortens a local run.
DRILL_S = float(os.environ.get("OMNITRADE_BACKFILL_DRILL_S", "120"))


@dataclass
class Recording:
    """One engine's market stream, recorder and gap filler on a bus of its own."""

    bus: Bus
    rest: BinanceRest
    stream: MarketStream
    store: SqlHistoryStore
    recorder: Recorder
    filler: TradeGapFiller
    seen: dict[str, list[int]]
    times: dict[str, list[int]]
    task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, sim: SimVenue, folder: Path, backfill: bool) -> Recording:
        bus = Bus()
        rest = BinanceRest(sim.rest_url, bus=bus)
        store = SqlHistoryStore(await open_database(str(folder / "history.db")))
        recorder = Recorder(bus, store, RecorderConfig(spill_dir=folder / "spill"))
        await recorder.start()
        TradeHistory(bus, rest).register()
        filler = TradeGapFiller(bus, BackfillConfig(enabled=backfill, retry_s=0.2))
        filler.start()
        seen: dict[str, list[int]] = {s: [] for s in SYMBOLS}
        times: dict[str, list[int]] = {s: [] for s in SYMBOLS}

        def on_trade(topic: str, event: object) -> None:
            if isinstance(event, Trade):
                seen[event.symbol].append(event.trade_id)
                times[event.symbol].append(event.time_ms)

        bus.subscribe("md.trade.*", each(on_trade), name="test.seen")
        stream = MarketStream(sim.stream_url, rest, bus, SYMBOLS)
        bus.handle(VenueCandles, stream.candles)
        rec = cls(bus, rest, stream, store, recorder, filler, seen, times)
        rec.task = asyncio.create_task(stream.run())
        return rec

    async def close(self) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.stream.aclose()
        # Let the filler finish what it was given before it stops.
        await until(lambda: self.filler._queue.empty(), "the filler's queue", fail=False)
        await asyncio.sleep(0.5)
        await self.filler.stop()
        await self.recorder.stop()
        await self.rest.aclose()

    async def stored_ids(self, symbol: str) -> set[int]:
        trades = await self.store.trades(symbol, limit=10_000_000)
        return {t.trade_id for t in trades}


def as_trade(printed: TradePrinted) -> Trade:
    """The domain trade of one the sim printed."""
    return Trade(
        symbol=printed.symbol,
        trade_id=printed.trade_id,
        price=float(printed.price),
        qty=float(printed.qty),
        time_ms=printed.time_ms,
        buyer_is_maker=printed.buyer_is_maker,
    )


def venue_ids(sim: SimVenue, symbol: str, first: int, last: int) -> set[int]:
    """The trade ids the venue printed on ``symbol`` from ``first`` to ``last``."""
    kept = {t.trade_id for t in sim.markets[symbol].trades}
    assert min(kept) <= first, "the venue no longer keeps the start of the span"
    return {i for i in kept if first <= i <= last}


@pytest.mark.slow
@pytest.mark.timeout(DRILL_S * 3 + 60)  # about DRILL_S + 5 s idle; room for a loaded machine
async def test_stream_gaps_are_filled_or_recorded_exactly(tmp_path: Path) -> None:
    faults = Faults(close_every_s=7.0, gap_every_s=5.0)
    async with SimVenue.start(symbols=SYMBOLS, seed=5, faults=faults) as sim:
        filled = await Recording.open(sim, tmp_path / "on", backfill=True)
        holes = await Recording.open(sim, tmp_path / "off", backfill=False)
        loop = asyncio.get_running_loop()
        end = loop.time() + DRILL_S
        while loop.time() < end:
            await asyncio.sleep(min(11.0, max(0.0, end - loop.time())))
            sim.hub.stall_all(2.5)  # silent streams too, not only closed ones
        await filled.close()
        await holes.close()

        report = []
        for symbol in SYMBOLS:
            for rec in (filled, holes):
                assert rec.seen[symbol], f"no {symbol} trade arrived"
            first = max(min(filled.seen[symbol]), min(holes.seen[symbol]))
            last = min(max(filled.seen[symbol]), max(holes.seen[symbol]))
            venue = venue_ids(sim, symbol, first, last)
            stored = {i for i in await filled.stored_ids(symbol) if first <= i <= last}
            assert stored == venue, (
                f"{symbol}: missing {sorted(venue - stored)[:20]}, extra {sorted(stored - venue)}"
            )
            lacking = venue - {i for i in await holes.stored_ids(symbol) if first <= i <= last}
            gaps = await holes.store.trade_gaps(symbol)
            covered = {
                i for g in gaps for i in range(g.first_id, g.last_id + 1) if first <= i <= last
            }
            assert covered == lacking, (
                f"{symbol}: gaps cover {len(covered)} ids, {len(lacking)} are missing"
            )
            report.append(f"{symbol}: {len(venue)} trades, {len(lacking)} missed by the stream")
            assert await filled.store.trade_gaps(symbol) == []
            # The minutes the gaps spanned have their candles too, from the venue.
            assert filled.filler.candles > 0
            stored = {c.open_ms for c in await filled.store.candles(symbol, "1m", 10_000)}
            assert stored, f"no {symbol} 1m candle stored"
        assert holes.recorder.status().trade_gaps > 0, "the faults made no gap: a weak drill"
        print("; ".join(report))
        await filled.store.close()
        await holes.store.close()


async def test_what_the_venue_cannot_give_back_is_a_gap_row(tmp_path: Path) -> None:
    """A venue that refuses the history: the missing span is recorded with the reason, and
    the recorder's status counts it."""
    bus = Bus()
    store = SqlHistoryStore(await open_database(str(tmp_path / "history.db")))
    recorder = Recorder(bus, store, RecorderConfig(spill_dir=tmp_path / "spill"))
    await recorder.start()

    async def refuse(command: VenueTrades) -> list[Trade]:
        raise RuntimeError("418: banned")

    bus.handle(VenueTrades, refuse)
    filler = TradeGapFiller(bus, BackfillConfig(retries=2, retry_s=0.01))
    filler.start()
    for trade_id, time_ms in ((10, 1000), (11, 1100), (15, 1500)):
        trade = Trade(
            symbol="ETHUSDT",
            trade_id=trade_id,
            price=1.0,
            qty=1.0,
            time_ms=time_ms,
            buyer_is_maker=False,
        )
        bus.publish(topics.trade("ETHUSDT"), trade)
    await until(lambda: filler.gaps > 0, "a gap", 2.0, interval=0.02, fail=False)
    await filler.stop()
    await recorder.stop()
    gaps = await store.trade_gaps("ETHUSDT")
    assert [(g.first_id, g.last_id, g.from_ms, g.to_ms) for g in gaps] == [(12, 14, 1100, 1500)]
    assert isinstance(gaps[0], TradeGap)
    assert "418: banned" in gaps[0].reason
    assert recorder.status().trade_gaps == 1
    assert recorder.status().missing_trades == 3
    await store.close()


async def test_a_restart_fetches_what_was_printed_while_it_was_away(tmp_path: Path) -> None:
    """The first trade after a start follows the last stored one by a span: it is fetched."""
    async with SimVenue.start(symbols=["ETHUSDT"], seed=3) as sim:
        market = sim.markets["ETHUSDT"]
        await until(lambda: len(market.trades) >= 12, "12 trades", 30.0, interval=0.1, fail=False)
        kept = sorted(t.trade_id for t in market.trades)
        assert len(kept) >= 12
        bus = Bus()
        rest = BinanceRest(sim.rest_url, bus=bus)
        store = SqlHistoryStore(await open_database(str(tmp_path / "history.db")))
        recorder = Recorder(bus, store, RecorderConfig(spill_dir=tmp_path / "spill"))
        await recorder.start()
        TradeHistory(bus, rest).register()
        # The earlier run stored up to kept[4]; this one's first trade is kept[-1].
        for printed in list(market.trades):
            if printed.trade_id <= kept[4]:
                bus.publish(topics.backfill("ETHUSDT"), as_trade(printed))
        await asyncio.sleep(0.5)
        filler = TradeGapFiller(bus, last_stored=store.last_trade_id)
        filler.start()
        newest = market.trades[-1]
        bus.publish(topics.trade("ETHUSDT"), as_trade(newest))
        await until(
            lambda: filler.filled >= newest.trade_id - kept[4] - 1,
            "the gap filled",
            5.0,
            fail=False,
        )
        await filler.stop()
        await recorder.stop()
        await rest.aclose()
        stored = {t.trade_id for t in await store.trades("ETHUSDT", limit=100_000)}
        assert set(range(kept[0], newest.trade_id + 1)) <= stored | set(range(kept[0]))
        assert await store.trade_gaps("ETHUSDT") == []
        await store.close()
