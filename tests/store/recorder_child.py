"""A recorder in a process of its own, for the crash test: it records a steady stream of
trades into the database at ``argv[1]`` with its journal in ``argv[2]``, and prints the
highest trade id it has published after every chunk, so the test knows what it was given
when it kills it with SIGKILL."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from omnitrade_tui.bus import topics
from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.domain.models import Trade
from omnitrade_tui.store.database import open_database
from omnitrade_tui.store.recorder import Recorder, RecorderConfig
from omnitrade_tui.store.repository import SqlHistoryStore

CHUNK = 50
CHUNK_PAUSE_S = 0.025  # about 2,000 trades a second


async def main(url: str, spill: Path) -> None:
    """Record until killed."""
    store = SqlHistoryStore(await open_database(url))
    bus = Bus()
    config = RecorderConfig(spill_dir=spill, retry_initial_s=0.05, retry_max_s=0.2)
    recorder = Recorder(bus, store, config)
    await recorder.start()
    trade_id = 0
    while True:
        for _ in range(CHUNK):
            trade_id += 1
            bus.publish(
                topics.trade("ETHUSDT"),
                Trade(
                    symbol="ETHUSDT",
                    trade_id=trade_id,
                    price=2500.0,
                    qty=0.1,
                    time_ms=trade_id,
                    buyer_is_maker=False,
                ),
            )
        print(trade_id, flush=True)
        await asyncio.sleep(CHUNK_PAUSE_S)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
