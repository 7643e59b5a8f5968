"""The Binance connector: market-data throughput and latency, against python-binance and
the ccxt venue; the soak of the whole connector against the sim (the drill itself is
``benchmarks.drill``); and the order side's parsing (user-data events and order answers into
domain values).

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
on every update). ``ratio`` = ours / python-binance's apply-only figure. (d) The ccxt venue
(``venues/ccxt``) on the same frames: ccxt's Binance class subscribes after connecting, which
the loopback server answers, and keeps its own book; depth msgs/s and CPU a message beside
ours (``ccxt_venue_vs_ours_*``).

``python -m benchmarks connector --soak 1800`` runs the drill with every fault on for
half an hour against the sim in a process of its own, one summary line a minute (with this
process's resident memory, which holds only the connector and the drill, and the venue's),
and checks every invariant at the end.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import gc
import gzip
import hashlib
import itertools
import json
import logging
import multiprocessing as mp
import socket
import statistics
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import msgspec
from websockets.asyncio.client import ClientConnection

from benchmarks.drill import Drill, DrillFaults
from benchmarks.harness import REPO_ROOT, Result, best_of, shared_data_dir
from benchmarks.sim_process import SimProcess
from omnitrade_tui.bus import Bus, each
from omnitrade_tui.domain import Fill, Order
from omnitrade_tui.domain.events import BookState, BookTop
from omnitrade_tui.venues.binance.market_stream import MarketStream
from omnitrade_tui.venues.binance.order_schemas import order_decoder
from omnitrade_tui.venues.binance.rest import BinanceRest
from omnitrade_tui.venues.binance.schemas import depth_snapshot_decoder
from omnitrade_tui.venues.binance.user_events import parse_execution_report

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


def _read_client_frame(conn: socket.socket) -> bytes:
    """One masked text frame from the client (a SUBSCRIBE request), unmasked."""

    def take(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    head = take(2)
    n = head[1] & 0x7F
    if n == 126:
        n = int.from_bytes(take(2), "big")
    elif n == 127:
        n = int.from_bytes(take(8), "big")
    mask = take(4)
    return bytes(b ^ mask[i % 4] for i, b in enumerate(take(n)))


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
            elif "@" not in url.path:
                # ccxt's form: connect to /ws/<n>, then SUBSCRIBE; acknowledged, and the
                # raw frames of the depth streams it names sent from then on.
                request = json.loads(_read_client_frame(conn))
                conn.sendall(_ws_frame(json.dumps({"result": None, "id": request["id"]}).encode()))
                names = request.get("params", [])
                wanted = [n.split("@")[0].upper() for n in names if "@depth" in n]
                per = [frames.raw[s] for s in wanted if s in frames.raw]
                if not per:
                    while conn.recv(65536):
                        pass
                    return
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


async def ccxt_venue(port: int, symbols: list[str], last_id: int) -> float:
    """Seconds until every book of the ccxt venue (``venues/ccxt``, ccxt's Binance class)
    published its last frame, with the same ``SUBSCRIBERS`` bus subscribers as ours.

    ccxt's throttle is off: the loopback server has no weight limit, and ccxt's estimate
    of Binance's (a 1,000-level snapshot counts as 20 requests, 50 ms each) would time the
    throttle, not the book. The markets are set from the sim's instrument list (the
    loopback server answers every HTTP request with the recorded snapshot)."""
    from omnitrade_tui.venues.binance.exchange_info import symbol_entry
    from omnitrade_tui.venues.ccxt.exchange import point_binance_at
    from omnitrade_tui.venues.ccxt.market_data import CcxtMarketData
    from omnitrade_tui.venues.sim.symbols import default_instruments

    bus = Bus()
    done = asyncio.Event()
    finished: set[str] = set()
    latest: dict[str, BookTop] = {}

    def keep(topic: str, top: BookTop) -> None:
        latest[topic] = top

    def on_book(topic: str, top: BookTop) -> None:
        if top.update_id == last_id:
            finished.add(top.symbol)
            if len(finished) == len(symbols):
                done.set()

    for _ in range(SUBSCRIBERS - 1):
        bus.subscribe("md.book.*", each(keep))
    bus.subscribe("md.book.*", each(on_book))
    base = f"127.0.0.1:{port}"
    exchange = point_binance_at(f"http://{base}/api", f"ws://{base}/ws-api/v3", f"ws://{base}/")
    exchange.enableRateLimit = False
    # What ccxt's fetch_markets would have set before parsing (no margin pairs here).
    exchange.options["crossMarginPairsData"] = []
    exchange.options["isolatedMarginPairsData"] = []
    entry = symbol_entry(default_instruments(["ETHUSDT"])[0])
    markets = []
    for symbol in symbols:
        renamed = {**entry, "symbol": symbol, "baseAsset": symbol[:-4]}
        markets.append(exchange.parse_market(renamed))
    exchange.set_markets(markets)
    names = {m["id"]: m["symbol"] for m in markets}
    market = CcxtMarketData(exchange, bus, names, book_levels=20, candle_intervals=(), trades=False)
    start = time.perf_counter()
    task = asyncio.create_task(market.run())
    try:
        await asyncio.wait_for(done.wait(), 300)
        elapsed = time.perf_counter() - start
        assert all(w.gaps == 0 for w in market.books.values()), "a ccxt book saw a gap"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await exchange.close()
    return elapsed


def _throughput(kind: str, n_symbols: int, read_top: bool = False) -> tuple[float, float]:
    """Depth msgs/s, and CPU microseconds a message (this process only)."""
    symbols = bench_symbols(n_symbols)
    _, payloads = load_frames()
    last_id = json.loads(payloads[-1])["u"]
    with loopback(symbols) as (port, _):
        cpu = time.process_time()
        if kind == "ours":
            elapsed, _, _ = asyncio.run(ours(port, symbols, last_id))
        elif kind == "ccxt":
            elapsed = asyncio.run(ccxt_venue(port, symbols, last_id))
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
    ccxt_rate, ccxt_cpu = _throughput("ccxt", n)
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
        _user_data_parse(),
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
                "ccxt_venue_msgs_per_s": round(ccxt_rate),
                "ccxt_venue_cpu_us_per_msg": round(ccxt_cpu, 1),
                "ccxt_venue_vs_ours_msgs_per_s": round(ccxt_rate / our_rate, 3),
                "ccxt_venue_vs_ours_cpu_per_msg": round(ccxt_cpu / our_cpu, 2),
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
            "fairer work figure. The ccxt venue (venues/ccxt through ccxt's Binance class, "
            "one socket a symbol as ccxt opens them, ccxt's throttle off) runs on the same "
            "frames and server, publishing the top 20 like ours",
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


def _user_data_parse(calls: int = 20_000) -> Result:
    """The order side's parsing: a user-data ``executionReport`` frame (a trade) and a FULL
    order answer with five fills, from their bytes to domain values, per call; beside
    python-binance's ``json.loads`` of the same bytes (it hands the caller a dict)."""
    examples = json.loads(
        (REPO_ROOT / "tests/venues/sim/data/binance_doc_examples.json").read_text()
    )
    trade = {
        **examples["events"]["executionReport"],
        "x": "TRADE",
        "X": "PARTIALLY_FILLED",
        "l": "0.4",
        "L": "0.1026",
        "t": 77,
    }
    frame = json.dumps({"subscriptionId": 0, "event": trade}).encode()
    answer = json.dumps(examples["rest"]["POST /api/v3/order"][2]).encode()

    def ours_frame() -> None:
        for _ in range(calls):
            parse_execution_report(msgspec.json.decode(frame)["event"])

    def ours_answer() -> None:
        for _ in range(calls):
            body = order_decoder.decode(answer)
            body.to_fills(body.to_order())

    def json_loads(payload: bytes) -> Any:
        return lambda: [json.loads(payload) for _ in range(calls)]

    us = {
        "ours_execution_report_us": best_of(5, ours_frame),
        "python_binance_execution_report_us": best_of(5, json_loads(frame)),
        "ours_full_order_answer_us": best_of(5, ours_answer),
        "python_binance_full_order_answer_us": best_of(5, json_loads(answer)),
    }
    figures = {k: round(v / calls * 1e6, 2) for k, v in us.items()}
    return Result(
        name="connector.user_data_parse",
        figures=figures,
        baseline="python-binance: json.loads of the same bytes, a dict handed to the caller",
        ratio=figures["python_binance_execution_report_us"] / figures["ours_execution_report_us"],
        notes="ours ends in exact domain values (Decimal, enums, the order and its fill), "
        "checked field by field against the documented schema; the baseline parses JSON "
        "only (ratio = its time / ours)",
    )


# ---------------------------------------------------------------------------------------
# The soak: the drill with every fault on, for as long as asked.
# ---------------------------------------------------------------------------------------


def _live_objects() -> dict[str, int]:
    """Live orders and fills in this process (the order manager's and the drill's): a leak
    of domain objects shows here even without tracing."""
    counts = {"live_orders": 0, "live_fills": 0}
    for obj in gc.get_objects():
        kind = type(obj)
        if kind is Order:
            counts["live_orders"] += 1
        elif kind is Fill:
            counts["live_fills"] += 1
    return counts


def _traced_mb() -> dict[str, float]:
    """Live Python memory in this process by the file that allocated it: ours (connector,
    order manager, bus), the drill's (it keeps every order and fill the bus told of, to
    check them against the venue's at the end), and libraries'. One frame a block: deeper
    tracing slows the process enough to change what the soak tests."""
    if not tracemalloc.is_tracing():
        return {}
    sizes = {"ours": 0, "drill": 0, "libraries": 0}
    for stat in tracemalloc.take_snapshot().statistics("filename"):
        name = stat.traceback[0].filename
        key = "ours" if "/omnitrade_tui/" in name else "drill" if "/benchmarks/" in name else ""
        sizes[key or "libraries"] += stat.size
    return {f"traced_{k}_mb": round(v / 2**20, 2) for k, v in sizes.items()}


async def _soak(seconds: float, every_s: float) -> dict[str, Any]:
    async with (
        SimProcess.start() as venue,
        Drill.start(DrillFaults.everything(), venue=venue) as drill,
    ):
        started = time.monotonic()

        async def line() -> dict[str, Any]:
            return {
                **await drill.snapshot(),
                "venue_rss_mb": venue.rss_mb(),
                **_live_objects(),
                **_traced_mb(),
            }

        async def report() -> None:
            while True:
                await asyncio.sleep(every_s)
                elapsed = round((time.monotonic() - started) / 60, 1)
                print(json.dumps({"minute": elapsed, **await line()}), flush=True)

        reporter = asyncio.create_task(report())
        try:
            await asyncio.gather(drill.chaos(seconds), drill.trade(seconds))
        finally:
            reporter.cancel()
        try:
            verified = await asyncio.wait_for(drill.verify(), 120)
            return {**await line(), **verified}
        except TimeoutError:
            stuck = await line()
            raise AssertionError(f"not settled 120 s after the faults: {stuck}") from None


def soak(seconds: float, every_s: float = 60.0, trace: bool = False) -> list[Result]:
    """Every fault on for ``seconds`` with orders flowing, against the sim in a process of
    its own; every invariant checked after. Memory: this process's RSS each minute (it
    holds only the connector and the drill) and its live orders and fills; with ``trace``,
    Python memory by file too."""
    start = time.monotonic()
    # Resyncs under faults are expected by the hundred: keep the per-minute lines readable.
    logging.getLogger("omnitrade_tui").setLevel(logging.ERROR)
    if trace:
        tracemalloc.start(1)
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
