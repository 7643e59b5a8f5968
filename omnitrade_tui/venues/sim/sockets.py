"""The venue's WebSocket connections keep Binance's keep-alive: a ping every 20 s, and a
minute to answer it before the connection is dropped (``web-socket-streams.md``,
``web-socket-api.md``).

aiohttp's ``heartbeat`` pings at its period but waits only half of it for the pong; the
wait is set apart here (aiohttp's ``_pong_heartbeat``: its own name for that wait, which
it has no parameter for). Any frame from the client counts as an answer, as in aiohttp.
"""

from __future__ import annotations

from aiohttp import web

PING_EVERY_S = 20.0
PONG_WAIT_S = 60.0


def websocket(max_msg_size: int) -> web.WebSocketResponse:
    """A server-side WebSocket that pings every ``PING_EVERY_S`` and gives up on a client
    silent for ``PONG_WAIT_S`` after a ping."""
    ws = web.WebSocketResponse(heartbeat=PING_EVERY_S, max_msg_size=max_msg_size)
    ws._pong_heartbeat = PONG_WAIT_S
    return ws
