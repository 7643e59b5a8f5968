"""The gateway under load: 50 attached terminals receiving market data at 1,000 messages/s.

Acceptance (issue 8): 50 attached clients receive market data published at 1,000
messages/s on the gateway's bus; the gateway's CPU and the fan-out latency (p50, p99) are
reported.

Setup. The gateway runs in its own process (``gateway_main``), so its CPU is its own
(``time.process_time()``, the kernel's account that ``/proc/<pid>/stat`` shows in 10 ms
ticks, read in ns; the system part from ``/proc/<pid>/stat``). It holds a ``Bus``, an
``AuthService`` on a temporary SQLite ``GatewayRepository`` with one viewer per client
(argon2 at its lowest cost, as the tests do: logins are not what is measured), and the
real ``GatewayServer`` on 127.0.0.1 (plain WebSocket, as on loopback in production).
Beside it, in the same event loop, stands the engine's place: a publisher that puts market
data on that bus at a paced rate, half ``BookTop`` (20 levels a side,
``md.book.<SYMBOL>``) and half ``Trade`` (``md.trade.<SYMBOL>``), over the four simulated
symbols. The terminals are real ``GatewayClient`` instances (what ``omnitrade attach``
runs: HTTP login, the WebSocket, every value decoded and republished on the client's own
bus), subscribed to ``md.>``, in separate processes (``clients_main``) so that neither
side's CPU hides in the other's; the fifty are split over ``CLIENT_PROCS`` processes so
the clients are not the bottleneck (their CPU is reported too).

Latency is publish-to-receipt of trades: book tops are conflated per topic and terminal
by design (only the newest is worth drawing), so a book top overtaken by the next is
never delivered and has no latency; trades are queued and each one arrives. No domain
field carries sub-millisecond time (``Trade.time_ms`` is milliseconds) and domain types
must not grow bench fields, so nothing is smuggled into a field: ``Trade.trade_id`` is
what it is on a venue, a sequence number, and the gateway process records
``time.monotonic_ns()`` for each id just before ``bus.publish``; each client records
``time.monotonic_ns()`` when the decoded trade reaches a subscriber of its local bus. Both
ends read the same machine clock (CLOCK_MONOTONIC is system-wide on Linux); the arrays
are written to files after the window and joined here by trade id. The latency thus
covers encode, the per-terminal queue and its ``flush_s`` coalescing, the sender task,
the kernel's loopback, aiohttp's frame parsing, msgpack decoding and the client's bus.

Figures, per phase, over a steady window: the gateway's CPU as a share of one core;
messages published per second (measured, not assumed) and how far the publisher fell
behind its pace; per client: trades and book tops received against published (trades
dropped by the gateway's drop-oldest queue are counted), events, frames and bytes per
second (frames from the server's own per-terminal counter, bytes from the gateway
sockets' ``TCP_INFO``, i.e. what went out on the wire and was acknowledged); trade latency
p50/p99/max over every (trade, client) pair, and per trade its first and its last receipt
among the clients (the first is the gateway's own delay, the gap to the last is the spread
of serving fifty sockets one after another); the gateway's garbage-collector pauses; the
clients' processes' CPU; and the cores every other process on the machine kept busy
meanwhile (a shared two-core box makes these figures noisy).

Baseline, same gateway process, same run: ONE attached client (and, for the fixed cost,
none: the publisher alone). The ratios are the gateway's CPU with one client over its CPU
with fifty, and latency p99 with one client over p99 with fifty: 1.0 would mean the other
49 terminals cost nothing. Also reported: the fan-out's CPU per delivered message (the
gateway's CPU less the publisher-alone phase's, over clients x messages/s) and per added
client. That figure is not the ratio because with one client it is a difference of two
small measurements (a few thousandths of a core apart), which the other tenants of a
shared box move by as much; with fifty it is robust.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import REPO_ROOT, Result

RATE = 1_000  # messages/s published on the gateway's bus
CLIENTS = 50
CLIENT_PROCS = 2
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT")
LEVELS = 20
PASSWORD = "bench horse battery staple"
_TICKS = os.sysconf("SC_CLK_TCK")
#: Offset of ``tcpi_bytes_acked`` in Linux's ``struct tcp_info`` (8 one-byte fields, 24
#: u32, then the u64s ``pacing_rate`` and ``max_pacing_rate``): stable since Linux 4.1.
_TCPI_BYTES_ACKED = 8 + 24 * 4 + 2 * 8


def _cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of process ``pid`` so far, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / _TICKS, int(fields[12]) / _TICKS


def _machine_busy() -> float:
    """Busy CPU seconds of the whole machine so far, summed over its cores."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / _TICKS  # all but idle and iowait


def _bytes_acked(sock: Any) -> int:
    """Bytes the peer of this TCP socket has acknowledged (Linux ``tcp_info.tcpi_bytes_acked``).

    What went out on the wire: WebSocket headers included, TCP/IP headers not. Read from
    the kernel because ``send`` on a socket is not in ``/proc/<pid>/io``'s ``wchar``.
    """
    if sock is None:
        return 0
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return int(struct.unpack_from("Q", info, _TCPI_BYTES_ACKED)[0]) if len(info) >= 128 else 0


class _GcPauses:
    """The garbage collector's pauses in this process, by generation, since last taken."""

    def __init__(self) -> None:
        self.started = 0
        self.worst_ms = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter_ns()
            return
        gen = info["generation"]
        took = (time.perf_counter_ns() - self.started) / 1e6
        self.count[gen] += 1
        self.worst_ms[gen] = max(self.worst_ms[gen], took)

    def take(self) -> dict[str, Any]:
        """Counts and worst pause (ms) per generation; then start over."""
        out = {"gc_counts": self.count, "gc_worst_ms": [round(x, 2) for x in self.worst_ms]}
        self.count, self.worst_ms = [0, 0, 0], [0.0, 0.0, 0.0]
        return out


def _gc_pauses() -> _GcPauses:
    import gc

    pauses = _GcPauses()
    gc.callbacks.append(pauses)
    return pauses


def _write(path: str, data: bytes) -> None:
    Path(path).write_bytes(data)


def _user(i: int) -> str:
    return f"viewer{i:02d}"


async def _control(handle: Any) -> None:
    """Read command lines from stdin and answer each with one JSON line, until EOF/quit.

    ``handle(word, arg)`` returns the answer (a dict) or ``None`` to stop.
    """
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()
    pending = bytearray()

    def readable() -> None:
        # os.read, not readline: a buffered reader could hold a line back from the selector.
        data = os.read(sys.stdin.fileno(), 4096)
        if not data:
            lines.put_nowait("quit")
            return
        pending.extend(data)
        while b"\n" in pending:
            line, _, rest = bytes(pending).partition(b"\n")
            pending[:] = rest
            lines.put_nowait(line.decode())

    loop.add_reader(sys.stdin.fileno(), readable)
    try:
        while True:
            word, _, arg = (await lines.get()).strip().partition(" ")
            answer = await handle(word, arg)
            if answer is None:
                return
            print(json.dumps(answer), flush=True)
    finally:
        loop.remove_reader(sys.stdin.fileno())


# -- the gateway process ---------------------------------------------------------------------


def gateway_main(users: int = CLIENTS) -> None:
    """The gateway process: a bus, the real ``GatewayServer`` and a paced market publisher.

    Prints one JSON line with its URL, then obeys lines on stdin: ``rate N`` (messages/s;
    0 stops), ``stats`` (one JSON line of counters) and ``dump PATH`` (writes the publish
    time of every trade id so far, ``array('q')`` of monotonic ns, to PATH).
    """
    from decimal import Decimal

    from argon2 import PasswordHasher

    from omnitrade_tui.bus import Bus, topics
    from omnitrade_tui.domain.events import BookTop
    from omnitrade_tui.domain.models import BookLevel, Trade
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
        for i in range(users):
            await auth.users.add(_user(i), Role.VIEWER, PASSWORD)
        instruments = tuple(default_instruments(list(SYMBOLS)))
        facts = RunFacts(
            gateway="127.0.0.1",
            profile="BENCH",
            live=False,
            watchlist=SYMBOLS,
            instruments=instruments,
            fee_rate=Decimal("0.001"),
        )
        bus = Bus()
        server = GatewayServer(bus, auth, facts)
        pauses = _gc_pauses()
        url = await server.start("127.0.0.1", 0)
        print(json.dumps({"url": url, "pid": os.getpid()}), flush=True)

        rng = random.Random(8)
        mids = {"BTCUSDT": 67000.0, "ETHUSDT": 3500.0, "SOLUSDT": 150.0, "BNBUSDT": 590.0}
        ticks = {s: mids[s] * 1e-5 for s in SYMBOLS}
        pub_ns = array("q")  # publish time by trade id
        count = {"books": 0, "trades": 0, "published": 0}
        pace = {"rate": 0.0, "since": time.monotonic(), "base": 0, "behind_max": 0.0}
        publish = bus.publish

        def book(symbol: str, update_id: int, now_ms: int) -> BookTop:
            mid = mids[symbol] = mids[symbol] * (1 + rng.gauss(0, 2e-5))
            tick = ticks[symbol]
            bids = [
                BookLevel(mid - tick * (k + 0.5), round(rng.uniform(0.01, 3), 5))
                for k in range(LEVELS)
            ]
            asks = [
                BookLevel(mid + tick * (k + 0.5), round(rng.uniform(0.01, 3), 5))
                for k in range(LEVELS)
            ]
            return BookTop(
                symbol=symbol, update_id=update_id, bids=bids, asks=asks, event_ms=now_ms
            )

        def one(i: int) -> None:
            symbol = SYMBOLS[(i // 2) % len(SYMBOLS)]
            now_ms = int(time.time() * 1000)
            if i % 2 == 0:
                publish(topics.book(symbol), book(symbol, i, now_ms))
                count["books"] += 1
            else:
                trade_id = len(pub_ns)
                trade = Trade(
                    symbol=symbol,
                    trade_id=trade_id,
                    price=round(mids[symbol], 2),
                    qty=round(rng.uniform(0.001, 0.5), 5),
                    time_ms=now_ms,
                    buyer_is_maker=rng.random() < 0.5,
                )
                pub_ns.append(time.monotonic_ns())
                publish(topics.trade(symbol), trade)
                count["trades"] += 1
            count["published"] += 1

        async def publisher() -> None:
            while True:
                await asyncio.sleep(0.001)
                rate = pace["rate"]
                if rate <= 0:
                    continue
                behind = rate * (time.monotonic() - pace["since"]) - (
                    count["published"] - pace["base"]
                )
                pace["behind_max"] = max(pace["behind_max"], behind)
                # A late tick catches up at most 50 ms of messages at once, as a feed
                # handler draining its socket would.
                for _ in range(min(int(behind), int(rate * 0.05) + 1)):
                    one(count["published"])

        async def handle(word: str, arg: str) -> dict[str, Any] | None:
            if word == "rate":
                pace.update(
                    rate=float(arg), since=time.monotonic(), base=count["published"], behind_max=0
                )
                return {"ok": True}
            if word == "stats":
                terms = list(server.terminals)
                behind = pace["behind_max"]
                pace["behind_max"] = 0.0
                return {
                    **count,
                    # CLOCK_PROCESS_CPUTIME_ID: the same account as /proc/<pid>/stat, in ns
                    # rather than clock ticks (10 ms), which matters for the small phases.
                    "cpu": time.process_time(),
                    "bytes": sum(_bytes_acked(t.ws.get_extra_info("socket")) for t in terms),
                    "terminals": len(terms),
                    "frames": sum(t.sent_frames for t in terms),
                    "queued": sum(len(t.market) + len(t.latest) + len(t.account) for t in terms),
                    "publisher_behind_max": behind,
                    **pauses.take(),
                }
            if word == "dump":
                _write(arg, pub_ns.tobytes())  # after the window: blocking is fine
                return {"ok": True, "trades": len(pub_ns)}
            return None

        task = asyncio.create_task(publisher())
        try:
            await _control(handle)
        finally:
            task.cancel()
            await server.aclose()
            await repo.close()

    with tempfile.TemporaryDirectory(prefix="omnitrade-bench-gw-") as tmp:
        asyncio.run(main(Path(tmp)))


# -- the clients' process --------------------------------------------------------------------


def clients_main(url: str, first: int, count: int) -> None:
    """A process of ``count`` attached terminals (users ``first``...), each a real
    ``GatewayClient`` subscribed to ``md.>``.

    Prints one JSON line once all are attached, then obeys ``stats`` (per-client counters)
    and ``dump PATH`` (each client's received trade ids and receipt times, monotonic ns,
    as msgpack ``[[ids, ns], ...]`` of ``array('q')`` bytes).
    """
    import msgspec

    from omnitrade_tui.bus import Bus, topics
    from omnitrade_tui.bus.policy import each
    from omnitrade_tui.domain.events import ConnectionChanged, LinkState
    from omnitrade_tui.gateway.client import LINK, GatewayClient

    class Tally:
        def __init__(self, client: GatewayClient) -> None:
            self.client = client
            self.books = 0
            self.ids = array("q")
            self.ns = array("q")
            self.link = LinkState.DISCONNECTED

        def on_link(self, topic: str, event: Any) -> None:
            # The client announces its link on its own bus; a socket lost without a
            # Goodbye shows here too.
            if isinstance(event, ConnectionChanged) and event.link == LINK:
                self.link = event.state

        def on_trade(self, topic: str, event: Any) -> None:
            self.ns.append(time.monotonic_ns())
            self.ids.append(event.trade_id)

        def on_book(self, topic: str, event: Any) -> None:
            self.books += 1

    async def main() -> None:
        tallies: list[Tally] = []

        async def attach(i: int) -> None:
            client = GatewayClient(url, _user(i), Bus(), patterns=["md.>"], reconnect=False)
            tally = Tally(client)
            client.bus.subscribe("md.trade.*", each(tally.on_trade))
            client.bus.subscribe("md.book.*", each(tally.on_book))
            client.bus.subscribe(topics.CONNECTION, each(tally.on_link))
            await client.start(PASSWORD)
            tallies.append(tally)

        await asyncio.gather(*(attach(first + i) for i in range(count)))
        print(json.dumps({"attached": len(tallies), "pid": os.getpid()}), flush=True)

        async def handle(word: str, arg: str) -> dict[str, Any] | None:
            if word == "stats":
                return {
                    "cpu": time.process_time(),
                    "clients": [
                        {
                            "trades": len(t.ids),
                            "books": t.books,
                            "events": t.client.events_received,
                            "dropped": t.client.dropped_by_gateway,
                            "attached": t.link is LinkState.CONNECTED,
                        }
                        for t in tallies
                    ],
                }
            if word == "dump":
                data = [[t.ids.tobytes(), t.ns.tobytes()] for t in tallies]
                _write(arg, msgspec.msgpack.encode(data))  # after the window
                return {"ok": True}
            return None

        try:
            await _control(handle)
        finally:
            await asyncio.gather(*(t.client.aclose() for t in tallies), return_exceptions=True)

    asyncio.run(main())


# -- driving them ----------------------------------------------------------------------------


class _Child:
    """A bench subprocess and its stdin/stdout control line."""

    def __init__(self, code: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # inherited: a child that fails says why
            text=True,
            env=env,
        )
        self.info = self._line()

    def _line(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"bench child exited early (code {self.proc.poll()})")
        return dict(json.loads(line))

    def ask(self, command: str) -> dict[str, Any]:
        """Send one command line; its JSON answer."""
        self.tell(command)
        return self._line()

    def tell(self, command: str) -> None:
        """Send one command line without waiting (``answer`` reads its answer later)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def answer(self) -> dict[str, Any]:
        """The JSON answer to the last command ``tell`` sent."""
        return self._line()

    def close(self) -> None:
        """EOF on stdin (the child closes its sessions), then wait; kill if it hangs."""
        if self.proc.poll() is None:
            with contextlib.suppress(BrokenPipeError, OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _gateway() -> _Child:
    return _Child("from benchmarks.bench_gateway import gateway_main; gateway_main()")


def _clients(url: str, first: int, count: int) -> _Child:
    return _Child(
        "from benchmarks.bench_gateway import clients_main; "
        f"clients_main({url!r}, {first}, {count})"
    )


@dataclass
class Phase:
    """What one steady window measured."""

    clients: int
    seconds: float
    published_per_s: float
    publisher_behind_max: float
    gateway_cpu: float
    gateway_system_cpu: float
    clients_cpu: float
    other_cores: float
    frames_per_client_s: float
    bytes_per_s: float
    events_per_client_s: float
    books_per_client_s: float
    books_published_per_s: float
    trades_published: int
    trades_received_min: int
    trades_received_mean: float
    dropped: int
    detached: int
    queued_at_end: int
    latencies_ms: list[float]
    first_ms: list[float]
    last_ms: list[float]
    gc: dict[str, Any]

    def latency(self, q: float, xs: list[float] | None = None) -> float:
        """A quantile of the trade latencies in ms, or of ``xs`` (sorted; nan if empty)."""
        xs = self.latencies_ms if xs is None else xs
        if not xs:
            return float("nan")
        return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]

    def fanout_us(self, fixed_cpu: float) -> float:
        """Gateway CPU per delivered message in us, less ``fixed_cpu`` (the share of a core
        the publisher alone costs): what fanning out costs."""
        delivered = self.clients * self.published_per_s
        return (self.gateway_cpu - fixed_cpu) / delivered * 1e6 if delivered else 0.0

    def figures(self, fixed_cpu: float = 0.0) -> dict[str, Any]:
        """The phase as JSON-ready figures (``fixed_cpu``: see ``fanout_us``)."""
        fig: dict[str, Any] = {
            "clients": self.clients,
            "seconds": round(self.seconds, 1),
            "published_msgs_per_s": round(self.published_per_s),
            "publisher_behind_max_msgs": round(self.publisher_behind_max),
            "gateway_cpu_share_of_one_core": round(self.gateway_cpu, 3),
            # The kernel's part: mostly the socket sends (on loopback the receiving side's
            # TCP work is done in the sender's system call too).
            "gateway_system_cpu_share": round(self.gateway_system_cpu, 3),
        }
        if self.clients:
            fig.update(
                {
                    "gateway_cpu_us_per_delivered_msg": round(self.fanout_us(0.0), 2),
                    "gateway_fanout_cpu_us_per_delivered_msg": round(self.fanout_us(fixed_cpu), 2),
                    "latency_ms_p50": round(self.latency(0.5), 2),
                    "latency_ms_p99": round(self.latency(0.99), 2),
                    "latency_ms_max": round(self.latency(1.0), 2),
                    "latency_samples": len(self.latencies_ms),
                    # Per trade, its first and its last receipt among the clients: the first
                    # is the gateway's own delay, last minus first the fan-out's spread.
                    "first_receipt_ms_p50": round(self.latency(0.5, self.first_ms), 2),
                    "first_receipt_ms_p99": round(self.latency(0.99, self.first_ms), 2),
                    "last_receipt_ms_p50": round(self.latency(0.5, self.last_ms), 2),
                    "last_receipt_ms_p99": round(self.latency(0.99, self.last_ms), 2),
                    "trades_published": self.trades_published,
                    "trades_received_per_client_min": self.trades_received_min,
                    "trades_received_per_client_mean": round(self.trades_received_mean, 1),
                    "trades_dropped_by_gateway": self.dropped,
                    "book_tops_published_per_s": round(self.books_published_per_s),
                    "book_tops_received_per_client_s": round(self.books_per_client_s),
                    "events_per_client_s": round(self.events_per_client_s),
                    "frames_per_client_s": round(self.frames_per_client_s, 1),
                    "bytes_per_client_s": round(self.bytes_per_s / self.clients),
                    "bytes_per_s": round(self.bytes_per_s),
                    "bytes_per_frame": round(
                        self.bytes_per_s / self.clients / self.frames_per_client_s
                    )
                    if self.frames_per_client_s
                    else 0,
                    "clients_cpu_cores": round(self.clients_cpu, 3),
                    "clients_detached": self.detached,
                    "queued_at_end": self.queued_at_end,
                }
            )
        fig.update(self.gc)
        fig["other_processes_cores"] = round(self.other_cores, 2)
        return fig


def _phase(gw: _Child, procs: list[_Child], seconds: float, tmp: Path) -> Phase:
    clients = sum(int(p.info["attached"]) for p in procs)
    gw_pid = int(gw.info["pid"])
    me0, m0, (_, k0) = time.process_time(), _machine_busy(), _cpu_split(gw_pid)
    g0 = gw.ask("stats")
    c0 = [p.ask("stats") for p in procs]
    t0 = time.monotonic()
    time.sleep(seconds)
    g1 = gw.ask("stats")
    c1 = [p.ask("stats") for p in procs]
    t1 = time.monotonic()
    me1, m1, (_, k1) = time.process_time(), _machine_busy(), _cpu_split(gw_pid)
    wall = t1 - t0
    gw_cpu = g1["cpu"] - g0["cpu"]
    cl_cpu = sum(b["cpu"] - a["cpu"] for a, b in zip(c0, c1, strict=True))

    # Let what was published in the window arrive, then join receipts to publish times.
    time.sleep(1.0)
    first, last = g0["trades"], g1["trades"]
    latencies: list[float] = []
    received: list[int] = []
    firsts = [float("inf")] * (last - first)
    lasts = [float("-inf")] * (last - first)
    if procs:
        gw.ask(f"dump {tmp / 'pub'}")
        published = array("q")
        published.frombytes((tmp / "pub").read_bytes())
        import msgspec

        for i, p in enumerate(procs):
            p.ask(f"dump {tmp / f'recv{i}'}")
            for ids_raw, ns_raw in msgspec.msgpack.decode((tmp / f"recv{i}").read_bytes()):
                ids, ns = array("q"), array("q")
                ids.frombytes(ids_raw)
                ns.frombytes(ns_raw)
                got = 0
                for tid, at in zip(ids, ns, strict=True):
                    if first <= tid < last:
                        got += 1
                        took = (at - published[tid]) / 1e6
                        latencies.append(took)
                        k = tid - first
                        firsts[k] = min(firsts[k], took)
                        lasts[k] = max(lasts[k], took)
                received.append(got)
    latencies.sort()
    a_clients = [c for s in c0 for c in s["clients"]]
    b_clients = [c for s in c1 for c in s["clients"]]

    def per_client_rate(key: str) -> float:
        if not a_clients:
            return 0.0
        total = sum(int(b[key]) - int(a[key]) for a, b in zip(a_clients, b_clients, strict=True))
        return total / len(a_clients) / wall

    return Phase(
        clients=clients,
        seconds=wall,
        published_per_s=(g1["published"] - g0["published"]) / wall,
        publisher_behind_max=g1["publisher_behind_max"],
        gateway_cpu=gw_cpu / wall,
        gateway_system_cpu=(k1 - k0) / wall,
        clients_cpu=cl_cpu / wall,
        # Cores kept busy by everything else on the machine: a shared box is noisy.
        other_cores=((m1 - m0) - gw_cpu - cl_cpu - (me1 - me0)) / wall,
        frames_per_client_s=(g1["frames"] - g0["frames"]) / clients / wall if clients else 0.0,
        bytes_per_s=(g1["bytes"] - g0["bytes"]) / wall,
        events_per_client_s=per_client_rate("events"),
        books_per_client_s=per_client_rate("books"),
        books_published_per_s=(g1["books"] - g0["books"]) / wall,
        trades_published=last - first,
        trades_received_min=min(received) if received else 0,
        trades_received_mean=statistics.fmean(received) if received else 0.0,
        dropped=sum(b["dropped"] - a["dropped"] for a, b in zip(a_clients, b_clients, strict=True)),
        detached=sum(1 for c in b_clients if not c["attached"]),
        queued_at_end=int(g1["queued"]),
        latencies_ms=latencies,
        first_ms=sorted(x for x in firsts if x != float("inf")),
        last_ms=sorted(x for x in lasts if x != float("-inf")),
        gc={"gateway_gc_collections": g1["gc_counts"], "gateway_gc_worst_ms": g1["gc_worst_ms"]},
    )


def measure(quick: bool = False) -> tuple[Phase, Phase, Phase, dict[str, Any]]:
    """Gateway alone, with one client, with fifty; (none, one, fifty, extra)."""
    seconds = 4.0 if quick else 20.0
    warmup = 1.5 if quick else 4.0
    tmp = Path(tempfile.mkdtemp(prefix="omnitrade-bench-gateway-"))
    gw = _gateway()
    procs: list[_Child] = []
    from omnitrade_tui.gateway.server import ServerLimits

    extra: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "client_processes": CLIENT_PROCS,
        # The server's frame coalescing: most of the latency's median (see the report).
        "server_flush_s": ServerLimits().flush_s,
    }
    try:
        url = str(gw.info["url"])
        gw.ask(f"rate {RATE}")
        time.sleep(warmup)
        none = _phase(gw, [], seconds, tmp)

        procs = [_clients(url, 0, 1)]
        time.sleep(warmup)
        one = _phase(gw, procs, seconds, tmp)
        for p in procs:
            p.close()

        start = time.monotonic()
        share = CLIENTS // CLIENT_PROCS
        procs = [
            _clients(url, k * share, share if k < CLIENT_PROCS - 1 else CLIENTS - k * share)
            for k in range(CLIENT_PROCS)
        ]
        extra["attach_50_s"] = round(time.monotonic() - start, 2)
        time.sleep(warmup)
        fifty = _phase(gw, procs, seconds, tmp)
    finally:
        for p in procs:
            p.close()
        gw.close()
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    return none, one, fifty, extra


def run(quick: bool = False) -> list[Result]:
    """Gateway CPU and fan-out latency with 50 clients at 1,000 msgs/s, against one client;
    a trader's command latency while a viewer floods refused frames (``gateway_flood``)."""
    from benchmarks import gateway_flood

    flood = gateway_flood.run(quick)
    none, one, fifty, extra = measure(quick)

    fixed = none.gateway_cpu  # the publisher (the engine's stand-in) alone
    kept_up = (
        fifty.published_per_s >= RATE * 0.97
        and fifty.dropped == 0
        and fifty.detached == 0
        and fifty.trades_received_min == fifty.trades_published
    )
    extra["marginal_cpu_share_per_client"] = round((fifty.gateway_cpu - fixed) / CLIENTS, 4)
    figures = {
        "fifty": fifty.figures(fixed),
        "one": one.figures(fixed),
        "none": none.figures(),
    }
    baseline = "the same gateway process with ONE attached client (and none: the publisher alone)"
    return [
        Result(
            name="gateway.fanout_50_clients_cpu",
            figures=figures,
            baseline=baseline + "; ratio = gateway CPU with 1 client / with 50",
            ratio=one.gateway_cpu / fifty.gateway_cpu if fifty.gateway_cpu else 0.0,
            goal=f"{CLIENTS} clients each receive every trade of {RATE:,} msgs/s (none "
            "dropped, none detached); the gateway's CPU is reported",
            met=kept_up,
            extra=extra,
        ),
        Result(
            name="gateway.fanout_latency",
            figures={
                "fifty_p50_ms": figures["fifty"]["latency_ms_p50"],
                "fifty_p99_ms": figures["fifty"]["latency_ms_p99"],
                "fifty_max_ms": figures["fifty"]["latency_ms_max"],
                "one_p50_ms": figures["one"]["latency_ms_p50"],
                "one_p99_ms": figures["one"]["latency_ms_p99"],
                "samples_fifty": len(fifty.latencies_ms),
                "what": "trade publish on the gateway bus -> decoded on the client's bus",
            },
            baseline=baseline + "; ratio = p99 with 1 client / p99 with 50",
            ratio=one.latency(0.99) / fifty.latency(0.99) if fifty.latencies_ms else 0.0,
            goal="measured (no target set)",
            met=None,
        ),
        flood,
    ]
