"""Hostile input against the simulated venue (issue 16): every refusal is a Binance-style
JSON error, never a 500 or a dropped connection; no client can switch the timestamp check
off, hold the venue's memory, grow its tables or break it through fault injection."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import msgspec
import pytest

from omnitrade_tui.venues.sim import rest, streams, ws_api
from omnitrade_tui.venues.sim.names import stream_names
from omnitrade_tui.venues.sim.outbox import Outbox
from omnitrade_tui.venues.sim.rest import RetryWindow
from omnitrade_tui.venues.sim.state import save_state
from omnitrade_tui.venues.sim.venue import PRUNE_EVERY_TICKS, SimVenue
from tests.venues.sim.test_wire import control, sign
from tests.waiting import until


async def call(
    http: aiohttp.ClientSession, method: str, url: str, **kw: Any
) -> tuple[int, dict[str, Any]]:
    async with http.request(method, url, **kw) as resp:
        assert resp.content_type == "application/json", (resp.status, await resp.text())
        return resp.status, await resp.json()


def signed_query(sim: SimVenue, params: dict[str, Any], **extra: str) -> str:
    """A signed query string with ``extra`` pairs written as given (not re-encoded)."""
    query = urlencode(params)
    for name, value in extra.items():
        query += f"&{name}={value}"
    return query + "&signature=" + sign(sim.demo_key[1], query)


MALFORMED = [
    ("GET", "depth?symbol=ETHUSDT&limit=abc", -1100),
    ("GET", "depth?symbol=ETHUSDT&limit=1.5", -1100),
    ("GET", "depth?symbol=ETHUSDT&limit=%D9%A3", -1100),  # an Arabic-Indic digit
    ("GET", "depth?symbol=ETHUSDT&limit=99999999999999999999999", -1100),
    ("GET", "klines?symbol=ETHUSDT&interval=1m&startTime=1e3", -1100),
    ("GET", "exchangeInfo?symbols=5", -1100),
    ("GET", "exchangeInfo?symbols=%5B1%5D", -1100),
    ("GET", "exchangeInfo?symbols=%5B%5B%22ETHUSDT%22%5D%5D", -1100),
    ("GET", "exchangeInfo?symbols=%7B%22a%22%3A1%7D", -1100),
    ("GET", "ticker/price?symbols=%5B%22ETHUSDT%22", -1100),
    ("GET", "ticker/24hr?symbols=%5B%22NOPE%22%5D", -1121),
    ("GET", "depth?symbol=ETHUSDT&symbol=BTCUSDT", -1101),
    ("GET", "trades?symbol=ETHUSDT&limit=-5", -1100),
]


@pytest.mark.parametrize(("method", "path", "code"), MALFORMED)
async def test_malformed_public_parameters_are_json_errors(
    sim: SimVenue, http: aiohttp.ClientSession, method: str, path: str, code: int
) -> None:
    status, body = await call(http, method, f"{sim.rest_url}/v3/{path}")
    assert (status, body["code"]) == (400, code), body
    assert set(body) == {"code", "msg"} and body["msg"]


async def test_well_formed_symbol_lists_still_work(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    status, body = await call(http, "GET", f'{sim.rest_url}/v3/exchangeInfo?symbols=["ETHUSDT"]')
    assert status == 200 and [s["symbol"] for s in body["symbols"]] == ["ETHUSDT"]


async def test_a_non_ascii_signature_is_1022(sim: SimVenue, http: aiohttp.ClientSession) -> None:
    query = urlencode({"timestamp": sim.now_ms()}) + "&signature=%C3%A9%C3%A9"
    status, body = await call(
        http,
        "GET",
        f"{sim.rest_url}/v3/account?{query}",
        headers={"X-MBX-APIKEY": sim.demo_key[0]},
    )
    assert (status, body["code"]) == (400, -1022)


async def test_a_body_that_is_not_utf8_is_1100(sim: SimVenue, http: aiohttp.ClientSession) -> None:
    status, body = await call(
        http,
        "POST",
        f"{sim.rest_url}/v3/order",
        data=b"symbol=ETHUSDT&side=\xff\xfe",
        headers={
            "X-MBX-APIKEY": sim.demo_key[0],
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert (status, body["code"]) == (400, -1100)


async def test_a_body_over_the_size_limit_is_a_json_error(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    status, body = await call(
        http,
        "POST",
        f"{sim.rest_url}/v3/order",
        data=b"a=" + b"x" * 100_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (status, body["code"]) == (413, -1101)


async def test_unknown_paths_and_methods_are_json_errors(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    status, body = await call(http, "GET", f"{sim.rest_url}/v3/nothing-here")
    assert (status, body["code"]) == (404, -1020)
    status, body = await call(http, "PUT", f"{sim.rest_url}/v3/order")
    assert (status, body["code"]) == (405, -1020)


@pytest.mark.parametrize(
    ("window", "code"),
    [
        ("nan", -1100),
        ("NaN", -1100),
        ("inf", -1100),
        ("1e9", -1100),
        ("-5", -1100),
        ("0", -1131),
        ("60001", -1131),
        ("5000.1234", -1100),
    ],
)
async def test_recv_window_must_be_a_number_in_range(
    sim: SimVenue, http: aiohttp.ClientSession, window: str, code: int
) -> None:
    """``recvWindow=nan`` used to compare false with everything: a signed request an hour
    (or a year) old was accepted."""
    hour_old = sim.now_ms() - 3_600_000
    query = signed_query(sim, {"timestamp": hour_old}, recvWindow=window)
    status, body = await call(
        http,
        "GET",
        f"{sim.rest_url}/v3/account?{query}",
        headers={"X-MBX-APIKEY": sim.demo_key[0]},
    )
    assert (status, body["code"]) == (400, code), body


async def test_recv_window_with_three_decimals_is_accepted(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    query = signed_query(sim, {"timestamp": sim.now_ms()}, recvWindow="5000.125")
    status, body = await call(
        http,
        "GET",
        f"{sim.rest_url}/v3/account?{query}",
        headers={"X-MBX-APIKEY": sim.demo_key[0]},
    )
    assert status == 200, body


async def test_a_timestamp_in_other_digits_is_refused(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    digits = str(sim.now_ms()).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    query = urlencode({"timestamp": digits})
    query += "&signature=" + sign(sim.demo_key[1], query)
    status, body = await call(
        http,
        "GET",
        f"{sim.rest_url}/v3/account?{query}",
        headers={"X-MBX-APIKEY": sim.demo_key[0]},
    )
    assert (status, body["code"]) == (400, -1102)


# -- the WebSocket API ------------------------------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "frame",
    [
        '{"id":1,"method":"ping","params":{"a":' + nested(1500) + "}}",
        '{"id":' + nested(100_000) + ',"method":"ping"}',
        nested(50_000),
        '{"id":1,"method":"ping","params":[1,2]}',
        '{"id":{"a":1},"method":"ping"}',
        '{"id":1,"method":["time"]}',
        '{"id":1,"method":"depth","params":{"symbol":"ETHUSDT","limit":1e400}}',
        '{"id":1,"method":"depth","params":{"symbol":"ETHUSDT","limit":"x"}}',
        '{"id":1,"method":"userDataStream.unsubscribe","params":{"subscriptionId":1e400}}',
        '{"id":1,"method":"account.status","params":{"apiKey":["k"],"signature":"s"}}',
    ],
)
async def test_websocket_api_refuses_and_keeps_serving(
    sim: SimVenue, http: aiohttp.ClientSession, frame: str
) -> None:
    async with http.ws_connect(sim.ws_api_url, max_msg_size=0) as ws:
        await ws.send_str(frame)
        reply = msgspec.json.decode(await asyncio.wait_for(ws.receive_str(), 5))
        assert 400 <= reply["status"] < 500, reply
        assert set(reply["error"]) == {"code", "msg"} and reply["error"]["code"] < 0
        await ws.send_str('{"id":7,"method":"time"}')
        reply = msgspec.json.decode(await asyncio.wait_for(ws.receive_str(), 5))
        assert reply["id"] == 7 and reply["status"] == 200


def client_frame(payload: bytes) -> bytes:
    """One masked text frame, as a client sends it."""
    mask = os.urandom(4)
    size = len(payload)
    head = bytes([0x81, 0x80 | size]) if size < 126 else bytes([0x81, 0xFE]) + size.to_bytes(2)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def silent_client(
    sim: SimVenue, path: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket client that upgrades, then never reads again (a tiny receive buffer,
    so the venue's writes back up at once)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (sim.host, sim.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {sim.host}:{sim.port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert b" 101 " in await reader.readuntil(b"\r\n\r\n")
    return reader, writer


async def cut_off_within(request: Any, seconds: float) -> bool:
    """Whether the venue closes this connection's socket within ``seconds``, watched from
    its side: reading anything from the client would be the reading it never does."""

    def closed() -> bool:
        transport = request.transport
        return transport is None or transport.is_closing()

    return await until(closed, "the cut-off", seconds, interval=0.1, fail=False)


@pytest.mark.timeout(120)
async def test_a_websocket_api_client_that_never_reads_is_cut_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It used to keep every answer queued: 50,000 requests held 150 MiB."""
    sessions: list[ws_api.Session] = []

    class Recorded(ws_api.Session):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            sessions.append(self)

    monkeypatch.setattr(ws_api, "Session", Recorded)
    async with SimVenue.start(seed=2, generate=False) as sim:
        # exchangeInfo weighs 20 on the WebSocket API as on REST: lift the weight limit,
        # or the answers turn into small -1003 refusals and never fill the outbox.
        sim.weight_limit = 10**9
        _, writer = await silent_client(sim, "/ws-api/v3")
        frame = client_frame(b'{"id":1,"method":"exchangeInfo"}')
        try:
            # 5,000 requests whose answers weigh about 25 MB, in bursts, so the venue's
            # writer is already stuck on the unread socket when its outbox overflows.
            for _ in range(50):
                writer.write(frame * 100)
                await writer.drain()
                await asyncio.sleep(0.02)
        except ConnectionError:
            pass  # cut off while still sending: what the test wants
        (session,) = sessions
        assert await cut_off_within(session.request, 20), "a client that never reads is still on"
        assert not sim.api_sockets and session.ws.closed
        outbox = session.outbox
        assert outbox.overflowed and outbox.peak_bytes <= ws_api.Session.MAX_OUTBOX_BYTES
        writer.close()


@pytest.mark.timeout(120)
async def test_a_stream_client_that_never_reads_is_cut_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clients: list[streams.StreamClient] = []

    class Recorded(streams.StreamClient):
        MAX_OUTBOX_BYTES = 64 * 1024  # the real bound takes minutes of frames to reach

        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            clients.append(self)

    monkeypatch.setattr(streams, "StreamClient", Recorded)
    async with SimVenue.start(seed=2) as sim:
        names = [n for s in sim.markets for n in stream_names(s)]
        _, writer = await silent_client(sim, "/stream?streams=" + "/".join(names))
        (client,) = clients
        # The kernel would otherwise take megabytes of frames before the writer waits.
        transport = client.request.transport
        assert transport is not None
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        assert await cut_off_within(client.request, 60), "a client that never reads is still on"
        assert client.overflowed and client.outbox_peak_bytes <= Recorded.MAX_OUTBOX_BYTES
        assert client not in sim.hub.clients
        writer.close()


def test_an_outbox_past_its_bound_empties_for_good() -> None:
    box = Outbox(max_bytes=1000, max_frames=100)
    assert all(box.put(b"x" * 100) for _ in range(10))
    assert not box.put(b"x")
    assert box.overflowed and box.bytes == 0 and len(box) == 0
    assert not box.put(b"x")


# -- market streams ---------------------------------------------------------------------------


async def test_stream_names_the_venue_does_not_serve_are_refused(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(f"{sim.stream_url}ws/0") as ws:
        for i, name in enumerate(["ethusdt@nonsense", "ETHUSDT@trade", "btcusdt@trade"]):
            await ws.send_str(
                msgspec.json.encode({"method": "SUBSCRIBE", "params": [name], "id": i}).decode()
            )
            reply = msgspec.json.decode(await asyncio.wait_for(ws.receive_str(), 3))
            assert reply["code"] == 2 and reply["id"] == i and name in reply["msg"], reply
        await ws.send_str(
            '{"method":"SUBSCRIBE","params":["ethusdt@trade","ethusdt@depth5"],"id":9}'
        )
        assert msgspec.json.decode(await ws.receive_str()) == {"result": None, "id": 9}
        await ws.send_str('{"method":"LIST_SUBSCRIPTIONS","id":10}')
        reply = msgspec.json.decode(await ws.receive_str())
        assert reply["result"] == ["ethusdt@depth5", "ethusdt@trade"]
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await http.ws_connect(f"{sim.stream_url}ws/ethusdt@nonsense")
    assert exc.value.status == 400
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await http.ws_connect(f"{sim.stream_url}stream?streams=ethusdt@trade/ethusdt@anything")
    # A symbol it does not list is ignored in a URL: the client's other streams still flow.
    async with http.ws_connect(f"{sim.stream_url}ws/btcusdt@trade/ethusdt@depth@100ms") as ws:
        frame = msgspec.json.decode(await asyncio.wait_for(ws.receive_str(), 3))
        assert frame["e"] == "depthUpdate"


async def test_a_control_message_nested_deep_is_refused_and_the_stream_goes_on(
    sim: SimVenue, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(f"{sim.stream_url}ws/ethusdt@depth@100ms") as ws:
        for frame in (nested(1500), '{"method":"SUBSCRIBE","params":[' + nested(100) + "]}"):
            await ws.send_str(frame)
        replies: list[dict[str, Any]] = []
        depth_frames = 0
        deadline = time.monotonic() + 5
        while (len(replies) < 2 or not depth_frames) and time.monotonic() < deadline:
            msg = msgspec.json.decode(await asyncio.wait_for(ws.receive_str(), 3))
            if "code" in msg:
                replies.append(msg)
            elif msg.get("e") == "depthUpdate":
                depth_frames += 1
        assert [r["code"] for r in replies] == [3, 3] and depth_frames


# -- per-address tables -----------------------------------------------------------------------


async def test_per_address_tables_are_pruned() -> None:
    async with SimVenue.start(symbols=["ETHUSDT"], generate=False) as sim:
        for i in range(10_000):
            ip = f"10.0.{i // 256}.{i % 256}"
            rest.charge(sim, ip, 1)
            sim.bans[ip] = time.time() - 1
            sim.retry_windows[ip] = RetryWindow()  # given long ago, waited out
        sim.clock_offset_ms += 61_000  # the venue's minute turns
        rest.charge(sim, "10.9.9.9", 1)
        sim.bans["10.9.9.9"] = time.time() + 100
        window = sim.retry_windows.setdefault("10.9.9.9", RetryWindow())
        window.given_at, window.retry_after_s = time.monotonic(), 30
        sim.tick(PRUNE_EVERY_TICKS)  # the market loop prunes every 10 s
        assert list(sim.weights) == list(sim.bans) == list(sim.retry_windows) == ["10.9.9.9"]


# -- fault injection --------------------------------------------------------------------------


async def test_fault_injection_needs_the_token(sim: SimVenue, http: aiohttp.ClientSession) -> None:
    base = f"http://{sim.host}:{sim.port}/sim"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer é"}):
        status, body = await call(
            http, "POST", f"{base}/faults", json={"throttle": 5}, headers=headers
        )
        assert (status, body["code"]) == (401, -1002)
        status, body = await call(http, "POST", f"{base}/shutdown-notice", headers=headers)
        assert status == 401
    assert sim.faults.throttle == 0
    status, body = await call(
        http, "POST", f"{base}/faults", json={"delay_ms": 5}, headers=control(sim)
    )
    assert status == 200 and body["faults"]["delay_ms"] == 5


async def test_faults_open_needs_no_token(http: aiohttp.ClientSession) -> None:
    async with SimVenue.start(symbols=["ETHUSDT"], generate=False, faults_open=True) as sim:
        assert sim.faults_token == ""
        status, _ = await call(
            http, "POST", f"http://{sim.host}:{sim.port}/sim/faults", json={"delay_ms": 1}
        )
        assert status == 200 and sim.faults.delay_ms == 1


@pytest.mark.parametrize(
    "body",
    [
        b'{"fail_orders": 1e400}',
        b'{"gap_every_s": 1e400}',
        b'{"delay_ms": "nan"}',
        b'{"delay_ms": -1}',
        b'{"throttle": 1.5}',
        b'{"throttle": true}',
        b'{"bogus": 1}',
        b'{"delay_ms": [1]}',
        b'{"delay_ms": 5, "fail_orders": "x"}',
        b"[1]",
        b"not json",
        nested(5000).encode(),
    ],
)
async def test_bad_faults_are_refused_and_change_nothing(
    sim: SimVenue, http: aiohttp.ClientSession, body: bytes
) -> None:
    status, reply = await call(
        http, "POST", f"http://{sim.host}:{sim.port}/sim/faults", data=body, headers=control(sim)
    )
    assert status == 400 and set(reply) == {"code", "msg"}, reply
    assert sim.faults.active() == type(sim.faults)().active()


# -- files ------------------------------------------------------------------------------------


async def test_the_state_file_is_0600_even_over_a_leftover_temporary(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    leftover = tmp_path / "state.json.tmp"
    leftover.write_text("{}")
    leftover.chmod(0o644)
    async with SimVenue.start(symbols=["ETHUSDT"], generate=False) as sim:
        save_state(sim, path)
    assert path.stat().st_mode & 0o777 == 0o600
