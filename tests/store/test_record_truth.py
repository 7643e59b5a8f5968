"""``omnitrade record`` tells the truth (issue 17): it runs the engine's one composition,
records the account's orders and fills when the profile has a key, says on stderr when the
venue's streams cannot be reached and exits 7 when they never connect, logs to the log file
like the app, and takes ``--profile`` after the subcommand too."""

from __future__ import annotations

import asyncio
import signal
import socket
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.domain.enums import OrderType, Side
from omnitrade_tui.domain.models import OrderRequest
from omnitrade_tui.venues.binance.execution import BinanceExecution
from omnitrade_tui.venues.binance.rest import BinanceRest, Credentials
from omnitrade_tui.venues.sim.venue import SimVenue

CLI = "import sys; from omnitrade_tui.cli import main; sys.exit(main())"


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNITRADE_")}
    env.update(
        OMNITRADE_CONFIG_DIR=str(tmp_path / "config"),
        OMNITRADE_STATE_DIR=str(tmp_path / "state"),
        OMNITRADE_DATA_DIR=str(tmp_path / "data"),
        OMNITRADE_KEY_BACKEND="file",
        **extra,
    )
    return env


@pytest.mark.slow
async def test_streams_that_never_connect_are_said_and_exit_7(tmp_path: Path) -> None:
    async with SimVenue.start(symbols=["ETHUSDT"]) as venue:
        rest = f"http://{venue.host}:{venue.port}"
        dead = f"ws://127.0.0.1:{_dead_port()}"
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CLI,
            *("--rest-url", rest, "--ws-api-url", f"{dead}/ws-api/v3", "--stream-url", dead),
            *("record", "--symbols", "ETHUSDT", "--connect-timeout", "4"),
            stderr=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            env=_env(tmp_path),
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    took = time.monotonic() - started
    text = err.decode()
    assert proc.returncode == ExitCode.VENUE_UNREACHABLE, text
    assert "no connection to the market streams" in text  # said while still trying
    assert "cannot reach the venue's market streams" in text
    assert "has no key: recording market data only" in text
    assert took < 30
    logs = list((tmp_path / "state").rglob("omnitrade.jsonl*"))
    assert logs and any("market" in p.read_text(errors="replace") for p in logs)


@pytest.mark.slow
async def test_account_events_are_recorded_when_the_profile_has_a_key(tmp_path: Path) -> None:
    async with SimVenue.start(symbols=["ETHUSDT"]) as venue:
        key, secret = venue.demo_key
        rest_url = f"http://{venue.host}:{venue.port}"
        ws = f"ws://{venue.host}:{venue.port}"
        db = tmp_path / "h.db"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CLI,
            *("--rest-url", rest_url, "--ws-api-url", f"{ws}/ws-api/v3", "--stream-url", ws),
            *("record", "--symbols", "ETHUSDT", "--db", str(db), "--status-every", "0.5"),
            stderr=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=_env(tmp_path, OMNITRADE_API_KEY=key, OMNITRADE_API_SECRET=secret),
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            await asyncio.wait_for(proc.stdout.readline(), 30)  # the first status line
            await asyncio.sleep(2.0)  # the user-data subscription
            client = BinanceRest(venue.rest_url, Credentials(key, secret))
            try:
                order, _ = await BinanceExecution(client).place(
                    OrderRequest(
                        symbol="ETHUSDT", side=Side.BUY, type=OrderType.MARKET,
                        quantity=__import__("decimal").Decimal("0.05"),
                    )
                )  # fmt: skip
            finally:
                await client.aclose()
            await asyncio.sleep(2.0)  # the recorder's batch
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    with sqlite3.connect(db) as conn:
        orders = conn.execute(
            "SELECT status FROM orders WHERE client_order_id = ?", (order.client_order_id,)
        ).fetchall()
        fills = conn.execute(
            "SELECT count(*) FROM fills WHERE client_order_id = ?", (order.client_order_id,)
        ).fetchone()[0]
        balances = conn.execute("SELECT count(*) FROM balance_snapshots").fetchone()[0]
    assert orders == [("FILLED",)]
    assert fills >= 1
    assert balances >= 1


def test_profile_is_taken_after_the_subcommand_too() -> None:
    from omnitrade_tui.cli.main import build_parser

    args = build_parser().parse_args(["record", "--symbols", "ETHUSDT", "--profile", "testnet"])
    assert args.profile == "testnet"
    args = build_parser().parse_args(["--profile", "demo", "record", "--symbols", "ETHUSDT"])
    assert args.profile == "demo"
