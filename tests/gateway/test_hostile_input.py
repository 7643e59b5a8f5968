"""Hostile terminals against a real gateway: symbols the venue does not list, caps on what a
user may hold (symbols, patterns, requests in flight, frame size and depth), the rate limit
ahead of the role check, and a catch-all that tells the terminal nothing of the internals."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import msgspec
import pytest

from omnitrade_tui.bus import Bus, contract
from omnitrade_tui.domain import commands as c
from omnitrade_tui.gateway import protocol as wire
from omnitrade_tui.gateway.admission import InputLimits, Refused, check_shape
from omnitrade_tui.gateway.auth import AuthService
from omnitrade_tui.gateway.client import GatewayClient, RemoteRefusal
from omnitrade_tui.gateway.passwords import Passwords
from omnitrade_tui.gateway.server import GatewayServer, RunFacts, ServerLimits
from omnitrade_tui.gateway.service import Listen, RunningGateway, run_gateway
from omnitrade_tui.gateway.throttle import CommandLimiter, RateLimiter
from omnitrade_tui.store.database import open_database
from omnitrade_tui.store.gateway_repository import GatewayRepository
from tests.gateway.conftest import PASSWORD, USERS, auth_factory, with_users
from tests.test_runtime import sim_settings


@contextlib.asynccontextmanager
async def tight_gateway(
    tmp_path: Path, passwords: Passwords, **inputs: Any
) -> AsyncIterator[RunningGateway]:
    """A gateway on the sim whose input caps are the given ones (the rest default)."""
    limits = ServerLimits(inputs=InputLimits(**inputs))
    async with run_gateway(
        sim_settings(tmp_path),
        Listen("127.0.0.1", 0),
        auth_factory=auth_factory(passwords),
        limits=limits,
        record=False,
    ) as gw:
        await with_users(gw)
        yield gw


async def attach(gw: RunningGateway, user: str) -> GatewayClient:
    """A logged-in client of ``user`` that follows nothing."""
    client = GatewayClient(gw.url, user, Bus(), patterns=(), reconnect=False)
    await client.start(PASSWORD)
    return client


async def raw_socket(
    gw: RunningGateway, http: aiohttp.ClientSession, user: str
) -> aiohttp.ClientWebSocketResponse:
    """A WebSocket of ``user`` past its Welcome, for frames no client would send."""
    async with http.post(
        gw.url + "/auth/login", json={"username": user, "password": PASSWORD}
    ) as resp:
        token = (await resp.json())["access_token"]
    ws = await http.ws_connect(
        gw.url.replace("http", "ws") + "/ws", headers={"Authorization": f"Bearer {token}"}
    )
    assert isinstance(wire.decode_gateway_frame((await ws.receive()).data), wire.Welcome)
    return ws


async def healthy(gw: RunningGateway) -> bool:
    """Whether the gateway still answers ``/healthz``."""
    async with aiohttp.ClientSession() as http, http.get(gw.url + "/healthz") as resp:
        return resp.status == 200


async def test_a_symbol_the_venue_does_not_list_never_reaches_the_engine(
    gateway: RunningGateway,
) -> None:
    viewer = await attach(gateway, "vic")
    stream = gateway.runtime.market_stream
    before = set(stream.books)
    try:
        for symbol in ("X" * 10_000, "NOPEUSDT", "btcusdt", "BTCUSDT/x@depth"):
            with pytest.raises(RemoteRefusal) as refused:
                await viewer.request(c.SubscribeSymbol(symbol=symbol))
            assert "is not a symbol this venue lists" in refused.value.reason
            assert len(refused.value.reason) < 200  # never echoes the 10,000 characters
        # Nothing reached the engine: its streams and the URL a reconnect would use.
        assert set(stream.books) == before
        assert "nope" not in stream.url and "xxxx" not in stream.url
        # The same check covers every command that names a symbol, or an id for the venue.
        for command in (
            c.VenueCandles(symbol="NOPEUSDT", interval="1m", limit=5),
            c.CandleHistory(symbol="BTCUSDT", interval="1m/../x", limit=5),
            c.VenueCandles(symbol="BTCUSDT", interval="1m", limit=100_000),
        ):
            with pytest.raises(RemoteRefusal):
                await viewer.request(command)
        trader = await attach(gateway, "tom")
        try:
            with pytest.raises(RemoteRefusal) as refused:
                await trader.request(c.CancelOrder(symbol="BTCUSDT", client_order_id="a&b=c" * 20))
            assert "not a valid client order id" in refused.value.reason
        finally:
            await trader.aclose()
        assert await viewer.request(c.SubscribeSymbol(symbol="BTCUSDT")) is True
        audit = await gateway.auth.audit.recent(50, username="vic")
        assert sum(r.action == "md.subscribe" and r.outcome == "denied" for r in audit) == 4
    finally:
        await viewer.aclose()


async def test_a_user_adds_only_so_many_symbols(tmp_path: Path, fast_passwords: Passwords) -> None:
    async with tight_gateway(tmp_path, fast_passwords, max_symbols_per_user=1) as gw:
        admin = await attach(gw, "ann")
        viewer = await attach(gw, "vic")
        try:
            for symbol in ("ETHUSDT", "SOLUSDT"):  # followed no more: each would be new
                assert await admin.request(c.SubscribeSymbol(symbol=symbol, active=False))
            assert await viewer.request(c.SubscribeSymbol(symbol="ETHUSDT")) is True
            assert await viewer.request(c.SubscribeSymbol(symbol="BTCUSDT")) is True  # followed
            with pytest.raises(RemoteRefusal) as refused:
                await viewer.request(c.SubscribeSymbol(symbol="SOLUSDT"))
            assert "the most a user may add" in refused.value.reason
            assert "SOLUSDT" not in gw.runtime.market_stream.books
            # Another user has a budget of their own.
            assert await admin.request(c.SubscribeSymbol(symbol="SOLUSDT")) is True
        finally:
            await viewer.aclose()
            await admin.aclose()


async def test_the_gateway_follows_only_so_many_symbols_for_everyone(
    tmp_path: Path, fast_passwords: Passwords
) -> None:
    """The gateway-wide cap needs a venue that lists more than the watchlist: the real
    server over a bus whose engine is a stand-in that follows what it is told."""
    repo = GatewayRepository(await open_database(str(tmp_path / "gw.db")))
    auth = AuthService(repo, b"s" * 32, passwords=fast_passwords)
    for name, role in USERS.items():
        await auth.users.add(name, role, PASSWORD)
    followed: list[str] = []

    async def follow(command: c.SubscribeSymbol) -> bool:
        followed.append(command.symbol)
        return True

    bus = Bus()
    bus.handle(c.SubscribeSymbol, follow)
    facts = RunFacts("test", "TEST", False, ("BTCUSDT",), (), Decimal("0.001"))
    listed = frozenset({"BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"})
    server = GatewayServer(
        bus, auth, facts, limits=ServerLimits(inputs=InputLimits(max_symbols=2)), listed=listed
    )
    url = await server.start("127.0.0.1", 0)
    clients = []
    try:
        for name in ("vic", "tom", "ann"):
            client = GatewayClient(url, name, Bus(), patterns=(), reconnect=False)
            await client.start(PASSWORD)
            clients.append(client)
        vic, tom, ann = clients
        assert await vic.request(c.SubscribeSymbol(symbol="ETHUSDT")) is True
        assert await tom.request(c.SubscribeSymbol(symbol="SOLUSDT")) is True
        with pytest.raises(RemoteRefusal) as refused:
            await ann.request(c.SubscribeSymbol(symbol="BNBUSDT"))
        assert "follows 3 symbols, its most" in refused.value.reason
        assert followed == ["ETHUSDT", "SOLUSDT"]
        # An admin's unsubscription gives the room back.
        assert await ann.request(c.SubscribeSymbol(symbol="ETHUSDT", active=False))
        assert await ann.request(c.SubscribeSymbol(symbol="BNBUSDT")) is True
    finally:
        for client in clients:
            await client.aclose()
        await server.aclose()
        await repo.close()


class Linger(c.Command[bool], frozen=True, kw_only=True):
    """A command whose handler takes a while (tests only; admin-only, as every unknown)."""

    name: ClassVar[str] = "test.linger"


contract.declare(Linger)  # a command of the test's own, so it may cross the wire


async def test_patterns_and_requests_in_flight_are_capped(
    tmp_path: Path, fast_passwords: Passwords
) -> None:
    async with tight_gateway(
        tmp_path, fast_passwords, max_patterns=3, max_pattern_len=32, max_tasks_per_user=2
    ) as gw:

        async def linger(_: Linger) -> bool:
            await asyncio.sleep(0.3)
            return True

        gw.runtime.bus.handle(Linger, linger)
        admin = await attach(gw, "ann")
        try:
            with pytest.raises(RemoteRefusal) as refused:
                await admin._call(wire.Subscribe(id=1, pattern="md.book." + "A" * 100))
            assert "at most 32 characters" in refused.value.reason
            for n, pattern in enumerate(("md.book.*", "md.trade.*", "md.ticker.*")):
                await admin._call(wire.Subscribe(id=10 + n, pattern=pattern))
            await admin._call(wire.Subscribe(id=20, pattern="md.book.*"))  # again: no new
            with pytest.raises(RemoteRefusal) as refused:
                await admin._call(wire.Subscribe(id=21, pattern="md.health.*"))
            assert "at most 3 patterns" in refused.value.reason
            # Requests beyond two in flight are refused, not queued as tasks.
            answers = await asyncio.gather(
                *(admin.request(Linger()) for _ in range(12)), return_exceptions=True
            )
            assert answers.count(True) == 2
            busy = [a for a in answers if isinstance(a, RemoteRefusal)]
            assert len(busy) == 10 and all("still running" in a.reason for a in busy)
            assert not gw.server.in_flight  # every slot given back
            assert await admin.request(Linger()) is True
            audit = await gw.auth.audit.recent(100, username="ann")
            assert any(r.action == "subscribe" and r.outcome == "denied" for r in audit)
            assert any("still running" in r.detail for r in audit)
        finally:
            await admin.aclose()
            gw.runtime.bus.unhandle(Linger)


async def test_deep_and_large_frames_are_refused_with_a_reason_and_the_gateway_serves_on(
    gateway: RunningGateway,
) -> None:
    async with aiohttp.ClientSession() as http:
        # 1,000 levels deep: refused by the walk, not by a RecursionError in the decoder.
        ws = await raw_socket(gateway, http, "vic")
        deep = b"\x95\xa3req\x01\xa3x.y\xa5plain" + b"\x91" * 1_000 + b"\x01"
        await ws.send_bytes(deep)
        bye = wire.decode_gateway_frame((await ws.receive()).data)
        assert isinstance(bye, wire.Goodbye) and bye.code == wire.CLOSE_BAD_FRAME
        assert "nests deeper than 16 levels" in bye.reason
        await ws.close()
        # Larger than a frame may be: closed by the socket layer (1009), audited.
        ws = await raw_socket(gateway, http, "vic")
        await ws.send_bytes(b"\xc6\x00\x01\x00\x00" + b"\x00" * 65_536)
        closing = await ws.receive()
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == 1009
        await ws.close()
    assert await healthy(gateway)
    viewer = await attach(gateway, "vic")
    try:
        assert await viewer.request(c.SubscribeSymbol(symbol="BTCUSDT")) is True
    finally:
        await viewer.aclose()
    audit = await gateway.auth.audit.recent(20, username="vic")
    frames = [r.detail for r in audit if r.action == "frame" and r.outcome == "denied"]
    assert any("nests deeper" in d for d in frames) and len(frames) == 2


async def test_a_close_reason_quoting_the_input_is_cut_on_a_character(
    gateway: RunningGateway,
) -> None:
    async with aiohttp.ClientSession() as http:
        ws = await raw_socket(gateway, http, "vic")
        await ws.send_bytes(msgspec.msgpack.encode(["東京" * 40, 1, "x"]))
        bye = wire.decode_gateway_frame((await ws.receive()).data)
        assert isinstance(bye, wire.Goodbye) and bye.code == wire.CLOSE_BAD_FRAME
        closing = await ws.receive()
        assert closing.type is aiohttp.WSMsgType.CLOSE, closing  # not a protocol error
        assert ws.close_code == wire.CLOSE_BAD_FRAME
        await ws.close()


def test_the_shape_walk_bounds_depth_and_values_without_decoding() -> None:
    check_shape(wire.encode(wire.Subscribe(id=1, pattern="md.>")), 4, 16)
    with pytest.raises(Refused, match="deeper"):
        check_shape(b"\x91" * 100_000 + b"\x01", 16, 10**6)
    with pytest.raises(Refused, match="more than 100 values"):
        check_shape(b"\xdc\x10\x00" + b"\x01" * 4096, 16, 100)
    with pytest.raises(Refused, match="cut short"):
        check_shape(b"\x93\x01", 16, 100)
    with pytest.raises(Refused, match="cut short"):
        check_shape(b"\xdb\xff\xff\xff\xff", 16, 100)  # a 4 GiB string in 5 bytes


async def test_the_rate_limit_comes_before_the_role_check(gateway: RunningGateway) -> None:
    viewer = await attach(gateway, "vic")
    try:
        start = time.monotonic()
        answers = await asyncio.gather(
            *(viewer.request(c.CancelAll(symbol="BTCUSDT")) for _ in range(120)),
            return_exceptions=True,
        )
        took = time.monotonic() - start
        assert all(isinstance(a, RemoteRefusal) for a in answers)
        limited = [
            a for a in answers if isinstance(a, RemoteRefusal) and "too many requests" in a.reason
        ]
        assert len(limited) >= 30, "refusals by role must use up the budget too"
        # Past the burst (40), a flooding connection is read only as fast as its budget
        # refills (20/s): what it sends waits in its own socket, not in the gateway.
        judged = len(answers) - len(limited)
        assert judged <= 40 + 20 * took + 5, (judged, took)
        rows = [
            r
            for r in await gateway.auth.audit.recent(1000, username="vic")
            if r.outcome == "denied"
        ]
        # Counted, not written one by one: a viewer cannot fill the audit log.
        assert len(rows) <= 40
    finally:
        await viewer.aclose()
    rows = await gateway.auth.audit.recent(1000, username="vic")
    assert any("not recorded one by one" in r.detail for r in rows)


class Explode(c.Command[None], frozen=True, kw_only=True):
    """A command whose handler fails in a way nobody planned for (tests only)."""

    name: ClassVar[str] = "test.explode"


contract.declare(Explode)  # a command of the test's own, so it may cross the wire


async def test_an_unplanned_failure_tells_the_terminal_a_reference_not_the_internals(
    gateway: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode(_: Explode) -> None:
        raise RuntimeError("password=hunter2 in /srv/internal/path")

    gateway.runtime.bus.handle(Explode, explode)
    admin = await attach(gateway, "ann")
    try:
        with pytest.raises(RemoteRefusal) as refused:
            await admin.request(Explode())
        assert "hunter2" not in refused.value.reason and "internal" not in refused.value.reason
        assert "reference" in refused.value.reason
        ref = refused.value.reason.split("reference ")[1].split(";")[0]
        logged = [r for r in caplog.records if ref in r.getMessage()]
        assert logged
        # The detail is in the log (rendered already if the app's log filter saw it first).
        info = logged[0].exc_info
        assert "hunter2" in (logged[0].exc_text or (str(info[1]) if info else ""))
    finally:
        await admin.aclose()
        gateway.runtime.bus.unhandle(Explode)


async def test_nine_terminals_attaching_at_once_through_one_address_get_their_data(
    gateway: RunningGateway,
) -> None:
    """Terminals that come through one SSH host share an address and its rate limit; each
    subscribes to ~17 patterns as it attaches (153 frames here, over the address's burst
    of 100), which must not be refused as a flood."""
    clients = [
        GatewayClient(gateway.url, name, Bus(), reconnect=False)
        for name in ("vic", "tom", "ann") * 3
    ]
    try:
        await asyncio.gather(*(client.start(PASSWORD) for client in clients))
        limited = {
            p: why for cl in clients for p, why in cl.refused_patterns.items() if "too many" in why
        }
        assert not limited
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))


async def test_a_terminal_retries_subscriptions_the_rate_limit_refused(
    tmp_path: Path, fast_passwords: Passwords
) -> None:
    def make(repo: GatewayRepository, secret: bytes) -> AuthService:
        # An address whose budget is nearly spent (as by many terminals attaching at once).
        busy = CommandLimiter(RateLimiter(20.0, 40.0), RateLimiter(rate=2.0, burst=2.0))
        return AuthService(repo, secret, passwords=fast_passwords, limiter=busy)

    async with run_gateway(
        sim_settings(tmp_path), Listen("127.0.0.1", 0), auth_factory=make, record=False
    ) as gw:
        await with_users(gw)
        client = GatewayClient(gw.url, "vic", Bus(), reconnect=False)
        try:
            await client.start(PASSWORD)
            assert client.refused_patterns == {}
        finally:
            await client.aclose()
