"""The simulated venue under load: market data to a client while matching orders.

Goal (issue 3): >= 5,000 market-data messages/s to a client over loopback while matching
100 orders/s, with the venue using <= 50% of one core.

The venue runs in its own process (``omnitrade sim``) so its CPU is measured alone, from
``/proc/<pid>/stat``. It replays the recorded ETHUSDT capture at 100x (about 9,000
messages/s of depth, bookTicker and trades) and generates a BTCUSDT market that this
process trades against at 100 orders/s over REST. Baseline, same run: a bare aiohttp
WebSocket server in its own process that sends the same recorded frames at the same
pace and does nothing else, the floor of "deliver these frames". The ratio is the
baseline's CPU per delivered message over the venue's (1 would be no overhead at all).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from benchmarks.harness import REPO_ROOT, Result, shared_data_dir

GOAL_MSGS = 5_000
GOAL_ORDERS = 100
GOAL_CPU = 0.5
STREAMS = "ethusdt@depth@100ms/ethusdt@bookTicker/ethusdt@trade"
_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def bare_server(capture: str, speed: float, port_file: str) -> None:
    """The baseline: send a capture's frames to each client at the recorded pace."""
    from aiohttp import web

    lines = []
    with gzip.open(capture, "rb") as fh:
        for line in fh:
            stamp, _, payload = line.strip().partition(b" ")
            if payload.startswith(b'{"stream"'):
                lines.append((int(stamp), payload.decode()))

    async def serve(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        loop = asyncio.get_running_loop()
        start, first = loop.time(), lines[0][0]
        span = lines[-1][0] - first
        for lap in range(10):  # loop like the venue's --replay-loop
            for stamp, text in lines:
                delay = start + (lap * span + stamp - first) / 1e9 / speed - loop.time()
                if delay > 0.002:
                    await asyncio.sleep(delay)
                await ws.send_str(text)
        await ws.close()
        return ws

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/stream", serve)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        with open(port_file, "w") as fh:  # noqa: ASYNC230 - once, at start-up
            fh.write(str(port))
        await asyncio.Event().wait()

    asyncio.run(main())


async def _receive(url: str, seconds: float) -> int:
    """Count frames for ``seconds`` (no per-frame timers: the client must not be the limit)."""
    count = 0
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:

        async def read() -> None:
            nonlocal count
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    count += 1

        reader = asyncio.create_task(read())
        await asyncio.sleep(seconds)
        reader.cancel()
    return count


async def _trade(rest: str, key: str, secret: str, seconds: float) -> tuple[int, int]:
    """Send 100 crossing orders a second; (orders accepted, orders that traded)."""
    sent = filled = 0
    errors: dict[int, int] = {}
    async with aiohttp.ClientSession() as http:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            side = "BUY" if sent % 2 == 0 else "SELL"
            params = {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": "0.001"}
            query = urlencode({**params, "timestamp": int(time.time() * 1000)})
            query += (
                "&signature="
                + hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
            )
            async with http.post(f"{rest}/v3/order?{query}", headers={"X-MBX-APIKEY": key}) as r:
                body = await r.json()
            sent += 1
            filled += body.get("status") == "FILLED"
            if "code" in body:
                errors[body["code"]] = errors.get(body["code"], 0) + 1
            due = start + sent / GOAL_ORDERS
            await asyncio.sleep(max(0.0, due - time.monotonic()))
    if errors:
        print(f"order errors: {errors}", file=sys.stderr)
    return sent, filled


def _start(cmd: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )


def run(quick: bool = False) -> list[Result]:
    """Messages/s and CPU of the venue under replay plus order flow, against a bare server."""
    capture = shared_data_dir() / "binance" / "ethusdt_20240808.gz"
    seconds = 4.0 if quick else 15.0
    venue = _start(
        [
            sys.executable,
            "-m",
            "omnitrade_tui.cli.main",
            "sim",
            "--port",
            "0",
            "--replay",
            str(capture),
            "--speed",
            "100",
            "--replay-loop",
            "--symbols",
            "BTCUSDT",
            "--orders-per-10s",
            "2000",
        ]
    )
    try:
        banner = ""
        assert venue.stdout is not None
        while "demo secret" not in banner:
            banner += venue.stdout.readline()

        def said(pattern: str) -> str:
            found = re.search(pattern, banner)
            assert found is not None, f"the banner says no {pattern!r}: {banner}"
            return found.group(1)

        rest = said(r"REST\s+(\S+)/v3")
        key = said(r"demo key\s+(\S+)")
        secret = said(r"demo secret\s+(\S+)")
        stream = (
            rest.replace("http://", "ws://").removesuffix("/api") + "/stream?streams=" + STREAMS
        )
        time.sleep(0.5)

        async def both() -> tuple[int, tuple[int, int], float, float]:
            cpu0, wall0 = _cpu_seconds(venue.pid), time.monotonic()
            received, orders = await asyncio.gather(
                _receive(stream, seconds), _trade(rest, key, secret, seconds)
            )
            return received, orders, _cpu_seconds(venue.pid) - cpu0, time.monotonic() - wall0

        received, (sent, filled), cpu, wall = asyncio.run(both())
    finally:
        venue.terminate()
        venue.wait(10)

    port_file = Path(f"/tmp/omnitrade-bench-bare-{os.getpid()}")
    bare = _start(
        [
            sys.executable,
            "-c",
            "from benchmarks.bench_sim import bare_server; "
            f"bare_server({str(capture)!r}, 100.0, {str(port_file)!r})",
        ]
    )
    try:
        while not port_file.exists() or not port_file.read_text():
            time.sleep(0.05)
        url = f"ws://127.0.0.1:{port_file.read_text()}/stream"

        async def bare_run() -> tuple[int, float, float]:
            cpu0, wall0 = _cpu_seconds(bare.pid), time.monotonic()
            got = await _receive(url, seconds)
            return got, _cpu_seconds(bare.pid) - cpu0, time.monotonic() - wall0

        bare_received, bare_cpu, bare_wall = asyncio.run(bare_run())
    finally:
        bare.terminate()
        bare.wait(10)
        port_file.unlink(missing_ok=True)

    rate = received / wall
    cpu_share = cpu / wall
    ours_per_msg = cpu / max(received, 1)
    base_per_msg = bare_cpu / max(bare_received, 1)
    return [
        Result(
            name="sim.replay_plus_orders",
            figures={
                "seconds": round(wall, 2),
                "md_msgs_per_s": round(rate),
                "orders_per_s": round(sent / wall, 1),
                "orders_filled": filled,
                "venue_cpu_share_of_one_core": round(cpu_share, 3),
                "venue_cpu_us_per_msg": round(ours_per_msg * 1e6, 1),
                "bare_server_msgs_per_s": round(bare_received / bare_wall),
                "bare_server_cpu_us_per_msg": round(base_per_msg * 1e6, 1),
            },
            baseline="bare aiohttp server sending the same recorded frames at the same pace",
            ratio=base_per_msg / ours_per_msg if ours_per_msg else 0.0,
            goal=f">= {GOAL_MSGS} msgs/s while matching {GOAL_ORDERS} orders/s at <= 50% of a core",
            met=rate >= GOAL_MSGS and sent / wall >= GOAL_ORDERS * 0.95 and cpu_share <= GOAL_CPU,
        )
    ]
