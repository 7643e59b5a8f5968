"""What the market stream and the user-data stream share about keeping a WebSocket
connection to the venue: connect, hold the connection (renewing it make-before-break when
it comes due or the venue gives notice), and when it is lost reconnect with exponential
backoff and jitter, publishing the link's state all along.

``KeptConnection`` holds that loop once; each stream says how to open a connection, what
to do when one is up or lost, and how to renew one without a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import websockets

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.domain.backoff import Backoff
from omnitrade_tui.domain.events import ConnectionChanged, LinkState

# The first wait before reconnecting; it doubles (with jitter) up to ``max_backoff_s``.
FIRST_BACKOFF_S = 0.5
# How long closing a connection we are done with may take before it is abandoned.
_CLOSE_WAIT_S = 2.0
# A renewal that could not open its new connection is tried again this much later.
_RENEW_RETRY_S = 1.0
# What failing to open a connection raises (the network, the handshake, a timeout).
OPEN_ERRORS = (OSError, websockets.WebSocketException, TimeoutError)


class Renewable(Protocol):
    """A live connection: its socket, the task reading it, when it was opened
    (monotonic), and whether we are done with it."""

    ws: Any
    task: asyncio.Task[None] | None
    opened: float
    retired: bool


C = TypeVar("C", bound=Renewable)


def lost_reason(task: asyncio.Task[None], closed_text: str) -> str:
    """Why a connection's reading task ended, in words."""
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    if exc is None:
        return closed_text
    return f"{type(exc).__name__}: {exc}"


class KeptConnection(Generic[C]):
    """One connection to the venue kept alive until cancelled (see the module docstring).

    Subclasses name the link (``LINK``, as published in ``ConnectionChanged``) and what
    a close by the venue is called (``CLOSED_TEXT``), and implement the hooks below.
    """

    LINK: ClassVar[str]
    CLOSED_TEXT: ClassVar[str]

    def __init__(self, bus: Bus, max_backoff_s: float, max_life_s: float) -> None:
        self.bus = bus
        self.max_backoff_s = max_backoff_s
        self.max_life_s = max_life_s
        self.reconnects = 0
        self.renewals = 0
        self._primary: C | None = None
        self._renewal: C | None = None
        self._renew = asyncio.Event()  # set on the venue's notice that it will close

    # -- what each stream supplies ------------------------------------------------------------

    async def _open(self) -> C:
        """A new connection, its reader started (raises one of ``OPEN_ERRORS``)."""
        raise NotImplementedError

    def _on_connected(self, conn: C) -> None:
        """``conn`` just became the primary connection after a (re)connect."""

    def _was_useful(self, conn: C) -> bool:
        """Whether ``conn`` worked before it was lost (then the backoff starts over)."""
        return True

    def _on_lost(self, reason: str) -> None:
        """The primary connection was lost; a reconnect follows."""

    async def _renew_connection(self, old: C) -> bool:
        """Replace ``old`` make-before-break; False (keeping ``old``) when it could not."""
        raise NotImplementedError

    # -- the loop -----------------------------------------------------------------------------

    def _publish_link(self, state: LinkState, detail: str = "") -> None:
        self.bus.publish(
            topics.CONNECTION,
            ConnectionChanged(
                venue="binance",
                link=self.LINK,
                state=state,
                detail=detail,
                time_ms=int(time.time() * 1000),
            ),
        )

    async def run(self) -> None:
        """Stay connected until cancelled."""
        # A ceiling under the first wait would be refused by ``Backoff``: it caps at the first.
        waits = Backoff(FIRST_BACKOFF_S, max(self.max_backoff_s, FIRST_BACKOFF_S), jitter=True)
        ever_connected = False
        while True:
            self._publish_link(LinkState.RECONNECTING if ever_connected else LinkState.CONNECTING)
            try:
                conn = await self._open()
            except OPEN_ERRORS as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                ever_connected = True
                self._primary = conn
                self._on_connected(conn)
                try:
                    reason = await self._hold_primary()
                    if self._was_useful(conn):
                        waits.reset()
                finally:
                    await self._drop_all()
            self.reconnects += 1
            self._on_lost(reason)
            self._publish_link(LinkState.RECONNECTING, reason)
            await asyncio.sleep(waits.next())

    async def _hold_primary(self) -> str:
        """Keep the primary connection, renewing it on notice or when its life is up
        (``max_life_s`` is read each time round: it may be changed while running); why
        it was lost. A renewal that could not open a new connection keeps the old one."""
        while True:
            conn = self._primary
            assert conn is not None
            assert conn.task is not None
            due = conn.opened + self.max_life_s - time.monotonic()
            notice = asyncio.ensure_future(self._renew.wait())
            try:
                await asyncio.wait(
                    {conn.task, notice},
                    timeout=max(0.0, due),
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                notice.cancel()
            if conn.task.done():
                return lost_reason(conn.task, self.CLOSED_TEXT)
            self._renew.clear()
            if not await self._renew_connection(conn):
                await asyncio.sleep(_RENEW_RETRY_S)

    async def _retire(self, conn: C) -> None:
        """Be done with ``conn``: close it and stop its reader."""
        conn.retired = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.ws.close(), _CLOSE_WAIT_S)
        if conn.task is not None:
            conn.task.cancel()
            await asyncio.gather(conn.task, return_exceptions=True)

    async def _drop_all(self) -> None:
        conns = [c for c in (self._primary, self._renewal) if c is not None]
        self._primary = self._renewal = None
        for conn in conns:
            await self._retire(conn)
