"""Market streams of the simulated venue: subscriptions, the combined wrapper, control
messages, and the fan-out of encoded frames to every subscribed connection.

A frame is encoded once per event; each connection gets it raw or wrapped as
``{"stream": ..., "data": ...}`` by splicing bytes, so fan-out costs no re-encoding.
Control messages follow reference §1.3, including its error answers, and the 5 messages
per second limit (§1.4): a client over it is disconnected. Only stream names the venue
serves can be subscribed (``SUBSCRIBE`` of any other is refused with an error). In a
connection URL, a ``<symbol>@<kind>`` of a kind the venue does not serve is refused with
HTTP 400; a symbol it does not list is ignored (so one bad symbol cannot keep a client's
other streams away), and so is a name without ``@`` (ccxt-pro connects to ``/ws/0`` and
subscribes by message).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from omnitrade_tui.venues.sim import sockets
from omnitrade_tui.venues.sim.names import is_stream_name
from omnitrade_tui.venues.sim.outbox import Outbox, close_bounded, cut_off

log = logging.getLogger(__name__)

MAX_STREAMS = 1024
CONTROL_PER_SECOND = 5
_METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")


class StreamClient:
    """One market-stream connection, with its own bounded outbox and writer task.

    Frames are queued in order and written by one task, so a slow client never delays
    the others; a client that falls ``MAX_OUTBOX`` frames or ``MAX_OUTBOX_BYTES`` behind
    is disconnected, as Binance drops consumers that cannot keep up.
    """

    MAX_OUTBOX = 20_000
    MAX_OUTBOX_BYTES = 8 * 1024 * 1024

    def __init__(
        self, ws: web.WebSocketResponse, request: web.Request, combined: bool, hub: StreamHub
    ) -> None:
        self.ws = ws
        self.request = request
        self.hub = hub
        self.combined = combined
        self.streams: set[str] = set()
        self._control_times: deque[float] = deque()
        self.stalled_until = 0.0
        self.connected_at = time.monotonic()
        # timeUnit=MICROSECOND in the URL: this client's frames carry microseconds.
        self.microseconds = request.query.get("timeUnit", "").upper() == "MICROSECOND"
        self._outbox = Outbox(self.MAX_OUTBOX_BYTES, self.MAX_OUTBOX)
        self.expire_now = False
        self.writer: asyncio.Future[None] | None = None
        self.cut: asyncio.Task[None] | None = None

    @property
    def overflowed(self) -> bool:
        """Whether this client fell too far behind (it is being disconnected)."""
        return self._outbox.overflowed

    @property
    def outbox_peak_bytes(self) -> int:
        """The most bytes this client's outbox ever held (bounded by ``MAX_OUTBOX_BYTES``)."""
        return self._outbox.peak_bytes

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
        if time.monotonic() < max(self.stalled_until, self.hub.stalled_until):
            return
        if self.combined:
            payload = b'{"stream":"' + stream.encode() + b'","data":' + payload + b"}"
        if not self._outbox.put(payload) and self.cut is None:
            self.cut = cut_off(self.ws, self.request, self.writer)

    def expire(self) -> None:
        """Close this connection at the writer's next turn (its lifetime is over)."""
        self.expire_now = True
        self._outbox.poke()

    async def write_loop(self) -> None:
        """Write queued frames until the socket closes."""
        ws = self.ws
        while not ws.closed:
            item = await self._outbox.get()
            if self._outbox.overflowed:
                return  # being cut off
            if self.expire_now:
                await ws.close(code=1000, message=b"Connection lifetime reached")
                return
            if item is None:
                continue
            queued_at, frame = item
            hold = queued_at + self.hub.delay_s - time.monotonic()
            if hold > 0:  # the "delay frames" fault: late, but in order
                await asyncio.sleep(hold)
            try:
                await ws.send_str(frame.decode())
            except (ConnectionResetError, RuntimeError):
                return


class StreamHub:
    """Who is subscribed to what, and delivery of frames to them."""

    def __init__(self, known_stream: Callable[[str], bool]) -> None:
        """``known_stream(name)`` tells whether a stream name is one the venue serves."""
        self.clients: set[StreamClient] = set()
        self._by_stream: dict[str, set[StreamClient]] = {}
        self._known = known_stream
        self.frames_sent = 0
        self.delay_s = 0.0
        self.stalled_until = 0.0  # monotonic: every connection, new ones too, is silent

    def subscribers(self, stream: str) -> int:
        """How many connections listen to ``stream``."""
        return len(self._by_stream.get(stream, ()))

    def wanted(self, stream: str) -> bool:
        """Whether anyone listens (so the venue can skip building frames nobody reads)."""
        return bool(self._by_stream.get(stream))

    def publish(self, stream: str, payload: Any) -> None:
        """Encode ``payload`` once (twice when a client wants microseconds) and queue it
        to every subscriber of ``stream``."""
        clients = self._by_stream.get(stream)
        if not clients:
            return
        raw = msgspec.json.encode(payload)
        micro: bytes | None = None
        for client in clients:
            self.frames_sent += 1
            if client.microseconds:
                if micro is None:
                    micro = msgspec.json.encode(event_in_microseconds(payload))
                client.push(stream, micro)
            else:
                client.push(stream, raw)

    def publish_raw(self, stream: str, raw: bytes) -> None:
        """Queue already-encoded JSON to every subscriber of ``stream`` (replays)."""
        clients = self._by_stream.get(stream)
        if not clients:
            return
        micro: bytes | None = None
        for client in clients:
            self.frames_sent += 1
            if client.microseconds:
                if micro is None:
                    payload = event_in_microseconds(msgspec.json.decode(raw))
                    micro = msgspec.json.encode(payload)
                client.push(stream, micro)
            else:
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
        """Close every connection (the fault injection's "drop", and shutdown), all at
        once and each in bounded time."""
        await asyncio.gather(
            *(close_bounded(c.ws, c.request, code, message) for c in list(self.clients))
        )

    def expire(self, max_age_s: float) -> None:
        """Close connections older than ``max_age_s`` (Binance cuts them at 24 hours)."""
        now = time.monotonic()
        for client in self.clients:
            if now - client.connected_at > max_age_s:
                client.expire()

    def stall_all(self, seconds: float) -> None:
        """Stop sending to every connection (and any that connects meanwhile) for a
        while, silently."""
        self.stalled_until = max(self.stalled_until, time.monotonic() + seconds)

    async def serve(
        self, request: web.Request, initial: list[str], combined: bool
    ) -> web.StreamResponse:
        """Run one connection: subscribe the URL's streams, then answer control messages.

        A ``<symbol>@<kind>`` of an unknown kind in the URL is refused (HTTP 400, before
        the upgrade); unlisted symbols, and names without ``@`` (an index some clients
        put there), are ignored.
        """
        unknown = [s for s in initial if "@" in s and not is_stream_name(s)]
        if unknown:
            body = {"code": 2, "msg": f"Invalid request: unknown stream name {unknown[0][:64]!r}"}
            return web.json_response(body, status=400)
        if len(initial) > MAX_STREAMS:
            return web.json_response(
                {"code": 2, "msg": "Invalid request: too many parameters"}, status=400
            )
        ws = sockets.websocket(64 * 1024)
        await ws.prepare(request)
        client = StreamClient(ws, request, combined, self)
        self.clients.add(client)
        self._subscribe(client, [s for s in initial if self._known(s)])
        writer = client.writer = asyncio.ensure_future(client.write_loop())
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
            if client.cut is not None:
                await asyncio.wait([client.cut])  # closing it, in bounded time
        return ws

    def _control(self, client: StreamClient, text: str) -> dict[str, Any] | None:
        try:
            msg = msgspec.json.decode(text)
        except msgspec.DecodeError as exc:
            return {"code": 3, "msg": f"Invalid JSON: {exc}"}
        except RecursionError:  # msgspec's own bound on nesting
            return {"code": 3, "msg": "Invalid JSON: nested too deeply"}
        if not _shallow(msg):
            return {"code": 3, "msg": "Invalid JSON: nested too deeply"}
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
                unknown = next((n for n in names if not self._known(n)), None)
                if unknown is not None:
                    return {
                        "code": 2,
                        "msg": f"Invalid request: unknown stream name {unknown[:64]!r}",
                        "id": req_id,
                    }
                self._subscribe(client, names)
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


_EVENT_TIMES = ("E", "T", "O", "C")  # event, trade/transaction, statistics open/close times


def event_in_microseconds(payload: Any) -> Any:
    """A stream payload with its times in microseconds (``timeUnit=MICROSECOND``): the
    event's ``E``/``T``/``O``/``C`` and a kline's ``t``/``T`` (a trade's ``t`` is its id)."""
    if isinstance(payload, list):
        return [event_in_microseconds(p) for p in payload]
    if not isinstance(payload, dict):
        return payload
    out = dict(payload)
    for key in _EVENT_TIMES:
        value = out.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            out[key] = value * 1000
    kline = out.get("k")
    if isinstance(kline, dict):
        out["k"] = {
            k: v * 1000 if k in ("t", "T") and isinstance(v, int) else v for k, v in kline.items()
        }
    return out


# A control message is an object of scalars and one list of scalars: two levels.
MAX_NESTING = 4


def _shallow(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` nests no deeper than ``MAX_NESTING`` (so echoing or formatting
    any part of it can never recurse deeply)."""
    if depth > MAX_NESTING:
        return False
    if isinstance(value, dict):
        return all(_shallow(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return all(_shallow(v, depth + 1) for v in value)
    return True


async def close_quietly(ws: web.WebSocketResponse) -> None:
    """Close a socket, ignoring a peer that is already gone."""
    with contextlib.suppress(Exception):
        await ws.close()


__all__ = ["StreamClient", "StreamHub", "close_quietly", "log"]
