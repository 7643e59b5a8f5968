"""A viewer floods the gateway with refused commands and subscriptions: what does it cost a
trader? (Issue 16's line of ``python -m benchmarks gateway``.)

Setup. The gateway runs in its own process (``flood_gateway_main``): a bus whose
``CancelOrder`` handler answers at once (the engine's stand-in: the command path through
the gateway is what is measured, not the venue), an ``AuthService`` with its default rate
limits on a temporary SQLite store (users ``trader`` and ``viewer``; argon2 at its lowest
cost, logins are not measured), and the real ``GatewayServer`` on 127.0.0.1. Two more
processes: a trader (a real ``GatewayClient``) that sends ``CancelOrder`` at a steady
``TRADER_RATE`` a second, one at a time, and times each round trip; and a flooder (a raw
WebSocket, logged in as the viewer) that sends, as fast as its socket takes them and
without waiting for any answer, a cycle of frames each of which is refused:
``CancelAll`` (a viewer may not), a subscription to ``cmd.>`` (nor that), ``SubscribeSymbol``
of a symbol the venue does not list, and a 200-character pattern.

Phases, on the same gateway: the trader alone (baseline), then the trader while the viewer
floods. Figures: the trader's round-trip p50/p99/max in each; the ratio p99 alone / p99
during the flood (1.0: the flood costs the trader nothing); the flooder's frames a second
and how they were refused (by the rate limit, which comes first, or by role, symbol or
cap); the audit rows the flood wrote (bounded per client; the rest are counted); the
gateway's RSS before and after the flood.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_gateway import _Child, _control
from benchmarks.drill import rss_mb
from benchmarks.harness import Result

PASSWORD = "bench horse battery staple"
TRADER_RATE = 10.0  # commands a second, well inside a trader's rate limit (20/s)


def flood_gateway_main() -> None:
    """The gateway process. Prints its URL, then answers ``stats`` lines (RSS, audit rows,
    terminals) until stdin closes."""
    from decimal import Decimal

    from argon2 import PasswordHasher

    from omnitrade_tui.bus import Bus
    from omnitrade_tui.domain.commands import CancelOrder
    from omnitrade_tui.gateway.auth import AuthService
    from omnitrade_tui.gateway.passwords import Passwords
    from omnitrade_tui.gateway.roles import Role
    from omnitrade_tui.gateway.server import GatewayServer, RunFacts
    from omnitrade_tui.store.database import open_database
    from omnitrade_tui.store.gateway_repository import GatewayRepository
    from omnitrade_tui.venues.sim.symbols import default_instruments

    async def main(tmp: Path) -> None:
        repo = GatewayRepository(await open_database(str(tmp / "gw.db")))
        passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        auth = AuthService(repo, os.urandom(32), passwords=passwords)
        await auth.users.add("trader", Role.TRADER, PASSWORD)
        await auth.users.add("viewer", Role.VIEWER, PASSWORD)
        symbols = ("BTCUSDT", "ETHUSDT")
        facts = RunFacts(
            gateway="127.0.0.1",
            profile="BENCH",
            live=False,
            watchlist=symbols,
            instruments=tuple(default_instruments(list(symbols))),
            fee_rate=Decimal("0.001"),
        )
        bus = Bus()

        async def cancel(command: CancelOrder) -> bool:
            return True

        bus.handle(CancelOrder, cancel)
        server = GatewayServer(bus, auth, facts)
        url = await server.start("127.0.0.1", 0)
        print(json.dumps({"url": url, "pid": os.getpid()}), flush=True)

        async def handle(word: str, arg: str) -> dict[str, Any] | None:
            if word == "stats":
                return {
                    "rss_mb": rss_mb(),
                    "viewer_audit_rows": len(await repo.recent_audit(1_000_000, "viewer")),
                    "terminals": len(server.terminals),
                }
            return None

        try:
            await _control(handle)
        finally:
            await server.aclose()
            await repo.close()

    with tempfile.TemporaryDirectory(prefix="omnitrade-bench-flood-") as tmp:
        asyncio.run(main(Path(tmp)))


def trader_main(url: str) -> None:
    """The trader's process: ``run SECONDS`` sends ``CancelOrder`` at ``TRADER_RATE``/s, one
    at a time, and answers the round trips' figures."""
    from omnitrade_tui.bus import Bus
    from omnitrade_tui.domain.commands import CancelOrder
    from omnitrade_tui.gateway.client import GatewayClient, RemoteRefusal

    async def main() -> None:
        client = GatewayClient(url, "trader", Bus(), patterns=(), reconnect=False)
        await client.start(PASSWORD)
        print(json.dumps({"attached": True}), flush=True)

        async def handle(word: str, arg: str) -> dict[str, Any] | None:
            if word != "run":
                return None
            end = time.monotonic() + float(arg)
            took_ms: list[float] = []
            refused: list[str] = []
            tick = time.monotonic()
            n = 0
            while time.monotonic() < end:
                n += 1
                command = CancelOrder(symbol="BTCUSDT", client_order_id=f"bench-{n}")
                start = time.perf_counter()
                try:
                    await client.request(command)
                except RemoteRefusal as exc:
                    refused.append(exc.reason)
                took_ms.append((time.perf_counter() - start) * 1000)
                tick += 1 / TRADER_RATE
                await asyncio.sleep(max(0.0, tick - time.monotonic()))
            return {"took_ms": took_ms, "refused": refused[:5], "refused_count": len(refused)}

        try:
            await _control(handle)
        finally:
            await client.aclose()

    asyncio.run(main())


def flooder_main(url: str) -> None:
    """The flooding viewer's process: ``run SECONDS`` sends refused frames as fast as the
    gateway answers them and answers how many went and how they were refused."""
    import aiohttp

    from omnitrade_tui.bus.wire import kind_of
    from omnitrade_tui.domain.commands import CancelAll, SubscribeSymbol
    from omnitrade_tui.gateway import protocol as wire

    def frames(i: int) -> bytes:
        which = i % 4
        if which == 0:
            command: Any = CancelAll(symbol="BTCUSDT")
        elif which == 1:
            return wire.encode(wire.Subscribe(id=i, pattern="cmd.>"))
        elif which == 2:
            command = SubscribeSymbol(symbol=f"NOPE{i % 1000}USDT")
        else:
            return wire.encode(wire.Subscribe(id=i, pattern="md.book." + "X" * 192))
        return wire.encode(
            wire.RequestOut(id=i, name=command.name, kind=kind_of(command), body=command)
        )

    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                url + "/auth/login", json={"username": "viewer", "password": PASSWORD}
            ) as resp:
                token = (await resp.json())["access_token"]
            ws = await http.ws_connect(
                url.replace("http", "ws") + "/ws", headers={"Authorization": f"Bearer {token}"}
            )
            await ws.receive()  # the Welcome
            print(json.dumps({"attached": True}), flush=True)
            tally = {"sent": 0, "replies": 0, "rate_limited": 0, "other_refusals": 0, "ok": 0}

            async def reader() -> None:
                async for msg in ws:
                    frame = wire.decode_gateway_frame(msg.data)
                    if isinstance(frame, wire.ReplyIn):
                        tally["replies"] += 1
                        if frame.ok:
                            tally["ok"] += 1
                        elif "too many requests" in frame.error:
                            tally["rate_limited"] += 1
                        else:
                            tally["other_refusals"] += 1

            reading = asyncio.create_task(reader())

            async def handle(word: str, arg: str) -> dict[str, Any] | None:
                if word != "run":
                    return None
                start = time.monotonic()
                first = dict(tally)

                async def flood() -> None:
                    # Never waits for an answer: only the socket's own push-back (a full
                    # send buffer makes send_bytes wait for the drain) slows the flood.
                    while True:
                        tally["sent"] += 1
                        await ws.send_bytes(frames(tally["sent"]))

                sending = asyncio.create_task(flood())
                await asyncio.sleep(float(arg))
                sending.cancel()
                await asyncio.gather(sending, return_exceptions=True)
                took = time.monotonic() - start
                done = {k: tally[k] - first[k] for k in tally}
                return {**done, "frames_per_s": round(done["sent"] / took)}

            try:
                await _control(handle)
            finally:
                reading.cancel()
                await ws.close()

    asyncio.run(main())


def _figures(took_ms: list[float]) -> dict[str, float]:
    ordered = sorted(took_ms)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {
        "n": len(ordered),
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "max_ms": round(ordered[-1], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
    }


def run(quick: bool = False) -> Result:
    """The trader's command latency alone and during a viewer's flood; the gateway's RSS."""
    seconds = 4.0 if quick else 15.0
    gw = _Child("from benchmarks.gateway_flood import flood_gateway_main; flood_gateway_main()")
    url = str(gw.info["url"])
    trader = _Child(f"from benchmarks.gateway_flood import trader_main; trader_main({url!r})")
    flooder = _Child(f"from benchmarks.gateway_flood import flooder_main; flooder_main({url!r})")
    try:
        trader.ask("run 1")  # warm-up
        alone = trader.ask(f"run {seconds}")
        before = gw.ask("stats")
        flooder.tell(f"run {seconds}")
        during = trader.ask(f"run {seconds}")
        flood = flooder.answer()
        after = gw.ask("stats")
    finally:
        for child in (flooder, trader, gw):
            child.close()
    base, loaded = _figures(alone["took_ms"]), _figures(during["took_ms"])
    figures = {
        "trader_alone": base,
        "trader_during_flood": loaded,
        "trader_refused_during_flood": during["refused_count"],
        "flood": flood,
        "audit_rows_written_by_the_flood": after["viewer_audit_rows"] - before["viewer_audit_rows"],
        "gateway_rss_mb_before": before["rss_mb"],
        "gateway_rss_mb_after": after["rss_mb"],
    }
    return Result(
        name="gateway.flood_trader_latency",
        figures=figures,
        baseline="the same gateway and trader without the flood; ratio = the trader's "
        "command p99 alone / during a viewer's flood of refused commands and subscriptions",
        ratio=base["p99_ms"] / loaded["p99_ms"] if loaded["p99_ms"] else 0.0,
        goal="the trader is never refused during the flood and the gateway's RSS stays "
        "within 20 MB of where it was; latency is reported",
        met=during["refused_count"] == 0 and after["rss_mb"] - before["rss_mb"] < 20,
        extra={"seconds": seconds, "trader_rate": TRADER_RATE},
    )
