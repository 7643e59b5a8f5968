"""Property-based fuzzing of the gateway's frames over a real gateway (the engine on the sim,
served on loopback): wrong types, unknown tags and commands, mutated commands, huge and
deeply nested input, random bytes and text.

For every frame the gateway either answers it (a reply with its id; a refusal carries a
reason, and never the catch-all's "reference": nothing the fuzzer sends is unplanned for)
or, for a frame it cannot read, says why (Goodbye ``CLOSE_BAD_FRAME``, or the socket's 1009
for one larger than a frame may be) and closes that connection only. After each frame a
probe must be answered (on the same connection, or on a new one after a close), so the
service keeps serving; at the end the gateway holds no leftover requests, terminals or
patterns beyond its caps, and the process's memory did not grow with what was sent.

The gateway runs in a thread of its own with its own event loop, so hypothesis drives it
from plain synchronous code (``websockets.sync``), one frame at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import urllib.request
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from benchmarks.drill import rss_mb
from omnitrade_tui.domain import commands as c
from omnitrade_tui.domain.enums import OrderType, Side, TimeInForce
from omnitrade_tui.domain.models import OrderRequest
from omnitrade_tui.gateway import protocol as wire
from omnitrade_tui.gateway.admission import InputLimits, Refused, check_shape
from omnitrade_tui.gateway.auth import AuthService
from omnitrade_tui.gateway.passwords import Passwords
from omnitrade_tui.gateway.server import ServerLimits
from omnitrade_tui.gateway.service import Listen, RunningGateway, run_gateway
from omnitrade_tui.gateway.throttle import CommandLimiter, LoginGuard, RateLimiter
from omnitrade_tui.store.gateway_repository import GatewayRepository
from tests.gateway.conftest import PASSWORD, with_users
from tests.test_runtime import sim_settings

T = TypeVar("T")
LIMITS = InputLimits()
PROBE_BASE = 1 << 60


@dataclass
class Served:
    """A gateway served from a thread's event loop, and one viewer's connection to it."""

    gw: RunningGateway
    loop: asyncio.AbstractEventLoop
    token: str = ""
    conn: ClientConnection | None = None
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    probes: int = 0
    seen: dict[str, int] = field(default_factory=dict)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the gateway's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def login(self) -> None:
        """A viewer's access token, by the HTTP login."""
        body = json.dumps({"username": "vic", "password": PASSWORD}).encode()
        request = urllib.request.Request(
            self.gw.url + "/auth/login", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            self.token = json.loads(resp.read())["access_token"]

    def connection(self) -> ClientConnection:
        """The open connection, or a new one (past its Welcome) if the last was closed."""
        if self.conn is None:
            conn = self.stack.enter_context(
                connect(
                    self.gw.url.replace("http", "ws") + "/ws",
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    max_size=None,
                    open_timeout=10,
                )
            )
            welcome = wire.decode_gateway_frame(conn.recv(timeout=10, decode=False))
            assert isinstance(welcome, wire.Welcome)
            self.conn = conn
        return self.conn

    def drop(self) -> None:
        """Forget a connection the gateway closed."""
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.stack.close()
            self.conn = None

    def count(self, what: str) -> None:
        """Tally an outcome (shown when the run ends)."""
        self.seen[what] = self.seen.get(what, 0) + 1


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, fast_passwords: Passwords) -> Iterator[Served]:
    """A gateway on the sim whose rate limit is out of the way (the fuzzer sends fast)."""
    tmp: Path = tmp_path_factory.mktemp("fuzz")

    def make(repo: GatewayRepository, secret: bytes) -> AuthService:
        fast = CommandLimiter(RateLimiter(1e6, 1e6), RateLimiter(1e6, 1e6))
        return AuthService(
            repo, secret, passwords=fast_passwords, limiter=fast, guard=LoginGuard(100)
        )

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fuzzed-gateway", daemon=True)
    thread.start()
    running = run_gateway(
        sim_settings(tmp),
        Listen("127.0.0.1", 0),
        auth_factory=make,
        limits=ServerLimits(),
        record=False,
    )
    gw = asyncio.run_coroutine_threadsafe(running.__aenter__(), loop).result(60)
    state = Served(gw, loop)
    try:
        state.run(with_users(gw))
        state.login()
        yield state
    finally:
        state.drop()
        asyncio.run_coroutine_threadsafe(running.__aexit__(None, None, None), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


# -- what the fuzzer sends --------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text(max_size=40)
    | st.binary(max_size=40)
)
values = st.recursive(
    scalars,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=25,
)
ids = st.integers(min_value=-(2**63), max_value=2**63 - 1) | values
tags = st.sampled_from(["sub", "unsub", "req", "reauth", "ev", "rep", "bye"]) | st.text(max_size=6)
patterns = st.sampled_from(["md.>", "md.book.*", "cmd.>", ">", "exec.order", "a..b", ""]) | (
    st.text(max_size=200)
)


def _order(symbol: str = "BTCUSDT") -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal("0.001"),
        price=Decimal("1000"),
        time_in_force=TimeInForce.GTC,
        client_order_id="fuzz-1",
    )


SAMPLES: list[c.Command[Any]] = [
    c.SubscribeSymbol(symbol="BTCUSDT"),
    c.SubscribeSymbol(symbol="ETHUSDT", active=False),
    c.PlaceOrder(request=_order()),
    c.CancelOrder(symbol="BTCUSDT", client_order_id="fuzz-1"),
    c.CancelAll(symbol="BTCUSDT"),
    c.CandleHistory(symbol="BTCUSDT", interval="1m", limit=5),
    c.VenueCandles(symbol="BTCUSDT", interval="1m", limit=5),
    c.OrderHistory(limit=5),
    c.EngageKillSwitch(reason="fuzz"),
]
NAMES = sorted({s.name for s in SAMPLES} | {"gateway.users.list", "gateway.users.add"})


def _often(draw: st.DrawFn, n: int = 4) -> bool:
    """True about ``n`` times in ``n + 1``: most frames should be readable, so that what
    they carry reaches the gateway's checks instead of the frame decoder's."""
    return draw(st.sampled_from([True] * n + [False]))


@st.composite
def mutated_command(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """A real command's name, kind and body, mostly with one field replaced, added or
    dropped, sometimes under another name or kind."""
    command = draw(st.sampled_from(SAMPLES))
    body = msgspec.to_builtins(command)
    assert isinstance(body, dict)
    if _often(draw):
        key = draw(st.sampled_from([*body, "extra"]))
        if draw(st.booleans()) and key in body:
            del body[key]
        else:
            body[key] = draw(values | st.text(min_size=1000, max_size=12_000))
    kind = type(command).__name__
    if not _often(draw):
        kind = draw(st.sampled_from(["plain", "list:Candle", "PlaceOco", "Welcome"]) | st.text())
    name = command.name
    if not _often(draw):
        name = draw(st.sampled_from(NAMES) | st.text(max_size=20))
    return name, kind, msgspec.msgpack.encode(body)


@st.composite
def structured(draw: st.DrawFn) -> bytes:
    """A frame-shaped array: mostly a known tag, an int id and fields of the right number,
    their values often of the wrong type."""
    tag = draw(st.sampled_from(["req", "req", "req", "sub", "unsub", "reauth"]))
    if not _often(draw, 9):
        tag = draw(tags)
    frame_id: Any = draw(st.integers(min_value=0, max_value=2**31))
    if not _often(draw, 9):
        frame_id = draw(ids)
    head = msgspec.msgpack.encode(tag) + msgspec.msgpack.encode(frame_id)
    if tag == "req" and _often(draw):
        name, kind, body = draw(mutated_command())
        return b"\x95" + head + msgspec.msgpack.encode(name) + msgspec.msgpack.encode(kind) + body
    if tag in ("sub", "unsub") and _often(draw):
        return b"\x93" + head + msgspec.msgpack.encode(draw(patterns))
    if tag == "reauth" and _often(draw):
        return b"\x93" + head + msgspec.msgpack.encode(draw(st.text(max_size=300)))
    return msgspec.msgpack.encode([tag, frame_id, *draw(st.lists(values, max_size=5))])


@st.composite
def deep(draw: st.DrawFn) -> bytes:
    """A request whose body nests ``depth`` arrays (up to 50,000: past any frame's size)."""
    depth = draw(st.integers(min_value=10, max_value=50_000))
    head = b"\x95\xa3req\x07\xacmd.subscribe\xafSubscribeSymbol"
    return head + b"\x91" * depth + b"\x01"


@st.composite
def huge(draw: st.DrawFn) -> bytes:
    """A frame from just under to far over the size a frame may be."""
    size = draw(st.integers(min_value=LIMITS.max_frame_bytes - 64, max_value=200_000))
    pattern = "md.book." + "A" * size
    return msgspec.msgpack.encode(["sub", 9, pattern])


@st.composite
def frames(draw: st.DrawFn) -> bytes | str:
    """Mostly frame-shaped arrays (what reaches the gateway's checks), else the unreadable:
    deep, huge, random bytes, text."""
    if _often(draw):
        return draw(structured())
    unreadable: st.SearchStrategy[bytes | str] = (
        deep() | huge() | st.binary(max_size=300) | st.text(max_size=100)
    )
    return draw(unreadable)


# -- what the gateway must do -----------------------------------------------------------------


def _expected_id(frame: bytes | str) -> int | None:
    """The id a reply must carry, or None if the gateway must refuse the frame and close."""
    if isinstance(frame, str) or len(frame) > LIMITS.max_frame_bytes:
        return None
    try:
        check_shape(frame, LIMITS.max_depth, LIMITS.max_values)
        return wire.decode_terminal_frame(frame).id
    except (Refused, msgspec.DecodeError):
        return None


def _read_until(served: Served, conn: ClientConnection, wanted: int) -> wire.ReplyIn | None:
    """Read frames until the reply with id ``wanted`` (None: the gateway closed, saying why)."""
    while True:
        data: str | bytes | None = None
        lost: ConnectionClosed | None = None
        try:
            data = conn.recv(timeout=10)
        except ConnectionClosed as exc:
            lost = exc
        if lost is not None:
            closed = lost.rcvd
            assert closed is not None, "closed without a close frame"
            assert closed.code in (wire.CLOSE_BAD_FRAME, 1009), closed
            served.count(f"closed {closed.code}")
            served.drop()
            return None
        assert isinstance(data, bytes)
        frame = wire.decode_gateway_frame(data)
        if isinstance(frame, wire.Goodbye):
            assert frame.code == wire.CLOSE_BAD_FRAME and frame.reason, frame
            continue  # the close follows
        if isinstance(frame, wire.ReplyIn):
            if not frame.ok:
                assert frame.error, frame
                # Every refusal is a planned one: the catch-all's reference never shows.
                assert "reference" not in frame.error, frame.error
            if frame.id == wanted:
                return frame


@pytest.mark.slow
@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(frame=frames())
def test_every_frame_is_answered_or_refused_and_the_gateway_serves_on(
    served: Served, frame: bytes | str
) -> None:
    conn = served.connection()
    expected = _expected_id(frame)
    try:
        conn.send(frame)
    except ConnectionClosed:  # closed while we sent (a huge frame): it said why
        expected = None
    if expected is None:
        assert _read_until(served, conn, -1) is None  # refused, and that connection closed
    else:
        reply = _read_until(served, conn, expected)
        assert reply is not None, "a readable frame closed the connection"
        served.count("answered" if reply.ok else "refused")
    # The service keeps serving: a probe on the same connection, or a new one.
    served.probes += 1
    probe = PROBE_BASE + served.probes
    conn = served.connection()
    conn.send(wire.encode(wire.Unsubscribe(id=probe, pattern="zz.none")))
    answer = _read_until(served, conn, probe)
    assert answer is not None and answer.ok


def test_after_the_fuzzing_nothing_is_left_over_and_memory_is_bounded(served: Served) -> None:
    before = rss_mb()
    # Once more, the worst a viewer may send, a hundred times over one connection each.
    for _ in range(100):
        conn = served.connection()
        with contextlib.suppress(ConnectionClosed):
            conn.send(b"\x95\xa3req\x07\xacmd.subscribe\xafSubscribeSymbol" + b"\x91" * 16_000)
        assert _read_until(served, conn, -1) is None
    grown = rss_mb() - before
    assert grown < 40, f"RSS grew by {grown:.0f} MB over 100 refused frames"
    print("outcomes:", served.seen)  # shown with -s
    server = served.gw.server
    assert not server.in_flight
    assert len(server.terminals) <= 1
    assert all(len(t.patterns) <= LIMITS.max_patterns for t in server.terminals)
    assert served.run(served.gw.runtime.bus.request(c.SubscribeSymbol(symbol="BTCUSDT")))
