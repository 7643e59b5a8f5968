"""The Binance connector: market-data throughput and latency, against python-binance; and
the fault drill (integration tests, soak) of the whole connector against the sim.

Market data (issue: connector): recorded ETHUSDT ``@depth@100ms`` frames (the hftbacktest
capture, 2024-08-09) are served over a loopback WebSocket by a small server in its own
process, as if for several symbols (the same frames, renamed), with the recorded REST
snapshot for each. (a) Throughput: the frames are sent as fast as the socket takes them;
depth messages/s through ``MarketStream`` + ``BookSync`` until every book has applied its
last update (goal >= 30,000/s). (b) Latency: the same frames paced at 10,000 messages/s;
from the frame's receipt (its bytes reaching our process) to the last of 10 bus
subscribers receiving the book (goal p99 <= 1 ms), and also from the server's send (both
processes read the same monotonic clock) and from ``recv`` handing it to us, so the tail
can be placed; three runs, the
median p99 reported, beside the machine's own wake-up lateness at the same rate. The
sender sleeps between frames: it used to spin, which on this 2-core machine took a whole
core and left our process to be preempted by anything else running (an artefact of the
benchmark, not a cost of the connector). (c) Baseline, same frames, same server:
python-binance's ``DepthCacheManager`` (one socket a symbol, its own depth cache), in two
forms: applying only, and applying plus reading the top 20 levels a side (what we publish
on every update). ``ratio`` = ours / python-binance's apply-only figure.

``python -m benchmarks connector --soak 1800`` runs the drill with every fault on for
half an hour, one summary line a minute, and checks every invariant at the end.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import gzip
import hashlib
import itertools
import json
import logging
import multiprocessing as mp
import random
import socket
import statistics
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from websockets.asyncio.client import ClientConnection

from benchmarks.harness import Result, shared_data_dir
from omnitrade_tui.bus import Bus, CommandTimeout, each, topics
from omnitrade_tui.domain import Order, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.domain.commands import CancelOrder, PlaceOrder
from omnitrade_tui.domain.events import BookState, BookTop, OrderUpdated
from omnitrade_tui.engine.order_manager import OrderManager, OrderRefused
from omnitrade_tui.venues.binance.execution import BinanceExecution
from omnitrade_tui.venues.binance.market_stream import MarketStream
from omnitrade_tui.venues.binance.rest import BinanceRest, Credentials
from omnitrade_tui.venues.binance.schemas import depth_snapshot_decoder
from omnitrade_tui.venues.binance.user_data import UserDataStream
from omnitrade_tui.venues.sim.venue import SimVenue

log = logging.getLogger(__name__)

GOAL_MSGS = 30_000
GOAL_P99_MS = 1.0
PACE = 10_000
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# ---------------------------------------------------------------------------------------
# Recorded frames and the loopback server (its own process).
# ---------------------------------------------------------------------------------------


def load_frames() -> tuple[bytes, list[bytes]]:
    """The recorded REST snapshot, and the depth payloads from the one that bridges it."""
    capture = shared_data_dir() / "binance" / "ethusdt_20240808.gz"
    snapshot = b""
    frames: list[bytes] = []
    prefix = b'{"stream":"ethusdt@depth@100ms","data":'
    with gzip.open(capture, "rb") as fh:
        for line in fh:
            payload = line.strip().partition(b" ")[2]
            if payload.startswith(b'{"lastUpdateId"'):
                snapshot = payload
            elif payload.startswith(prefix):
                frames.append(payload[len(prefix) : -1])
    last = json.loads(snapshot)["lastUpdateId"]
    usable = [f for f in frames if json.loads(f)["u"] > last]
    first = json.loads(usable[0])
    assert first["U"] <= last + 1 <= first["u"], "the capture does not bridge its snapshot"
    return snapshot, usable


def bench_symbols(n: int) -> list[str]:
    """Names for the copies of the recorded symbol."""
    return [f"E{i:02d}USDT" for i in range(n)]


def _ws_frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes([0x81, n])
    elif n < 65536:
        head = bytes([0x81, 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x81, 127]) + n.to_bytes(8, "big")
    return head + payload


class _Frames:
    """Each symbol's frames, raw and combined, in wire form; each frame's final id."""

    def __init__(self, snapshot: bytes, payloads: list[bytes], symbols: list[str]) -> None:
        self.snapshot = snapshot
        self.ids = [json.loads(p)["u"] for p in payloads]
        self.raw: dict[str, list[bytes]] = {}
        self.combined: dict[str, list[bytes]] = {}
        for symbol in symbols:
            renamed = [p.replace(b'"ETHUSDT"', f'"{symbol}"'.encode()) for p in payloads]
            stream = f"{symbol.lower()}@depth@100ms".encode()
            self.raw[symbol] = [_ws_frame(p) for p in renamed]
            self.combined[symbol] = [
                _ws_frame(b'{"stream":"' + stream + b'","data":' + p + b"}") for p in renamed
            ]


def _handshake(conn: socket.socket) -> tuple[str, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    path = lines[0].split(" ")[1]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return path, headers, rest


def _serve_conn(conn: socket.socket, frames: _Frames, pace: float, sent: Any) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with contextlib.suppress(OSError, ConnectionError):
        while True:
            path, headers, _ = _handshake(conn)
            url = urlparse(path)
            if headers.get("upgrade", "").lower() != "websocket":
                body = frames.snapshot  # GET /api/v3/depth: the recorded snapshot
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                continue
            accept = base64.b64encode(
                hashlib.sha1((headers["sec-websocket-key"] + _GUID).encode()).digest()
            ).decode()
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept.encode() + b"\r\n\r\n"
            )
            if url.path.startswith("/stream"):
                names = parse_qs(url.query)["streams"][0].split("/")
                wanted = [n.split("@")[0].upper() for n in names if "@depth" in n]
                per = [frames.combined[s] for s in wanted if s in frames.combined]
            else:
                symbol = url.path.removeprefix("/ws/").split("@")[0].upper()
                wanted, per = [symbol], [frames.raw[symbol]]
            # Round robin over the symbols, as a combined stream interleaves them.
            order = [(s, i) for i in range(len(frames.ids)) for s in range(len(per))]
            if pace <= 0:
                blob = b"".join(per[s][i] for s, i in order)
                conn.sendall(blob)
            else:
                # The first frames at once, then a pause for the client to take its
                # snapshot and go live: what is paced after it is the steady state.
                warm = len(frames.ids) // 20
                conn.sendall(b"".join(per[s][i] for s, i in order if i < warm))
                time.sleep(1.0)
                order = [(s, i) for s, i in order if i >= warm]
                # Sleep until a frame is due, then send every frame due by then, each
                # with its own send time. Not a busy wait: on a 2-core machine a spinning
                # sender takes a whole core, and our process, left the other, is then
                # preempted by anything else that runs (the tail measured that, not us).
                # Frames due together go out back to back: their queueing counts.
                start = time.perf_counter()
                for k, (s, i) in enumerate(order):
                    wait = start + k / pace - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                    conn.sendall(per[s][i])
                    sent.append((wanted[s], frames.ids[i], time.perf_counter_ns()))
            while conn.recv(65536):
                pass  # until the client goes
            return


def serve(symbols: list[str], pace: float, port_q: Any, result_q: Any, stop: Any) -> None:
    """The loopback venue (run in its own process): snapshot over HTTP, frames over WS.

    ``pace`` is messages/s per connection (0: as fast as the socket takes them); the send
    time of every paced frame goes back on ``result_q`` when ``stop`` is set.
    """
    snapshot, payloads = load_frames()
    frames = _Frames(snapshot, payloads, symbols)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    port_q.put(listener.getsockname()[1])
    sent: list[tuple[str, int, int]] = []
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        threading.Thread(target=_serve_conn, args=(conn, frames, pace, sent), daemon=True).start()
    result_q.put(sent)


@contextlib.contextmanager
def loopback(symbols: list[str], pace: float = 0) -> Any:
    """A running loopback server process; yields (port, fetch send times)."""
    ctx = mp.get_context("spawn")
    port_q, result_q, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=serve, args=(symbols, pace, port_q, result_q, stop), daemon=True)
    proc.start()
    port = port_q.get(timeout=30)

    def sent_times() -> list[tuple[str, int, int]]:
        stop.set()
        return list(result_q.get(timeout=30))

    try:
        yield port, sent_times
    finally:
        stop.set()
        proc.join(5)
        if proc.is_alive():
            proc.kill()


# ---------------------------------------------------------------------------------------
# Ours and python-binance's on the same frames.
# ---------------------------------------------------------------------------------------


SUBSCRIBERS = 10


class _ReceiptStream(MarketStream):
    """``MarketStream`` noting when each frame reached our code (``recv`` returned), in
    arrival order: one clock read a frame, to split the latency into waiting to be read
    and our work (decode, book, bus)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.receipts: list[int] = []

    def _dispatch(self, raw: bytes) -> tuple[str, int] | None:
        self.receipts.append(time.perf_counter_ns())
        return super()._dispatch(raw)


@contextlib.contextmanager
def _arrival_clock() -> Iterator[list[tuple[int, int]]]:
    """Note (time, bytes) of every chunk the kernel hands our WebSocket connections: when
    the bytes of a frame reached this process. (Wrapped here, not in the product: the
    measurement must not cost the product anything.)"""
    chunks: list[tuple[int, int]] = []
    original = ClientConnection.data_received

    def timed(self: ClientConnection, data: bytes) -> None:
        chunks.append((time.perf_counter_ns(), len(data)))
        original(self, data)

    setattr(ClientConnection, "data_received", timed)  # noqa: B010 - a method replaced
    try:
        yield chunks
    finally:
        delattr(ClientConnection, "data_received")  # back to Connection's


async def ours(
    port: int, symbols: list[str], last_id: int
) -> tuple[float, dict[tuple[str, int], int], list[int]]:
    """Seconds until every book applied its last frame; when the last of ``SUBSCRIBERS``
    bus subscribers got each book, by (symbol, id); when each frame reached our code."""
    bus = Bus()
    received: dict[tuple[str, int], int] = {}
    done = asyncio.Event()
    finished: set[str] = set()
    latest: dict[str, BookTop] = {}

    def keep(topic: str, top: BookTop) -> None:
        latest[topic] = top  # what a screen's conflating reader does

    def on_book(topic: str, top: BookTop) -> None:
        received[(top.symbol, top.update_id)] = time.perf_counter_ns()
        if top.update_id == last_id:
            finished.add(top.symbol)
            if len(finished) == len(symbols):
                done.set()

    # The bus calls subscribers in the order they subscribed: the timed one is the last.
    for _ in range(SUBSCRIBERS - 1):
        bus.subscribe("md.book.*", each(keep))
    bus.subscribe("md.book.*", each(on_book))
    rest = BinanceRest(f"http://127.0.0.1:{port}/api")
    stream = _ReceiptStream(f"ws://127.0.0.1:{port}/", rest, bus, symbols, watchdog_s=60)
    start = time.perf_counter()
    task = asyncio.create_task(stream.run())
    try:
        await asyncio.wait_for(done.wait(), 120)
        elapsed = time.perf_counter() - start
        for sync in stream.books.values():
            assert sync.state is BookState.LIVE, "the book lost its sync"
            assert sync.gaps == 0, "the book saw a gap"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await stream.aclose()
        await rest.aclose()
    return elapsed, received, stream.receipts


async def theirs(
    port: int, symbols: list[str], last_id: int, read_top: bool
) -> tuple[float, dict[tuple[str, int], int]]:
    """python-binance's DepthCacheManager, one a symbol, on the same server."""
    from binance import AsyncClient, BinanceSocketManager, DepthCacheManager

    client = AsyncClient()
    client.API_URL = f"http://127.0.0.1:{port}/api"
    bsm = BinanceSocketManager(client, max_queue_size=1_000_000)
    bsm.STREAM_URL = f"ws://127.0.0.1:{port}/"
    # The loopback server answers no pings; a slow run must not be cut for that.
    bsm.ws_kwargs["ping_interval"] = None
    received: dict[tuple[str, int], int] = {}

    async def follow(symbol: str) -> None:
        dcm = DepthCacheManager(client, symbol, bm=bsm, limit=1000, ws_interval=100)
        async with dcm as cache:
            while True:
                dc = await cache.recv()
                if read_top:
                    dc.get_bids()[:20]
                    dc.get_asks()[:20]
                last = cache._last_update_id
                received[(symbol, last)] = time.perf_counter_ns()
                if last == last_id:
                    return

    start = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(*(follow(s) for s in symbols)), 120)
        elapsed = time.perf_counter() - start
    finally:
        await client.close_connection()
    return elapsed, received


def _throughput(kind: str, n_symbols: int, read_top: bool = False) -> tuple[float, float]:
    """Depth msgs/s, and CPU microseconds a message (this process only)."""
    symbols = bench_symbols(n_symbols)
    _, payloads = load_frames()
    last_id = json.loads(payloads[-1])["u"]
    with loopback(symbols) as (port, _):
        cpu = time.process_time()
        if kind == "ours":
            elapsed, _, _ = asyncio.run(ours(port, symbols, last_id))
        else:
            elapsed, _ = asyncio.run(theirs(port, symbols, last_id, read_top))
        cpu = time.process_time() - cpu
    count = len(payloads) * n_symbols
    return count / elapsed, cpu / count * 1e6


def _ceiling() -> float:
    """Depth msgs/s through ``MarketStream._dispatch`` alone (no socket): parse, apply,
    publish the top 20. What the socket path could reach at best on this machine."""
    snapshot, payloads = load_frames()
    frames = [b'{"stream":"ethusdt@depth@100ms","data":' + p + b"}" for p in payloads]
    snap = depth_snapshot_decoder.decode(snapshot)

    async def once() -> float:
        bus = Bus()
        bus.subscribe("md.book.*", each(lambda t, e: None))
        stream = MarketStream("ws://unused/", BinanceRest("http://unused/api"), bus, ["ETHUSDT"])
        sync = stream.books["ETHUSDT"]
        sync.book.apply_snapshot(snap.last_update_id, snap.bids, snap.asks)
        sync.state = BookState.LIVE
        start = time.perf_counter()
        for frame in frames:
            stream._dispatch(frame)
        elapsed = time.perf_counter() - start
        await stream.rest.aclose()
        return len(frames) / elapsed

    return max(asyncio.run(once()) for _ in range(3))


def _percentiles(lat: list[float]) -> dict[str, float]:
    lat = sorted(lat)
    if not lat:
        return {"samples": 0}
    return {
        "samples": len(lat),
        "p50_ms": round(lat[len(lat) // 2], 3),
        "p99_ms": round(lat[int(len(lat) * 0.99)], 3),
        "max_ms": round(lat[-1], 3),
        "mean_ms": round(statistics.fmean(lat), 3),
    }


def _latency(kind: str, n_symbols: int, pace: float = PACE) -> dict[str, Any]:
    """Latency percentiles at ``pace``, to the last of the bus subscribers.

    From the server's send (``p50_ms``...: includes the time the frame waits in the kernel
    while this process is off the CPU); for ours also from the frame's last byte reaching
    this process (``from_receipt``: our read, parse, queueing behind earlier frames, book
    and bus) and from ``recv`` returning it (``from_recv``: our decode, book and bus)."""
    symbols = bench_symbols(n_symbols)
    _, payloads = load_frames()
    last_id = json.loads(payloads[-1])["u"]
    pace = pace if kind == "ours" else pace / n_symbols  # one socket a symbol for theirs
    receipts: list[int] = []
    with loopback(symbols, pace) as (port, sent_times), _arrival_clock() as chunks:
        if kind == "ours":
            _, received, receipts = asyncio.run(ours(port, symbols, last_id))
        else:
            _, received = asyncio.run(theirs(port, symbols, last_id, False))
        sent = sent_times()
    skip = len(payloads) // 20  # the first frames wait for the snapshot: not steady state
    warm = {json.loads(p)["u"] for p in payloads[:skip]}
    # A frame has arrived when a book that includes it reaches the subscriber: the first
    # publication with an update id at or past the frame's (a consumer that falls behind
    # may skip publications; its latency still counts in full).
    published: dict[str, tuple[list[int], list[int]]] = {}
    for (symbol, update_id), at in sorted(received.items(), key=lambda kv: kv[0][1]):
        ids, times = published.setdefault(symbol, ([], []))
        ids.append(update_id)
        times.append(at)
    # One connection, in order, and the paced frames are the last bytes and frames it
    # carries: the k-th paced frame is read k-th among the last len(sent), and its last
    # byte came in the chunk that reaches its end offset counted from the stream's end.
    offset = len(receipts) - len(sent)
    sizes = {
        json.loads(p)["u"]: len(_ws_frame(b'{"stream":"e00usdt@depth@100ms","data":' + p + b"}"))
        for p in payloads
    }
    ends = list(itertools.accumulate(sizes[u] for _, u, _ in sent))
    cum = list(itertools.accumulate(n for _, n in chunks))
    start = (cum[-1] - ends[-1]) if cum and ends else -1
    lat: list[float] = []
    from_receipt: list[float] = []
    from_recv: list[float] = []
    for k, (symbol, update_id, sent_ns) in enumerate(sent):
        if update_id in warm or symbol not in published:
            continue
        ids, times = published[symbol]
        i = bisect.bisect_left(ids, update_id)
        if i >= len(ids):
            continue
        lat.append((times[i] - sent_ns) / 1e6)
        if kind == "ours" and offset >= 0 and start >= 0:
            arrived = chunks[bisect.bisect_left(cum, start + ends[k])][0]
            from_receipt.append((times[i] - arrived) / 1e6)
            from_recv.append((times[i] - receipts[offset + k]) / 1e6)
    result: dict[str, Any] = _percentiles(lat)
    if from_receipt:
        result["from_receipt"] = _percentiles(from_receipt)
        result["from_recv"] = _percentiles(from_recv)
    return result


def _wakeup_lateness(seconds: float = 2.0, rate: float = PACE) -> dict[str, float]:
    """The machine's own noise: a process that does nothing but sleep until the next of
    ``rate`` ticks a second, and how late it wakes (ms). A p99 here near 1 ms means no
    process on this machine, at this moment, could promise a 1 ms p99 at that rate."""
    late = []
    start = due = time.perf_counter()
    while due - start < seconds:
        due += 1 / rate
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        late.append((time.perf_counter() - due) * 1000)
    late.sort()
    return {
        "p50_ms": round(late[len(late) // 2], 3),
        "p99_ms": round(late[int(len(late) * 0.99)], 3),
        "max_ms": round(late[-1], 3),
    }


def run(quick: bool = False) -> list[Result]:
    """Throughput, latency and the python-binance baseline, on the recorded frames."""
    n = 3 if quick else 10
    our_rate, our_cpu = _throughput("ours", n)
    their_rate, their_cpu = _throughput("theirs", n)
    their_top_rate, their_top_cpu = _throughput("theirs", n, read_top=True)
    ceiling = _ceiling()
    # Three runs, the one with the median p99 reported (all three p99s shown): on two
    # shared cores one preemption of a few ms moves a one-run p99 by that much. The
    # machine's wake-up lateness is measured around them, as the noise floor.
    noise_before = _wakeup_lateness()
    runs = sorted((_latency("ours", n) for _ in range(3)), key=lambda r: r.get("p99_ms", 1e9))
    noise_after = _wakeup_lateness()
    our_lat = runs[1]
    their_lat = _latency("theirs", n)
    our_slow = _latency("ours", n, PACE / 5)
    # The goal is the issue's: from frame receipt (its bytes reaching this process) to the
    # last subscriber. The send-based p99 adds the time the kernel held the frame while this
    # process was off the CPU; it is reported, and compared with python-binance's.
    p99_send = our_lat.get("p99_ms", float("inf"))
    p99 = our_lat.get("from_receipt", {}).get("p99_ms", float("inf"))
    return [
        Result(
            name="connector.depth_throughput",
            figures={
                "symbols": n,
                "depth_msgs": n * len(load_frames()[1]),
                "ours_msgs_per_s": round(our_rate),
                "python_binance_msgs_per_s": round(their_rate),
                "python_binance_with_top20_msgs_per_s": round(their_top_rate),
                "ours_cpu_us_per_msg": round(our_cpu, 1),
                "python_binance_cpu_us_per_msg": round(their_cpu, 1),
                "python_binance_with_top20_cpu_us_per_msg": round(their_top_cpu, 1),
                "ours_in_process_ceiling_msgs_per_s": round(ceiling),
                "levels_per_msg": 31,
            },
            baseline="python-binance 1.0 DepthCacheManager (apply only), same frames and server",
            ratio=our_rate / their_rate,
            goal=f">= {GOAL_MSGS:,} depth msgs/s through MarketStream + BookSync",
            met=our_rate >= GOAL_MSGS,
            notes="ours publishes the top 20 levels a side on every update; the apply-only "
            "baseline does less work than that. The recorded frames are heavy (31 levels, "
            "1 kB each). python-binance spends most of its wall time idle between messages "
            "(its reader task, queue and wait_for per message); its CPU per message is the "
            "fairer work figure",
        ),
        Result(
            name="connector.depth_latency",
            figures={
                "pace_msgs_per_s": PACE,
                "symbols": n,
                "subscribers": SUBSCRIBERS,
                **our_lat,
                "p99_ms_of_runs": [r.get("p99_ms") for r in runs],
            },
            baseline="python-binance DepthCacheManager at the same total pace",
            ratio=their_lat.get("p99_ms", 0.0) / p99_send if p99_send else 0.0,
            goal=f"p99 <= {GOAL_P99_MS} ms from frame receipt to the last of "
            f"{SUBSCRIBERS} bus subscribers (from_receipt)",
            met=p99 <= GOAL_P99_MS,
            notes="from_receipt starts when the frame's bytes reach this process (the "
            "issue's 'frame receipt'), from_recv when websockets hands it to us; the top "
            "figures start at the server's send, which also counts the time the kernel held "
            "the frame while this process was off the CPU (compare machine_wakeup_lateness, "
            "a process doing nothing but waking 10,000 times a second). ratio compares the "
            "send-based p99s, the only one python-binance has",
            extra={
                "python_binance": their_lat,
                f"ours_at_{PACE // 5}_msgs_per_s": our_slow,
                "machine_wakeup_lateness": {"before": noise_before, "after": noise_after},
            },
        ),
    ]


# ---------------------------------------------------------------------------------------
# The drill: the whole connector against the sim with faults on, and its invariants.
# The integration tests, the soak test and ``--soak`` all use it.
# ---------------------------------------------------------------------------------------

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


@dataclass
class DrillFaults:
    """Which faults a drill turns on (each alone is a scenario; all together is the mix)."""

    gaps: bool = False
    drops: bool = False
    delay: bool = False
    stall: bool = False
    fail_orders: bool = False
    skew: bool = False
    throttle: bool = False
    renew: bool = False

    @classmethod
    def everything(cls) -> DrillFaults:
        """Every fault at once."""
        return cls(True, True, True, True, True, True, True, True)


class Drill:
    """A sim, and the connector wired as the runtime wires it: market stream, REST,
    user data with reconciliation on every (re)subscription, and the order manager on the
    bus, with a trader placing, and now and then cancelling, orders through the bus."""

    def __init__(self, sim: SimVenue, faults: DrillFaults) -> None:
        self.sim = sim
        self.faults = faults
        self.bus = Bus()
        creds = Credentials(*sim.demo_key)
        self.rest = BinanceRest(sim.rest_url, creds, bus=self.bus)
        self.stream = MarketStream(
            sim.stream_url,
            self.rest,
            self.bus,
            SYMBOLS,
            watchdog_s=1.0,
            max_backoff_s=1.0,
            max_life_s=1.5 if faults.renew else 3600.0,
        )
        self.manager = OrderManager(self.bus, BinanceExecution(self.rest), SYMBOLS)
        self.manager.register()
        self.user = UserDataStream(
            sim.ws_api_url,
            creds,
            self.bus,
            max_backoff_s=1.0,
            on_subscribed=self._reconcile,
            clock_ms=self.rest.now_ms,
            resync_clock=self.rest.sync_time,
            max_life_s=2.5 if faults.renew else 3600.0,
        )
        self.placed = 0
        self.refused: dict[int | None, int] = {}
        self.unknown = 0
        self.timeouts = 0
        self.banned = 0
        self.reconciles = 0
        # Checked as they happen, not kept (a 30-minute soak sends tens of thousands): a
        # request sent after a 429/418 arrived and inside its Retry-After is noted.
        self.requests = 0
        self.throttled = 0  # 429/418 answers seen
        self.early: list[str] = []  # requests sent inside a Retry-After (a few kept)
        self.early_total = 0
        self._wait_until = 0.0  # monotonic: the latest end of a Retry-After we were given
        # Crossed books published (the soak's "zero crossed books"): counted on the bus.
        self.crossed = 0
        self.bus.subscribe("md.book.*", each(self._check_crossed), name="drill.crossed")
        # What the bus said of our orders and fills, as the screen and the store hear it
        # (the order manager keeps only recent ones): the newest state of every order, and
        # every fill once, with how many times a fill was said again.
        self.said_orders: dict[str, Order] = {}
        self.said_fills: dict[tuple[str, int], tuple[Decimal, Decimal, int]] = {}
        self.fills_said_again = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self.bus.subscribe(topics.ORDER, each(self._on_order))
        self.rest._http.event_hooks["request"].append(self._on_request)
        self.rest._http.event_hooks["response"].append(self._on_response)

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, faults: DrillFaults, seed: int = 5) -> AsyncIterator[Drill]:
        """A running drill (connected, books live, user data subscribed)."""
        async with SimVenue.start(symbols=SYMBOLS, seed=seed) as sim:
            drill = cls(sim, faults)
            drill._tasks = [
                asyncio.create_task(drill.stream.run()),
                asyncio.create_task(drill.user.run()),
            ]
            try:
                await drill.wait_live(10.0)
                yield drill
            finally:
                for task in drill._tasks:
                    task.cancel()
                await asyncio.gather(*drill._tasks, return_exceptions=True)
                await drill.stream.aclose()
                await drill.user.aclose()
                await drill.manager.aclose()
                await drill.rest.aclose()

    async def _on_request(self, request: httpx.Request) -> None:
        self.requests += 1
        # 20 ms of slack: our clock reads and the venue's rounding, not a real violation.
        if time.monotonic() < self._wait_until - 0.02:
            self.early_total += 1
            if len(self.early) < 20:
                self.early.append(f"{request.method} {request.url.path}")

    async def _on_response(self, response: httpx.Response) -> None:
        if response.status_code in (429, 418):
            retry = float(response.headers.get("Retry-After", "0"))
            self.throttled += 1
            self._wait_until = max(self._wait_until, time.monotonic() + retry)
            self.banned += response.status_code == 418

    def _on_order(self, topic: str, event: Any) -> None:
        if not isinstance(event, OrderUpdated):
            return
        order, fill = event.report.order, event.report.fill
        if order.status is OrderStatus.UNKNOWN:
            self.unknown += 1
        known = self.said_orders.get(order.client_order_id)
        if known is None or not known.status.is_terminal or order.status.is_terminal:
            self.said_orders[order.client_order_id] = order
        if fill is not None:
            key = (fill.symbol, fill.trade_id)
            if key in self.said_fills:
                self.fills_said_again += 1
            else:
                self.said_fills[key] = (fill.qty, fill.price, fill.order_id)

    async def _reconcile(self) -> None:
        # A failure propagates: the user-data stream tries again, its events held meanwhile.
        await self.manager.reconcile()
        self.reconciles += 1

    async def wait_live(self, timeout: float) -> None:
        """Until every book is live and user data is subscribed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.user.subscribed.is_set() and all(
                s.state is BookState.LIVE for s in self.stream.books.values()
            ):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"not live in {timeout}s: {self.diagnosis()}")

    def diagnosis(self) -> str:
        """Where the connector stands, for a failed check."""
        states = {s: str(b.state) for s, b in self.stream.books.items()}
        rest = self.rest
        return (
            f"books {states}, user subscribed {self.user.subscribed.is_set()}, circuit "
            f"{rest.circuit.state}, blocked for "
            f"{max(0.0, rest._blocked_until - time.monotonic()):.1f}s, weight {rest.weight_used}"
            f" (held {rest.held}), clock offset {rest.offset_ms} ms vs venue "
            f"{self.sim.clock_offset_ms} ms, stream renewals {self.stream.renewals} "
            f"reconnects {self.stream.reconnects}"
        )

    # -- faults and trading -----------------------------------------------------------------

    async def chaos(self, seconds: float) -> None:
        """Turn the chosen faults on, on a schedule, for ``seconds``."""
        f, sim = self.faults, self.sim
        sim.faults.gap_every_s = 1.3 if f.gaps else 0
        sim.faults.close_every_s = 4.0 if f.drops else 0
        sim.faults.delay_ms = 40 if f.delay else 0
        sim.faults.max_connection_s = 2.0 if f.renew else 0
        sim.faults.retry_after_s = 1
        loop = asyncio.get_running_loop()
        start = loop.time()
        beat = 0
        while loop.time() - start < seconds:
            await asyncio.sleep(0.5)
            beat += 1
            if f.fail_orders and beat % 3 == 0:
                sim.faults.fail_orders += 1
            if f.stall and beat % 9 == 4:
                sim.hub.stall_all(1.5)
            if f.throttle and beat % 8 == 2:
                # One 429 a burst, Retry-After 1 s: every request, queued or new, must wait
                # it out (the venue records any that does not, and bans after three).
                sim.faults.throttle = 1
            if f.skew and beat % 10 == 5:
                # Beyond the 10 s receive window: -1021, then one clock resync and a retry.
                sim.clock_offset_ms = 12_000 if sim.clock_offset_ms == 0 else 0
        self.calm()

    def calm(self) -> None:
        """Every fault off (the clock skew stays: the client follows the venue's clock)."""
        faults = self.sim.faults
        faults.gap_every_s = faults.close_every_s = 0
        faults.delay_ms = faults.fail_orders = faults.throttle = 0
        faults.max_connection_s = 0

    async def trade(self, seconds: float, per_second: float = 3.0) -> None:
        """Place orders through the bus: market orders both ways, limits near the touch
        (some fill later), cancels of a resting one now and then."""
        rng = random.Random(11)
        loop = asyncio.get_running_loop()
        start = loop.time()
        while loop.time() - start < seconds:
            await asyncio.sleep(1 / per_second)
            symbol = rng.choice(SYMBOLS)
            qty = Decimal("0.002") if symbol == "BTCUSDT" else Decimal("0.05")
            side = rng.choice([Side.BUY, Side.SELL])
            try:
                if rng.random() < 0.5:
                    req = OrderRequest(
                        symbol=symbol, side=side, type=OrderType.MARKET, quantity=qty
                    )
                else:
                    book = self.sim.engine.books[symbol]
                    touch = book.bids.best() if side is Side.BUY else book.asks.best()
                    if touch is None:
                        continue
                    req = OrderRequest(
                        symbol=symbol,
                        side=side,
                        type=OrderType.LIMIT,
                        time_in_force=TimeInForce.GTC,
                        price=touch,
                        quantity=qty,
                    )
                self.placed += 1
                await self.bus.request(PlaceOrder(request=req))
                resting = self.manager.open_orders(symbol)
                if resting and rng.random() < 0.3:
                    victim = rng.choice(resting).client_order_id
                    await self.bus.request(CancelOrder(symbol=symbol, client_order_id=victim))
            except OrderRefused as exc:
                self.refused[exc.code] = self.refused.get(exc.code, 0) + 1
            except CommandTimeout:
                # Slow under faults (a ban waited out, a clock resync): the manager goes
                # on with it, and its outcome arrives as events.
                self.timeouts += 1

    # -- invariants -------------------------------------------------------------------------

    async def settle(self, timeout: float = 75.0) -> None:
        """After the faults: live again, settlements done, one last reconciliation."""
        self.calm()
        await self.wait_live(timeout)
        for _ in range(int(timeout * 10)):  # placements whose command timed out, still going
            if not any(o.status is OrderStatus.PENDING_NEW for o in self.manager.orders.values()):
                break
            await asyncio.sleep(0.1)
        await self.manager.aclose()  # settlements in flight
        for _ in range(3):
            report = await self.manager.reconcile()
            if not report.orders_changed and not report.fills_added:
                break

    async def converge(self, symbol: str) -> None:
        """Freeze the venue's market; the local book must equal it level by level."""
        sim = self.sim
        sim.generator = None
        sync = self.stream.books[symbol]
        for _ in range(100):
            await asyncio.sleep(0.1)
            if sync.state is BookState.LIVE and (
                sync.book.last_update_id == sim.engine.update_ids[symbol]
            ):
                break
        assert sync.state is BookState.LIVE, f"{symbol} is {sync.state}: {self.diagnosis()}"
        assert sync.book.last_update_id == sim.engine.update_ids[symbol], (
            f"{symbol}: local book at {sync.book.last_update_id}, venue at "
            f"{sim.engine.update_ids[symbol]}; {sync.gaps} gaps, {sync.resyncs} resyncs; "
            f"{self.diagnosis()}"
        )
        venue = sim.engine.books[symbol]
        want_bids = {float(p): float(q) for p, q in venue.bids.depth(100_000)}
        want_asks = {float(p): float(q) for p, q in venue.asks.depth(100_000)}
        assert sync.book.levels(Side.BUY) == want_bids, f"{symbol} bids differ"
        assert sync.book.levels(Side.SELL) == want_asks, f"{symbol} asks differ"

    def check_fills(self) -> int:
        """The fills published on the bus are exactly the venue's trades for the account;
        their count."""
        venue = {
            (t["symbol"], int(t["id"])): (Decimal(t["qty"]), Decimal(t["price"]))
            for t in self.sim.my_trades.get(1, [])
        }
        ours = {k: (qty, price) for k, (qty, price, _) in self.said_fills.items()}
        lost = sorted(set(venue) - set(ours))
        extra = sorted(set(ours) - set(venue))
        assert not lost, f"fills lost: {lost[:5]}"
        assert not extra, f"fills we have that the venue never made: {extra[:5]}"
        assert ours == venue, "a fill's quantity or price differs from the venue's"
        return len(venue)

    def check_orders(self) -> Counter[str]:
        """Every order the bus told of is, as last told, in its true state (none UNKNOWN,
        none left PENDING_NEW); statuses counted."""
        engine = self.sim.engine
        account = engine.accounts[1]
        statuses: Counter[str] = Counter()
        by_order: dict[int, Decimal] = {}
        for qty, _price, order_id in self.said_fills.values():
            by_order[order_id] = by_order.get(order_id, Decimal(0)) + qty
        for client_id, order in self.said_orders.items():
            truth = engine.find_order(account, order.symbol, client_order_id=client_id)
            statuses[str(order.status)] += 1
            assert order.status is not OrderStatus.UNKNOWN, f"{client_id} still UNKNOWN"
            if truth is None:
                assert order.status is OrderStatus.REJECTED, f"{client_id}: venue never saw it"
                continue
            assert order.status is truth.status, f"{client_id}: {order.status} != {truth.status}"
            assert order.filled_qty == truth.executed_qty, f"{client_id}: filled qty differs"
            assert by_order.get(truth.order_id, Decimal(0)) == truth.executed_qty, (
                f"{client_id}: its fills do not add up to its filled quantity"
            )
        return statuses

    def check_no_spinning(self) -> int:
        """No request was sent while a ``Retry-After`` was running; the 429s seen.

        Seen from both ends: our side (a request sent after a 429/418 arrived, inside its
        ``Retry-After``) and the venue's (a request that reached it while a ``Retry-After``
        it gave was running, less those plainly in flight when it was written)."""
        # Requests sent before the 429 arrived were already in flight: not counted.
        assert not self.early_total, (
            f"{self.early_total} requests inside a Retry-After: {self.early}"
        )
        ignored = list(self.sim.ignored_retry_after)
        assert not ignored, f"the venue saw {len(ignored)} requests inside a Retry-After: {ignored}"
        return self.throttled

    async def verify(self) -> dict[str, Any]:
        """Every invariant after a run; a summary of what happened."""
        await self.settle()
        for symbol in SYMBOLS:
            await self.converge(symbol)
        fills = self.check_fills()
        statuses = self.check_orders()
        throttled = self.check_no_spinning()
        return {
            "placed": self.placed,
            "orders": dict(statuses),
            "fills": fills,
            "unknown_settled": self.unknown,
            "command_timeouts": self.timeouts,
            "refused": {str(k): v for k, v in self.refused.items()},
            "throttled_429": throttled,
            "banned_418": self.banned,
            "held_for_weight": self.rest.held,
            "requests": self.requests,
            "stream_reconnects": self.stream.reconnects,
            "stream_renewals": self.stream.renewals,
            "user_reconnects": self.user.reconnects,
            "user_renewals": self.user.renewals,
            "gaps": sum(b.gaps for b in self.stream.books.values()),
            "resyncs": sum(b.resyncs for b in self.stream.books.values()),
            "reconciles": self.reconciles,
        }

    def _check_crossed(self, topic: str, event: Any) -> None:
        top = event if isinstance(event, BookTop) else None
        if top is not None and top.bids and top.asks and top.bids[0].price >= top.asks[0].price:
            self.crossed += 1

    def snapshot(self) -> dict[str, Any]:
        """Counters now, without checks (the soak's per-minute line)."""
        return {
            "rss_mb": _rss_mb(),
            "crossed_books": self.crossed,
            "placed": self.placed,
            "fills": len(self.said_fills),
            "fills_said_again": self.fills_said_again,
            "manager_keeps": f"{len(self.manager.orders)} orders, {len(self.manager.fills)} fills",
            "unknown": self.unknown,
            "refused": sum(self.refused.values()),
            "429": self.throttled,
            "418": self.banned,
            "sent_inside_retry_after": self.early_total,
            "ignored_retry_after": self.sim.ignored_retry_after_total,
            "held_for_weight": self.rest.held,
            "weight": self.rest.weight_used,
            "stream_reconnects": self.stream.reconnects,
            "renewals": self.stream.renewals + self.user.renewals,
            "user_reconnects": self.user.reconnects,
            "gaps": sum(b.gaps for b in self.stream.books.values()),
            "resyncs": sum(b.resyncs for b in self.stream.books.values()),
            "books": ",".join(str(b.state) for b in self.stream.books.values()),
        }


def _rss_mb() -> float:
    """This process's resident memory in MB (Linux), to see that a soak stays flat."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


async def drill_run(faults: DrillFaults, seconds: float, seed: int = 5) -> dict[str, Any]:
    """One drill: faults and trading for ``seconds``, then every invariant checked."""
    async with Drill.start(faults, seed=seed) as drill:
        await asyncio.gather(drill.chaos(seconds), drill.trade(seconds))
        return await drill.verify()


# ---------------------------------------------------------------------------------------
# The soak: the drill with every fault on, for as long as asked.
# ---------------------------------------------------------------------------------------


#: Frames kept per allocation in a long soak: enough to find, above a library's frames, the
#: code of ours or of the sim that asked for the memory.
TRACE_FRAMES = 10


def _owner(traceback: tracemalloc.Traceback) -> str:
    """Whose memory an allocation is. Any frame of the sim makes it the sim's (it calls
    shared domain code, and aiohttp's web server serves only the sim here); otherwise
    the innermost frame of our code or of this harness decides (a library allocating for
    the connector counts as the connector's)."""
    names = [frame.filename for frame in traceback]
    if any("/venues/sim/" in name or "/aiohttp/web_" in name for name in names):
        return "sim"
    for name in reversed(names):  # most recent first
        if "/omnitrade_tui/" in name:
            return "ours"
        if "/benchmarks/" in name:
            return "harness"
    return "libraries"


def _traced_mb() -> dict[str, float]:
    """Live Python memory by whose it is: the simulated venue's (it runs in this process,
    and an exchange keeps every order and trade), ours (connector, order manager, bus),
    this harness's (it keeps every order and fill the bus told of, to check them against
    the venue's), and libraries' on nobody's behalf that could be told. RSS alone mixes
    them, and the allocator's arenas besides."""
    if not tracemalloc.is_tracing():
        return {}
    sizes = {"sim": 0, "ours": 0, "harness": 0, "libraries": 0}
    for stat in tracemalloc.take_snapshot().statistics("traceback"):
        sizes[_owner(stat.traceback)] += stat.size
    return {f"traced_{k}_mb": round(v / 2**20, 2) for k, v in sizes.items()}


async def _soak(seconds: float, every_s: float) -> dict[str, Any]:
    async with Drill.start(DrillFaults.everything()) as drill:
        started = time.monotonic()

        async def report() -> None:
            while True:
                await asyncio.sleep(every_s)
                elapsed = round((time.monotonic() - started) / 60, 1)
                line = {"minute": elapsed, **drill.snapshot(), **_traced_mb()}
                print(json.dumps(line), flush=True)

        reporter = asyncio.create_task(report())
        try:
            await asyncio.gather(drill.chaos(seconds), drill.trade(seconds))
        finally:
            reporter.cancel()
        try:
            verified = await asyncio.wait_for(drill.verify(), 120)
            return {**drill.snapshot(), **verified}
        except TimeoutError:
            stuck = drill.snapshot()
            raise AssertionError(f"not settled 120 s after the faults: {stuck}") from None


def soak(seconds: float, every_s: float = 60.0) -> list[Result]:
    """Every fault on for ``seconds`` with orders flowing; every invariant checked after."""
    start = time.monotonic()
    # Resyncs under faults are expected by the hundred: keep the per-minute lines readable.
    logging.getLogger("omnitrade_tui").setLevel(logging.ERROR)
    if seconds >= 600:  # long soaks: where the memory goes, each minute (one frame a block)
        tracemalloc.start(TRACE_FRAMES)
    try:
        summary = asyncio.run(_soak(seconds, every_s))
        met, notes = True, "book converged; fills equal the venue's; no order left UNKNOWN"
        if summary.get("crossed_books"):
            met, notes = False, f"{summary['crossed_books']} crossed books were published"
    except AssertionError as exc:
        summary, met, notes = {}, False, f"invariant broken: {exc}"
    return [
        Result(
            name="connector.soak",
            figures={"seconds": round(time.monotonic() - start, 1), **summary},
            baseline="none (an invariant check)",
            ratio=1.0 if met else 0.0,
            goal="after all faults: books equal the venue's, no fill lost or doubled, "
            "every UNKNOWN order settled",
            met=met,
            notes=notes,
        )
    ]
