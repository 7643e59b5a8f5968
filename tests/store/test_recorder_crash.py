"""Held rows survive a crash: a recorder killed with SIGKILL during a database outage loses
at most the batch it was cutting, and the next start writes the rest once.

The database is a PostgreSQL the test starts and stops itself (never the machine's
service); the recorder runs in a process of its own so it can really be killed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from omnitrade_tui.bus.bus import Bus
from omnitrade_tui.store.database import open_database
from omnitrade_tui.store.recorder import Recorder, RecorderConfig
from omnitrade_tui.store.repository import SqlHistoryStore
from tests.conftest import REPO_ROOT
from tests.store.own_postgres import own_postgres
from tests.waiting import until

#: The recorder cuts a batch every 500 rows or 200 ms: what a crash may take.
ONE_BATCH = RecorderConfig(spill_dir=Path()).batch_rows


class Child:
    """The recorder process and the highest trade id it said it published."""

    def __init__(self, url: str, spill: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.store.recorder_child", url, str(spill)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.published = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.published = int(line)

    def kill(self) -> int:
        """SIGKILL; the highest id published before it died."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._reader.join(timeout=10)
        return self.published


async def _stored(url: str) -> tuple[int, int, int]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT count(*), count(DISTINCT trade_id), coalesce(max(trade_id), 0) FROM trades"
        )
        assert row is not None
        return int(row[0]), int(row[1]), int(row[2])
    finally:
        await conn.close()


async def _wait(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20.0) -> None:
    await until(check, what, timeout, interval=0.1)


@pytest.mark.slow
async def test_sigkill_during_an_outage_loses_at_most_one_batch(tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    with own_postgres() as server:
        child = Child(server.url, spill)
        try:

            async def writing() -> bool:
                if child.proc.poll() is not None:
                    raise AssertionError(child.proc.stderr.read() if child.proc.stderr else "")
                try:
                    return (await _stored(server.url))[0] > 1000
                except (OSError, asyncpg.PostgresError):
                    return False  # the table is not there yet

            await _wait(writing, "the recorder to write its first rows")
            server.stop()  # the outage
            await asyncio.sleep(3.0)  # about 6,000 more trades arrive while it lasts
            assert child.proc.poll() is None, "the recorder must ride out the outage"
        finally:
            published = child.kill()
        server.start()

        store = SqlHistoryStore(await open_database(server.url))
        recorder = Recorder(Bus(), store, RecorderConfig(spill_dir=spill))
        await recorder.start()

        async def replayed() -> bool:
            return recorder.spill.rows_on_disk == 0

        await _wait(replayed, "the journal to be replayed")
        await recorder.stop()
        await store.close()

        rows, distinct, highest = await _stored(server.url)
        assert rows == distinct, "a replay duplicated rows"
        lost = published - min(rows, published)
        print(f"published {published}, stored {rows} (highest id {highest}), lost {lost}")
        assert published > 6000
        assert lost <= ONE_BATCH, f"{lost} rows lost, more than one batch ({ONE_BATCH})"
