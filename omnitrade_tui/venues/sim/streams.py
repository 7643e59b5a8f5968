"""Market streams of the simulated venue: subscriptions, the combined wrapper, control
messages, and the fan-out of encoded frames to every subscribed connection.

A frame is encoded once per event; each connection gets it raw or wrapped as
``{"stream": ..., "data": ...}`` by splicing bytes, so fan-out costs no re-encoding.
Control messages follow reference §1.3, including its error answers, and the 5 messages
per second limit (§1.4): a client over it is disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)

MAX_STREAMS = 1024
CONTROL_PER_SECOND = 5
_METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")


class StreamClient:
    """One market-stream connection, with its own bounded outbox and writer task.

    Frames are queued in order and written by one task, so a slow client never delays
    the others; a client that falls ``MAX_OUTBOX`` frames behind is disconnected, as
    Binance drops consumers that cannot keep up.
    """

    MAX_OUTBOX = 20_000

    def __init__(self, ws: web.WebSocketResponse, combined: bool, hub: StreamHub) -> None:
        self.ws = ws
        self.hub = hub
        self.combined = combined
        self.streams: set[str] = set()
        self._control_times: deque[float] = deque()
        self.stalled_until = 0.0
        self.connected_at = time.monotonic()
        self._outbox: deque[tuple[float, bytes]] = deque()
        self._wake = asyncio.Event()
        self.overflowed = False
        self.expire_now = False

    def allow_control(self) -> bool:
        """Count one incoming message; False once over the per-second limit."""
        now = time.monotonic()
        times = self._control_times
        times.append(now)
        while times and now - times[0] > 1.0:
            times.popleft()
        return len(times) <= CONTROL_PER_SECOND

    def push(self, stream: str, payload: bytes) -> None:
        """Queue one frame in this client's format (raw or combined)."""
        if time.monotonic() < self.stalled_until:
            return
        if self.combined:
            payload = b'{"stream":"' + stream.encode() + b'","data":' + payload + b"}"
        if len(self._outbox) >= self.MAX_OUTBOX:
            self.overflowed = True
            self._wake.set()
            return
        self._outbox.append((time.monotonic(), payload))
        self._wake.set()

    async def write_loop(self) -> None:
        """Write queued frames until the socket closes."""
        ws = self.ws
        while not ws.closed:
            await self._wake.wait()
            self._wake.clear()
            if self.overflowed:
                await ws.close(code=1008, message=b"Client too slow")
                return
            if self.expire_now:
                await ws.close(code=1000, message=b"Connection lifetime reached")
                return
            while self._outbox and not ws.closed:
                queued_at, frame = self._outbox.popleft()
                hold = queued_at + self.hub.delay_s - time.monotonic()
                if hold > 0:  # the "delay frames" fault: late, but in order
                    await asyncio.sleep(hold)
                try:
                    await ws.send_str(frame.decode())
                except (ConnectionResetError, RuntimeError):
                    return


class StreamHub:
    """Who is subscribed to what, and delivery of frames to them."""

    def __init__(self, known_stream: Any) -> None:
        """``known_stream(name)`` tells whether a stream name is one the venue serves."""
        self.clients: set[StreamClient] = set()
        self._by_stream: dict[str, set[StreamClient]] = {}
        self._known = known_stream
        self.frames_sent = 0
        self.delay_s = 0.0

    def subscribers(self, stream: str) -> int:
        """How many connections listen to ``stream``."""
        return len(self._by_stream.get(stream, ()))

    def wanted(self, stream: str) -> bool:
        """Whether anyone listens (so the venue can skip building frames nobody reads)."""
        return bool(self._by_stream.get(stream))

    def publish(self, stream: str, payload: Any) -> None:
        """Encode ``payload`` once and queue it to every subscriber of ``stream``."""
        clients = self._by_stream.get(stream)
        if not clients:
            return
        raw = msgspec.json.encode(payload)
        for client in clients:
            self.frames_sent += 1
            client.push(stream, raw)

    def publish_raw(self, stream: str, raw: bytes) -> None:
        """Queue already-encoded JSON to every subscriber of ``stream`` (replays)."""
        clients = self._by_stream.get(stream)
        if not clients:
            return
        for client in clients:
            self.frames_sent += 1
            client.push(stream, raw)

    def broadcast_raw(self, payload: Any, stream: str) -> None:
        """Send to every connection regardless of subscriptions (``serverShutdown``)."""
        raw = msgspec.json.encode(payload)
        for client in self.clients:
            client.push(stream, raw)

    def _subscribe(self, client: StreamClient, names: list[str]) -> None:
        for name in names:
            client.streams.add(name)
            self._by_stream.setdefault(name, set()).add(client)

    def _unsubscribe(self, client: StreamClient, names: list[str]) -> None:
        for name in names:
            client.streams.discard(name)
            subs = self._by_stream.get(name)
            if subs is not None:
                subs.discard(client)
                if not subs:
                    del self._by_stream[name]

    def drop(self, client: StreamClient) -> None:
        """Forget a connection and its subscriptions."""
        self._unsubscribe(client, list(client.streams))
        self.clients.discard(client)

    async def close_all(self, code: int = 1001, message: bytes = b"") -> None:
        """Close every connection (the fault injection's "drop")."""
        for client in list(self.clients):
            await client.ws.close(code=code, message=message)

    def expire(self, max_age_s: float) -> None:
        """Close connections older than ``max_age_s`` (Binance cuts them at 24 hours)."""
        now = time.monotonic()
        for client in self.clients:
            if now - client.connected_at > max_age_s:
                client.overflowed = False
                client.expire_now = True
                client._wake.set()

    def stall_all(self, seconds: float) -> None:
        """Stop sending to every connection for a while, silently."""
        until = time.monotonic() + seconds
        for client in self.clients:
            client.stalled_until = until

    async def serve(
        self, request: web.Request, initial: list[str], combined: bool
    ) -> web.WebSocketResponse:
        """Run one connection: subscribe the URL's streams, then answer control messages."""
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=64 * 1024)
        await ws.prepare(request)
        client = StreamClient(ws, combined, self)
        self.clients.add(client)
        self._subscribe(client, [s for s in initial if self._known(s)][:MAX_STREAMS])
        writer = asyncio.ensure_future(client.write_loop())
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                if not client.allow_control():
                    await ws.close(code=1008, message=b"Too many requests")
                    break
                reply = self._control(client, msg.data)
                if reply is not None:
                    await ws.send_str(msgspec.json.encode(reply).decode())
        finally:
            self.drop(client)
            writer.cancel()
        return ws

    def _control(self, client: StreamClient, text: str) -> dict[str, Any] | None:
        try:
            msg = msgspec.json.decode(text)
        except msgspec.DecodeError as exc:
            return {"code": 3, "msg": f"Invalid JSON: {exc}"}
        if not isinstance(msg, dict):
            return {"code": 3, "msg": "Invalid JSON: expected an object"}
        req_id = msg.get("id")
        if req_id is not None and not isinstance(req_id, int | str):
            return {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}
        method = msg.get("method")
        if method is None:
            return {"code": 2, "msg": "Invalid request: missing field `method`", "id": req_id}
        if method not in _METHODS:
            expected = ", ".join(f"`{m}`" for m in _METHODS)
            return {
                "code": 2,
                "msg": f"Invalid request: unknown variant `{method}`, expected one of {expected}",
                "id": req_id,
            }
        params = msg.get("params", [])
        if not isinstance(params, list):
            return {"code": 2, "msg": "Invalid request: params must be a list", "id": req_id}
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            names = [p for p in params if isinstance(p, str)]
            if len(names) != len(params):
                return {
                    "code": 2,
                    "msg": "Invalid request: stream names must be strings",
                    "id": req_id,
                }
            if method == "SUBSCRIBE":
                if len(client.streams | set(names)) > MAX_STREAMS:
                    return {"code": 2, "msg": "Invalid request: too many parameters", "id": req_id}
                self._subscribe(client, [n for n in names if self._known(n)])
            else:
                self._unsubscribe(client, names)
            return {"result": None, "id": req_id}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(client.streams), "id": req_id}
        if not params or not isinstance(params[0], str):
            return {
                "code": 2,
                "msg": "Invalid request: property name must be a string",
                "id": req_id,
            }
        if params[0] != "combined":
            return {"code": 0, "msg": "Unknown property", "id": req_id}
        if method == "GET_PROPERTY":
            return {"result": client.combined, "id": req_id}
        if len(params) != 2 or not isinstance(params[1], bool):
            return {"code": 1, "msg": "Invalid value type: expected Boolean", "id": req_id}
        client.combined = params[1]
        return {"result": None, "id": req_id}


async def close_quietly(ws: web.WebSocketResponse) -> None:
    """Close a socket, ignoring a peer that is already gone."""
    with contextlib.suppress(Exception):
        await ws.close()


__all__ = ["StreamClient", "StreamHub", "close_quietly", "log"]
