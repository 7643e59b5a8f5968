"""``omnitrade record`` with no replay: the in-process simulated venue, through the real
connector, into the database; SIGINT flushes and exits cleanly."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_record_follows_the_live_sim_feed(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    env = {**os.environ, "OMNITRADE_CONFIG_DIR": str(tmp_path / "cfg")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from omnitrade_tui.cli import main; raise SystemExit(main())",
            "record",
            "--symbols",
            "BTCUSDT,ETHUSDT",
            "--db",
            str(db),
            "--spill-dir",
            str(tmp_path / "spill"),
            "--status-every",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    # Stop once it has recorded for a while, counted from its first status line rather
    # than from the spawn: under load, the imports alone can outlast a fixed sleep, and a
    # SIGINT before the handler is in place is a plain KeyboardInterrupt (exit 130).
    assert proc.stdout is not None
    seen: list[str] = []
    started: float | None = None
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith("record: ") and "written=" in line:
                started = started or time.monotonic()
                if time.monotonic() - started >= 6:
                    break
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    out = "".join(seen) + rest
    assert started is not None, out
    assert proc.returncode == 0, out
    assert "record: stopped" in out
    with sqlite3.connect(db) as conn:
        quotes = conn.execute("SELECT count(*) FROM quotes").fetchone()[0]
        trades, symbols = conn.execute(
            "SELECT count(*), count(DISTINCT symbol) FROM trades"
        ).fetchone()
    assert quotes > 20 and trades > 5 and symbols == 2
